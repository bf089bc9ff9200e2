"""The YAML front matter of a runbook: id, title, use, checks, severity, params."""

from __future__ import annotations

import re
from typing import Any

import yaml

from logos_doctor.errors import DoctorError, UsageError
from logos_doctor.runbook.params import PARAM_NAME, PARAM_TYPES, Param

ID = re.compile(r"^[a-z0-9][a-z0-9]*(-[a-z0-9]+)*$")
_FRONT_KEYS = {"id", "title", "use", "checks", "severity", "params"}


class RunbookError(DoctorError):
    """A runbook file is malformed (a bug in the runbook, found when it is loaded)."""


def split_front_matter(text: str, source: str) -> tuple[str, str, int]:
    """The front matter, the body, and how many lines the front matter took."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise RunbookError(f"{source}: must start with '---' front matter")
    for idx in range(1, len(lines)):
        if lines[idx].strip() == "---":
            return "\n".join(lines[1:idx]), "\n".join(lines[idx + 1 :]), idx + 1
    raise RunbookError(f"{source}: front matter is not closed with '---'")


def front_matter(front: str, source: str) -> dict[str, Any]:
    """The validated front matter, parameters as ``Param``."""
    try:
        data = yaml.safe_load(front) or {}
    except yaml.YAMLError as exc:
        raise RunbookError(f"{source}: front matter is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RunbookError(f"{source}: front matter must be a mapping")
    unknown = sorted(set(data) - _FRONT_KEYS)
    if unknown:
        raise RunbookError(f"{source}: unknown front matter key(s): {', '.join(unknown)}")
    rid = data.get("id")
    if not isinstance(rid, str) or not ID.fullmatch(rid):
        raise RunbookError(f"{source}: id must be lower-case words joined by hyphens")
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        raise RunbookError(f"{source}: title is required")
    use = data.get("use")
    if use is not None and (not isinstance(use, str) or not use.strip()):
        raise RunbookError(f"{source}: use must be one line saying when to use this runbook")
    checks = data.get("checks") or []
    if not isinstance(checks, list) or not all(
        isinstance(v, str) and ID.fullmatch(v) for v in checks
    ):
        raise RunbookError(f"{source}: checks must be a list of ids")
    if len(set(checks)) != len(checks):
        raise RunbookError(f"{source}: checks lists an id twice")
    severity = data.get("severity")
    if severity is not None and severity not in ("critical", "warning", "info"):
        raise RunbookError(f"{source}: severity must be critical, warning or info")
    return {
        "id": rid,
        "title": data["title"].strip(),
        "use": use.strip() if isinstance(use, str) else None,
        "checks": checks,
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
