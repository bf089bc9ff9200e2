"""Runbooks: markdown an on-call engineer reads, with steps logos-doctor can run.

A runbook is ``runbooks/<id>.md`` in the package (``logos_doctor.runbooks``): YAML front
matter (id, title, checks, severity, params), then ``## Meaning``, ``## Impact``,
``## Diagnosis`` and ``## Mitigation``, where each cause has a ``### <cause-id>`` section (its
anchor is the cause id, so ``check`` can link ``<id>.md#<cause>``).  Executable steps are
fenced blocks whose info string carries attributes::

    ```sh {id=describe-pvc kind=diagnose}
    kubectl describe pvc {{pvc}} -n {{namespace}}
    ```

``kind=diagnose`` steps only read; ``kind=change`` steps modify something and are confirmed one
by one.  A run walks the Diagnosis steps, the Mitigation steps outside any cause section, then
the chosen cause's steps.

Parameters are filled in *by us*, before bash sees the command, so a hostile value must never
become shell syntax.  Two layers make sure of that: every value is validated against its
declared type (DNS-1123 names by default), and is ``shlex.quote``-d where it is substituted.
Quoting is only correct where a placeholder stands as (part of) a shell word, so a runbook that
puts ``{{param}}`` inside single or double quotes is rejected when it is parsed; in a here
document (where quotes would be literal) only values that need no quoting are accepted.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal

import yaml

from logos_doctor.errors import DoctorError, UsageError

PACKAGE = "logos_doctor.runbooks"
ID = re.compile(r"^[a-z0-9][a-z0-9]*(-[a-z0-9]+)*$")
PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
REQUIRED_SECTIONS = ("meaning", "impact", "diagnosis", "mitigation")
STEP_LANGS = ("sh", "bash", "shell")

StepKind = Literal["diagnose", "change"]
Context = Literal["word", "heredoc", "single-quoted", "double-quoted", "comment"]
_CONTEXT_OF_STATE: dict[str, Context] = {
    "word": "word",
    "comment": "comment",
    "squote": "single-quoted",
    "dquote": "double-quoted",
}


class RunbookError(DoctorError):
    """A runbook file is malformed (a bug in the runbook, found when it is loaded)."""


# -- parameter types -----------------------------------------------------------------------


@dataclass(frozen=True)
class ParamType:
    """What values a parameter accepts, and how to say so when one is refused."""

    pattern: re.Pattern[str]
    max_length: int
    explain: str


# Every pattern admits only characters that ``shlex.quote`` leaves alone, so a valid value is
# one shell word; the quoting at substitution is the second line of defence, not the only one.
PARAM_TYPES: dict[str, ParamType] = {
    "name": ParamType(
        re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
        253,
        "a Kubernetes name: lower-case letters, digits, '-' and '.', "
        "starting and ending with a letter or digit",
    ),
    "int": ParamType(re.compile(r"^[0-9]{1,6}$"), 6, "a whole number"),
    "port": ParamType(re.compile(r"^[1-9][0-9]{0,4}$"), 5, "a TCP port number (1-65535)"),
    "qualified-name": ParamType(
        re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"),
        316,
        "a label key or resource name such as nvidia.com/gpu",
    ),
    "label": ParamType(
        re.compile(
            r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
            r"=([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"
        ),
        380,
        "a label selector key=value such as nvidia.com/gpu=true",
    ),
    "image": ParamType(
        re.compile(
            r"^[A-Za-z0-9][A-Za-z0-9._/-]*(:[0-9]+/[A-Za-z0-9._/-]+)?"
            r"(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?(@sha256:[a-f0-9]{64})?$"
        ),
        512,
        "a container image reference such as registry.example.com/logos/web:1.2",
    ),
    "path": ParamType(
        re.compile(r"^[A-Za-z0-9_./@%+=:,-]+$"),
        1024,
        "a file path of letters, digits and ._/@%+=:,- (no spaces); ~ is expanded",
    ),
}


@dataclass(frozen=True)
class Param:
    """A declared parameter: ``{{name}}`` in steps, with a description and maybe a default."""

    name: str
    description: str
    default: str | None = None
    type: str = "name"

    def validate(self, value: str) -> str:
        """The value to substitute, or a ``UsageError`` that says what is accepted."""
        kind = PARAM_TYPES[self.type]
        text = value.strip()
        if self.type == "path":
            with contextlib.suppress(ValueError):  # "~\x00...": left for the pattern to refuse
                text = os.path.expanduser(text)
        if not text:
            raise UsageError(f"parameter {self.name} is empty", f"give {kind.explain}")
        bad_port = self.type == "port" and kind.pattern.fullmatch(text) and int(text) > 65535
        if len(text) > kind.max_length or not kind.pattern.fullmatch(text) or bad_port:
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise UsageError(
                f"parameter {self.name}={shown!r} is not valid", f"it must be {kind.explain}"
            )
        return text


# -- steps and placeholders ----------------------------------------------------------------


@dataclass(frozen=True)
class Placeholder:
    """One ``{{name}}`` in a step's code, and the shell context it stands in."""

    name: str
    start: int
    end: int
    context: Context


