"""cert-manager: why the Ingress's certificate is not issued, in cert-manager's own words.

The chain is Ingress (annotation ``cert-manager.io/cluster-issuer`` or ``/issuer``) ->
Certificate (ingress-shim names it after ``spec.tls[].secretName``) -> CertificateRequest ->
Order -> Challenge, each owned by the one before.  The deepest object that says why is the
root cause, and it lists the Certificate, the TLS Secret and the Ingresses as affected, so the
TLS Secret's finding (check ``ingress``) hangs under it.  Every reason and message read here
is written by cert-manager; the source of each is quoted where it is matched.

When the CRDs are absent (the API server answers 404 for the list) and an Ingress asks for
cert-manager, nothing will ever issue or renew its certificate: that is said once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from logos_doctor.cause import Cause, Causes
from logos_doctor.config import Config
from logos_doctor.finding import Finding, Severity
from logos_doctor.objects import (
    Obj,
    ObjectRef,
    annotations_of,
    mapping,
    mappings,
    meta,
    name,
    namespace,
    parse_time,
)
from logos_doctor.registry import Check
from logos_doctor.state import ClusterState

CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"
ISSUER = "cert-manager.io/issuer"
GROUP = "cert-manager.io"
CRD = ObjectRef("CustomResourceDefinition", None, "certificates.cert-manager.io")
# logos_doctor/cluster/fetch.py: the reason a kind becomes unavailable when the server answers 404.
NOT_SERVED = "is not served by this cluster"
# The ACME problem type of a rate limit (RFC 8555 section 6.7), in an Order's or
# Challenge's reason; a domain name cannot contain ':', so no name can look like it.
RATE_LIMITED = "urn:ietf:params:acme:error:rateLimited"
# An issuance that has neither failed nor succeeded yet is only ambiguous this long.
ISSUING_GRACE = timedelta(minutes=10)

CAUSES = Causes(
    "cert-manager",
    Cause(
        "not-installed",
        Severity.WARNING,
        "An Ingress asks cert-manager for its certificate, and cert-manager is not installed",
        remediation=(
            "Install cert-manager (CRDs and controller) and the ClusterIssuer the Ingress "
            "names, or provide the TLS Secret yourself and renew it by hand."
        ),
    ),
    Cause(
        "issuer-missing",
        Severity.CRITICAL,
        "The issuer a certificate names does not exist",
        remediation="Create {issuer} (the production guide's is ClusterIssuer letsencrypt-prod), "
        "or point the annotation / issuerRef at an existing one.",
    ),
    Cause(
        "issuer-not-ready",
        Severity.CRITICAL,
        "The issuer a certificate names is not Ready",
        remediation="Fix {issuer} as its Ready condition says (kubectl describe {kind} {name}).",
    ),
    Cause(
        "challenge-failed",
        Severity.CRITICAL,
        "The ACME server refused a challenge",
        remediation=(
            "Make the challenge pass (HTTP-01: {host} must resolve to the ingress controller "
            "and /.well-known/acme-challenge/ reach it from the internet), then delete the "
            "failed CertificateRequest so cert-manager retries: cmctl renew {certificate}."
        ),
    ),
    Cause(
        "challenge-pending",
        Severity.WARNING,
        "An ACME challenge cannot be completed",
        remediation=(
            "cert-manager keeps retrying; fix what its reason says (DNS for {host}, port 80 "
            "reaching the ingress controller, the solver's IngressClass)."
        ),
    ),
    Cause(
        "rate-limited",
        Severity.WARNING,
        "The ACME server rate-limits the certificate",
        remediation=(
            "Wait until the time the ACME server gives, and stop re-creating the "
            "Certificate meanwhile; see https://letsencrypt.org/docs/rate-limits/."
        ),
    ),
    Cause(
        "order-failed",
        Severity.CRITICAL,
        "The ACME order failed",
        remediation="Read the reason, fix it, then 'cmctl renew {certificate}'.",
    ),
    Cause(
        "request-failed",
        Severity.CRITICAL,
        "The CertificateRequest failed or was denied",
        remediation="Read the reason, fix it, then 'cmctl renew {certificate}'.",
    ),
    Cause(
        "certificate-not-ready",
        Severity.WARNING,
        "A Certificate is not Ready",
        remediation="kubectl describe certificate -n {namespace} {name}; cmctl status "
        "certificate -n {namespace} {name} shows the whole chain.",
    ),
)


def cert_manager(state: ClusterState, config: Config) -> Iterator[Finding]:
    """Follow each Logos Ingress's certificate through cert-manager's objects."""
    ingresses = [i for i in state.in_scope("ingresses") if _asks(i)]
    if not state.has("certificates"):
        if NOT_SERVED in state.unavailable.get("certificates", "") and ingresses:
            yield _not_installed(state, config, ingresses)
        return
    seen: set[ObjectRef] = set()
    certs = {(namespace(c), _secret_name(c)): c for c in state.in_scope("certificates")}
    for ing in ingresses:
        ann = annotations_of(ing)
        kind, issuer = (
            ("ClusterIssuer", ann[CLUSTER_ISSUER])
            if ann.get(CLUSTER_ISSUER)
            else ("Issuer", ann[ISSUER])
        )
        secrets = _secrets(ing)
        affected = [
            ObjectRef.of("Ingress", ing),
            *(ObjectRef("Secret", namespace(ing), s) for s in secrets),
        ]
        affected += [
            ObjectRef.of("Certificate", c) for s in secrets if (c := certs.get((namespace(ing), s)))
        ]
        severity = _severity(state, config, namespace(ing), secrets)
        lines = [
            line
            for s in secrets
            if (c := certs.get((namespace(ing), s))) is not None
            for line in _chain_lines(state, c)
        ]
        yield from _issuer(state, kind, namespace(ing), issuer, affected, severity, seen, lines)
    # Who serves each TLS Secret, indexed once: per Certificate it would be certificates x
    # Ingresses on a large cluster.
    served: dict[tuple[str | None, str], list[ObjectRef]] = {}
    for ing in state.in_scope("ingresses"):
        for s in _secrets(ing):
            served.setdefault((namespace(ing), s), []).append(ObjectRef.of("Ingress", ing))
    for cert in state.in_scope("certificates"):
        yield from _certificate(state, config, cert, seen, served)


def _asks(ing: Obj) -> bool:
    ann = annotations_of(ing)
    return bool(ann.get(CLUSTER_ISSUER) or ann.get(ISSUER))


def _spec(obj: Obj) -> dict[str, Any]:
    return mapping(obj.get("spec"))


def _secret_name(cert: Obj) -> str:
    value = _spec(cert).get("secretName")
    return value if isinstance(value, str) else ""


def _secrets(ing: Obj) -> list[str]:
    return [
        str(t["secretName"])
        for t in mappings(_spec(ing).get("tls"))
        if isinstance(t.get("secretName"), str) and t["secretName"]
    ]


def _condition(obj: Obj, kind: str) -> dict[str, Any] | None:
    for cond in mappings(mapping(obj.get("status")).get("conditions")):
        if cond.get("type") == kind:
            return cond
    return None


def _says(cond: dict[str, Any] | None) -> str:
    if cond is None:
        return "no condition"
    return f"{cond.get('type')}={cond.get('status')} {cond.get('reason') or ''}: " + str(
        cond.get("message") or ""
    )


def _secret_state(state: ClusterState, config: Config, ns: str | None, secret: str) -> str:
    """``ok``, ``expiring`` or ``bad`` (missing, no certificate, expired, unreadable)."""
    obj = state.get("Secret", ns, secret)
    if obj is None:
        return "bad" if state.has("secrets") else "ok"
    facts = mapping(obj.get("certificate"))
    not_after = parse_time(facts.get("notAfter"))
    if facts.get("error") or (not facts and "tls.crt" not in (obj.get("dataKeys") or ())):
        return "bad"
    if not_after is None:
        return "ok"  # no facts kept (not kubernetes.io/tls): the ingress check says more
    if not_after <= state.now:
        return "bad"
    return (
        "expiring"
        if not_after - state.now < timedelta(days=config.certificate_warning_days)
        else "ok"
    )


def _severity(state: ClusterState, config: Config, ns: str | None, secrets: list[str]) -> Severity:
    """Critical while users get a bad certificate, a warning while renewal is all that fails."""
    states = {_secret_state(state, config, ns, s) for s in secrets}
    return Severity.CRITICAL if "bad" in states else Severity.WARNING


def _not_installed(state: ClusterState, config: Config, ingresses: list[Obj]) -> Finding:
    affected: list[ObjectRef] = []
    states: set[str] = set()
    for ing in ingresses:
        affected.append(ObjectRef.of("Ingress", ing))
        for s in _secrets(ing):
            affected.append(ObjectRef("Secret", namespace(ing), s))
            states.add(_secret_state(state, config, namespace(ing), s))
    severity = (
        Severity.CRITICAL if "bad" in states else Severity.WARNING if "expiring" in states else None
    )
    # A certificate that is valid today keeps working: what is lost is its renewal, which the
    # ingress check warns about ahead of time.  Said, but not as a problem of today.
    severity = severity or Severity.INFO
    names = ", ".join(f"{namespace(i)}/{name(i)}" for i in ingresses)
    return CAUSES["not-installed"].finding(
        resource=CRD,
        message=f"Ingress {names} asks cert-manager for its certificate, but cert-manager is not "
        f"installed (the API server does not serve certificates.cert-manager.io): nothing "
        "issues or renews it",
        evidence=tuple(
            f"Ingress {namespace(i)}/{name(i)}: "
            + ", ".join(
                f"{k}={v}" for k, v in annotations_of(i).items() if k in (CLUSTER_ISSUER, ISSUER)
            )
            for i in ingresses
        ),
        affected=tuple(affected),
        severity=severity,
    )


def _issuer(
    state: ClusterState,
    kind: str,
    ns: str | None,
    issuer: str,
    affected: list[ObjectRef],
    severity: Severity,
    seen: set[ObjectRef],
    evidence: list[str],
) -> Iterator[Finding]:
    """The issuer's finding, once per issuer; nothing if it is Ready or cannot be seen."""
    plural = "clusterissuers" if kind == "ClusterIssuer" else "issuers"
    where = None if kind == "ClusterIssuer" else ns
    ref = ObjectRef(kind, where, issuer)
    if ref in seen or not state.has(plural):
        return
    obj = state.get(kind, where, issuer)
    label = f"{kind} {issuer}" + (f" (namespace {ns})" if where else "")
    if obj is None:
        seen.add(ref)
        yield CAUSES["issuer-missing"].finding(
            resource=ref,
            message=f"{label} does not exist: cert-manager cannot issue or renew the "
            "certificates that name it",
            evidence=(*evidence, *(f"needed by {r}" for r in affected)),
            affected=tuple(affected),
            severity=severity,
            issuer=label,
        )
        return
    ready = _condition(obj, "Ready")
    if ready is not None and ready.get("status") == "True":
        return
    seen.add(ref)
    # pkg/controller/certificaterequests/sync.go: a request waits, Pending "IssuerNotReady",
    # "Referenced issuer does not have a Ready status condition", until the issuer is Ready.
    yield CAUSES["issuer-not-ready"].finding(
        resource=ObjectRef.of(kind, obj),
        message=f"{label} is not Ready ({_says(ready)})",
        evidence=(*evidence, *(f"needed by {r}" for r in affected)),
        affected=tuple(affected),
        severity=severity,
        issuer=label,
        kind=kind.lower(),
        name=issuer,
    )


