"""Failed work (issue 14): what failed, where, how often, and with what, so that every message a dead-letter queue
holds has a complete record."""
