"""Where Logos is deployed: the namespaces the configured expectations apply to.

The config says which Secrets Logos needs, which StorageClass and claims; those are facts
about the Logos release, not about whatever namespace a run looks at.  ``check --all -n
kube-system`` must not demand ``logos-db-credentials`` in kube-system, and ``-A`` must not
demand it in every namespace.  The expectations apply to the configured namespace (when it
exists) and to namespaces holding workloads labelled as the release, within the run's scope.
"""

from __future__ import annotations

from logos_doctor.config import Config
from logos_doctor.objects import labels_of, meta, name
from logos_doctor.state import ClusterState

_WORKLOADS = ("deployments", "statefulsets")


def logos_namespaces(state: ClusterState, config: Config) -> tuple[str, ...]:
    """The namespaces in scope where Logos is deployed, sorted."""
    found: set[str] = set()
    if state.has("namespaces"):
        if any(name(ns) == config.namespace for ns in state.list_of("namespaces")):
            found.add(config.namespace)
    else:  # not listed (a snapshot from before, or no right to list): trust the config
        found.add(config.namespace)
    wanted = dict(config.release_labels)
    if wanted:
        for plural in _WORKLOADS:
            if not state.has(plural):
                continue
            for obj in state.in_scope(plural):
                labels = labels_of(obj)
                if all(labels.get(k) == v for k, v in wanted.items()):
                    ns = meta(obj).get("namespace")
                    if ns:
                        found.add(str(ns))
    return tuple(sorted(ns for ns in found if state.scope.includes(ns)))
