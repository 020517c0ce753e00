"""cfn-lint, with the serverless rules, over every template of a cloud assembly.

``python -m infra.cfnlint cdk.out`` exits non-zero on any error or warning; the infra tests call
:func:`lint_assembly` on their own synth. Checks that cannot be fixed in the app are ignored here, each with
its reason; checks that only some resources legitimately trip are ignored on those resources' metadata.
"""

from __future__ import annotations

import json
import subprocess  # noqa: S404 - runs the project's own cfn-lint with fixed arguments
import sys
from pathlib import Path
from typing import Any

IGNORED_CHECKS = {
    # CDK's Function construct adds DependsOn on its role although Role: Fn::GetAtt already orders them;
    # the duplicate is harmless and not reachable from the app without patching every template.
    "W3005": "redundant DependsOn emitted by aws-cdk-lib's Function construct",
}
FAILING_LEVELS = ("Error", "Warning")


def lint_assembly(assembly_dir: str | Path) -> list[dict[str, Any]]:
    """Every cfn-lint match (errors, warnings and informational) for the templates in ``assembly_dir``."""
    templates = sorted(str(path) for path in Path(assembly_dir).glob("*.template.json"))
    if not templates:
        raise FileNotFoundError(f"no templates in {assembly_dir}: synthesize first")
    command = [
        str(Path(sys.executable).parent / "cfn-lint"),
        "--format", "json",
        "--append-rules", "cfn_lint_serverless.rules",
        "--ignore-checks", *IGNORED_CHECKS,
        "--",
        *templates,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    # The exit code is a bit mask of 2 (errors), 4 (warnings) and 8 (informational); anything else means
    # cfn-lint itself failed.
    if result.returncode & ~0b1110:
        raise RuntimeError(f"cfn-lint did not run ({result.returncode}):\n{result.stderr}")
    matches: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    return matches


def describe(match: dict[str, Any]) -> str:
    """One line for a match: level, rule, file:line and message."""
    location = match.get("Location", {})
    where = f"{Path(match['Filename']).name}:{location.get('Start', {}).get('LineNumber', '?')}"
    return f"[{match['Level']}] {match['Rule']['Id']} {where} {location.get('Path', '')}: {match['Message']}"


def main(argv: list[str]) -> int:
    """Lint the assembly in ``argv[0]`` (default ``cdk.out``); non-zero on any error or warning."""
    matches = lint_assembly(argv[0] if argv else "cdk.out")
    failing = [m for m in matches if m["Level"] in FAILING_LEVELS]
    for match in matches:
        print(describe(match), file=sys.stderr)
    print(f"cfn-lint: {len(failing)} error(s)/warning(s), {len(matches) - len(failing)} informational")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
