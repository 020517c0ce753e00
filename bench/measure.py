"""What every benchmark keeps per measured thing: wall-clock and CPU samples, and their summaries."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


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
