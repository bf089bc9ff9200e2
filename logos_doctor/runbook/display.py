"""``runbook show`` in a terminal: prose rendered by rich, code printed verbatim.

rich wraps long lines inside code blocks, and a wrapped command pasted into a shell is a
different command.  So the markdown is cut at its code blocks (markdown-it-py tokens): prose
goes through ``rich.markdown.Markdown``, each code block is printed as it is written with
``soft_wrap`` (the terminal may fold a long line on screen, a copy still gets one line).
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from rich.console import Console
from rich.markdown import Markdown
from rich.text import Text

_MARKDOWN = MarkdownIt("commonmark")


def print_markdown(console: Console, text: str) -> None:
    """Render ``text`` on ``console`` without ever wrapping inside a code block."""
    lines = text.split("\n")
    pos = 0
    for tok in _MARKDOWN.parse(text):
        if tok.type not in ("fence", "code_block") or not tok.map or tok.level:
            continue
        start, end = tok.map
        prose = "\n".join(lines[pos:start]).strip()
        if prose:
            console.print(Markdown(prose))
        console.print()
        for line in tok.content.rstrip("\n").split("\n"):
            console.print(Text("    " + line, style="cyan"), soft_wrap=True, highlight=False)
        console.print()
        pos = end
    rest = "\n".join(lines[pos:]).strip()
    if rest:
        console.print(Markdown(rest))