@dataclass(frozen=True)
class Step:
    """One executable fenced block."""

    id: str
    kind: StepKind
    code: str
    section: str  # "diagnosis", "mitigation", or the cause id whose section holds it
    line: int
    placeholders: tuple[Placeholder, ...] = ()

    @property
    def params(self) -> tuple[str, ...]:
        """Parameter names used, in order of first use."""
        return tuple(dict.fromkeys(p.name for p in self.placeholders))

    def fill(self, values: Mapping[str, str]) -> str:
        """The command with every placeholder replaced by its (validated) value, quoted."""
        out: list[str] = []
        pos = 0
        for ph in self.placeholders:
            out.append(self.code[pos : ph.start])
            value = values[ph.name]
            quoted = shlex.quote(value)
            if ph.context == "comment":
                # Shown for the reader, never run: a newline in it would end the comment and
                # turn the rest of the value into a command.
                out.append(value.replace("\n", "\\n").replace("\r", "\\r"))
            elif ph.context == "heredoc":
                if quoted != value:
                    raise UsageError(
                        f"parameter {ph.name}={value!r} cannot go into step {self.id}",
                        "the step writes it into a here-document, where only plain values fit",
                    )
                out.append(value)
            else:
                out.append(quoted)
            pos = ph.end
        out.append(self.code[pos:])
        return "".join(out)


def scan_placeholders(code: str) -> tuple[Placeholder, ...]:
    """Every placeholder in ``code`` with the shell quoting context around it.

    A small shell lexer: single and double quotes, backslash escapes, comments and here
    documents (``<<EOF``, ``<<-'EOF'``).  It need not understand all of bash, only enough to
    know whether a placeholder would end up inside quotes.
    """
    found: list[Placeholder] = []
    state = "word"
    heredocs: list[tuple[str, bool]] = []  # pending (delimiter, strip tabs)
    i, n = 0, len(code)
    while i < n:
        match = PLACEHOLDER.match(code, i) if code.startswith("{{", i) else None
        if match:
            context = _CONTEXT_OF_STATE[state]
            found.append(Placeholder(match.group(1), match.start(), match.end(), context))
            i = match.end()
            continue
        ch = code[i]
        if state == "squote":
            state = "word" if ch == "'" else state
        elif state == "dquote":
            if ch == "\\":
                i += 1
            elif ch == '"':
                state = "word"
        elif state == "comment":
            if ch == "\n":
                state = "word"
                i = _skip_heredocs(code, i + 1, heredocs, found)
                continue
        else:
            if ch == "\\":
                i += 1
            elif ch == "'":
                state = "squote"
            elif ch == '"':
                state = "dquote"
            elif ch == "#" and (i == 0 or code[i - 1] in " \t\n;&|("):
                state = "comment"
            elif code.startswith("<<", i) and not code.startswith("<<<", i):
                i = _read_heredoc_word(code, i + 2, heredocs)
                continue
            elif ch == "\n" and heredocs:
                i = _skip_heredocs(code, i + 1, heredocs, found)
                continue
        i += 1
    return tuple(found)


