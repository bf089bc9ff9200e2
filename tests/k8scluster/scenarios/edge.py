"""The Logos edge: Ingresses, their TLS Secrets and certificates, cert-manager, ServiceMonitors.

Certificates are made here with `cryptography` (expired, expiring, for the wrong host, valid)
and stored in real Secrets, so the fetcher parses real X.509 data. Secret, Ingress and host
names mislead on purpose (an expired certificate in `renewed-2099-cert`, an Opaque Secret
called `kubernetes-io-tls`): the checks must read the certificate, never the names.

cert-manager's controller does not run on the test cluster. Its objects are created with the
spec cert-manager gives them and their status is written through the status subresource
exactly as cert-manager writes it; the source of each reason and message is quoted beside it.
The CRDs and the Ready ClusterIssuer `letsencrypt-prod` come from `k8scluster.crds.ensure`.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client

from .. import crds, logos_stack
from . import scenario
from .storage import healthy_logos

CM, ACME = crds.CM, crds.ACME
HOST = logos_stack.HOST


# =========================================================================== certificates


def tls_pair(hosts: list[str], *, not_before: timedelta = timedelta(days=-30),
             not_after: timedelta = timedelta(days=60),
             issuer_cn: str = "Logos Test CA R3") -> tuple[bytes, bytes]:
    """A certificate for `hosts` (SANs; CN the first) valid from now+not_before to
    now+not_after, and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + not_before).not_valid_after(now + not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def csr(host: str) -> str:
    """A CSR for `host`, base64 as in a CertificateRequest's or Order's spec.request."""
    key = ec.generate_private_key(ec.SECP256R1())
    req = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), False)
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(req.public_bytes(serialization.Encoding.PEM)).decode()


def tls_secret(namespace: str, name: str, data: dict[str, bytes],
               type_: str = "kubernetes.io/tls") -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": type_,
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}


def ingress(namespace: str, name: str, host: str, secret: str | None, *,
            class_name: str | None = "nginx", annotations: dict[str, str] | None = None,
            path: str = "/") -> dict:
    spec: dict[str, Any] = {"rules": [{"host": host, "http": {"paths": [
        {"path": path, "pathType": "Prefix",
         "backend": {"service": {"name": "logos-web", "port": {"name": "http"}}}}]}}]}
    if class_name:
        spec["ingressClassName"] = class_name
    if secret:
        spec["tls"] = [{"hosts": [host], "secretName": secret}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace,
                         "annotations": annotations or {}},
            "spec": spec}


def web_services(namespace: str) -> list[dict]:
    """The Logos web and chat Services (the Ingress backends; labelled as the release)."""
    return [o for o in logos_stack.manifests(namespace)
            if o["kind"] == "Service" and o["metadata"]["name"] in ("logos-web", "logos-chat")]


def create(api: Any, objs: list[dict]) -> None:
    for obj in objs:
        logos_stack._create(api, obj)


def ingress_class(api: Any) -> None:
    logos_stack._create(api, logos_stack.ingress_class_manifest(), exist_ok=True)


# =========================================================================== TLS faults


NOT_A_CERTIFICATE = b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"


