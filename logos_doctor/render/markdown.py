"""``-o markdown``: an incident-ticket summary, pasted into a ticket or a chat.

Root causes come first, since they are what the reader should fix, each with its runbook
link (under the config's ``runbookBaseUrl`` when set, so that it opens where the ticket is
read); then the findings grouped by the component they hurt.  Cluster text is cut and
escaped so that it cannot break the list or the markup (``|``, ``<``, backticks).
"""

from __future__ import annotations

from logos_doctor.config import Config
from logos_doctor.finding import Finding
from logos_doctor.render.text import clean
from logos_doctor.render.view import build_view, evidence_lines, known_lines, mark, objects_line
from logos_doctor.runbook_links import runbook_url
from logos_doctor.runner import Report


def _md(text: object) -> str:
    """Cluster text made inert in markdown: cut, control characters escaped, markup defused."""
    return clean(text, 500).replace("|", "\\|").replace("<", "&lt;").replace("`", "'")


def markdown(report: Report, config: Config, *, verbose: bool = False) -> str:
    """An incident-ticket summary: counts, the root causes, then the details by component."""
    view = build_view(report, verbose=verbose)
    state = report.state
    counts = view.counts

    def url(f: Finding) -> str:
        check = report.check(f.check)
        return runbook_url(check.runbook if check else f.check, f.cause, config.runbook_base_url)

    lines = [
        f"## logos-doctor report: {_md(state.cluster.context or state.cluster.server or '-')}",
        "",
        f"- Time: {state.now.isoformat()}",
        f"- Scope: {state.scope.describe()}",
        f"- Summary: **{counts['critical']} critical**, {counts['warning']} warning, "
        f"{counts['info']} info; {len(view.roots)} root cause(s)",
        *known_summary(report),
        "",
    ]
    if view.roots:
        lines += ["### Root causes (fix these first)", ""]
        for group in view.roots:
            f = group.first
            lines.append(
                f"1. {mark(report, f)}**{f.severity.label.upper()}** `{f.check}/{f.cause}` on "
                f"{_md(objects_line(group, verbose))}: {_md(f.message)} ([runbook]({url(f)}))"
            )
            if f.fix:
                lines.append(f"   - fix: `{f.fix}`")
        lines.append("")
    for comp, entries in view.components:
        lines.append(f"### {_md(comp)}")
        lines.append("")
        for entry in entries:
            f = entry.first
            lines.append(
                f"- **{f.severity.label.upper()}** `{f.check}/{f.cause}` on {_md(entry.where())}: "
                f"{_md(f.message)} ([runbook]({url(f)}))"
            )
            if entry.names():
                lines.append(f"  - objects: {_md(entry.names())}")
            for key in f.caused_by:
                lines.append(f"  - because: `{key.check}/{key.cause}` on {_md(key.resource)}")
            for ev in evidence_lines(entry, verbose):
                lines.append(f"  - evidence: {_md(ev)}")
            if f.fix:
                lines.append(f"  - fix: `{f.fix}`")
        lines.append("")
    known = known_lines(report, verbose)  # gone since the baseline, silenced (-v), expired
    if known:
        lines += ["### Baseline and known findings", "", *(f"- {_md(k)}" for k in known), ""]
    skipped = [r for r in report.results if r.status in ("skipped", "error")]
    if skipped:
        lines.append("### Checks that did not run fully")
        lines.extend(f"- {r.id}: {r.status}: {_md(r.detail)}" for r in skipped)
    return "\n".join(lines).rstrip() + "\n"


def known_summary(report: Report) -> list[str]:
    """``- Silenced: ...`` and ``- Baseline: ...`` lines when an ignore file or a baseline
    was used (logos_doctor/known.py, baseline.py)."""
    out = []
    if report.known is not None and report.known.silenced:
        out.append(f"- Silenced: {len(report.known.silenced)} by {_md(report.known.path.name)}")
    if report.baseline is not None:
        out.append(f"- {_md(report.baseline.summary())}")
    return out
