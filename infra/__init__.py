"""The AWS CDK app of Firstmile: every resource is generated from ``functions/catalog.py`` and the platform
definitions in ``layers/core/firstmile/platform``."""
