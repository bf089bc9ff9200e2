"""The metric families logos-doctor exports, defined once, and the values a run gives them.

``serve`` (``/metrics``) and ``check -o prometheus`` (a node-exporter textfile) used to write
their own copies of the families, and the copies drifted apart (``logos_doctor_check_up`` had
two helps and two label sets).  Both now lay out a ``Readings`` value through ``families``:
the exporter keeps one across runs (``after_success``/``after_failure`` say what a run
changes and what a failure keeps), a one-shot check makes one from its report
(``one_shot``).  A family's name, help, type and labels exist only in the table below.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from logos_doctor.finding import Finding
from logos_doctor.runner import CheckResult, Report

FindingLabels = tuple[str, str, str, str]  # check, cause, severity, namespace


@dataclass(frozen=True)
class Family:
    """One metric family's identity: everything a scraper or an alert rule relies on."""

    name: str
    help: str
    labels: tuple[str, ...] = ()
    counter: bool = False

    def new(self, extra_labels: tuple[str, ...] = ()) -> GaugeMetricFamily | CounterMetricFamily:
        """An empty family to add samples to (``extra_labels`` go first, e.g. ``cluster``)."""
        labels = [*extra_labels, *self.labels]
        if self.counter:
            return CounterMetricFamily(self.name, self.help, labels=labels)
        return GaugeMetricFamily(self.name, self.help, labels=labels)


FINDINGS = Family(
    "logos_doctor_findings",
    "Findings of the last run of each check, by check, cause, severity and namespace.",
    ("check", "cause", "severity", "namespace"),
)
SILENCED = Family(
    "logos_doctor_findings_silenced",
    "Findings an ignore file silenced (counted here, not in logos_doctor_findings), by check, "
    "cause, severity and namespace; shown only when an ignore file is in use.",
    ("check", "cause", "severity", "namespace"),
)
CHECK_DURATION = Family(
    "logos_doctor_check_duration_seconds",
    "Seconds the check's last run took (fetch excluded).",
    ("check",),
)
CHECK_UP = Family(
    "logos_doctor_check_up",
    "1 if the check ran in the last successful run, 0 if it was skipped or failed.",
    ("check",),
)
CHECK_ERRORS = Family(
    "logos_doctor_check_errors",
    "Runs in which the check was skipped (a kind it reads was unavailable) or raised.",
    ("check",),
    counter=True,
)
RUNS = Family("logos_doctor_runs", "Runs attempted.", counter=True)
RUN_ERRORS = Family(
    "logos_doctor_run_errors",
    "Runs that could not fetch the cluster; the previous values were kept.",
    counter=True,
)
LAST_RUN = Family(
    "logos_doctor_last_run_timestamp_seconds",
    "Unix time the last run (successful or not) finished.",
)
LAST_RUN_DURATION = Family(
    "logos_doctor_last_run_duration_seconds", "Seconds the last run took, fetch included."
)
LAST_SUCCESS = Family(
    "logos_doctor_last_success_timestamp_seconds",
    "Unix time the last run that fetched the cluster finished.",
)
ALL = (
    FINDINGS,
    SILENCED,
    CHECK_DURATION,
    CHECK_UP,
    CHECK_ERRORS,
    RUNS,
    RUN_ERRORS,
    LAST_RUN,
    LAST_RUN_DURATION,
    LAST_SUCCESS,
)


def label_value(value: str) -> str:
    """``value`` as a label value the exposition can encode: a lone surrogate (which JSON's
    ``\\ud800`` decodes to) would make the whole page fail to encode, so it is escaped."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Readings:
    """Every value the families show, as of the last run; replaced whole, never mutated."""

    findings: Mapping[str, Mapping[FindingLabels, int]] = field(default_factory=_empty)
    # Per check, what the ignore file silenced (known.py); None without an ignore file, so
    # that the family is absent rather than empty for those who use none.
    silenced: Mapping[str, Mapping[FindingLabels, int]] | None = None
    durations: Mapping[str, float] = field(default_factory=_empty)
    check_up: Mapping[str, int] = field(default_factory=_empty)
    check_errors: Mapping[str, int] = field(default_factory=_empty)
    runs: int = 0
    run_errors: int = 0
    last_run: float | None = None
    last_success: float | None = None
    last_run_seconds: float | None = None
    last_run_monotonic: float | None = None


def ran(result: CheckResult) -> bool:
    """Whether the check ran to the end (``check_up`` 1) rather than being skipped or failing."""
    return result.status in ("ok", "findings")


def count_findings(findings: Collection[Finding]) -> dict[FindingLabels, int]:
    """``findings`` counted per label set of ``logos_doctor_findings``."""
    counts: dict[FindingLabels, int] = {}
    for f in findings:
        key = (f.check, f.cause, f.severity.label, label_value(f.resource.namespace or ""))
        counts[key] = counts.get(key, 0) + 1
    return counts


def finding_counts(report: Report, check_id: str) -> dict[FindingLabels, int]:
    """The check's findings in ``report``, counted per label set."""
    return count_findings([f for f in report.findings if f.check == check_id])