@scenario("edge_tls_faults")
def edge_tls_faults(api: Any, namespace: str) -> None:
    """Ingresses whose TLS Secret or certificate is broken in every way, one valid one, a
    missing and an absent IngressClass, and a host+path claimed twice."""
    ingress_class(api)
    d = timedelta
    expired = tls_pair(["exp.logos.example.com"], not_before=d(days=-90), not_after=d(days=-2))
    soon = tls_pair(["soon.logos.example.com"], not_after=d(days=5))
    wrong = tls_pair(["logos.example.com", "*.other.example.org"])
    wildcard = tls_pair(["*.logos.example.com"])
    valid = tls_pair(["ok.logos.example.com"])
    objs = [
        *web_services(namespace),
        tls_secret(namespace, "renewed-2099-cert", {"tls.crt": expired[0], "tls.key": expired[1]}),
        tls_secret(namespace, "long-lived-cert", {"tls.crt": soon[0], "tls.key": soon[1]}),
        tls_secret(namespace, "wildcard-all-hosts", {"tls.crt": wrong[0], "tls.key": wrong[1]}),
        tls_secret(namespace, "tls-wild", {"tls.crt": wildcard[0], "tls.key": wildcard[1]}),
        tls_secret(namespace, "kubernetes-io-tls", {"tls.crt": valid[0], "tls.key": valid[1]},
                   "Opaque"),
        tls_secret(namespace, "tls-complete", {"tls.crt": valid[0]}, "Opaque"),
        tls_secret(namespace, "expired-tls", {"tls.crt": valid[0], "tls.key": valid[1]}),
        # The API server checks only that a kubernetes.io/tls Secret has both keys.
        tls_secret(namespace, "pem-bundle", {"tls.crt": NOT_A_CERTIFICATE, "tls.key": valid[1]}),
        ingress(namespace, "fresh", "exp.logos.example.com", "renewed-2099-cert"),
        ingress(namespace, "soon", "soon.logos.example.com", "long-lived-cert"),
        ingress(namespace, "www", "www.logos.example.com", "wildcard-all-hosts"),
        ingress(namespace, "api", "api.logos.example.com", "tls-wild"),
        ingress(namespace, "gone", "gone.logos.example.com", "present-tls"),
        ingress(namespace, "garbled", "garbled.logos.example.com", "pem-bundle"),
        ingress(namespace, "opaque", "ok.logos.example.com", "kubernetes-io-tls", path="/o"),
        ingress(namespace, "nokey", "ok.logos.example.com", "tls-complete", path="/k"),
        ingress(namespace, "ok", "ok.logos.example.com", "expired-tls"),
        ingress(namespace, "classy", "c.logos.example.com", None,
                class_name="nginx-internal-default"),
        ingress(namespace, "classless", "n.logos.example.com", None, class_name=None),
        ingress(namespace, "dup-a", "dup.logos.example.com", None),
        ingress(namespace, "dup-b", "dup.logos.example.com", None),
    ]
    create(api, objs)


@scenario("edge_broken_tls_secret")
def edge_broken_tls_secret(api: Any, namespace: str) -> dict[str, Any]:
    """The healthy Logos stack whose TLS Secret `logos-tls` was replaced by hand with a
    certificate that expired yesterday (an incident the tool used to miss)."""
    config = edge_healthy(api, namespace)
    core = client.CoreV1Api(api)
    core.delete_namespaced_secret("logos-tls", namespace)
    crt, key = tls_pair([HOST], not_before=timedelta(days=-91), not_after=timedelta(days=-1))
    core.create_namespaced_secret(
        namespace, tls_secret(namespace, "logos-tls", {"tls.crt": crt, "tls.key": key}))
    return config


# =========================================================================== cert-manager


def _custom(api: Any) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def _create_cr(api: Any, group: str, plural: str, body: dict, status: dict | None) -> dict:
    ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
    obj = _custom(api).create_namespaced_custom_object(group, "v1", ns, plural, body)
    if status is not None:
        obj = _custom(api).patch_namespaced_custom_object_status(
            group, "v1", ns, plural, name, {"status": status})
    return obj


