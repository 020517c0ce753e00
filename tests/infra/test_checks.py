"""cdk-nag and cfn-lint pass, and every cdk-nag acknowledgement silences a finding that really occurs."""

from __future__ import annotations

from infra.cfnlint import FAILING_LEVELS, describe, lint_assembly
from infra.nag import WOULD_ACKNOWLEDGE, unacknowledged_findings
from tests.infra.conftest import Synth


def test_cdk_nag_leaves_no_unacknowledged_finding(any_synth: Synth) -> None:
    assert [str(f) for f in unacknowledged_findings(any_synth.assembly.directory)] == []


def test_every_acknowledgement_silences_a_real_finding_and_gives_a_reason(unacknowledged_synth: Synth) -> None:
    # Given the findings of the app with acknowledgements off, and the acknowledgements it would have made
    findings = {(f.rule, f.path) for f in unacknowledged_findings(unacknowledged_synth.assembly.directory)}
    acknowledgements = [
        (construct.node.path, entry.data["rule"], entry.data["reason"])
        for construct in unacknowledged_synth.app.node.find_all()
        for entry in construct.node.metadata
        if entry.type == WOULD_ACKNOWLEDGE
    ]
    assert acknowledgements

    # Then each acknowledgement matches at least one finding on its construct or below it ...
    for path, rule, reason in acknowledgements:
        matched = [p for r, p in findings if r == rule and (p == path or p.startswith(path + "/"))]
        assert matched, f"{rule} acknowledged at {path} silences nothing: remove it"
        assert len(reason) >= 20

    # ... and every finding is acknowledged somewhere (which is why the normal synth is clean)
    for rule, path in findings:
        assert any(r == rule and (path == p or path.startswith(p + "/")) for p, r, _ in acknowledgements), (
            f"{rule} at {path}"
        )


def test_cfn_lint_with_the_serverless_rules_reports_no_errors_or_warnings(any_synth: Synth) -> None:
    matches = lint_assembly(any_synth.assembly.directory)
    assert [describe(m) for m in matches if m["Level"] in FAILING_LEVELS] == []
