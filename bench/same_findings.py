"""Proof that a performance change left the output alone: the ``check --all --snapshot F -o
json`` text of two source trees, compared on every recorded snapshot and the example.

Each tree is a directory holding a ``logos_doctor`` package as installed, with the checks
inside it (``logos_doctor/checks``): copy ``logos_doctor/`` and then ``checks/`` into it.
Without them, an editable install supplies the working tree's checks to both sides, and a
change to a check is compared with itself; each side refuses to run from such a tree.
Both run in fresh processes with that directory first on ``PYTHONPATH``, each snapshot
with its recorded ``.config.yaml`` when there is one; the checks' ``seconds`` (timings) are
the only part of the output left out of the comparison.
Also compared: the refusal message of every snapshot that does not load, and the output
on any extra files given (e.g. a synthesized one from ``bench/envelope.py``).

  .venv/bin/python bench/same_findings.py /tmp/before /tmp/after [extra.json ...]
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNAPSHOTS = REPO / "tests/fixtures/snapshots"


def files(extra: list[str]) -> list[Path]:
    """Every recorded snapshot, the example, and ``extra``."""
    return [
        *sorted(SNAPSHOTS.glob("*.json.gz")),
        REPO / "examples/broken-logos.json.gz",
        *map(Path, extra),
    ]


def outputs(paths: list[str]) -> dict[str, str]:
    """In this process: the output of each snapshot (digest of the text without timings)."""
    from logos_doctor.cli import cli

    result = {}
    for p in paths:
        path = Path(p)
        args = ["check", "--all", "--snapshot", str(path), "-o", "json"]
        config = path.with_name(path.name.replace(".json.gz", ".config.yaml"))
        if config.exists() and config != path:
            args += ["--config", str(config)]
        out, err = io.StringIO(), io.StringIO()
        code: object = 0
        with redirect_stdout(out), redirect_stderr(err):
            try:
                cli.main(args, standalone_mode=False)
            except SystemExit as exc:
                code = exc.code
            except Exception as exc:  # click's Exit and our errors
                code = getattr(exc, "exit_code", None) or f"{type(exc).__name__}: {exc}"
        # The text itself, byte for byte, less the checks' timings.
        text = re.sub(r'"seconds": [0-9.e+-]+', '"seconds": 0', out.getvalue())
        blob = f"{code}\n{text}\n{err.getvalue()}"
        result[path.name] = hashlib.sha256(blob.encode()).hexdigest() + f" {len(text)}"
    tree = os.environ.get("PYTHONPATH", "").split(os.pathsep)[0]
    if tree:  # every module of the package (but the runbooks' text) came from the tree
        root = Path(tree).resolve()
        outside = sorted(
            m
            for m, mod in sys.modules.items()
            if m.startswith("logos_doctor") and not m.startswith("logos_doctor.runbooks")
            if getattr(mod, "__file__", None) and root not in Path(mod.__file__).resolve().parents
        )
        if outside:
            raise SystemExit(f"{tree} does not hold {', '.join(outside[:3])}: see the docstring")
    return result


def run_tree(tree: str, paths: list[Path]) -> dict[str, str]:
    """``outputs`` of ``paths``, in a fresh process running ``tree``'s package."""
    env = dict(os.environ, PYTHONPATH=tree)
    proc = subprocess.run(
        [sys.executable, __file__, "--in-process", *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(f"{tree}: {(proc.stderr.strip().splitlines() or ['failed'])[-1]}")
    data: dict[str, str] = json.loads(proc.stdout)
    return data


def main() -> None:
    """Compare two trees; exit 1 if any output differs."""
    if sys.argv[1:2] == ["--in-process"]:
        print(json.dumps(outputs(sys.argv[2:])))
        return
    before, after, *extra = sys.argv[1:]
    paths = files(extra)
    a, b = run_tree(before, paths), run_tree(after, paths)
    differ = [name for name in a if a[name] != b.get(name)]
    for name in differ:
        print(f"DIFFERS: {name}: {a[name]} -> {b.get(name)}")
    print(f"{len(paths)} snapshots, {len(differ)} differ")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
