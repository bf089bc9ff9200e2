"""What a classifier that matched on names would say: the test oracle for image-pull.

Tests use it to prove their data misleads: on the unscrubbed kubelet text, these patterns
give another cause than the right one, so a check can only pass by reading past the names.
"""

from __future__ import annotations

import re

from logos_doctor.checks.image_pull import _RULES, classify

# The classifier as it was before names were scrubbed (main before issue 14): its patterns
# ran over the whole text, image reference included.
_BEFORE: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cause, re.compile(pattern, re.IGNORECASE))
    for cause, pattern in (
        ("invalid-image-name", r"invalid reference format|couldn't parse image name"),
        ("rate-limited", r"\b429\b|toomanyrequests|too many requests|rate limit"),
        ("registry-unreachable",
         r"no such host|i/o timeout|connection refused|connection reset|no route to host"
         r"|network is unreachable|name resolution|server misbehaving|x509:|\btls:"
         r"|handshake|certificate|HTTP response to HTTPS client|registry is unavailable"
         r"|\b50[0234]\b|bad gateway|service unavailable"),
        ("unauthorized",
         r"\b40[13]\b|unauthori[sz]ed|forbidden|access denied|insufficient_scope"
         r"|authentication required|authorization failed|failed to authorize"
         r"|no basic auth credentials|\bdenied\b"),
        ("image-not-found",
         r"not found|manifest unknown|name unknown|repository does not exist"
         r"|no such image|not present with pull policy of Never|\b404\b"),
    )
)  # fmt: skip


def naive(text: str) -> str:
    """The cause a name-blind classifier gives: today's patterns, then the patterns of the
    classifier before this fix, on the unscrubbed text; the first that differs from a
    scrubbed reading is what a name would have made of it."""
    for rules in (_RULES, _BEFORE):
        for cause, pattern in rules:
            if pattern.search(text):
                found = cause
                break
        else:
            found = "unknown"
        if found != classify("", text)[0]:
            return found
    return found
