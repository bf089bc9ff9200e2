"""What is never kept of a fetched object: Secret and ConfigMap values.

Secrets are reduced to their name, type and key names the moment they are parsed (and again
when a snapshot is read back, whoever wrote it); a ``kubernetes.io/tls`` Secret keeps only its
certificate's public facts, parsed here from ``tls.crt`` (``tls.key`` is never read).
ConfigMaps keep their key names.  Nothing downstream (state, snapshot, output, logs) can
show what this module drops.  No import of the Kubernetes client here: an offline run that
reads a snapshot needs this and nothing that reaches a cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logos_doctor.objects import Obj

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def strip_configmap(obj: Obj) -> Obj:
    """A ConfigMap reduced to its name and key names.

    Checks only ask whether a key exists; the values can be large (whole config files) and
    are often more sensitive than their kind suggests, so they are not kept either.
    """
    md = dict(obj.get("metadata") or {})
    md.pop("managedFields", None)
    ann = dict(md.get("annotations") or {})
    ann.pop(LAST_APPLIED, None)
    if ann:
        md["annotations"] = ann
    else:
        md.pop("annotations", None)
    stripped = obj.get("dataKeys")
    kept = [k for k in stripped if isinstance(k, str)] if isinstance(stripped, list) else []
    keys = sorted({*(obj.get("data") or {}), *(obj.get("binaryData") or {}), *kept})
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "dataKeys": keys}


def strip_secret(obj: Obj) -> Obj:
    """A Secret reduced to its name, type and key names: values never leave this function."""
    md = dict(obj.get("metadata") or {})
    md.pop("managedFields", None)
    ann = dict(md.get("annotations") or {})
    ann.pop(LAST_APPLIED, None)  # kubectl apply keeps the whole Secret, values included, here
    if ann:
        md["annotations"] = ann
    else:
        md.pop("annotations", None)
    stripped = obj.get("dataKeys")  # a Secret read back from a snapshot: already stripped
    kept = [k for k in stripped if isinstance(k, str)] if isinstance(stripped, list) else []
    keys = sorted({*(obj.get("data") or {}), *(obj.get("stringData") or {}), *kept})
    out: Obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": md,
        "type": obj.get("type", "Opaque"),
        "dataKeys": keys,
    }
    if out["type"] == TLS_SECRET:
        facts = certificate_facts(obj)
        if facts is not None:
            out["certificate"] = facts
    return out


TLS_SECRET = "kubernetes.io/tls"
_FACT_STRINGS = ("notBefore", "notAfter", "subjectCN", "issuerCN", "error")


def certificate_facts(obj: Obj) -> dict[str, Any] | None:
    """The public facts of a ``kubernetes.io/tls`` Secret's certificate, or None.

    Only ``tls.crt`` is read (``tls.key`` never is), and only its first certificate (the
    leaf the ingress controller serves): validity, DNS names, subject and issuer common
    names.  A Secret read back from a snapshot has no data but may carry facts from its
    recording: those are kept, reduced to the same fields and types.  A ``tls.crt`` that is
    not a PEM certificate gives ``{"error": ...}`` with no part of its content.
    """
    data = obj.get("data")
    raw = data.get("tls.crt") if isinstance(data, dict) else None
    if isinstance(raw, str):
        return _parse_certificate(raw)
    recorded = obj.get("certificate")
    if not isinstance(recorded, dict):
        return None
    facts: dict[str, Any] = {
        k: recorded[k] for k in _FACT_STRINGS if isinstance(recorded.get(k), str)
    }
    names = recorded.get("dnsNames")
    if isinstance(names, list):
        facts["dnsNames"] = [n for n in names if isinstance(n, str)]
    return facts or None


def _parse_certificate(b64: str) -> dict[str, Any]:
    # Imported here: only runs that list Secrets of type kubernetes.io/tls pay for it.
    import base64
    import binascii

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        pem = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return {"error": "tls.crt is not base64"}
    if not pem.strip():
        return {"error": "tls.crt is empty"}
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        try:
            cert = x509.load_der_x509_certificate(pem)
        except ValueError:
            return {"error": "tls.crt holds no PEM certificate the X.509 parser can read"}

    def common_name(name: x509.Name) -> str:
        attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        value = attrs[0].value if attrs else ""
        return value if isinstance(value, str) else value.decode(errors="replace")

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns = [str(n) for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        dns = []
    except ValueError:  # a malformed extension: the validity is still worth knowing
        dns = []
    return {
        "notBefore": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "notAfter": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dnsNames": dns,
        "subjectCN": common_name(cert.subject),
        "issuerCN": common_name(cert.issuer),
    }


# The kinds whose objects are cut down at parse time and on snapshot load.
REDACT: dict[str, Callable[[Obj], Obj]] = {"secrets": strip_secret, "configmaps": strip_configmap}
