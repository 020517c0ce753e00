"""The AWS CDK app of Firstmile: every resource is generated from the catalogue (``functions/catalog/``) and the
platform definitions in ``layers/core/firstmile/platform``."""
