"""The local stack as a newcomer meets it: ``firstmile dev`` of its own, driven as the README tells.

One stack for this module (the session's stack is shared by the other modules): the readiness signal is watched
from the first second, the README's examples run as written in a POSIX shell, CLI commands find the stack from its
tokens file, the console stays quiet, and the last test stops it with Ctrl-C within the promised bound.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.environment import REPO_ROOT
from tests.e2e.harness import (
    STOP_BOUND_SECONDS,
    RunningStack,
    call,
    command,
    free_port,
    start,
    stop,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start(tmp_path_factory.mktemp("newcomer"))
    yield running
    stop(running, bound=None)


def _cli(stack: RunningStack, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """A ``firstmile`` command as a developer runs it in another shell: no FIRSTMILE_PORT or FIRSTMILE_AWS_PORT
    (unless given), only where the tokens file is."""
    env = {k: v for k, v in stack.env.items() if k not in ("FIRSTMILE_PORT", "FIRSTMILE_AWS_PORT")} | variables
    return subprocess.run(  # noqa: S603 - this checkout's own CLI
        [*command(), *args], env=env, capture_output=True, text=True, timeout=180, check=False, cwd=REPO_ROOT
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_ready_answers_503_starting_until_the_tokens_file_is_written(newcomer: RunningStack) -> None:
    # Given the answers GET /health/ready gave from the moment `firstmile dev` started
    answers = newcomer.readiness

    # When the last one (the first 200) is compared with the tokens file at that moment
    *starting, ready = answers

    # Then it answered 503 SYS_STARTING before, and when it said 200 the file held working tokens
    assert starting, "the stack should have been seen starting"
    assert {(status, code) for _, status, code in starting} == {(503, "SYS_STARTING")}
    assert ready[1] == 200
    tokens = newcomer.tokens_when_ready
    assert tokens is not None, "GET /health/ready answered 200 before the tokens file was written"
    assert tokens["FIRSTMILE_PORT"] == str(newcomer.port)
    assert tokens["FIRSTMILE_AWS_PORT"] == str(newcomer.aws_port)
    assert tokens["FIRSTMILE_API_URL"] == newcomer.api_url
    status = call(newcomer.url("/v1/onboarding/status"), headers=_bearer(tokens["FIRSTMILE_USER_TOKEN"]))
    assert status.status == 200, status.body
    assert "Ready in" in newcomer.stdout.read_text()


def test_cli_commands_find_the_running_stack_in_its_tokens_file(newcomer: RunningStack) -> None:
    # Given a shell without FIRSTMILE_PORT and FIRSTMILE_AWS_PORT, and a port where nothing listens
    nothing = str(free_port())

    # When the commands that need the stack run there, and once with the variables pointing elsewhere
    job = _cli(newcomer, "jobs", "run", "synthetic_probe")
    invoked = _cli(newcomer, "invoke", "health_ready", "events/health_ready.json")
    token = _cli(newcomer, "token", "--user", "cli-ports", "--roles", "user,admin")
    operator = _cli(newcomer, "bootstrap-operator", "--force", "--name", "cli ports")
    elsewhere = _cli(newcomer, "jobs", "run", "synthetic_probe", FIRSTMILE_AWS_PORT=nothing)
    minted_elsewhere = _cli(newcomer, "token", FIRSTMILE_PORT=nothing)

    # Then they used the stack's own ports from the file, and the variables win when set
    assert job.returncode == 0, job.stderr
    assert json.loads(job.stdout)["status"] == "ok"
    assert invoked.returncode == 0, invoked.stderr
    assert "temporary" not in invoked.stderr
    assert json.loads(invoked.stdout)["statusCode"] == 200
    assert token.returncode == 0, token.stderr
    admin = call(newcomer.url("/v1/admin/audit"), headers=_bearer(token.stdout.strip()))
    assert admin.status == 200
    assert operator.returncode == 0, operator.stderr
    assert f"127.0.0.1:{newcomer.aws_port}" in operator.stdout
    assert elsewhere.returncode == 1
    assert f"127.0.0.1:{nothing}" in elsewhere.stderr and "FIRSTMILE_AWS_PORT" in elsewhere.stderr
    assert minted_elsewhere.returncode == 1
    assert f"127.0.0.1:{nothing}" in minted_elsewhere.stderr


def test_firstmile_tokens_renews_every_demo_token_in_the_file(newcomer: RunningStack) -> None:
    # Given the tokens the stack wrote
    before = newcomer.tokens()

    # When a developer renews them and sources the file in a POSIX shell
    renewed = _cli(newcomer, "tokens")
    after = newcomer.tokens()
    sourced = subprocess.run(  # noqa: S603
        ["sh", "-c", f'. "{newcomer.tokens_path}" && printf %s "$FIRSTMILE_ADMIN_TOKEN"'],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    # Then the user, admin and operator tokens are new sessions that work for their roles; the rest is kept
    assert renewed.returncode == 0, renewed.stderr
    assert "source" in renewed.stderr
    for name in ("USER_TOKEN", "USER_REFRESH_TOKEN", "ADMIN_TOKEN", "OPERATOR_TOKEN"):
        assert after[f"FIRSTMILE_{name}"] != before[f"FIRSTMILE_{name}"], name
    for name in ("USER_TOKEN", "ADMIN_TOKEN", "OPERATOR_TOKEN"):
        assert _claims(after[f"FIRSTMILE_{name}"])["sid"] != _claims(before[f"FIRSTMILE_{name}"])["sid"], name
    kept = {k: v for k, v in before.items() if "TOKEN" not in k}
    assert {k: after[k] for k in kept} == kept
    assert sourced.stdout == after["FIRSTMILE_ADMIN_TOKEN"]
    user = call(newcomer.url("/v1/onboarding/status"), headers=_bearer(after["FIRSTMILE_USER_TOKEN"]))
    admin = call(newcomer.url("/v1/admin/audit"), headers=_bearer(after["FIRSTMILE_ADMIN_TOKEN"]))
    operator = _bearer(after["FIRSTMILE_OPERATOR_TOKEN"])
    clients = call(newcomer.url("/v1/operator/tenants/demo/clients"), headers=operator)
    assert (user.status, admin.status, clients.status) == (200, 200, 200)
    assert _claims(after["FIRSTMILE_ADMIN_TOKEN"])["roles"] == ["admin", "user"]
    assert _claims(after["FIRSTMILE_OPERATOR_TOKEN"])["roles"] == ["operator"]


ACCESS_LINE = re.compile(
    r"^\d\d:\d\d:\d\d (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<function>\S+) (?P<ms>\d+) ms "
    r"(?P<correlation>\S+)(?: (?P<code>[A-Z]+_[A-Z_]+))?$"
)


def test_the_console_shows_one_line_per_request_and_the_log_file_has_everything(newcomer: RunningStack) -> None:
    # Given requests that succeed and that fail as clients make them fail, each with its own correlation id
    tokens = newcomer.tokens()
    user = {**_bearer(tokens["FIRSTMILE_USER_TOKEN"])}
    sent = {
        "quiet-ok": ("GET", "/v1/onboarding/status", user, None, 200, "onboarding_status", None),
        "quiet-404": ("GET", "/v1/no-such-route", {}, None, 404, "gateway", "RES_ROUTE_NOT_FOUND"),
        "quiet-401": ("GET", "/v1/onboarding/status", _bearer("forged"), None, 401, "onboarding_status", None),
        "quiet-422": ("POST", "/v1/onboarding/step", user, {"step_id": 5}, 422, "onboarding_step", None),
    }

    # When they are sent
    replies = {
        correlation: call(newcomer.url(path), method, {**headers, "X-Correlation-Id": correlation}, body)
        for correlation, (method, path, headers, body, *_) in sent.items()
    }

    # Then each got its status, and the console has exactly one line for it with method, path, status, the function
    # that answered, milliseconds, the correlation id and, on an error, the problem code
    lines = [m for line in newcomer.stderr.read_text().splitlines() if (m := ACCESS_LINE.match(line))]
    for correlation, (method, path, _, _, status, function, code) in sent.items():
        assert replies[correlation].status == status, replies[correlation].body
        mine = [m for m in lines if m["correlation"] == correlation]
        assert len(mine) == 1, (correlation, newcomer.stderr.read_text()[-3000:])
        line = mine[0]
        assert (line["method"], line["path"], int(line["status"]), line["function"]) == (method, path, status, function)
        assert line["code"] == (code or replies[correlation].code)
    assert lines[-1]["code"] and lines[-1]["code"].startswith("VAL_")
    # No traceback ever reaches the quiet console
    assert "Traceback" not in newcomer.console()
    # The log file holds the same requests as JSON, and the functions' own JSON logs
    records = [json.loads(line) for line in newcomer.log_path.read_text().splitlines() if line.startswith("{")]
    access = {r["correlation_id"]: r for r in records if r.get("logger") == "local.access"}
    assert {c: (access[c]["status"], access[c]["function"]) for c in sent} == {
        c: (status, function) for c, (_, _, _, _, status, function, _) in sent.items()
    }
    functions = {r.get("function_name") for r in records if "function_name" in r}
    assert {"onboarding_status", "onboarding_step", "authorizer"} <= functions


def test_the_readme_examples_work_as_written_in_posix_shells(newcomer: RunningStack, tmp_path: Path) -> None:
    # Given the README's shell examples (its ```sh blocks, and the cookie banner guide's), pointed at this stack and
    # its tokens file, each shell with a user of its own; curl reports every answer's status through its
    # configuration file
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    # ...and the cookie banner's calls, which the README points to
    banner = (REPO_ROOT / "docs" / "privacy" / "cookie-banner.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme + banner, flags=re.DOTALL)
    script = "set -e\n" + "\n".join(blocks)
    script = script.replace("http://127.0.0.1:8000", newcomer.api_url)
    script = script.replace(".local/tokens.env", str(newcomer.tokens_path))
    (tmp_path / ".curlrc").write_text('write-out = "\\n@@ %{http_code} %{url_effective}\\n"\n', encoding="utf-8")
    env = {k: v for k, v in newcomer.env.items() if k not in ("FIRSTMILE_PORT", "FIRSTMILE_AWS_PORT")}
    env["CURL_HOME"] = str(tmp_path)
    shells = [shell for shell in ("sh", "bash", "zsh") if shutil.which(shell)]

    # When each shell runs them as written
    runs = {
        shell: subprocess.run(  # noqa: S603 - a shell from PATH running the README's own lines
            [shell, "-c", script.replace("--user demo-user", f"--user readme-{shell}")],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        for shell in shells
    }

    # Then every command succeeded and every request was answered without an error; the flags answered by country
    assert "uuidgen" not in readme and "source .local" not in "".join(blocks)
    assert len(blocks) >= 5
    for shell, run in runs.items():
        assert run.returncode == 0, (shell, run.stdout[-3000:], run.stderr[-3000:])
        statuses = re.findall(r"^@@ (\d{3}) (\S+)$", run.stdout, flags=re.MULTILINE)
        assert len(statuses) == script.count("curl "), (shell, statuses)
        assert [s for s in statuses if int(s[0]) >= 400] == [], shell
        assert '"eu-data-residency":{"flag_key":"eu-data-residency","value":true' in run.stdout
        assert '{"flags":{"eu-data-residency":{"flag_key":"eu-data-residency","value":false' in run.stdout
    assert "sh" in runs and "bash" in runs


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children, ...), from /proc."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            pending += sorted(children - found)
            found |= children
    return found


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        # A zombie has exited; only its exit status is left to collect.
        return stat.read_text().split(") ", 1)[-1][:1] != "Z"
    except OSError:
        return False


def _port_free(port: int) -> bool:
    # As the stack binds: connections in TIME_WAIT do not count, a listener does.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to see the stack's processes")
def test_ctrl_c_stops_every_process_within_the_bound(newcomer: RunningStack) -> None:
    # Given the stack with function instances started (this module called a dozen functions)
    processes = _descendants(newcomer.process.pid)
    assert len(processes) >= 3, "the table engine, the fork server and instances should be running"

    # When it receives Ctrl-C, twice 0.2 s apart, as `make dev` passes it on (the terminal's, then uv's)
    code = stop(newcomer, bound=None, again_after=0.2)

    # Then it stops in order and exits 0 within the bound after saying so, every process it started is gone, both
    # ports are free and its tokens file is removed
    assert newcomer.stop_seconds is not None and newcomer.stop_seconds <= STOP_BOUND_SECONDS, newcomer.output()
    assert code == 0, newcomer.output()
    assert "Stopped." in newcomer.stdout.read_text()
    assert not [pid for pid in processes if _alive(pid)]
    assert _port_free(newcomer.port) and _port_free(newcomer.aws_port)
    assert not newcomer.tokens_path.exists()
