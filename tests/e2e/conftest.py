"""One ``firstmile dev`` for the whole end-to-end session: every module drives the same running stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import SUMMARY_LINES, RunningStack, start, stop


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start(tmp_path_factory.mktemp("stack"))
    yield running
    stop(running)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for line in config.stash.get(SUMMARY_LINES, []):
        terminalreporter.write_line(line)
