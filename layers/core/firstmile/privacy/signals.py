"""The privacy metrics the deployment alarms on (``infra/constructs/alarms.py``)."""

# Open data subject requests past their 30-day deadline, counted by the daily deadline job.
OVERDUE_METRIC = "PrivacyRequestsOverdue"
# Open requests, and those due within seven days: what the deadline job saw.
OPEN_METRIC = "PrivacyRequestsOpen"
DUE_SOON_METRIC = "PrivacyRequestsDueWithin7Days"
