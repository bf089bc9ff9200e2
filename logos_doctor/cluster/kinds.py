"""The resource kinds logos-doctor can list, and the API path of each.

Checks name the kinds they read by their plural (``"pods"``); the fetcher lists each needed
kind once per run, and RBAC rules are derived from the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

# Objects per LIST page: big enough that a large cluster takes few round trips, small enough
# that one page never holds the API server's memory for long.
PAGE_SIZE = 500


@dataclass(frozen=True)
class Kind:
    """One listable resource kind."""

    plural: str
    kind: str
    group: str
    version: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        """``v1`` or ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def list_path(self, namespace: str | None = None) -> str:
        """The URL path that lists this kind, in one namespace or cluster-wide."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


CERT_MANAGER = "cert-manager.io"
ACME = "acme.cert-manager.io"

_ALL = (
    Kind("pods", "Pod", "", "v1", True),
    Kind("persistentvolumeclaims", "PersistentVolumeClaim", "", "v1", True),
    Kind("persistentvolumes", "PersistentVolume", "", "v1", False),
    Kind("services", "Service", "", "v1", True),
    Kind("serviceaccounts", "ServiceAccount", "", "v1", True),
    Kind("secrets", "Secret", "", "v1", True),
    Kind("events", "Event", "", "v1", True),
    Kind("nodes", "Node", "", "v1", False),
    Kind("storageclasses", "StorageClass", "storage.k8s.io", "v1", False),
    Kind("endpointslices", "EndpointSlice", "discovery.k8s.io", "v1", True),
    Kind("deployments", "Deployment", "apps", "v1", True),
    Kind("statefulsets", "StatefulSet", "apps", "v1", True),
    Kind("replicasets", "ReplicaSet", "apps", "v1", True),
    Kind("horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling", "v2", True),
    Kind("ingresses", "Ingress", "networking.k8s.io", "v1", True),
    Kind("apiservices", "APIService", "apiregistration.k8s.io", "v1", False),
    Kind("namespaces", "Namespace", "", "v1", False),
    Kind("configmaps", "ConfigMap", "", "v1", True),
    Kind("resourcequotas", "ResourceQuota", "", "v1", True),
    Kind("limitranges", "LimitRange", "", "v1", True),
    Kind("jobs", "Job", "batch", "v1", True),
    Kind("daemonsets", "DaemonSet", "apps", "v1", True),
    Kind("volumeattachments", "VolumeAttachment", "storage.k8s.io", "v1", False),
    Kind(
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
        False,
    ),
    Kind("ingressclasses", "IngressClass", "networking.k8s.io", "v1", False),
    # Custom resources (cert-manager, prometheus-operator): a cluster without their CRDs
    # answers 404 for the list, and the fetcher marks the kind unavailable; the checks that
    # read them declare them optional and tell "not installed" from "not fetched".
    Kind("certificates", "Certificate", CERT_MANAGER, "v1", True),
    Kind("certificaterequests", "CertificateRequest", CERT_MANAGER, "v1", True),
    Kind("issuers", "Issuer", CERT_MANAGER, "v1", True),
    Kind("clusterissuers", "ClusterIssuer", CERT_MANAGER, "v1", False),
    Kind("orders", "Order", ACME, "v1", True),
    Kind("challenges", "Challenge", ACME, "v1", True),
    Kind("servicemonitors", "ServiceMonitor", "monitoring.coreos.com", "v1", True),
    Kind(
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
        False,
    ),
)

KINDS: dict[str, Kind] = {k.plural: k for k in _ALL}
BY_KIND: dict[str, Kind] = {k.kind: k for k in _ALL}