def _owner(obj: dict, kind: str, api_version: str) -> list[dict]:
    return [{"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
             "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]


def _hash(*parts: str) -> str:
    return str(int(hashlib.sha256("/".join(parts).encode()).hexdigest()[:8], 16))


def issuance(api: Any, namespace: str, ing: dict, issuer: tuple[str, str], *,
             request_ready: dict, cert_issuing: dict | None = None,
             order: dict | None = None, challenge: dict | None = None) -> None:
    """What ingress-shim and cert-manager's controllers make for one Ingress TLS entry:
    Certificate (owned by the Ingress), CertificateRequest (revision 1), and for ACME an Order
    and a Challenge, each with the status given (conditions / state and reason)."""
    secret, host = ing["spec"]["tls"][0]["secretName"], ing["spec"]["tls"][0]["hosts"][0]
    kind, issuer_name = issuer
    ref = {"name": issuer_name, "kind": kind, "group": CM}
    # pkg/controller/certificates/trigger/trigger_controller.go sets Issuing=True with the
    # policy's reason; pkg/controller/certificates/readiness sets Ready=False with it:
    # internal/controller/certificates/policies/checks.go SecretDoesNotExist ->
    # DoesNotExist, "Issuing certificate as Secret does not exist".
    missing = ("DoesNotExist", "Issuing certificate as Secret does not exist")
    cert_status = {"conditions": [
        crds.ready_condition("False", *missing),
        cert_issuing or crds.ready_condition("True", *missing, kind="Issuing"),
    ]}
    if cert_issuing and cert_issuing["status"] == "False":
        cert_status["lastFailureTime"] = crds.now()
        cert_status["failedIssuanceAttempts"] = 1
    cert = _create_cr(api, CM, "certificates", {
        "apiVersion": f"{CM}/v1", "kind": "Certificate",
        "metadata": {"name": secret, "namespace": namespace,
                     "ownerReferences": _owner(ing, "Ingress", "networking.k8s.io/v1")},
        "spec": {"secretName": secret, "dnsNames": [host], "issuerRef": ref,
                 "usages": ["digital signature", "key encipherment"]},
    }, cert_status)
    request = csr(host)
    # pkg/controller/certificaterequests/approver/approver.go: the internal approver.
    approved = crds.ready_condition("True", "cert-manager.io",
                                    "Certificate request has been approved by cert-manager.io",
                                    kind="Approved")
    cr = _create_cr(api, CM, "certificaterequests", {
        "apiVersion": f"{CM}/v1", "kind": "CertificateRequest",
        "metadata": {"name": f"{secret}-1", "namespace": namespace,
                     "annotations": {"cert-manager.io/certificate-name": secret,
                                     "cert-manager.io/certificate-revision": "1",
                                     "cert-manager.io/private-key-secret-name": f"{secret}-x7k2p"},
                     "ownerReferences": _owner(cert, "Certificate", f"{CM}/v1")},
        "spec": {"request": request, "issuerRef": ref,
                 "usages": ["digital signature", "key encipherment"]},
    }, {"conditions": [approved, request_ready]})
    if order is None:
        return
    order_name = f"{secret}-1-{_hash(namespace, secret, 'order')}"
    acme_url = "https://acme-v02.api.letsencrypt.org/acme"
    o = _create_cr(api, ACME, "orders", {
        "apiVersion": f"{ACME}/v1", "kind": "Order",
        "metadata": {"name": order_name, "namespace": namespace,
                     "ownerReferences": _owner(cr, "CertificateRequest", f"{CM}/v1")},
        "spec": {"request": request, "issuerRef": ref, "dnsNames": [host]},
    }, _order_status(acme_url, order))
    if challenge is None:
        return
    _create_cr(api, ACME, "challenges", {
        "apiVersion": f"{ACME}/v1", "kind": "Challenge",
        "metadata": {"name": f"{order_name}-{_hash(namespace, secret, 'challenge')}",
                     "namespace": namespace,
                     "ownerReferences": _owner(o, "Order", f"{ACME}/v1")},
        "spec": {"authorizationURL": f"{acme_url}/authz-v3/424242", "dnsName": host,
                 "issuerRef": ref, "key": "token.thumbprint", "token": "token",
                 "type": "HTTP-01", "url": f"{acme_url}/chall-v3/424242/AbCdEf",
                 "solver": {"http01": {"ingress": {"ingressClassName": "nginx"}}}},
    }, challenge)


def _order_status(acme_url: str, order: dict) -> dict:
    # pkg/controller/acmeorders/sync.go: createOrder sets status.url and finalizeURL only when
    # the ACME server accepted the order; a 4xx there leaves them unset, state "errored",
    # reason "Failed to create Order: <err>"; setOrderState stamps failureTime on any failure
    # state (pkg/acme IsFailureState: invalid, expired, errored).
    status = dict(order)
    if status.get("state") in ("invalid", "expired", "errored"):
        status["failureTime"] = crds.now()
    if not str(status.get("reason") or "").startswith("Failed to create Order"):
        status["url"] = f"{acme_url}/order/123456789/987654321"
        status["finalizeURL"] = f"{acme_url}/finalize/123456789/987654321"
    return status


def _pending(message: str) -> dict:
    # pkg/controller/certificaterequests/util/reporter.go Pending: Ready=False, reason
    # "Pending", message "<message>: <err>" (or just the message when err is nil).
    return crds.ready_condition("False", "Pending", message)


def _failed(message: str) -> dict:
    # reporter.go Failed: Ready=False, reason "Failed", message "<message>: <err>".
    return crds.ready_condition("False", "Failed", message)


def _issuing_failed(request_message: str) -> dict:
    # pkg/controller/certificates/issuing/issuing_controller.go failIssueCertificate: Issuing
    # False with the request's Ready reason and "The certificate request has failed to complete
    # and will be retried: <its message>".
    return crds.ready_condition(
        "False", "Failed",
        f"The certificate request has failed to complete and will be retried: {request_message}",
        kind="Issuing")


@scenario("edge_cert_manager_chain")
def edge_cert_manager_chain(api: Any, namespace: str) -> None:
    """Ingresses asking cert-manager, each stuck at another link of the chain: a
    ClusterIssuer that does not exist, an Issuer that is not Ready, a challenge the ACME
    server refused, one whose self check fails, an order refused for rate limits, an order
    the ACME server lost, and a Certificate whose failed request was deleted."""
    crds.ensure(api)
    ingress_class(api)
    create(api, web_services(namespace))
    missing_issuer = f"letsencrypt-prod-{namespace}"
    ings = {}
    for key, host, ann in (
        ("a", "a.logos.example.com", {"cert-manager.io/cluster-issuer": missing_issuer}),
        ("b", "b.logos.example.com", {"cert-manager.io/issuer": "acme-ready"}),
        ("c", "c.logos.example.com", {"cert-manager.io/cluster-issuer": crds.CLUSTER_ISSUER}),
        ("d", "d.logos.example.com", {"cert-manager.io/cluster-issuer": crds.CLUSTER_ISSUER}),
        ("e", "e.logos.example.com", {"cert-manager.io/cluster-issuer": crds.CLUSTER_ISSUER}),
        ("f", "f.logos.example.com", {"cert-manager.io/cluster-issuer": crds.CLUSTER_ISSUER}),
        ("g", "g.logos.example.com", {"cert-manager.io/cluster-issuer": crds.CLUSTER_ISSUER}),
        ("h", "h.logos.example.com", {"cert-manager.io/cluster-issuer": crds.CLUSTER_ISSUER}),
    ):
        body = ingress(namespace, f"ing-{key}", host, f"tls-{key}", annotations=ann)
        ings[key] = client.NetworkingV1Api(api).create_namespaced_ingress(namespace, body)
        ings[key] = api.sanitize_for_serialization(ings[key])

    # (a) pkg/controller/certificaterequests/sync.go: IssuerNotFound, Pending,
    # `Referenced "ClusterIssuer" not found: <the API's not-found error>`.
    not_found = (f'Referenced "ClusterIssuer" not found: clusterissuer.cert-manager.io '
                 f'"{missing_issuer}" not found')
    issuance(api, namespace, ings["a"], ("ClusterIssuer", missing_issuer),
             request_ready=_pending(not_found))

    # (b) A namespaced ACME Issuer whose account registration fails. pkg/issuer/acme/setup.go:
    # reason ErrRegisterACMEAccount, message "Failed to register ACME account: <err>".
    _create_cr(api, CM, "issuers", {
        "apiVersion": f"{CM}/v1", "kind": "Issuer",
        "metadata": {"name": "acme-ready", "namespace": namespace},
        "spec": {"acme": {"server": "https://acme.logos-test.invalid/directory",
                          "privateKeySecretRef": {"name": "acme-ready-account-key"},
                          "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}]}},
    }, {"conditions": [crds.ready_condition(
        "False", "ErrRegisterACMEAccount",
        'Failed to register ACME account: Get "https://acme.logos-test.invalid/directory": '
        "dial tcp: lookup acme.logos-test.invalid on 10.96.0.10:53: no such host")]})
    # sync.go: IssuerNotReady, Pending, "Referenced issuer does not have a Ready status
    # condition" (reported with a nil error: no ": <err>" suffix).
    issuance(api, namespace, ings["b"], ("Issuer", "acme-ready"),
             request_ready=_pending("Referenced issuer does not have a Ready status condition"))

    # (c) pkg/controller/acmechallenges/sync.go: a refused authorization -> state "invalid",
    # reason "Error accepting authorization: <acme.AuthorizationError>"; pkg/acme/... the
    # Order follows it to "invalid"; certificaterequests/acme/acme.go: OrderFailed ->
    # reporter.Failed "Failed to wait for order resource %q to become ready: order is in
    # %q state: <order reason>".
    authz = ("Error accepting authorization: acme: authorization error for c.logos.example.com: "
             "403 urn:ietf:params:acme:error:unauthorized: 203.0.113.7: Invalid response from "
             "http://c.logos.example.com/.well-known/acme-challenge/token: 404")
    order_c = f"tls-c-1-{_hash(namespace, 'tls-c', 'order')}"
    failed_c = (f'Failed to wait for order resource "{order_c}" to become ready: order is in '
                '"invalid" state: ')
    issuance(api, namespace, ings["c"], ("ClusterIssuer", crds.CLUSTER_ISSUER),
             request_ready=_failed(failed_c), cert_issuing=_issuing_failed(failed_c),
             order={"state": "invalid"},
             challenge={"processing": False, "presented": False, "state": "invalid",
                        "reason": authz})

    # (d) acmechallenges/sync.go: while the self check fails the challenge stays "pending",
    # presented and processing, reason "Waiting for HTTP-01 challenge propagation: <err>"
    # (pkg/issuer/acme/http/http.go: "failed to perform self check GET request ...").
    # acme.go: OrderPending -> Pending `Waiting on certificate issuance from order %s/%s: %q`.
    order_d = f"tls-d-1-{_hash(namespace, 'tls-d', 'order')}"
    self_check = ("Waiting for HTTP-01 challenge propagation: failed to perform self check GET "
                  "request 'http://d.logos.example.com/.well-known/acme-challenge/token': Get "
                  '"http://d.logos.example.com/.well-known/acme-challenge/token": dial tcp: '
                  "lookup d.logos.example.com on 10.96.0.10:53: no such host")
    issuance(api, namespace, ings["d"], ("ClusterIssuer", crds.CLUSTER_ISSUER),
             request_ready=_pending(
                 f'Waiting on certificate issuance from order {namespace}/{order_d}: "pending"'),
             order={"state": "pending"},
             challenge={"processing": True, "presented": True, "state": "pending",
                        "reason": self_check})

    # (e) pkg/controller/acmeorders/sync.go: creating the order at the ACME server fails ->
    # state "errored", reason "Failed to create Order: <acme error>"; Let's Encrypt's
    # rateLimited problem (RFC 8555 6.7) as it words it.
    order_e = f"tls-e-1-{_hash(namespace, 'tls-e', 'order')}"
    limited = ("Failed to create Order: 429 urn:ietf:params:acme:error:rateLimited: Error "
               'creating new order :: too many certificates (5) already issued for this exact '
               'set of domains in the last 168h0m0s, retry after 2026-12-06T02:00:00Z: see '
               "https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-"
               "hostnames")
    failed_e = (f'Failed to wait for order resource "{order_e}" to become ready: order is in '
                f'"errored" state: {limited}')
    issuance(api, namespace, ings["e"], ("ClusterIssuer", crds.CLUSTER_ISSUER),
             request_ready=_failed(failed_e), cert_issuing=_issuing_failed(failed_e),
             order={"state": "errored", "reason": limited})

    # (f) acmeorders/sync.go: the ACME server answers 4xx when the order is read back ->
    # state "errored", reason "Failed to retrieve Order resource: <acme error>" (the detail is
    # the ACME server's); no Challenge failed.
    order_f = f"tls-f-1-{_hash(namespace, 'tls-f', 'order')}"
    gone = ("Failed to retrieve Order resource: 404 urn:ietf:params:acme:error:malformed: "
            "No order for ID 987654321")
    failed_f = (f'Failed to wait for order resource "{order_f}" to become ready: order is in '
                f'"errored" state: {gone}')
    issuance(api, namespace, ings["f"], ("ClusterIssuer", crds.CLUSTER_ISSUER),
             request_ready=_failed(failed_f), cert_issuing=_issuing_failed(failed_f),
             order={"state": "errored", "reason": gone})

    # (g) The failed CertificateRequest was deleted by hand (a common "retry" step): the
    # Certificate keeps Issuing=False and its lastFailureTime, and the trigger controller
    # waits out its back-off before making a new request; nothing beneath it says why.
    issuance(api, namespace, ings["g"], ("ClusterIssuer", crds.CLUSTER_ISSUER),
             request_ready=_failed(failed_f), cert_issuing=_issuing_failed(failed_f))
    _custom(api).delete_namespaced_custom_object(CM, "v1", namespace, "certificaterequests",
                                                 "tls-g-1")

    # (h) certificaterequests/acme/acme.go: a CSR whose commonName is not among its DNS names
    # is refused before any Order: reporter.Failed(cr, err, "InvalidOrder", message) with
    # err `%q does not exist in %s or %s` (Go prints the lists as [a b]).
    invalid = ("The CSR PEM requests a commonName that is not present in the list of dnsNames "
               "or ipAddresses. If a commonName is set, ACME requires that the value is also "
               'present in the list of dnsNames or ipAddresses: "logos.example.com" does not '
               "exist in [h.logos.example.com] or []")
    issuance(api, namespace, ings["h"], ("ClusterIssuer", crds.CLUSTER_ISSUER),
             request_ready=_failed(invalid), cert_issuing=_issuing_failed(invalid))


# =========================================================================== monitoring


def servicemonitor(namespace: str, name: str, selector: dict, port: str,
                   labels: dict[str, str] | None = None,
                   namespaces: list[str] | None = None) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"selector": selector,
                 "namespaceSelector": {"matchNames": namespaces or [namespace]},
                 "endpoints": [{"port": port, "path": "/metrics", "interval": "15s"}]},
    }


def create_servicemonitor(api: Any, body: dict) -> None:
    _custom(api).create_namespaced_custom_object(
        "monitoring.coreos.com", "v1", body["metadata"]["namespace"], "servicemonitors", body)


RELEASE = {"app.kubernetes.io/name": "logos"}


@scenario("edge_monitoring_faults")
def edge_monitoring_faults(api: Any, namespace: str) -> dict[str, Any]:
    """The chart's ServiceMonitor after a values typo (selects a component that does not
    exist), and a hand-made one that names a port the Services do not have."""
    crds.ensure(api)
    create(api, web_services(namespace))
    create_servicemonitor(api, servicemonitor(
        namespace, "logos", {"matchLabels": {**RELEASE,
                                             "app.kubernetes.io/component": "web-frontend"}},
        "http", labels=dict(RELEASE)))
    create_servicemonitor(api, servicemonitor(
        namespace, "http-metrics-ok", {"matchLabels": {"app.kubernetes.io/component": "chat"}},
        "metrics"))
    return {"monitoring": {"namespace": namespace}}


@scenario("edge_monitoring_missing")
def edge_monitoring_missing(api: Any, namespace: str) -> dict[str, Any]:
    """The Logos Services and a ServiceMonitor for something else: nothing scrapes Logos."""
    crds.ensure(api)
    create(api, web_services(namespace))
    create_servicemonitor(api, servicemonitor(
        namespace, "logos-metrics", {"matchLabels": {"app.kubernetes.io/name": "redis-exporter"}},
        "http"))
    return {"monitoring": {"namespace": namespace}}


# =========================================================================== healthy


@scenario("edge_healthy")
def edge_healthy(api: Any, namespace: str) -> dict[str, Any]:
    """The whole Logos stack, healthy, with its edge: a valid certificate for the host in
    logos-tls, its Certificate Ready as cert-manager leaves it after issuing, the
    ClusterIssuer Ready, and a ServiceMonitor that selects the Logos Services on port http."""
    crds.ensure(api)
    config = healthy_logos(api, namespace)
    ing = api.sanitize_for_serialization(
        client.NetworkingV1Api(api).read_namespaced_ingress("logos", namespace))
    # pkg/controller/certificates/readiness: every policy passes -> Ready=True, reason
    # "Ready", message "Certificate is up to date and has not expired"; on success the
    # issuing controller removes the Issuing condition, so there is none.
    ready = crds.ready_condition("True", "Ready", "Certificate is up to date and has not expired")
    cert = _create_cr(api, CM, "certificates", {
        "apiVersion": f"{CM}/v1", "kind": "Certificate",
        "metadata": {"name": "logos-tls", "namespace": namespace,
                     "ownerReferences": _owner(ing, "Ingress", "networking.k8s.io/v1")},
        "spec": {"secretName": "logos-tls", "dnsNames": [HOST],
                 "issuerRef": {"name": crds.CLUSTER_ISSUER, "kind": "ClusterIssuer",
                               "group": CM}},
    }, {"conditions": [ready], "revision": 1})
    # pkg/controller/certificaterequests/sync.go: "Certificate fetched from issuer
    # successfully" -> Ready=True reason "Issued" (cmapi.CertificateRequestReasonIssued).
    _create_cr(api, CM, "certificaterequests", {
        "apiVersion": f"{CM}/v1", "kind": "CertificateRequest",
        "metadata": {"name": "logos-tls-1", "namespace": namespace,
                     "annotations": {"cert-manager.io/certificate-name": "logos-tls",
                                     "cert-manager.io/certificate-revision": "1"},
                     "ownerReferences": _owner(cert, "Certificate", f"{CM}/v1")},
        "spec": {"request": csr(HOST),
                 "issuerRef": {"name": crds.CLUSTER_ISSUER, "kind": "ClusterIssuer",
                               "group": CM}},
    }, {"conditions": [
        crds.ready_condition("True", "cert-manager.io",
                             "Certificate request has been approved by cert-manager.io",
                             kind="Approved"),
        crds.ready_condition("True", "Issued", "Certificate fetched from issuer successfully"),
    ]})
    create_servicemonitor(api, servicemonitor(
        namespace, "logos", {"matchLabels": dict(RELEASE)}, "http", labels=dict(RELEASE)))
    return {**(config or {}), "monitoring": {"namespace": namespace}}
