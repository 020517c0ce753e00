"""What every benchmark keeps per measured thing: wall-clock and CPU samples, and their summaries."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(kw_only=True)
class Samples:
    """Samples of one measured thing (seconds), wall clock and CPU, summarised robustly."""

    samples: list[float] = field(default_factory=list)
    cpu_samples: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.samples)

    def cpu_median(self) -> float:
        return statistics.median(self.cpu_samples)

    def iqr(self) -> float:
        """The interquartile range of the wall-clock samples (0 with fewer than two)."""
        if len(self.samples) < 2:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q3 - q1


def cpu_model() -> str:
    """The processor's model name, for the report's header."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_header(started: datetime) -> dict[str, object]:
    """When and on what a benchmark ran: the first lines of every report."""
    return {
        "run_at": started.isoformat(timespec="seconds"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
    }