def _chain_lines(state: ClusterState, cert: Obj) -> list[str]:
    """What the Certificate and its newest CertificateRequest say, for evidence."""
    lines = [f"Certificate {name(cert)}: {_says(_condition(cert, 'Ready'))}"]
    request = _newest(state.children(cert, "CertificateRequest"))
    if request is not None:
        lines.append(f"CertificateRequest {name(request)}: {_says(_condition(request, 'Ready'))}")
    return lines


def _newest(objs: list[Obj]) -> Obj | None:
    return max(objs, key=lambda o: str(meta(o).get("creationTimestamp") or ""), default=None)


def _certificate(
    state: ClusterState,
    config: Config,
    cert: Obj,
    seen: set[ObjectRef],
    served: dict[tuple[str | None, str], list[ObjectRef]],
) -> Iterator[Finding]:
    ready = _condition(cert, "Ready")
    if ready is not None and ready.get("status") == "True":
        return
    ns, secret = namespace(cert), _secret_name(cert)
    ref = ObjectRef.of("Certificate", cert)
    users = served.get((ns, secret), [])
    affected = [ref, *([ObjectRef("Secret", ns, secret)] if secret else []), *users]
    severity = _severity(state, config, ns, [secret]) if secret else Severity.WARNING
    facts: dict[str, Any] = {"certificate": f"-n {ns} {name(cert)}"}
    evidence = [f"Certificate {name(cert)}: {_says(ready)}"]
    issuing = _condition(cert, "Issuing")
    if issuing is not None:
        evidence.append(f"Certificate {name(cert)}: {_says(issuing)}")

    issuer_ref = mapping(_spec(cert).get("issuerRef"))
    if (issuer_ref.get("group") or GROUP) == GROUP and issuer_ref.get("name"):
        kind = str(issuer_ref.get("kind") or "Issuer")
        issuer = str(issuer_ref["name"])
        yield from _issuer(state, kind, ns, issuer, affected, severity, seen, evidence)
        if ObjectRef(kind, None if kind == "ClusterIssuer" else ns, issuer) in seen:
            return  # the issuer's finding (made now or for the Ingress) explains it

    request = _newest(state.children(cert, "CertificateRequest"))
    if request is not None:
        found = list(_request(state, request, affected, severity, evidence, facts))
        yield from found
        if found:
            return
    if (
        issuing is not None
        and issuing.get("status") == "True"
        and _age(state, cert) < ISSUING_GRACE
    ):
        return  # issuance under way, nothing failed yet: too early to tell
    yield CAUSES["certificate-not-ready"].finding(
        resource=ref,
        message=f"Certificate {name(cert)} is not Ready ({_says(ready)})"
        + (f"; last issuance: {_says(issuing)}" if issuing is not None else ""),
        evidence=tuple(evidence),
        affected=tuple(affected[1:]),
        severity=severity,
        namespace=ns,
        name=name(cert),
    )


