"""Scope: the tool diagnoses only what it has seen.

A snapshot of namespace ``logos`` holds nothing about ``default``; checking ``default`` from
it once printed four CRITICALs for Secrets and a StorageClass the snapshot never looked for.
A namespace outside a snapshot's scope is now an error naming the scope, with exit 3.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from logos_doctor.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "broken-logos.json.gz"


@pytest.mark.parametrize("scope", [["-n", "default"], ["-n", "kube-system"], ["-A"]])
def test_a_scope_the_snapshot_never_recorded_is_refused(
    scope: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--all", "--snapshot", str(EXAMPLE), *scope, "-o", "json"])
    assert exit_.value.code == 3
    out = capsys.readouterr()
    assert out.out == ""  # no findings invented for data the snapshot does not hold
    (line,) = [ln for ln in out.err.splitlines() if ln.strip() and "hint" not in ln.lower()][:1]
    assert "holds namespace logos only" in line


def test_the_recorded_namespace_is_still_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", "--all", "--snapshot", str(EXAMPLE), "-n", "logos", "-o", "json"])
    assert exit_.value.code == 1  # the example is broken: findings, not an error
    assert '"findings"' in capsys.readouterr().out
