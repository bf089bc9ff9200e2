"""Parts of the real node that need no cluster: the locally built images and the DNS
server that resolves nothing (tests/k8scluster/images.py, nxdomain.py)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from k8scluster import images, nxdomain


def query(name: str, qtype: int = 1, ident: bytes = b"\x12\x34") -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    header = ident + b"\x01\x00" + b"\x00\x01" + b"\0" * 6  # RD set, one question
    return header + labels + qtype.to_bytes(2, "big") + b"\0\1"


def test_every_name_is_nxdomain_with_the_question_echoed() -> None:
    q = query("registry.invalid", qtype=28)
    reply = nxdomain.answer(q)
    assert reply is not None
    assert reply[:2] == b"\x12\x34"
    flags = int.from_bytes(reply[2:4], "big")
    assert flags & 0x8000, "a response"
    assert flags & 0x0100, "recursion desired, echoed"
    assert flags & 0x000F == 3, "NXDOMAIN"
    assert reply[4:12] == b"\x00\x01" + b"\0" * 6, "one question, no answers"
    assert reply[12:] == q[12:]


def test_garbage_gets_no_answer() -> None:
    assert nxdomain.answer(b"\x00") is None
    assert nxdomain.answer(query("a.b")[:14]) is None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, images.Image]:
    try:
        return images.build(tmp_path_factory.mktemp("images"))
    except images.ImageError as e:
        pytest.skip(str(e))


def test_images_are_reproducible(built: dict[str, images.Image], tmp_path: Path) -> None:
    """The same digest from a fresh build: the tests compare the digest the kubelet reports
    with one computed here."""
    again = images.build(tmp_path)
    assert {k: v.manifest.digest for k, v in again.items()} == {
        k: v.manifest.digest for k, v in built.items()}


def test_the_toolbox_has_what_the_scenarios_run(built: dict[str, images.Image]) -> None:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(built["toolbox"].layer.data))) as tar:
        names = set(tar.getnames())
    for applet in ("sh", "sleep", "httpd", "nc", "dd", "busybox"):
        assert f"bin/{applet}" in names, applet
    assert "var/www/index.html" in names
    config = json.loads(built["pause"].config.data)
    assert config["config"]["Entrypoint"] == ["/bin/sleep", "2147483647"]
    assert config["rootfs"]["diff_ids"] == json.loads(built["toolbox"].config.data)[
        "rootfs"]["diff_ids"]
