"""Thin stacks that compose the constructs: shared data, the HTTP API, and one stack per domain."""
