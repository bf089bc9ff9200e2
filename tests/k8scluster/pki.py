"""Certificates and keys for the local test control plane, made with the `openssl` CLI.

(The `cryptography` package is not a dependency of this project, so the CLI is used;
`scripts/test` installs openssl when it is missing.) Everything is elliptic-curve P-256,
fast to generate, except the service-account signing key, which is RSA 2048 as kubeadm's.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SERVER_SANS = (
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
    "IP:127.0.0.1",
    "IP:10.96.0.1",
)


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError(
            "openssl is not installed: install it (apt-get install -y openssl) "
            "or `pip install cryptography`"
        )
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{proc.stderr}")


def _ec_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", str(path), cwd=path.parent)
    path.chmod(0o600)


def make_ca(directory: Path, name: str = "ca", cn: str = "logos-testcluster-ca") -> CertPair:
    directory.mkdir(parents=True, exist_ok=True)
    key, crt = directory / f"{name}.key", directory / f"{name}.crt"
    _ec_key(key)
    _openssl("req", "-x509", "-new", "-key", str(key), "-out", str(crt), "-days", "3650",
             "-subj", f"/CN={cn}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
             cwd=directory)
    return CertPair(crt, key)


def make_cert(
    ca: CertPair,
    directory: Path,
    name: str,
    cn: str,
    orgs: tuple[str, ...] = (),
    *,
    server: bool = False,
    client: bool = True,
    sans: tuple[str, ...] = (),
) -> CertPair:
    """Sign a leaf certificate for `cn` (organisations become Kubernetes groups)."""
    key, csr, crt = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.crt"
    _ec_key(key)
    subj = "".join(f"/O={o}" for o in orgs) + f"/CN={cn}"
    _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", subj, cwd=directory)
    usages = [u for u, on in (("serverAuth", server), ("clientAuth", client)) if on]
    ext = ["basicConstraints=critical,CA:FALSE",
           "keyUsage=critical,digitalSignature,keyEncipherment",
           f"extendedKeyUsage={','.join(usages)}"]
    if sans:
        ext.append(f"subjectAltName={','.join(sans)}")
    with tempfile.NamedTemporaryFile("w", suffix=".cnf", dir=directory, delete=False) as f:
        f.write("\n".join(ext) + "\n")
        extfile = f.name
    try:
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
                 "-CAcreateserial", "-out", str(crt), "-days", "365", "-sha256",
                 "-extfile", extfile, cwd=directory)
    finally:
        Path(extfile).unlink(missing_ok=True)
        csr.unlink(missing_ok=True)
    return CertPair(crt, key)


def make_sa_keypair(directory: Path) -> tuple[Path, Path]:
    """Service-account token signing key pair (private, public)."""
    priv, pub = directory / "sa.key", directory / "sa.pub"
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", str(priv), cwd=directory)
    priv.chmod(0o600)
    _openssl("pkey", "-in", str(priv), "-pubout", "-out", str(pub), cwd=directory)
    return priv, pub


def self_signed_tls(directory: Path, name: str, hosts: tuple[str, ...], days: int = 90) -> CertPair:
    """A self-signed serving certificate (stands in for a cert-manager issued one)."""
    directory.mkdir(parents=True, exist_ok=True)
    key, crt = directory / f"{name}.key", directory / f"{name}.crt"
    _ec_key(key)
    _openssl("req", "-x509", "-new", "-key", str(key), "-out", str(crt), "-days", str(days),
             "-subj", f"/CN={hosts[0]}",
             "-addext", "subjectAltName=" + ",".join(f"DNS:{h}" for h in hosts),
             cwd=directory)
    return CertPair(crt, key)
