"""Onboarding: versioned flow definitions, each user's progress on one flow version, and version migration."""

# The ``kind`` of the transition event items written with each progress change (data model row 27); the table
# stream's analytics consumer receives only INSERTs of this kind.
EVENT_KIND = "onboarding_event"
