"""Runbook parameters: the types a value may have, and the check every value passes.

A value reaches a step as an environment variable (``"${pvc}"`` in the executed text), so bash
never parses it as code whatever it holds.  The types still matter: a value that starts with
``-`` would be read by ``kubectl`` as an option, and an invalid name only wastes a step.  Every
pattern admits only characters that ``shlex.quote`` leaves alone, so a valid value is also one
plain word where it is written out literally (here-documents, the transcript).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from logos_doctor.errors import UsageError

PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ParamType:
    """What values a parameter accepts, and how to say so when one is refused."""

    pattern: re.Pattern[str]
    max_length: int
    explain: str
    sample: str  # a typical valid value, for previews and tests


_NAME = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"
_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"

PARAM_TYPES: dict[str, ParamType] = {
    "name": ParamType(
        re.compile(f"^{_NAME}$"),
        253,
        "a Kubernetes name: lower-case letters, digits, '-' and '.', "
        "starting and ending with a letter or digit",
        "example",
    ),
    "host": ParamType(
        re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?(:[0-9]{1,5})?$"),
        260,
        "a host name or address with an optional port, such as registry.example.com:5000",
        "registry.example.com",
    ),
    "int": ParamType(re.compile(r"^[0-9]{1,6}$"), 6, "a whole number", "1"),
    "port": ParamType(re.compile(r"^[1-9][0-9]{0,4}$"), 5, "a TCP port number (1-65535)", "8080"),
    "qualified-name": ParamType(
        re.compile(f"^{_KEY}$"),
        316,
        "a label key or resource name such as nvidia.com/gpu",
        "example.com/key",
    ),
    "label": ParamType(
        re.compile(f"^{_KEY}=([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"),
        380,
        "a label selector key=value such as nvidia.com/gpu=true",
        "example.com/key=value",
    ),
    "image": ParamType(
        re.compile(
            r"^[A-Za-z0-9][A-Za-z0-9._/-]*(:[0-9]+/[A-Za-z0-9._/-]+)?"
            r"(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?(@sha256:[a-f0-9]{64})?$"
        ),
        512,
        "a container image reference such as registry.example.com/logos/web:1.2",
        "registry.example.com/logos/web:1.0",
    ),
    "path": ParamType(
        re.compile(r"^[A-Za-z0-9_./@%+=:,-]+$"),
        1024,
        "a file path of letters, digits and ._/@%+=:,- (no spaces); ~ is expanded",
        "example.out",
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
        """The value to use, or a ``UsageError`` that says what is accepted."""
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


def sample_values(params: Mapping[str, Param], names: Iterable[str]) -> dict[str, str]:
    """A valid value for each parameter (its default, else a typical one), for previews."""
    out = {}
    for name in names:
        param = params[name]
        out[name] = param.default if param.default is not None else PARAM_TYPES[param.type].sample
    return out
