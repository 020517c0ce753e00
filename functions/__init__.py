"""Firstmile's Lambda functions: one folder each, listed in ``catalog.py``."""
