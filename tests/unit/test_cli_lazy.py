"""Running one command imports only that command's module (``cli.app.LAZY_COMMANDS``).

``check`` is what on-call runs again and again; it must not pay for importing the runbook
renderer, the fix executor or the Prometheus exporter.  Every command must still be reachable
through the group, for ``--help``, completion and the runbooks' own ``logos-doctor`` steps.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from logos_doctor.cli import cli
from logos_doctor.cli.app import LAZY_COMMANDS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "broken-logos.json.gz"

PROBE = """
import json, sys
from logos_doctor.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith("logos_doctor"))), file=sys.stderr)
"""


def _modules_after(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    loaded: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return set(loaded)


def test_check_imports_neither_runbooks_nor_fix_nor_serve() -> None:
    loaded = _modules_after("check", "--all", "--snapshot", str(EXAMPLE), "-o", "json")
    assert "logos_doctor.cli.check" in loaded
    assert "logos_doctor.checks.pvc_pending" in loaded  # it did run the checks
    for module in ("logos_doctor.cli.runbook", "logos_doctor.cli.fix", "logos_doctor.cli.serve"):
        assert module not in loaded
    assert "logos_doctor.fix.executor" not in loaded and "logos_doctor.serve" not in loaded


def test_every_lazy_command_is_listed_and_resolves() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in LAZY_COMMANDS:
        assert f"  {name} " in result.output
        sub = CliRunner().invoke(cli, [name, "--help"])
        assert sub.exit_code == 0, (name, sub.output)
        assert "Usage:" in sub.output


PROBE_THIRD_PARTY = """
import json, sys
from logos_doctor.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""


def test_an_offline_check_never_imports_the_kubernetes_client() -> None:
    # Importing the official client costs most of a short run's time; reading a snapshot
    # reaches no cluster, so it must not pay for it.
    done = subprocess.run(
        [sys.executable, "-c", PROBE_THIRD_PARTY, "check", "--all", "--snapshot", str(EXAMPLE),
         "-o", "json"],
        capture_output=True, text=True, timeout=120,
    )
    top = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert "logos_doctor" in top
    assert "kubernetes" not in top and "urllib3" not in top
    # Nor the TLS and HTTP stack (ssl and http.client, about 0.05 s): the Prometheus reader
    # imports urllib.request only when it asks Prometheus something.
    assert "ssl" not in top and "http" not in top
    # Nor rich (about 0.02 s): JSON has nothing to draw, and a snapshot no progress to show.
    assert "rich" not in top
