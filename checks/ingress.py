"""ingress: what stands between a user's browser and the Logos Services.

An Ingress no controller serves (its IngressClass does not exist, or it names none and no
class is the default), a TLS Secret that is missing, of the wrong type or without its keys,
a certificate that has expired, is about to, or does not name the hosts it is served for,
and a host and path claimed by two Ingresses.  The certificate is judged from the public
facts the fetcher kept of ``tls.crt`` (validity, DNS names, issuer): the key is never read.

A TLS Secret's problem is a finding about the Secret (the root cause, naming the Ingresses
it affects); the Ingress gets a finding of its own that depends on the Secret, so that the
chain reads "Ingress logos serves a certificate clients reject, because: Secret logos-tls
...".  Backends that do not exist stay with service-endpoints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
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

TLS_TYPE = "kubernetes.io/tls"
TLS_KEYS = ("tls.crt", "tls.key")
DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS = "kubernetes.io/ingress.class"  # still read by ingress-nginx and others
CM_ANNOTATIONS = ("cert-manager.io/cluster-issuer", "cert-manager.io/issuer")

CAUSES = Causes(
    "ingress",
    Cause(
        "ingress-class-missing",
        Severity.CRITICAL,
        "No IngressClass serves the Ingress",
        remediation=(
            "Set spec.ingressClassName to an existing class ({classes}), or create the "
            "class; no controller serves the Ingress until then."
        ),
    ),
    Cause(
        "ingress-class-other-controller",
        Severity.CRITICAL,
        "The Ingress's class belongs to another ingress controller",
        remediation=(
            "Set spec.ingressClassName to a class of {expected} ({ours}); or, if Logos is meant "
            "to be served by {controller}, set ingress.controller in the logos-doctor config."
        ),
    ),
    Cause(
        "tls-secret-missing",
        Severity.CRITICAL,
        "The TLS Secret an Ingress names does not exist",
        remediation=(
            "Create Secret {secret} (type kubernetes.io/tls, keys tls.crt and tls.key) or "
            "fix spec.tls[].secretName; until then ingress-nginx serves its default fake "
            "certificate for {hosts}."
        ),
    ),
    Cause(
        "tls-secret-wrong-type",
        Severity.WARNING,
        "The TLS Secret is not of type kubernetes.io/tls",
        remediation=(
            "Recreate Secret {secret} with type kubernetes.io/tls (kubectl create secret tls); "
            "the type cannot be changed in place."
        ),
    ),
    Cause(
        "tls-secret-missing-keys",
        Severity.CRITICAL,
        "The TLS Secret lacks tls.crt or tls.key",
        remediation="Recreate Secret {secret} with both tls.crt and tls.key.",
    ),
    Cause(
        "certificate-unreadable",
        Severity.CRITICAL,
        "The TLS Secret's tls.crt is not a certificate",
        remediation="Put the PEM certificate (chain) in tls.crt of Secret {secret}.",
    ),
    Cause(
        "certificate-expired",
        Severity.CRITICAL,
        "The Ingress's certificate has expired",
        remediation=(
            "Renew the certificate in Secret {secret} now (with cert-manager: "
            "'cmctl renew {certificate}' and see the cert-manager findings for why it did not)."
        ),
    ),
    Cause(
        "certificate-expiring",
        Severity.WARNING,
        "The Ingress's certificate expires soon",
        remediation=(
            "Renew the certificate in Secret {secret} before {not_after} (with cert-manager, "
            "renewal should already have happened: see the cert-manager findings)."
        ),
    ),
    Cause(
        "certificate-host-mismatch",
        Severity.CRITICAL,
        "The certificate does not name a host the Ingress serves it for",
        remediation=(
            "Issue a certificate whose DNS names cover {hosts} (with cert-manager: add them "
            "to the Certificate's dnsNames, or fix spec.tls[].hosts), and store it in {secret}."
        ),
    ),
    Cause(
        "duplicate-host",
        Severity.WARNING,
        "Two Ingresses claim the same host and path",
        remediation=(
            "Keep one Ingress per host and path: the controller routes {host}{path} to only "
            "one of them, whichever it picks."
        ),
    ),
    Cause(
        "tls-broken",
        Severity.CRITICAL,
        "The Ingress serves HTTPS with a certificate clients reject",
        remediation="Fix the TLS Secret (see the finding this one is caused by).",
        symptom=True,
    ),
)


@dataclass
class _SecretUse:
    """Who serves one TLS Secret, and for which hosts."""

    ingresses: list[ObjectRef] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    cert_manager: bool = False


def ingress(state: ClusterState, config: Config) -> Iterator[Finding]:
    """IngressClasses, TLS Secrets and their certificates, duplicate hosts."""
    ingresses = sorted(state.in_scope("ingresses"), key=lambda o: (namespace(o) or "", name(o)))
    if state.has("ingressclasses"):
        yield from _classes(state, config, ingresses)
    uses: dict[tuple[str | None, str], _SecretUse] = defaultdict(_SecretUse)
    for ing in ingresses:
        asks_cm = any(a in annotations_of(ing) for a in CM_ANNOTATIONS)
        for tls in mappings(mapping(ing.get("spec")).get("tls")):
            secret = tls.get("secretName")
            if not isinstance(secret, str) or not secret:
                continue  # no secretName: the controller's default certificate, by design
            use = uses[(namespace(ing), secret)]
            ref = ObjectRef.of("Ingress", ing)
            if ref not in use.ingresses:
                use.ingresses.append(ref)
            hosts = [h for h in tls.get("hosts") or [] if isinstance(h, str)] or _rule_hosts(ing)
            use.hosts += [h for h in hosts if h not in use.hosts]
            use.cert_manager = use.cert_manager or asks_cm
    broken: dict[ObjectRef, list[tuple[ObjectRef, str]]] = defaultdict(list)
    if state.has("secrets"):
        for (ns, secret), use in sorted(uses.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
            for finding in _secret(state, config, ns, secret, use):
                yield finding
                if finding.severity == Severity.CRITICAL:
                    for ref in use.ingresses:
                        broken[ref].append((finding.resource, finding.message))
    for ref, problems in sorted(broken.items()):
        secrets = sorted({str(r) for r, _ in problems})
        yield CAUSES["tls-broken"].finding(
            resource=ref,
            message=f"Ingress {ref.name} serves HTTPS with a certificate clients reject "
            f"({', '.join(secrets)})",
            evidence=tuple(m for _, m in problems),
            depends_on=tuple(sorted({r for r, _ in problems})),
        )
    yield from _duplicates(ingresses)


def _rule_hosts(ing: Obj) -> list[str]:
    rules = mappings(mapping(ing.get("spec")).get("rules"))
    return [str(r["host"]) for r in rules if isinstance(r.get("host"), str) and r["host"]]


def _classes(state: ClusterState, config: Config, ingresses: list[Obj]) -> Iterator[Finding]:
    """Which controller serves each Ingress, the way ingress-nginx decides it.

    ingress-nginx (internal/ingress/controller/store/store.go) keeps only the IngressClasses
    whose spec.controller is its --controller-class (default ``k8s.io/ingress-nginx``:
    "ignoring ingressclass as the spec.controller is not the same of this ingress"), and
    GetIngressClass takes spec.ingressClassName first, then the legacy annotation; an
    Ingress whose class is another controller's is "Ignoring ingress because of error while
    validating ingress class".  A class-less Ingress is served by the default class's
    controller (the DefaultIngressClass admission plugin stamps the name on new ones).
    """
    classes = {name(c): c for c in state.list_of("ingressclasses")}
    expected = config.ingress_controller
    ours = sorted(n for n, c in classes.items() if _controller(c) == expected)
    defaults = sorted(
        n for n, c in classes.items() if annotations_of(c).get(DEFAULT_CLASS) == "true"
    )
    shown = ", ".join(sorted(classes)) or "none exists"
    listed = tuple(
        f"IngressClass {n}: controller {_controller(classes[n])}" for n in sorted(classes)
    )
    for ing in ingresses:
        ref = ObjectRef.of("Ingress", ing)
        wanted = mapping(ing.get("spec")).get("ingressClassName")
        legacy = annotations_of(ing).get(LEGACY_CLASS)
        if isinstance(wanted, str) and wanted:
            how = f"names IngressClass {wanted}"
            picked = [wanted]
            if wanted not in classes:
                yield CAUSES["ingress-class-missing"].finding(
                    resource=ref,
                    message=f"Ingress {name(ing)} names IngressClass {wanted}, which does not "
                    "exist",
                    evidence=(f"IngressClasses: {shown}",),
                    classes=shown,
                )
                continue
        elif legacy is not None:
            if legacy not in classes:
                continue  # matched against the controller's --ingress-class flag: unseen
            how, picked = f"has {LEGACY_CLASS}: {legacy}", [legacy]
        elif defaults:
            how, picked = "names no IngressClass (the default class applies)", defaults
        else:
            yield CAUSES["ingress-class-missing"].finding(
                resource=ref,
                message=f"Ingress {name(ing)} names no IngressClass and no class is marked "
                f"default ({DEFAULT_CLASS}): no controller serves it",
                evidence=(f"IngressClasses: {shown}",),
                classes=shown,
            )
            continue
        if any(_controller(classes[n]) == expected for n in picked):
            continue
        klass = picked[0]
        controller = _controller(classes[klass]) or "(none)"
        yield CAUSES["ingress-class-other-controller"].finding(
            resource=ref,
            message=f"Ingress {name(ing)} {how}, whose controller is {controller}, not "
            f"{expected} (config ingress.controller), which ignores it",
            evidence=listed,
            depends_on=(ObjectRef.of("IngressClass", classes[klass]),),
            expected=expected,
            ours=", ".join(ours) or f"no IngressClass has controller {expected}",
            controller=controller,
        )


def _controller(klass: Obj) -> str:
    return str(mapping(klass.get("spec")).get("controller") or "")


def _secret(
    state: ClusterState, config: Config, ns: str | None, secret: str, use: _SecretUse
) -> Iterator[Finding]:
    ref = ObjectRef("Secret", ns, secret)
    users = ", ".join(r.name for r in use.ingresses)
    hosts = ", ".join(use.hosts) or "every host"
    common: dict[str, Any] = {
        "affected": tuple(use.ingresses),
        "secret": f"{ns}/{secret}",
        "hosts": hosts,
    }
    obj = state.get("Secret", ns, secret)
    if obj is None:
        note = " (cert-manager should create it: see the cert-manager findings)" * use.cert_manager
        yield CAUSES["tls-secret-missing"].finding(
            resource=ref,
            message=f"Secret {secret}, the TLS Secret of Ingress {users}, does not exist{note}",
            evidence=(f"hosts served with it: {hosts}",),
            **common,
        )
        return
    ref = ObjectRef.of("Secret", obj)
    kind, keys = str(obj.get("type") or "Opaque"), set(obj.get("dataKeys") or ())
    if kind != TLS_TYPE:
        yield CAUSES["tls-secret-wrong-type"].finding(
            resource=ref,
            message=f"Secret {secret}, the TLS Secret of Ingress {users}, has type {kind}, "
            f"not {TLS_TYPE}",
            evidence=(f"keys: {', '.join(sorted(keys)) or 'none'}",),
            **common,
        )
    missing = [k for k in TLS_KEYS if k not in keys]
    if missing:
        yield CAUSES["tls-secret-missing-keys"].finding(
            resource=ref,
            message=f"Secret {secret}, the TLS Secret of Ingress {users}, has no "
            + " and no ".join(missing),
            evidence=(f"keys: {', '.join(sorted(keys)) or 'none'}",),
            **common,
        )
        return
    facts = mapping(obj.get("certificate"))
    if kind != TLS_TYPE or not facts:
        return  # only kubernetes.io/tls certificates are read (an old snapshot has none)
    yield from _certificate(state, config, ref, facts, use, common)


def _certificate(
    state: ClusterState,
    config: Config,
    ref: ObjectRef,
    facts: dict[str, Any],
    use: _SecretUse,
    common: dict[str, Any],
) -> Iterator[Finding]:
    secret = ref.name
    if facts.get("error"):
        yield CAUSES["certificate-unreadable"].finding(
            resource=ref, message=f"Secret {secret}: {facts['error']}", **common
        )
        return
    issuer = f"issued by {facts.get('issuerCN') or '(no CN)'}"
    names = [n for n in facts.get("dnsNames") or () if isinstance(n, str)]
    about = (
        f"certificate CN={facts.get('subjectCN') or '-'}, DNS names "
        f"{', '.join(names) or 'none'}, {issuer}, valid {facts.get('notBefore')} to "
        f"{facts.get('notAfter')}"
    )
    not_after = parse_time(facts.get("notAfter"))
    if not_after is not None:
        left = not_after - state.now
        if left <= timedelta(0):
            yield CAUSES["certificate-expired"].finding(
                resource=ref,
                message=f"Secret {secret}: the certificate expired on {facts['notAfter']} "
                f"({_days(-left)} ago); browsers refuse {common['hosts']}",
                evidence=(about,),
                certificate=f"-n {ref.namespace} {secret}",
                **common,
            )
        elif left < timedelta(days=config.certificate_warning_days):
            yield CAUSES["certificate-expiring"].finding(
                resource=ref,
                message=f"Secret {secret}: the certificate expires on {facts['notAfter']}, in "
                f"{_days(left)} (warning at {config.certificate_warning_days} days)",
                evidence=(about,),
                not_after=facts["notAfter"],
                **common,
            )
    uncovered = [h for h in use.hosts if not covers(names, h)]
    if uncovered:
        why = "" if names else "; it has no DNS names, and clients ignore the subject CN"
        yield CAUSES["certificate-host-mismatch"].finding(
            resource=ref,
            message=f"Secret {secret}: the certificate does not cover "
            f"{', '.join(uncovered)} (it names {', '.join(names) or 'no DNS name'}{why})",
            evidence=(about,),
            **{**common, "hosts": ", ".join(uncovered)},
        )


def covers(names: list[str], host: str) -> bool:
    """Whether a certificate's DNS names cover ``host`` (RFC 6125: a wildcard is one label)."""
    host = host.lower().rstrip(".")
    for pattern in (n.lower().rstrip(".") for n in names):
        if pattern == host:
            return True
        wildcard = pattern.startswith("*.") and not host.startswith("*.")
        if wildcard and "." in host and host.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def _days(delta: timedelta) -> str:
    if delta >= timedelta(days=1):
        return f"{delta.days} day(s)"
    return f"{int(delta.total_seconds() // 3600)} hour(s)"


