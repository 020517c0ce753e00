"""Firstmile's local stack: emulated AWS, an API Gateway-like gateway, a scheduler and queue/stream pollers.

Everything the stack creates or runs is derived from the catalogue (``functions/catalog/``) and the shared resource
definitions in ``firstmile.platform``, the same sources CDK reads, so the local stack cannot drift from a deployment.
"""
