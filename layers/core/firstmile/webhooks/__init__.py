"""Webhooks (issue 14): signed deliveries of the product's events to the endpoints admins register."""