def _silenced_by_check(report: Report) -> dict[str, dict[FindingLabels, int]] | None:
    """What the report's ignore file silenced, per check and label set (None: no file)."""
    if report.known is None:
        return None
    out: dict[str, dict[FindingLabels, int]] = {}
    for labels, n in sorted(count_findings([s.finding for s in report.known.silenced]).items()):
        out.setdefault(labels[0], {})[labels] = n
    return out


def after_success(
    previous: Readings, report: Report, now: float, mono: float, seconds: float
) -> Readings:
    """The readings after a run that fetched the cluster (some checks may still have failed):
    a check that ran replaces its findings, one that did not keeps them and counts an error."""
    findings = dict(previous.findings)
    quiet_now = _silenced_by_check(report)
    silenced = None if quiet_now is None else dict(previous.silenced or {})
    durations = dict(previous.durations)
    check_up = dict(previous.check_up)
    errors = dict(previous.check_errors)
    for result in report.results:
        check_up[result.id] = int(ran(result))
        if ran(result):
            findings[result.id] = MappingProxyType(finding_counts(report, result.id))
            if silenced is not None and quiet_now is not None:
                silenced[result.id] = MappingProxyType(quiet_now.get(result.id, {}))
        else:
            errors[result.id] = errors.get(result.id, 0) + 1
        if result.status != "skipped":
            durations[result.id] = result.seconds
    return replace(
        previous,
        findings=MappingProxyType(findings),
        silenced=None if silenced is None else MappingProxyType(silenced),
        durations=MappingProxyType(durations),
        check_up=MappingProxyType(check_up),
        check_errors=MappingProxyType(errors),
        runs=previous.runs + 1,
        last_run=now,
        last_success=now,
        last_run_seconds=seconds,
        last_run_monotonic=mono,
    )


def after_failure(previous: Readings, now: float, mono: float, seconds: float) -> Readings:
    """The readings after a run that could not fetch: only the run counters move."""
    return replace(
        previous,
        runs=previous.runs + 1,
        run_errors=previous.run_errors + 1,
        last_run=now,
        last_run_seconds=seconds,
        last_run_monotonic=mono,
    )


def one_shot(report: Report) -> Readings:
    """The readings of a single ``check``: the report's findings and check states as of the
    state's time.

    Unlike the exporter's ``after_success`` it counts the findings of a check that ended in
    an error too (a check that also yielded an undeclared cause keeps its declared findings
    in the report): with no earlier run to fall back on, what the run found is all there is.
    """
    by_check: dict[str, dict[FindingLabels, int]] = {}
    for labels, n in sorted(count_findings(report.findings).items()):
        by_check.setdefault(labels[0], {})[labels] = n
    quiet = _silenced_by_check(report)
    return Readings(
        findings=MappingProxyType({c: MappingProxyType(n) for c, n in by_check.items()}),
        silenced=None
        if quiet is None
        else MappingProxyType({c: MappingProxyType(n) for c, n in quiet.items()}),
        check_up=MappingProxyType({r.id: int(ran(r)) for r in report.results}),
        last_run=report.state.now.timestamp(),
    )


def families(readings: Readings, only: Collection[Family] = ALL) -> Iterator[Metric]:
    """The families in ``only`` (in the table's order) with the values of ``readings``.

    A timestamp or duration not known yet (no run finished) is left out rather than shown
    as 0, which an alert on staleness would read as 1970.
    """
    r = readings
    per_check: dict[Family, Mapping[str, float]] = {
        CHECK_DURATION: r.durations,
        CHECK_UP: r.check_up,
        CHECK_ERRORS: r.check_errors,
    }
    scalars: dict[Family, float | None] = {
        RUNS: r.runs,
        RUN_ERRORS: r.run_errors,
        LAST_RUN: r.last_run,
        LAST_RUN_DURATION: r.last_run_seconds,
        LAST_SUCCESS: r.last_success,
    }
    for spec in ALL:
        if spec not in only:
            continue
        if spec is FINDINGS or spec is SILENCED:
            by_check = r.findings if spec is FINDINGS else r.silenced
            if by_check is None:  # no ignore file: no silenced family at all
                continue
            metric = spec.new()
            for counts in by_check.values():
                for labels, n in sorted(counts.items()):
                    metric.add_metric(list(labels), n)
            yield metric
        elif spec in per_check:
            metric = spec.new()
            for check_id, value in sorted(per_check[spec].items()):
                metric.add_metric([check_id], value)
            yield metric
        elif (scalar := scalars[spec]) is not None:
            metric = spec.new()
            metric.add_metric([], scalar)
            yield metric