def _duplicates(ingresses: list[Obj]) -> Iterator[Finding]:
    claims: dict[tuple[str, str, str], list[Obj]] = defaultdict(list)
    for ing in ingresses:
        klass = str(
            mapping(ing.get("spec")).get("ingressClassName")
            or annotations_of(ing).get(LEGACY_CLASS)
            or ""
        )
        seen: set[tuple[str, str, str]] = set()
        for rule in mappings(mapping(ing.get("spec")).get("rules")):
            host = str(rule.get("host") or "*")
            for item in mappings(mapping(rule.get("http")).get("paths")):
                key = (klass, host, str(item.get("path") or "/"))
                if key not in seen:
                    seen.add(key)
                    claims[key].append(ing)
    clashes: dict[str, tuple[Obj, list[tuple[str, Obj, list[Obj]]]]] = {}
    for (_, host, path), owners in sorted(claims.items()):
        if len(owners) < 2:
            continue
        owners = sorted(owners, key=lambda o: (str(meta(o).get("creationTimestamp")), name(o)))
        first, *later = owners
        for ing in later:
            entry = clashes.setdefault(f"{namespace(ing)}/{name(ing)}", (ing, []))
            entry[1].append((f"{host}{path}", first, owners))
    for _, (ing, items) in sorted(clashes.items()):
        where, first, owners = items[0]
        claimed = ", ".join(w for w, _, _ in items)
        yield CAUSES["duplicate-host"].finding(
            resource=ObjectRef.of("Ingress", ing),
            message=f"Ingress {name(ing)} claims {claimed}, which Ingress "
            f"{namespace(first)}/{name(first)} (older) claims too",
            evidence=tuple(
                f"{w}: " + ", ".join(f"{namespace(o)}/{name(o)}" for o in os_)
                for w, _, os_ in items
            ),
            host=where.split("/", 1)[0],
            path="/" + where.split("/", 1)[1] if "/" in where else "/",
        )


CHECK = Check(
    id="ingress",
    title="Ingress classes, TLS Secrets and their certificates, duplicate hosts",
    severity=Severity.CRITICAL,
    kinds=("ingresses",),
    optional_kinds=("ingressclasses", "secrets"),
    causes=CAUSES,
    run=ingress,
)
