"""Container images for the real node, built here from Debian's busybox-static.

Nothing is ever pulled from outside the machine: the two images are OCI images made from
``/bin/busybox`` (every applet linked in ``/bin``), written once to an OCI archive in the
build cache, imported into the real node's containerd (the sandbox image) and pushed to the
local registries (the toolbox) over the registry HTTP API.

* toolbox: a shell and the busybox applets (``sleep``, ``httpd``, ``nc``, ``dd``...);
  ``dd bs=64M`` allocates 64 MiB, enough to be OOM-killed under a small memory limit.
* pause: the same layer, running ``sleep`` as the pod sandbox (containerd stops the
  sandbox with SIGKILL, so a sleeping PID 1 is enough).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


class ImageError(RuntimeError):
    """An image could not be built or pushed (the message says why)."""


@dataclass(frozen=True)
class Blob:
    digest: str
    data: bytes
    media_type: str

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class Image:
    """One OCI image: its manifest, config and (single) layer."""

    manifest: Blob
    config: Blob
    layer: Blob


def _blob(data: bytes, media_type: str) -> Blob:
    return Blob("sha256:" + hashlib.sha256(data).hexdigest(), data, media_type)


def find_busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            out = subprocess.run([str(path), "--list"], capture_output=True, text=True)
            if out.returncode == 0 and "sh" in out.stdout.split():
                return path
    raise ImageError("busybox not found (install Debian's busybox-static)")


def _is_static(path: Path) -> bool:
    """True for a 64-bit ELF without a PT_INTERP program header (no dynamic loader)."""
    import struct

    with open(path, "rb") as f:
        head = f.read(64)
        if head[:5] != b"\x7fELF\x02":
            return False
        phoff, = struct.unpack_from("<Q", head, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3  # PT_INTERP
               for i in range(phnum))


def _layer(busybox: Path) -> tuple[bytes, str]:
    """(gzip'd tar, diff id) of a root filesystem holding busybox and its applet links."""
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for d in ("bin", "dev", "etc", "proc", "sys", "var", "var/www", "root"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        add_file("bin/busybox", busybox.read_bytes(), 0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode = tarfile.SYMTYPE, "busybox", 0o777
            tar.addfile(link)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
                               b"nobody:x:65534:65534:nobody:/:/bin/false\n")
        add_file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        add_file("var/www/index.html", b"ok\n")
    tar_bytes = raw.getvalue()
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    return gzip.compress(tar_bytes, compresslevel=6, mtime=0), diff_id


def _image(layer: Blob, diff_id: str, config: dict) -> Image:
    cfg = _blob(json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "WorkingDir": "/", **config},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "k8scluster.images (busybox-static)"}],
    }, sort_keys=True).encode(), OCI_CONFIG)
    manifest = _blob(json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": cfg.descriptor(), "layers": [layer.descriptor()],
    }, sort_keys=True).encode(), OCI_MANIFEST)
    return Image(manifest, cfg, layer)


def build(cache: Path) -> dict[str, Image]:
    """The toolbox and pause images (``{"toolbox": ..., "pause": ...}``), cached in ``cache``
    by the busybox binary's hash."""
    busybox = find_busybox()
    if not _is_static(busybox):
        raise ImageError(f"{busybox} is dynamically linked; install Debian's busybox-static")
    key = hashlib.sha256(busybox.read_bytes()).hexdigest()[:16]
    layer_path = cache / f"busybox-layer-{key}.tar.gz"
    diff_path = cache / f"busybox-layer-{key}.diffid"
    if not (layer_path.is_file() and diff_path.is_file()):
        cache.mkdir(parents=True, exist_ok=True)
        data, diff_id = _layer(busybox)
        tmp = layer_path.with_suffix(".tmp")
        tmp.write_bytes(data)
        diff_path.write_text(diff_id)
        tmp.replace(layer_path)
    layer = _blob(layer_path.read_bytes(), OCI_LAYER)
    diff_id = diff_path.read_text().strip()
    return {
        "toolbox": _image(layer, diff_id, {"Cmd": ["sh"]}),
        "pause": _image(layer, diff_id, {"Entrypoint": ["/bin/sleep", "2147483647"]}),
    }


def write_oci_archive(image: Image, ref: str, path: Path) -> Path:
    """An OCI image-layout tar of ``image`` named ``ref`` (for ``ctr images import``)."""
    index = {"schemaVersion": 2, "manifests": [{
        **image.manifest.descriptor(),
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"io.containerd.image.name": ref,
                        "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1]},
    }]}
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
             "index.json": json.dumps(index).encode()}
    for blob in (image.manifest, image.config, image.layer):
        files["blobs/sha256/" + blob.digest.split(":", 1)[1]] = blob.data
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def import_into_containerd(image: Image, ref: str, address: str, workdir: Path) -> None:
    """Import ``image`` as ``ref`` into the k8s.io namespace of the containerd at
    ``address`` (a unix socket path)."""
    ctr = shutil.which("ctr")
    if ctr is None:
        raise ImageError("ctr not found (it comes with Debian's containerd package)")
    archive = write_oci_archive(image, ref, workdir / "image.tar")
    try:
        proc = subprocess.run([ctr, "--address", address, "--namespace", "k8s.io", "images",
                               "import", "--no-unpack", str(archive)],
                              capture_output=True, text=True)
    finally:
        archive.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise ImageError(f"ctr images import {ref} failed: {proc.stderr.strip()}")


def push(image: Image, registry: str, repository: str, tag: str,
         credentials: tuple[str, str] | None = None) -> str:
    """Push ``image`` to ``http://registry/repository:tag``; returns the manifest digest."""
    headers = {}
    if credentials:
        token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"

    def call(method: str, url: str, data: bytes | None = None,
             extra: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={**headers, **(extra or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers)
        except urllib.error.HTTPError as e:
            if method == "HEAD" and e.code == 404:
                return 404, {}
            raise ImageError(f"{method} {url}: HTTP {e.code} {e.read()[:300]!r}") from e

    base = f"http://{registry}/v2/{repository}"
    for blob in (image.layer, image.config):
        if call("HEAD", f"{base}/blobs/{blob.digest}")[0] == 200:
            continue
        _, hdrs = call("POST", f"{base}/blobs/uploads/", b"")
        location = hdrs["Location"]
        if location.startswith("/"):
            location = f"http://{registry}{location}"
        sep = "&" if "?" in location else "?"
        call("PUT", f"{location}{sep}digest={blob.digest}", blob.data,
             {"Content-Type": "application/octet-stream"})
    call("PUT", f"{base}/manifests/{tag}", image.manifest.data,
         {"Content-Type": OCI_MANIFEST})
    return image.manifest.digest