def _age(state: ClusterState, obj: Obj) -> timedelta:
    created = parse_time(meta(obj).get("creationTimestamp"))
    return state.now - created if created else timedelta.max


def _request(
    state: ClusterState,
    request: Obj,
    affected: list[ObjectRef],
    severity: Severity,
    evidence: list[str],
    facts: dict[str, Any],
) -> Iterator[Finding]:
    ready = _condition(request, "Ready")
    lines = [*evidence, f"CertificateRequest {name(request)}: {_says(ready)}"]
    affected = [*affected, ObjectRef.of("CertificateRequest", request)]
    order = _newest(state.children(request, "Order"))
    if order is not None:
        found = list(_order(state, order, affected, severity, lines, facts))
        if found:
            yield from found
            return
    # pkg/apis/certmanager/v1/types_certificaterequest.go: conditions Denied and
    # InvalidRequest are terminal; Ready=False reason "Failed" is set by the reporter's
    # Failed (pkg/controller/certificaterequests/util/reporter.go).
    for kind in ("Denied", "InvalidRequest"):
        cond = _condition(request, kind)
        if cond is not None and cond.get("status") == "True":
            lines.append(f"CertificateRequest {name(request)}: {_says(cond)}")
            break
    else:
        if ready is None or ready.get("reason") not in ("Failed", "Denied"):
            return
    yield CAUSES["request-failed"].finding(
        resource=ObjectRef.of("CertificateRequest", request),
        message=f"CertificateRequest {name(request)} failed: {lines[-1].split(': ', 1)[-1]}",
        evidence=tuple(lines),
        affected=tuple(affected[:-1]),
        severity=severity,
        **facts,
    )


