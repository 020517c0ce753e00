"""The metrics feature flags emit for alarms (namespace ``Firstmile``; infra/constructs/alarms.py alarms on them)."""

# A progressive rollout's guard halted it and rolled its percentage back (the alarm event).
ROLLOUT_HALTED_METRIC = "FlagRolloutHalted"
# Exposure events the exposure queue refused (the evaluation still answered).
EXPOSURES_DROPPED_METRIC = "FlagExposuresDropped"
