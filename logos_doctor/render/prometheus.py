"""``-o prometheus``: one run as a text file for the node-exporter textfile collector.

It shows the families the exporter (``serve``) shows for what a single run can know: the
findings, whether each check ran, and the time of the state, with the exporter's own names,
helps and labels (``render/metrics.py``), written by ``prometheus_client`` so that escaping
and the format follow the client the exporter uses.

``serve`` watches one cluster and its samples carry no ``cluster`` label; neither does a
single cluster here.  With several ``--context``s in one file, each sample gets a leading
``cluster`` label (the context), since one file may not hold the same series twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from logos_doctor.render.metrics import (
    CHECK_UP,
    FINDINGS,
    LAST_RUN,
    SILENCED,
    families,
    label_value,
    one_shot,
)
from logos_doctor.runner import Report

SHOWN = (FINDINGS, SILENCED, CHECK_UP, LAST_RUN)


class _Reports:
    """A collector over finished reports (the registry asks it once, when the text is made)."""

    def __init__(self, reports: Sequence[Report]) -> None:
        self.reports = reports

    def collect(self) -> Iterator[Metric]:
        """One cluster: its families as the exporter writes them; several: merged, labelled."""
        if len(self.reports) == 1:
            yield from families(one_shot(self.reports[0]), SHOWN)
            return
        runs = [
            (label_value(r.state.cluster.context or ""), list(families(one_shot(r), SHOWN)))
            for r in self.reports
        ]
        for spec in SHOWN:
            merged = spec.new(("cluster",))
            if not any(m.name == merged.name for _, metrics in runs for m in metrics):
                continue  # a family no cluster has (the silenced one, without an ignore file)
            for cluster, metrics in runs:
                same = (s for m in metrics if m.name == merged.name for s in m.samples)
                for sample in same:
                    labels = {"cluster": cluster, **sample.labels}
                    merged.add_sample(sample.name, labels, sample.value)
            yield merged


def prometheus(reports: Sequence[Report]) -> str:
    """The text exposition of ``reports`` (the clusters that could be checked)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Reports(reports))
    return generate_latest(registry).decode()
