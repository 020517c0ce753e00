"""Feature flags: each tenant's flags and segments, targeting rules, sticky percentage rollouts, the kill switch,
and the pure in-process evaluator other functions call."""
