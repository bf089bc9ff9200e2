"""The wheel ships checks/ and runbooks/ inside the package, as the entry points expect."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_contains_checks_and_runbooks(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path),
         str(REPO)],
        check=True, capture_output=True, text=True,
    )
    wheel = next(tmp_path.glob("logos_doctor-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    checks = {Path(n).name for n in names if n.startswith("logos_doctor/checks/")}
    runbooks = {Path(n).name for n in names if n.startswith("logos_doctor/runbooks/")}
    assert {"storage_class.py", "pvc_pending.py"} <= checks
    assert {"pvc-pending.md", "storage-class.md"} <= runbooks
    assert "logos_doctor/py.typed" in names
    assert "logos_doctor/cluster/schema_table.json" in names  # snapshot validation reads it
    # The sharing walk in C (cluster/_share.c), built here since this machine has a compiler.
    assert any(n.startswith("logos_doctor/cluster/_share.") and n.endswith(".so") for n in names)
    assert "logos_doctor/cluster/_share.c" not in names  # share.py would compare their times
    # Every module of the source tree is in the wheel (an editable install hides a missing
    # package; a real install then fails with ModuleNotFoundError).
    sources = {f"logos_doctor/{p.relative_to(REPO / 'logos_doctor')}"
               for p in (REPO / "logos_doctor").rglob("*.py")}
    sources |= {f"logos_doctor/checks/{p.name}" for p in (REPO / "checks").glob("*.py")}
    assert sources <= names, sorted(sources - names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[logos_doctor.checks]" in text
    assert "pvc-pending = logos_doctor.checks.pvc_pending:CHECK" in text
    for line in text.split("[logos_doctor.checks]")[1].split("[")[0].splitlines():
        if "=" in line:
            module = line.split("=")[1].strip().split(":")[0]
            assert f"{module.replace('.', '/')}.py" in names, line
