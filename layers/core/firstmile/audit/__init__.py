"""Audit log: who did what to whom, in a hash chain per tenant that shows tampering."""
