"""One function instance, as a Lambda execution environment: import once (the cold start), then invoke.

An instance is a child of the fork server (``local.forkserver``), which has imported the core layer already, or,
with ``FIRSTMILE_INSTANCE_START=process``, a fresh interpreter started as ``python -m local.worker HANDLER_PATH``
with the function's environment. Either way ``serve`` runs it: requests arrive as JSON lines on one pipe; each
answer is one JSON line on another. The function's own stdout and stderr go where the stack sends function logs,
so its prints and logs can never corrupt an answer. An instance ignores Ctrl-C: the stack stops its instances.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any


class LambdaContext:
    """The context object Lambda passes to a handler, with the fields Powertools reads."""

    def __init__(
        self,
        *,
        function_name: str,
        memory_limit_in_mb: int,
        invoked_function_arn: str,
        aws_request_id: str,
        deadline_ms: int,
        log_group_name: str,
        function_version: str = "$LATEST",
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = invoked_function_arn
        self.aws_request_id = aws_request_id
        self.log_group_name = log_group_name
        self.log_stream_name = f"local/[{function_version}]{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the local runtime stops this invocation."""
        return max(0, self._deadline_ms - int(time.time() * 1000))


def load_handler(path: Path) -> Callable[[Any, LambdaContext], Any]:
    """Import ``path`` as Lambda imports ``handler.lambda_handler`` from the function's folder."""
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module.lambda_handler  # type: ignore[no-any-return]


def _json_default(value: Any) -> Any:
    # Lambda's runtime serialises Decimal (what DynamoDB returns) as a number; anything else is an error.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message}


def _send(channel: IO[str], message: dict[str, Any]) -> None:
    try:
        line = json.dumps(message, default=_json_default)
    except (TypeError, ValueError) as exc:
        line = json.dumps({"kind": "error", "error": _error("Runtime.MarshalError", str(exc))})
    channel.write(line + "\n")
    channel.flush()


def write_whole_lines() -> None:
    """Send each line the function prints in one write.

    Instances share the log file with each other and with the stack (opened with O_APPEND). Unbuffered, as
    ``PYTHONUNBUFFERED`` makes them, a stream writes a ``print``'s text and its newline separately, so another
    process's line could land between the two and two JSON log records share a line. Line-buffered, the text and its
    newline leave together; output still leaves at the end of every line.
    """
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True, write_through=False)


def serve(handler_path: Path, requests: IO[str], answers: IO[str]) -> int:
    """Import the handler (the cold start), say so, then answer each request line until ``requests`` closes."""
    write_whole_lines()
    try:
        handler = load_handler(handler_path)
    except Exception as exc:  # an import failure is the invocation's answer (Runtime.ImportModuleError)
        traceback.print_exc()
        _send(answers, {"kind": "init_error", "error": _error("Runtime.ImportModuleError", repr(exc))})
        return 1
    _send(answers, {"kind": "ready"})
    for line in requests:
        request = json.loads(line)
        context = LambdaContext(**request["context"])
        try:
            with simulated_time(request["event"]):
                result = handler(request["event"], context)
        except Exception as exc:  # the function's failure is reported, the instance lives on as in Lambda
            traceback.print_exc()
            _send(answers, {"kind": "error", "error": _error(type(exc).__name__, str(exc))})
            continue
        _send(answers, {"kind": "result", "payload": result})
    return 0


# A request to a route may carry this header: its function then runs at that moment (local stack only, decision
# 0071). The authorizer always runs at the real time, so tokens are checked as they are.
SIMULATED_TIME_HEADER = "x-firstmile-simulated-time"


def simulated_time(event: Any) -> AbstractContextManager[None]:
    """The moment a route request asks its function to run at, if any (an ISO-8601 time with its offset)."""
    if not isinstance(event, dict) or event.get("type") == "REQUEST" or "routeKey" not in event:
        return nullcontext()
    raw = (event.get("headers") or {}).get(SIMULATED_TIME_HEADER)
    if not raw:
        return nullcontext()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return nullcontext()
    if moment.tzinfo is None:
        return nullcontext()
    from firstmile.clock import shifted_to

    return shifted_to(moment)


def main(argv: list[str]) -> int:
    """Run the instance until stdin closes (``python -m local.worker HANDLER_PATH``, a fresh interpreter)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    return serve(Path(argv[1]), sys.stdin, answers)


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # As an execution environment ends: at once. The interpreter's teardown took seconds when the stack stopped
    # dozens of instances together on two cores.
    os._exit(code)
