"""The cert-manager and prometheus-operator CRDs the edge scenarios need, applied idempotently.

Their group, versions, kinds, scopes, short names and status subresources are the ones the
projects publish (cert-manager `deploy/crds/crd-*.yaml`, prometheus-operator
`example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml`); the schemas are
cut down to the fields the projects mark required, with the rest preserved, so the API server
validates the shape without this file copying thousands of lines. cert-manager's controller
does not run on the test cluster: scenarios write its objects' status the way it would.

`ensure(api)` installs the CRDs (waiting until Established) and the ClusterIssuer
`letsencrypt-prod`, Ready as cert-manager's ACME issuer writes it, so that on the shared cluster
the Logos Ingress's issuer exists for every test. Scenarios never change that ClusterIssuer;
a broken issuer is a namespaced Issuer or a ClusterIssuer name that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from .kube import wait_for

CLUSTER_ISSUER = "letsencrypt-prod"
ACME_SERVER = "https://acme-v02.api.letsencrypt.org/directory"


def _object(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if props:
        schema["properties"] = props
    if required:
        schema["required"] = required
    return schema


_STR = {"type": "string"}
_ISSUER_REF = _object(["name"], name=_STR, kind=_STR, group=_STR)


def _crd(group: str, kind: str, plural: str, scope: str, short: list[str],
         spec: dict[str, Any], status: bool = True) -> dict[str, Any]:
    props: dict[str, Any] = {
        "apiVersion": _STR, "kind": _STR, "metadata": {"type": "object"}, "spec": spec,
    }
    if status:
        props["status"] = _object()
    version: dict[str, Any] = {
        "name": "v1", "served": True, "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "required": ["spec"],
                                       "properties": props}},
    }
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}",
                     "labels": {"app.kubernetes.io/name": "cert-manager"
                                if "cert-manager" in group else "prometheus-operator"}},
        "spec": {
            "group": group,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural,
                      "singular": kind.lower(), "shortNames": short,
                      **({"categories": ["cert-manager"]} if "cert-manager" in group else {})},
            "scope": scope,
            "versions": [version],
        },
    }


CM, ACME = "cert-manager.io", "acme.cert-manager.io"
CRDS = [
    # cert-manager deploy/crds/crd-certificates.yaml: spec.secretName and issuerRef required.
    _crd(CM, "Certificate", "certificates", "Namespaced", ["cert", "certs"],
         _object(["issuerRef", "secretName"], secretName=_STR, issuerRef=_ISSUER_REF,
                 dnsNames={"type": "array", "items": _STR})),
    # crd-certificaterequests.yaml: spec.issuerRef and spec.request (a base64 CSR) required.
    _crd(CM, "CertificateRequest", "certificaterequests", "Namespaced", ["cr", "crs"],
         _object(["issuerRef", "request"], issuerRef=_ISSUER_REF,
                 request={"type": "string", "format": "byte"})),
    _crd(CM, "Issuer", "issuers", "Namespaced", [], _object()),
    _crd(CM, "ClusterIssuer", "clusterissuers", "Cluster", [], _object()),
    # crd-orders.yaml: spec.issuerRef and spec.request required.
    _crd(ACME, "Order", "orders", "Namespaced", [],
         _object(["issuerRef", "request"], issuerRef=_ISSUER_REF,
                 request={"type": "string", "format": "byte"})),
    # crd-challenges.yaml: the ACME identifiers cert-manager copies from the authorization.
    _crd(ACME, "Challenge", "challenges", "Namespaced", [],
         _object(["authorizationURL", "dnsName", "issuerRef", "key", "solver", "token", "type",
                  "url"], dnsName=_STR, type=_STR, issuerRef=_ISSUER_REF)),
    # prometheus-operator: ServiceMonitor has no status subresource; spec.selector required
    # (endpoints is optional since v0.x, as are the rest).
    _crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors", "Namespaced", ["smon"],
         _object(["selector"], selector=_object(),
                 endpoints={"type": "array", "items": _object()}), status=False),
]


def now() -> str:
    """A timestamp as cert-manager writes it in conditions."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ensure(api: client.ApiClient, timeout: float = 60) -> None:
    """Install the CRDs if absent (never changing existing ones) and ClusterIssuer
    letsencrypt-prod, Ready."""
    ext = client.ApiextensionsV1Api(api)
    for crd in CRDS:
        try:
            ext.create_custom_resource_definition(crd)
        except ApiException as exc:
            if exc.status != 409:
                raise
    names = [c["metadata"]["name"] for c in CRDS]

    def established() -> bool:
        for crd_name in names:
            conds = ext.read_custom_resource_definition(crd_name).status.conditions or []
            if not any(c.type == "Established" and c.status == "True" for c in conds):
                return False
        return True

    wait_for(established, timeout, "the cert-manager and ServiceMonitor CRDs to be established")
    _ensure_cluster_issuer(api, timeout)


def _ensure_cluster_issuer(api: client.ApiClient, timeout: float) -> None:
    custom = client.CustomObjectsApi(api)
    body = {
        "apiVersion": f"{CM}/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": CLUSTER_ISSUER},
        "spec": {"acme": {
            "server": ACME_SERVER,
            "email": "ops@logos.example.com",
            "privateKeySecretRef": {"name": "letsencrypt-prod-account-key"},
            "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
        }},
    }
    try:
        custom.create_cluster_custom_object(CM, "v1", "clusterissuers", body)
    except ApiException as exc:
        if exc.status != 409:
            raise
    current = custom.get_cluster_custom_object(CM, "v1", "clusterissuers", CLUSTER_ISSUER)
    conds = (current.get("status") or {}).get("conditions") or []
    if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
        return
    # pkg/issuer/acme/setup.go: after registering the account, reason ACMEAccountRegistered,
    # message "The ACME account was registered with the ACME server".
    status = {"status": {
        "acme": {"uri": "https://acme-v02.api.letsencrypt.org/acme/acct/123456789",
                 "lastRegisteredEmail": "ops@logos.example.com"},
        "conditions": [ready_condition("True", "ACMEAccountRegistered",
                                       "The ACME account was registered with the ACME server")],
    }}
    custom.patch_cluster_custom_object_status(CM, "v1", "clusterissuers", CLUSTER_ISSUER, status)


def ready_condition(status: str, reason: str, message: str, kind: str = "Ready",
                    generation: int = 1) -> dict[str, Any]:
    """A condition as cert-manager's apiutil.Set*Condition writes it."""
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": now(), "observedGeneration": generation}
