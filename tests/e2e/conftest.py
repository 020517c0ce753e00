"""One ``firstmile dev`` for the whole end-to-end session: every module drives the same running stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from firstmile.platform.resilience import FAULTS_FILE_ENV
from tests.e2e.harness import SUMMARY_LINES, RunningStack, start, stop


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    directory = tmp_path_factory.mktemp("stack")
    # A faults file no test has written yet (decision 0092): a test may slow or fail the stack's AWS calls with it.
    running = start(directory, extra_env={FAULTS_FILE_ENV: str(directory / "faults.json")})
    yield running
    stop(running)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for line in config.stash.get(SUMMARY_LINES, []):
        terminalreporter.write_line(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The load profiles last: make test runs this session beside the integration suite, which is over by then, so
    neither slows the other's timing-sensitive tests."""
    items.sort(key=lambda item: item.get_closest_marker("load") is not None)
