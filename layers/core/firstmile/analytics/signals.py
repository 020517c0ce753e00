"""The analytics metrics the deployment alarms on (``infra/constructs/alarms.py``)."""

# A drop-off alert rule started firing (the hourly check, firstmile.analytics.alerting).
DROP_OFF_ALERT_METRIC = "OnboardingDropOffAlertFired"
