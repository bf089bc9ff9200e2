"""Which renderer lays out ``-o markdown|junit|prometheus``; the layouts are their own modules.

Only the clusters that could be checked are shown: these formats have no place for a
cluster's error, which ``check``'s exit status (3) reports.  Kept apart from the CLI and
from the layouts so that no renderer imports a command module.
"""

from __future__ import annotations

from collections.abc import Sequence

from logos_doctor.config import Config
from logos_doctor.outcome import Outcome


def render_other(
    fmt: str, outcomes: Sequence[Outcome], config: Config, *, verbose: bool = False
) -> str:
    """markdown, junit or prometheus text for one or more clusters."""
    # Each layout is imported when asked for: ``check`` imports this module for every run,
    # and ``-o table`` should not pay for prometheus_client (~55 ms) or ElementTree.
    reports = [o.report for o in outcomes if o.report]
    if fmt == "markdown":
        from logos_doctor.render.markdown import markdown

        return "\n\n".join(markdown(r, config, verbose=verbose) for r in reports)
    if fmt == "junit":
        from logos_doctor.render.junit import junit

        return junit(reports)
    if fmt == "prometheus":
        from logos_doctor.render.prometheus import prometheus

        return prometheus(reports)
    raise ValueError(f"no renderer for {fmt!r}")