def _read_heredoc_word(code: str, i: int, pending: list[tuple[str, bool]]) -> int:
    strip = code.startswith("-", i)
    i += 1 if strip else 0
    while i < len(code) and code[i] in " \t":
        i += 1
    m = re.match(r"""'([^']*)'|"([^"]*)"|\\?([A-Za-z_][A-Za-z0-9_]*)""", code[i:])
    if not m:
        return i
    pending.append((next(g for g in m.groups() if g is not None), strip))
    return i + m.end()


def _skip_heredocs(
    code: str, i: int, pending: list[tuple[str, bool]], found: list[Placeholder]
) -> int:
    """Consume the bodies of pending here-documents starting at line offset ``i``."""
    while pending:
        delimiter, strip = pending.pop(0)
        while i < len(code):
            end = code.find("\n", i)
            end = len(code) if end < 0 else end
            line = code[i:end]
            if (line.lstrip("\t") if strip else line) == delimiter:
                i = end + 1
                break
            for m in PLACEHOLDER.finditer(line):
                found.append(Placeholder(m.group(1), i + m.start(), i + m.end(), "heredoc"))
            i = end + 1
    return i


# -- the runbook ---------------------------------------------------------------------------


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

    def text(self, sec: Section) -> str:
        """A section's markdown, heading included."""
        return "\n".join(self.lines[sec.start : sec.end]).rstrip() + "\n"

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

    def excerpt(self, cause: str | None) -> str:
        """The markdown to show: all of it, or for a cause Meaning/Impact/Diagnosis, the
        Mitigation preamble and that cause's section only."""
        if cause is None:
            return self.body.strip() + "\n"
        self.check_cause(cause)
        parts = [f"# {self.title}\n"]
        for slug in ("meaning", "impact", "diagnosis"):
            sec = self.section(slug)
            if sec is not None:
                parts.append(self.text(sec))
        mitigation = self.section("mitigation")
        cause_sec = self.section(cause, parent="mitigation")
        if mitigation is not None and cause_sec is not None:
            first_sub = min(
                (s.start for s in self.sections if s.parent == "mitigation" and s.level == 3),
                default=mitigation.end,
            )
            parts.append("\n".join(self.lines[mitigation.start : first_sub]).rstrip() + "\n")
            parts.append(self.text(cause_sec))
        return "\n".join(parts)