def _order(
    state: ClusterState,
    order: Obj,
    affected: list[ObjectRef],
    severity: Severity,
    evidence: list[str],
    facts: dict[str, Any],
) -> Iterator[Finding]:
    status = mapping(order.get("status"))
    st, reason = str(status.get("state") or ""), str(status.get("reason") or "")
    lines = [
        *evidence,
        f"Order {name(order)}: state {st or '(none)'}" + (f": {reason}" if reason else ""),
    ]
    affected = [*affected, ObjectRef.of("Order", order)]
    found = [
        f
        for challenge in sorted(state.children(order, "Challenge"), key=name)
        for f in _challenge(challenge, affected, severity, lines, facts)
    ]
    yield from found
    if found:
        return
    if RATE_LIMITED in reason:
        yield CAUSES["rate-limited"].finding(
            resource=ObjectRef.of("Order", order),
            message=f"the ACME server rate-limits Order {name(order)}: {reason}",
            evidence=tuple(lines),
            affected=tuple(affected[:-1]),
            severity=severity,
        )
    # pkg/apis/acme/v1/types_issuer.go: "invalid" and "errored" are the final failure states
    # (pkg/acme/util.go IsFailureState); the reason is the ACME server's or cert-manager's.
    elif st in ("invalid", "errored"):
        yield CAUSES["order-failed"].finding(
            resource=ObjectRef.of("Order", order),
            message=f"Order {name(order)} is {st}" + (f": {reason}" if reason else ""),
            evidence=tuple(lines),
            affected=tuple(affected[:-1]),
            severity=severity,
            **facts,
        )


