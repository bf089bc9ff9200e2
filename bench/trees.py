"""``--tree LABEL=DIR``: a copy of logos-doctor's package to time or compare against another.

DIR holds a ``logos_doctor`` package as installed, with its checks inside it
(``logos_doctor/checks``); bench/same_findings.py says how to make one.  A tree whose checks
lie beside the package (``DIR/checks``, as ``git archive`` lays them out) is not one: the
editable install's import hook maps ``logos_doctor.checks`` to the working tree's ``checks/``
ahead of anything on ``PYTHONPATH``, so every tree would run the working tree's checks, and a
tree older than them can fail in one (a check calling what its engine lacks).
"""

from __future__ import annotations

from pathlib import Path


def parse_trees(specs: list[str]) -> dict[str, str]:
    """``{LABEL: DIR}`` from ``LABEL=DIR`` arguments; a bad one ends the run with one line."""
    trees: dict[str, str] = {}
    for spec in specs:
        label, sep, where = spec.partition("=")
        if not sep or not label or not where:
            raise SystemExit(f"--tree {spec!r}: expected LABEL=DIR")
        if not (Path(where) / "logos_doctor" / "checks" / "__init__.py").is_file():
            raise SystemExit(
                f"--tree {spec}: {where}/logos_doctor/checks/ is missing; copy checks/ into "
                "the package as logos_doctor/checks (see bench/trees.py)"
            )
        trees[label] = where
    return trees
