"""The runbook document: front matter, sections and steps, parsed once with markdown-it-py.

Headings and fenced blocks come from markdown-it-py's tokens (the parser rich already uses to
render markdown), so a fence inside a list or a ``#`` line inside a code block is read as
markdown reads it.  A step is a fenced ``sh`` block whose info string carries attributes::

    ```sh {id=describe-pvc kind=diagnose}
    ```sh {id=get-apiservice kind=diagnose expect=0,1}
    ```sh {id=top-pods kind=diagnose may-fail=true}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

from logos_doctor.errors import UsageError
from logos_doctor.runbook.front_matter import ID, RunbookError, front_matter, split_front_matter
from logos_doctor.runbook.params import Param
from logos_doctor.runbook.step import PLACEHOLDER, Step, StepKind, heredoc_lines

REQUIRED_SECTIONS = ("meaning", "impact", "diagnosis", "mitigation")
STEP_LANGS = ("sh", "bash", "shell")
_ATTRS = re.compile(r"\{([^}]*)\}\s*$")


@dataclass(frozen=True)
class Section:
    """A heading and the lines under it, up to the next heading of the same or higher level."""

    level: int
    title: str
    slug: str
    start: int  # index of the heading line in ``Runbook.lines``
    end: int  # index one past the section's last line
    parent: str | None = None  # slug of the enclosing level-2 section


@dataclass(frozen=True)
class Runbook:
    """A parsed runbook."""

    id: str
    title: str
    checks: tuple[str, ...]
    causes: tuple[str, ...]
    severity: str | None
    params: Mapping[str, Param]
    lines: tuple[str, ...]  # the markdown body, without the front matter
    sections: tuple[Section, ...]
    steps: tuple[Step, ...]
    source: str
    front_lines: int = 0  # lines taken by the front matter, to report file line numbers
    use: str | None = None  # when to reach for this runbook rather than a neighbour
    inline_code: tuple[tuple[int, str], ...] = ()  # (body line, text) of every `code` span
    code_blocks: tuple[tuple[int, str], ...] = ()  # (body line, text) of every fenced block

    @property
    def body(self) -> str:
        """The markdown after the front matter."""
        return "\n".join(self.lines)

    def section(self, slug: str, parent: str | None = None) -> Section | None:
        """The first section with this slug (under ``parent`` when given)."""
        for sec in self.sections:
            if sec.slug == slug and (parent is None or sec.parent == parent):
                return sec
        return None

    def check_cause(self, cause: str | None) -> str | None:
        """``cause`` if this runbook has a section for it; a usage error listing them if not."""
        if cause is None or cause in self.causes:
            return cause
        known = ", ".join(self.causes) or "none"
        raise UsageError(f"runbook {self.id} has no cause {cause!r}", f"its causes: {known}")

    def steps_for(self, cause: str | None) -> list[Step]:
        """What a run walks: Diagnosis, general Mitigation, then the cause's own steps."""
        self.check_cause(cause)
        order = {"diagnosis": 0, "mitigation": 1}
        chosen = [s for s in self.steps if s.section in order or s.section == cause]
        return sorted(chosen, key=lambda s: (order.get(s.section, 2), s.line))

    def used_params(self) -> set[str]:
        """Every parameter named anywhere: steps, prose and other code."""
        return {m.group(1) for m in PLACEHOLDER.finditer(self.body)}

    def excerpt(self, cause: str | None, *, labelled: bool = False) -> str:
        """The markdown to show: all of it, or for a cause Meaning/Impact/Diagnosis, the
        Mitigation preamble and that cause's section only.  ``labelled`` turns each step's
        fence into a plain ``sh`` fence announced by the step's id and kind."""
        lines = self._labelled() if labelled else list(self.lines)

        def text(start: int, end: int) -> str:
            return "\n".join(lines[start:end]).rstrip() + "\n"

        if cause is None:
            return text(0, len(lines)).strip() + "\n"
        self.check_cause(cause)
        parts = [f"# {self.title}\n"]
        for slug in ("meaning", "impact", "diagnosis"):
            sec = self.section(slug)
            if sec is not None:
                parts.append(text(sec.start, sec.end))
        mitigation = self.section("mitigation")
        cause_sec = self.section(cause, parent="mitigation")
        if mitigation is not None and cause_sec is not None:
            first_sub = min(
                (s.start for s in self.sections if s.parent == "mitigation" and s.level == 3),
                default=mitigation.end,
            )
            parts.append(text(mitigation.start, first_sub))
            parts.append(text(cause_sec.start, cause_sec.end))
        return "\n".join(parts)

    def _labelled(self) -> list[str]:
        lines = list(self.lines)
        for step in self.steps:
            opening = lines[step.line]
            indent = opening[: len(opening) - len(opening.lstrip())]
            fence = re.match(r"`{3,}|~{3,}", opening.lstrip())
            label = "changes the cluster" if step.kind == "change" else "read-only"
            # one list entry, several lines: section indexes stay valid
            lines[step.line] = (
                f"{indent}*Step `{step.id}` ({step.kind}, {label}):*\n\n"
                f"{indent}{fence.group(0) if fence else '```'}sh"
            )
        return lines