def slugify(title: str) -> str:
    """GitHub's heading anchor for simple titles: lower case, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return text.replace(" ", "-")


_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ATTRS = re.compile(r"\{([^}]*)\}\s*$")


def parse(text: str, source: str = "<runbook>") -> Runbook:
    """Parse and validate one runbook; ``RunbookError`` names the file and line."""
    front, body, offset = _split_front_matter(text, source)
    lines = tuple(body.split("\n"))
    meta = _front_matter(front, source)
    sections: list[Section] = []
    headings: list[tuple[int, int, str]] = []
    blocks: list[tuple[int, str, str]] = []  # (line of opening fence, info, code)
    fence: tuple[str, int, str] | None = None
    code_lines: list[str] = []
    for idx, line in enumerate(lines):
        if fence is not None:
            marker, start, info = fence
            stripped = line.strip()
            if stripped.startswith(marker[0] * len(marker)) and set(stripped) == {marker[0]}:
                blocks.append((start, info, "\n".join(code_lines)))
                fence, code_lines = None, []
            else:
                code_lines.append(line)
            continue
        fm = _FENCE.match(line)
        if fm:
            fence = (fm.group(2), idx, fm.group(3).strip())
            continue
        hm = _HEADING.match(line)
        if hm:
            headings.append((idx, len(hm.group(1)), hm.group(2)))
    if fence is not None:
        raise RunbookError(f"{source}:{fence[1] + offset + 1}: code block is never closed")

    level2: str | None = None
    for pos, (idx, level, title) in enumerate(headings):
        end = next((h[0] for h in headings[pos + 1 :] if h[1] <= level), len(lines))
        slug = slugify(title)
        if level == 2:
            level2 = slug
        sections.append(Section(level, title, slug, idx, end, None if level <= 2 else level2))
    title = meta["title"]
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

    steps = _steps(blocks, sections, causes, source, offset)
    params = meta["params"]
    for name in sorted({m.group(1) for m in PLACEHOLDER.finditer(body)} - set(params)):
        raise RunbookError(f"{source}: {{{{{name}}}}} is used but not declared under params:")
    return Runbook(
        id=meta["id"],
        title=title,
        checks=tuple(meta["checks"]),
        causes=causes,
        severity=meta["severity"],
        params=params,
        lines=lines,
        sections=tuple(sections),
        steps=tuple(steps),
        source=source,
        front_lines=offset,
    )


def _split_front_matter(text: str, source: str) -> tuple[str, str, int]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise RunbookError(f"{source}: must start with '---' front matter")
    for idx in range(1, len(lines)):
        if lines[idx].strip() == "---":
            return "\n".join(lines[1:idx]), "\n".join(lines[idx + 1 :]), idx + 1
    raise RunbookError(f"{source}: front matter is not closed with '---'")


def _front_matter(front: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(front) or {}
    except yaml.YAMLError as exc:
        raise RunbookError(f"{source}: front matter is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RunbookError(f"{source}: front matter must be a mapping")
    unknown = sorted(set(data) - {"id", "title", "checks", "severity", "params"})
    if unknown:
        raise RunbookError(f"{source}: unknown front matter key(s): {', '.join(unknown)}")
    rid = data.get("id")
    if not isinstance(rid, str) or not ID.fullmatch(rid):
        raise RunbookError(f"{source}: id must be lower-case words joined by hyphens")
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        raise RunbookError(f"{source}: title is required")
    lists = {}
    for key in ("checks",):
        value = data.get(key) or []
        if not isinstance(value, list) or not all(
            isinstance(v, str) and ID.fullmatch(v) for v in value
        ):
            raise RunbookError(f"{source}: {key} must be a list of ids")
        if len(set(value)) != len(value):
            raise RunbookError(f"{source}: {key} lists an id twice")
        lists[key] = value
    severity = data.get("severity")
    if severity is not None and severity not in ("critical", "warning", "info"):
        raise RunbookError(f"{source}: severity must be critical, warning or info")
    return {
        "id": rid,
        "title": data["title"].strip(),
        "checks": lists["checks"],
        "severity": severity,
        "params": _params(data.get("params") or {}, source),
    }


def _params(raw: Any, source: str) -> dict[str, Param]:
    if not isinstance(raw, dict):
        raise RunbookError(f"{source}: params must be a mapping of name to description")
    params: dict[str, Param] = {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not PARAM_NAME.fullmatch(name):
            raise RunbookError(f"{source}: parameter name {name!r} must be lower_snake_case")
        if isinstance(spec, str):
            spec = {"description": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("description"), str):
            raise RunbookError(f"{source}: parameter {name} needs a description")
        extra = set(spec) - {"description", "default", "type"}
        if extra:
            raise RunbookError(
                f"{source}: parameter {name}: unknown key(s) {', '.join(sorted(extra))}"
            )
        kind = spec.get("type", "name")
        if kind not in PARAM_TYPES:
            raise RunbookError(
                f"{source}: parameter {name}: type {kind!r} is not one of {', '.join(PARAM_TYPES)}"
            )
        default = spec.get("default")
        param = Param(name, spec["description"], None if default is None else str(default), kind)
        if param.default is not None:
            try:
                param.validate(param.default)
            except UsageError as exc:
                raise RunbookError(f"{source}: default of {exc}") from None
        params[name] = param
    return params


def _steps(
    blocks: list[tuple[int, str, str]],
    sections: list[Section],
    causes: tuple[str, ...],
    source: str,
    offset: int,
) -> list[Step]:
    steps: list[Step] = []
    seen: set[str] = set()
    for line, info, code in blocks:
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
        placeholders = scan_placeholders(code)
        for ph in placeholders:
            if ph.context in ("single-quoted", "double-quoted"):
                quoting = ph.context.replace("-", " ")
                raise RunbookError(
                    f"{where}: step {sid}: {{{{{ph.name}}}}} is inside {quoting} text; put it "
                    "outside the quotes (values are shell-quoted when filled in)"
                )
        if not code.strip():
            raise RunbookError(f"{where}: step {sid} is empty")
        step_kind: StepKind = "change" if kind == "change" else "diagnose"
        steps.append(Step(sid, step_kind, code, section, line, placeholders))
    return steps


def _parse_attrs(text: str, where: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep or key not in ("id", "kind"):
            raise RunbookError(f"{where}: unknown step attribute {token!r} (use id= and kind=)")
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


# -- loading from the package --------------------------------------------------------------


def runbook_ids() -> list[str]:
    """Ids of every runbook shipped in the package, sorted."""
    root = files(PACKAGE)
    return sorted(
        entry.name[:-3]
        for entry in root.iterdir()
        if entry.name.endswith(".md") and ID.fullmatch(entry.name[:-3])
    )


def load(runbook_id: str) -> Runbook:
    """The packaged runbook with this id; a usage error listing the ids if there is none."""
    if not ID.fullmatch(runbook_id) or runbook_id not in runbook_ids():
        raise UsageError(
            f"no runbook {runbook_id!r}",
            "see 'logos-doctor runbook list' for the ids",
        )
    resource = files(PACKAGE).joinpath(f"{runbook_id}.md")
    book = parse(resource.read_text(encoding="utf-8"), f"runbooks/{runbook_id}.md")
    if book.id != runbook_id:
        raise RunbookError(f"runbooks/{runbook_id}.md declares id {book.id!r}")
    return book


def load_all() -> list[Runbook]:
    """Every packaged runbook."""
    return [load(i) for i in runbook_ids()]


def split_ref(ref: str) -> tuple[str, str | None]:
    """``pvc-pending#storage-class-missing`` (as ``check`` prints it) -> id and cause."""
    rid, _, cause = ref.partition("#")
    return rid, cause or None


