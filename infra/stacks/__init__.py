"""Thin stacks that compose the constructs: shared data, the HTTP API, and the stacks the catalogue names."""
