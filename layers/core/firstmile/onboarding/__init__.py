"""Onboarding: versioned flow definitions, each user's progress on one flow version, and version migration."""