# -- findings as parameters ----------------------------------------------------------------

KIND_PARAMS = {
    "PersistentVolumeClaim": "pvc",
    "Pod": "pod",
    "StatefulSet": "statefulset",
    "Deployment": "deployment",
    "ReplicaSet": "replicaset",
    "Service": "service",
    "StorageClass": "storage_class",
    "Secret": "secret",
    "Node": "node",
    "HorizontalPodAutoscaler": "hpa",
    "Ingress": "ingress",
}


def findings_in(document: Any) -> list[dict[str, Any]]:
    """The findings of ``check -o json`` output: one cluster, or several (``clusters``)."""
    if not isinstance(document, dict):
        return []
    if isinstance(document.get("clusters"), list):
        return [f for c in document["clusters"] if isinstance(c, dict) for f in findings_in(c)]
    found = document.get("findings")
    if isinstance(found, list):
        return [f for f in found if isinstance(f, dict)]
    if "check" in document and "resource" in document:
        return [document]  # a single finding object
    return []


def params_from_finding(finding: Mapping[str, Any]) -> dict[str, str]:
    """Parameters a finding names: its resource, its parent, then the objects it affects.

    The first object of each kind wins, so the resource's own name is never overwritten by an
    affected pod's.
    """
    out: dict[str, str] = {}
    refs: list[Any] = [finding.get("resource"), finding.get("parent")]
    refs += list(finding.get("affected") or [])
    for ref in refs:
        if not isinstance(ref, dict):
            continue
        param = KIND_PARAMS.get(str(ref.get("kind")))
        if param and ref.get("name") and param not in out:
            out[param] = str(ref["name"])
        if ref.get("namespace") and "namespace" not in out:
            out["namespace"] = str(ref["namespace"])
    return out