def slugify(title: str) -> str:
    """GitHub's heading anchor for simple titles: lower case, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return text.replace(" ", "-")


_MARKDOWN = MarkdownIt("commonmark")


def parse(text: str, source: str = "<runbook>") -> Runbook:
    """Parse and validate one runbook; ``RunbookError`` says what is wrong and where."""
    front, body, offset = split_front_matter(text, source)
    meta = front_matter(front, source)
    lines = tuple(body.split("\n"))
    tokens = _MARKDOWN.parse(body)
    headings: list[tuple[int, int, str]] = []
    fences: list[tuple[int, str, str]] = []
    inline: list[tuple[int, str]] = []
    for pos, tok in enumerate(tokens):
        line = tok.map[0] if tok.map else 0
        if tok.type == "heading_open":
            headings.append((line, int(tok.tag[1:]), tokens[pos + 1].content.strip()))
        elif tok.type == "fence":
            fences.append((line, tok.info, tok.content))
        elif tok.type == "inline":
            inline += [(line, c.content) for c in _children(tok) if c.type == "code_inline"]
    sections = _sections(headings, len(lines))
    h1 = [s for s in sections if s.level == 1]
    if len(h1) != 1:
        raise RunbookError(f"{source}: needs exactly one '# title' heading, found {len(h1)}")
    missing = [
        s for s in REQUIRED_SECTIONS if not any(x.slug == s and x.level == 2 for x in sections)
    ]
    if missing:
        raise RunbookError(
            f"{source}: missing section(s): " + ", ".join(f"## {m.title()}" for m in missing)
        )
    # The causes are declared once, by the checks (logos_doctor.cause); a runbook holds a
    # '### <cause-id>' section under Mitigation for each, and the tests hold the two together.
    causes = tuple(
        s.slug
        for s in sections
        if s.level == 3 and s.parent == "mitigation" and ID.fullmatch(s.title)
    )
    steps = _steps(fences, sections, causes, source, offset)
    params = meta["params"]
    for name in sorted({m.group(1) for m in PLACEHOLDER.finditer(body)} - set(params)):
        raise RunbookError(f"{source}: {{{{{name}}}}} is used but not declared under params:")
    return Runbook(
        id=meta["id"],
        title=meta["title"],
        checks=tuple(meta["checks"]),
        causes=causes,
        severity=meta["severity"],
        params=params,
        lines=lines,
        sections=tuple(sections),
        steps=tuple(steps),
        source=source,
        front_lines=offset,
        use=meta["use"],
        inline_code=tuple(inline),
        code_blocks=tuple((line, code) for line, _, code in fences),
    )


def _children(tok: Token) -> list[Token]:
    return list(tok.children or [])


def _sections(headings: list[tuple[int, int, str]], total: int) -> list[Section]:
    sections: list[Section] = []
    level2: str | None = None
    for pos, (idx, level, title) in enumerate(headings):
        end = next((h[0] for h in headings[pos + 1 :] if h[1] <= level), total)
        slug = slugify(title)
        if level == 2:
            level2 = slug
        sections.append(Section(level, title, slug, idx, end, None if level <= 2 else level2))
    return sections


def _steps(
    fences: list[tuple[int, str, str]],
    sections: list[Section],
    causes: tuple[str, ...],
    source: str,
    offset: int,
) -> list[Step]:
    steps: list[Step] = []
    seen: set[str] = set()
    for line, info, code in fences:
        attrs_match = _ATTRS.search(info)
        if not attrs_match:
            continue  # a block without attributes is only shown, never run
        where = f"{source}:{line + offset + 1}"
        lang = info[: attrs_match.start()].strip()
        if lang not in STEP_LANGS:
            raise RunbookError(
                f"{where}: a step must be a {'/'.join(STEP_LANGS)} block, not {lang!r}"
            )
        attrs = _parse_attrs(attrs_match.group(1), where)
        sid, kind = attrs.get("id"), attrs.get("kind")
        if not sid or not ID.fullmatch(sid):
            raise RunbookError(f"{where}: a step needs id=<lower-case-words>")
        if kind not in ("diagnose", "change"):
            raise RunbookError(f"{where}: step {sid}: kind must be diagnose or change")
        if sid in seen:
            raise RunbookError(f"{where}: step id {sid} is used twice")
        seen.add(sid)
        section = _step_section(line, sections, causes)
        if section is None:
            raise RunbookError(f"{where}: step {sid} must be under ## Diagnosis or ## Mitigation")
        if not code.strip():
            raise RunbookError(f"{where}: step {sid} is empty")
        expect, may_fail = _expectation(attrs, sid, kind, where)
        step_kind: StepKind = "change" if kind == "change" else "diagnose"
        steps.append(
            Step(sid, step_kind, code, section, line, expect, may_fail, heredoc_lines(code))
        )
    return steps


def _expectation(
    attrs: dict[str, str], sid: str, kind: str, where: str
) -> tuple[frozenset[int], bool]:
    may_fail = attrs.get("may-fail", "false")
    if may_fail not in ("true", "false"):
        raise RunbookError(f"{where}: step {sid}: may-fail must be true or false")
    if may_fail == "true" and kind == "change":
        raise RunbookError(f"{where}: step {sid}: a change step may not fail unnoticed")
    codes = attrs.get("expect", "0")
    if not re.fullmatch(r"\d{1,3}(,\d{1,3})*", codes):
        raise RunbookError(f"{where}: step {sid}: expect must be exit codes such as 0,1")
    return frozenset(int(c) for c in codes.split(",")), may_fail == "true"


def _parse_attrs(text: str, where: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep or key not in ("id", "kind", "expect", "may-fail"):
            raise RunbookError(
                f"{where}: unknown step attribute {token!r} (use id=, kind=, expect=, may-fail=)"
            )
        attrs[key] = value.strip("\"'")
    return attrs


def _step_section(line: int, sections: list[Section], causes: tuple[str, ...]) -> str | None:
    """Which part of the run a step at ``line`` belongs to."""
    top = next((s for s in sections if s.level == 2 and s.start < line < s.end), None)
    if top is None or top.slug not in ("diagnosis", "mitigation"):
        return None
    if top.slug == "mitigation":
        for sec in sections:
            if sec.level == 3 and sec.parent == "mitigation" and sec.start < line < sec.end:
                return sec.slug if sec.slug in causes else "mitigation"
    return top.slug
