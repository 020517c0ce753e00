"""Test data shared by a scenario's fast unit tests (on the in-memory fakes) and its end-to-end case on the
emulator."""