# -- lint: what a step must never do ------------------------------------------------------

_SECRET_READ = re.compile(r"\bget\s+(secrets?|secret/\S+)\b(?P<rest>[^\n|;&]*)")
_OUTPUT = re.compile(r"(?:^|\s)(?:-o|--output)(?:=|\s+)?(\S+)")
_FORBIDDEN = (
    (re.compile(r"\bbase64\s+(-d|--decode|-D)\b"), "decodes data (a Secret value?)"),
    (re.compile(r"\b(printenv|env)\s*($|[|;&\n])"), "prints environment variables (secrets)"),
    (re.compile(r"/proc/\S*/environ"), "reads a process environment (secrets)"),
    (re.compile(r"secret.*(\.data\b|stringData)", re.I), "reads or writes a Secret's data"),
    (
        re.compile(r"--(from-literal|docker-password)[= ]"),
        "puts a secret value on the command line (it would land in the transcript)",
    ),
    (
        re.compile(r"(?<![<\w])<[a-z][a-z0-9_-]*>"),
        "has a <placeholder>, which bash reads as a redirection; use {{param}}",
    ),
)


def lint(book: Runbook) -> list[str]:
    """Problems a parse cannot see: steps that could print Secret values, unused params."""
    problems: list[str] = []
    for step in book.steps:
        where = f"{book.source}: step {step.id}"
        for m in _SECRET_READ.finditer(step.code):
            out = _OUTPUT.search(m.group("rest"))
            if out and not _safe_secret_output(out.group(1)):
                problems.append(f"{where}: 'get secret -o {out.group(1)}' could print values")
        for pattern, why in _FORBIDDEN:
            if pattern.search(step.code):
                problems.append(f"{where}: {why}")
    for name in sorted(set(book.params) - book.used_params()):
        problems.append(f"{book.source}: parameter {name} is declared but never used")
    return problems


def _safe_secret_output(fmt: str) -> bool:
    fmt = fmt.strip("'\"")
    if fmt in ("name", "wide"):
        return True
    if fmt.startswith("jsonpath="):
        expr = fmt[len("jsonpath=") :]
        return ".data" not in expr and "stringData" not in expr and expr.strip("'\"{}.") != ""
    return False


def cli_commands(book: Runbook) -> Iterator[tuple[int, str]]:
    """Every ``logos-doctor ...`` command the runbook shows (code blocks and inline code),
    as (line in the file, command text), backslash continuations joined."""
    in_fence = False
    pending = ""
    start = 0
    for idx, line in enumerate(book.lines):
        if _FENCE.match(line) and (not in_fence or not line.strip().strip("`~")):
            in_fence = not in_fence
            continue
        lineno = idx + book.front_lines + 1
        if in_fence:
            text = line.strip()
            if pending:
                pending += " " + text.rstrip("\\").strip()
                if not text.endswith("\\"):
                    yield start, pending
                    pending = ""
                continue
            text = text.removeprefix("$ ")
            if text.startswith("logos-doctor "):
                if text.endswith("\\"):
                    pending, start = text.rstrip("\\").strip(), lineno
                else:
                    yield lineno, text
            continue
        for m in re.finditer(r"`(logos-doctor [^`]+)`", line):
            yield lineno, m.group(1)


def sample_values(book: Runbook, names: Iterable[str]) -> dict[str, str]:
    """A valid value for each parameter (its default, else a typical one), for previews."""
    samples = {
        "name": "example",
        "int": "1",
        "port": "8080",
        "qualified-name": "example.com/key",
        "label": "example.com/key=value",
        "image": "registry.example.com/logos/web:1.0",
        "path": "example.out",
    }
    out = {}
    for name in names:
        param = book.params[name]
        out[name] = param.default if param.default is not None else samples[param.type]
    return out
