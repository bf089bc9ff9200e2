"""A module of the core stays about one screenful of ideas, or says at its top why not.

Issue 13: "no module of the core over about 300 lines without a reason written at its top".
The reason is a line of the module docstring beginning ``One module on purpose``; "about"
leaves a margin of a tenth before it is asked for.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "logos_doctor"
LIMIT = 330
MARK = "One module on purpose"


def oversized_without_reason(package: Path) -> list[str]:
    """Modules over ``LIMIT`` lines whose docstring gives no reason."""
    out = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= LIMIT:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if not any(line.startswith(MARK) for line in doc.splitlines()):
            out.append(f"{path.relative_to(package.parent)} ({text.count(chr(10))} lines)")
    return out


def test_every_large_module_says_why(tmp_path: Path) -> None:
    assert oversized_without_reason(PACKAGE) == []


def test_a_large_module_without_a_reason_is_named(tmp_path: Path) -> None:
    body = "x = 1\n" * (LIMIT + 5)
    (tmp_path / "big.py").write_text('"""Big."""\n' + body)
    (tmp_path / "ok.py").write_text(f'"""Big.\n\n{MARK}: reasons.\n"""\n' + body)
    (tmp_path / "small.py").write_text('"""Small."""\nx = 1\n')
    assert oversized_without_reason(tmp_path) == [f"{tmp_path.name}/big.py ({LIMIT + 6} lines)"]
