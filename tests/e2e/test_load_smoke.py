"""The smoke load profile over the running stack (issue 15): the user journeys (token, status, step, evaluate,
funnel) run under Locust, the report is written and compared with the committed baseline
(bench/load/baselines/smoke.json); with every DynamoDB call of the functions made slower (an injected fault, the
stand-in for a regression in a handler) the comparison fails and names the journeys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from firstmile.platform.resilience import FAULTS_FILE_ENV
from tests.e2e.harness import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.load]

RUN = Path(__file__).resolve().parents[2] / "bench" / "load" / "run.py"
JOURNEYS = {"token", "status", "step", "evaluate", "funnel"}


def smoke(stack: RunningStack, report_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(RUN), "--profile", "smoke", "--target", stack.api_url]
    command += ["--tokens-file", str(stack.tokens_path), "--report-dir", str(report_dir), *extra]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)  # noqa: S603


def test_the_smoke_profile_passes_against_its_baseline(stack: RunningStack, tmp_path: Path) -> None:
    finished = smoke(stack, tmp_path)

    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["journeys"]) == JOURNEYS
    assert report["total"]["requests"] > 0 and report["total"]["error_rate"] == 0
    assert (tmp_path / "report.html").stat().st_size > 0 and (tmp_path / "report.md").exists()
    assert "0 regression(s)" in finished.stdout


def test_a_slower_handler_fails_the_comparison(stack: RunningStack, tmp_path: Path) -> None:
    # Given every DynamoDB call of the functions 150 ms slower
    faults = Path(stack.env[FAULTS_FILE_ENV])
    faults.write_text(json.dumps({"delay_ms": 150, "services": ["dynamodb"]}))
    try:
        # When the smoke profile runs
        finished = smoke(stack, tmp_path, "--warmup-seconds", "0", "--seconds", "10")
    finally:
        faults.unlink()

    # Then the comparison fails, naming what regressed: the journeys' medians, or the throughput they allowed
    assert finished.returncode == 1, finished.stdout + finished.stderr
    regressed = {line.split()[1].rstrip(":") for line in finished.stdout.splitlines() if line.startswith("REGRESSION")}
    assert regressed & {"status", "step", "evaluate", "token", "throughput"}, finished.stdout