def _challenge(
    challenge: Obj,
    affected: list[ObjectRef],
    severity: Severity,
    evidence: list[str],
    facts: dict[str, Any],
) -> Iterator[Finding]:
    status, spec = mapping(challenge.get("status")), _spec(challenge)
    st, reason = str(status.get("state") or ""), str(status.get("reason") or "")
    host = str(spec.get("dnsName") or "")
    ref = ObjectRef.of("Challenge", challenge)
    lines = (
        *evidence,
        f"Challenge {name(challenge)} ({spec.get('type') or '?'} for {host}): state "
        f"{st or '(none)'}" + (f": {reason}" if reason else ""),
    )
    if RATE_LIMITED in reason:
        yield CAUSES["rate-limited"].finding(
            resource=ref,
            message=f"the ACME server rate-limits the challenge for {host}: {reason}",
            evidence=lines,
            affected=tuple(affected),
            severity=severity,
        )
    # pkg/controller/acmechallenges/sync.go: a refused authorization sets state "invalid" and
    # reason "Error accepting authorization: <the ACME server's error>".
    elif st in ("invalid", "errored", "expired"):
        yield CAUSES["challenge-failed"].finding(
            resource=ref,
            message=f"the ACME challenge for {host} is {st}: {reason or 'no reason given'}",
            evidence=lines,
            affected=tuple(affected),
            severity=severity,
            host=host,
            **facts,
        )
    # pkg/controller/acmechallenges/sync.go: while its self check fails, a challenge stays
    # "pending" with reason "Waiting for HTTP-01 challenge propagation: <why>" (or DNS-01);
    # a pending challenge without a reason is only waiting its turn.
    elif st == "pending" and reason:
        yield CAUSES["challenge-pending"].finding(
            resource=ref,
            message=f"the ACME challenge for {host} is pending: {reason}",
            evidence=lines,
            affected=tuple(affected),
            severity=severity,
            host=host,
        )


CHECK = Check(
    id="cert-manager",
    title="cert-manager: issuers, Certificates and ACME orders behind the Ingress's TLS",
    severity=Severity.CRITICAL,
    kinds=("ingresses",),
    optional_kinds=(
        "secrets",
        "certificates",
        "certificaterequests",
        "orders",
        "challenges",
        "issuers",
        "clusterissuers",
    ),
    causes=CAUSES,
    run=cert_manager,
)
