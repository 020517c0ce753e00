"""Function instances share the local log file: each line they print arrives whole, never split by another's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from local.environment import REPO_ROOT

PRINTER = """
import sys
from local.worker import write_whole_lines
write_whole_lines()
for n in range(5000):
    print(json.dumps({"writer": sys.argv[1], "n": n, "padding": "x" * 60}))
"""


def test_lines_printed_by_instances_sharing_the_log_file_stay_whole(tmp_path: Path) -> None:
    # Given three unbuffered instances (as the local stack starts them) appending to one log file at the same time
    log = tmp_path / "dev.log"
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "layers" / "core")]),
    }
    try:
        writers = [
            subprocess.Popen(  # noqa: S603 - this interpreter, a fixed program
                [sys.executable, "-c", "import json\n" + PRINTER, str(n)], stdout=output, env=env, cwd=REPO_ROOT
            )
            for n in range(3)
        ]
        codes = [w.wait(timeout=120) for w in writers]
    finally:
        os.close(output)

    # Then every line is one whole JSON record, and none is missing
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert codes == [0, 0, 0]
    assert sorted((r["writer"], r["n"]) for r in records) == sorted((str(w), n) for w in range(3) for n in range(5000))
