"""What every benchmark keeps per measured thing: wall-clock and CPU samples, and their summaries."""

from __future__ import annotations

import gc
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar


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


class Timed(Protocol):
    """A measured thing: its name and where its samples go."""

    name: str
    samples: list[float]
    cpu_samples: list[float]


T = TypeVar("T", bound=Timed)


def run_interleaved(
    items: Sequence[T],
    run: Callable[[T, int, int], None],
    *,
    size: int,
    chunk: int,
    rounds: int,
    warmup: int,
    seed: int,
    per_round: int,
) -> None:
    """Time ``run(item, first, last)`` over ``range(size)`` for every item, ``rounds`` times after ``warmup`` rounds
    that are not kept; each round's time is divided by ``per_round`` (the operations a round performs).

    A round goes through the range in chunks, and each chunk is run by every item in a shuffled order, so a burst of
    noise from the rest of the machine (tens of milliseconds) falls on all of them alike.
    """
    order = random.Random(seed)
    progress = sys.stderr.isatty()
    for index in range(warmup + rounds):
        recording = index >= warmup
        if progress:
            label = f"round {index - warmup + 1}/{rounds}" if recording else f"warm-up {index + 1}/{warmup}"
            print(f"\r  {label} ...", end="", file=sys.stderr, flush=True)
        spent = {item.name: [0.0, 0.0] for item in items}
        gc.collect()
        for first in range(0, size, chunk):
            last = min(first + chunk, size)
            batch = list(items)
            order.shuffle(batch)
            for item in batch:
                start, start_cpu = time.perf_counter(), time.process_time()
                run(item, first, last)
                spent[item.name][0] += time.perf_counter() - start
                spent[item.name][1] += time.process_time() - start_cpu
        if recording:
            for item in items:
                item.samples.append(spent[item.name][0] / per_round)
                item.cpu_samples.append(spent[item.name][1] / per_round)
    if progress:
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)


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


@dataclass(frozen=True)
class Column:
    """A column of numbers in a report's table: its title, the key of its cells in each row, and their width and
    decimals (the title is right-aligned to the same width)."""

    title: str
    key: str
    width: int
    decimals: int = 2


def print_timings(name: str, columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> None:
    """A report's table of timings under its header and a rule: a line a row, first its ``name`` (the key that also
    heads the column), then its ``columns``, last its ``status`` (in capitals when above target)."""
    width = max(len(name), *(len(row[name]) for row in rows))
    header = f"{name:<{width}}  " + "  ".join(f"{column.title:>{column.width}}" for column in columns) + "  status"
    print(header)
    print("-" * len(header))
    for row in rows:
        status = "ABOVE TARGET" if row["status"] == "above target" else row["status"]
        cells = "  ".join(f"{row[column.key]:>{column.width}.{column.decimals}f}" for column in columns)
        print(f"{row[name]:<{width}}  {cells}  {status}")
