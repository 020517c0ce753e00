"""Contract suites: what every implementation of a port must do, written once.

Each suite is a class whose name does not start with ``Test`` (so it is not collected here); a test module
subclasses it as ``Test...``, sets ``implementation`` to the class under test and provides the fixtures the suite
names. tests/unit runs every suite against the in-memory fakes, tests/integration against the stores on the local
table engine, and ``tests/unit/test_fakes_fitness.py`` fails when a store has no fake that runs its suite on both
sides.
"""
