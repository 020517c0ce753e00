"""Firstmile core: the shared Lambda layer every function imports."""

__version__ = "0.1.0"
