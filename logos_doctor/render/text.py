"""Making untrusted cluster text safe to show in a terminal.

Names, labels and event messages come from the cluster and anyone who can create a pod
controls them: terminal escape sequences could rewrite the screen, rich markup could fake a
severity, and a megabyte message would bury the report.  Every human-facing renderer passes
such text through ``clean`` (and builds rich output from ``Text`` objects, never markup).
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: object, limit: int = 400) -> str:
    """Escape control and bidi characters, fold newlines, and cut at ``limit`` characters."""
    value = str(text).replace("\r\n", "\n").replace("\n", " ⏎ ").replace("\t", " ")
    value = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value
