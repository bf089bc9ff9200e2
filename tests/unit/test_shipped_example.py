"""The shipped example (recorded by ``python -m k8scluster.example``) shows the three faults.

It is what the README's first command runs: a new user must see the missing StorageClass,
the chat image that does not exist and the GPU label that is gone, as root causes, with the
chat Service's outage linked to the image rather than shown as a separate mystery.
"""

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "broken-logos.json.gz"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "logos_doctor", "check", "--all", "--snapshot",
                           str(EXAMPLE), *args], capture_output=True, text=True, timeout=60)


def test_example_names_the_three_root_causes() -> None:
    result = run("-o", "json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["cluster"]["namespaces"] == ["logos"]
    roots = {(f["check"], f["cause"]) for f in doc["findings"] if f["root_cause"]}
    # The GPU nodes are there (32 allocatable GPUs each) but lost their label: the label, not
    # a missing node group, is the cause (issue 14 item 5).
    assert {("storage-class", "missing"), ("image-pull", "image-not-found"),
            ("gpu-nodes", "gpu-label-missing")} <= roots
    gpu = [f for f in doc["findings"] if f["cause"] == "gpu-label-missing"]
    assert gpu and all("kubectl label node kwok-gpu-0 kwok-gpu-1 nvidia.com/gpu=true"
                       in f["remediation"] for f in gpu)
    chat = next(f for f in doc["findings"] if f["check"] == "service-endpoints"
                and f["resource"]["name"] == "logos-chat")
    assert chat["cause"] == "pods-not-ready"
    assert chat["caused_by"] and {c["cause"] for c in chat["caused_by"]} == {"image-not-found"}
    pg = next(f for f in doc["findings"] if f["resource"]["name"] == "data-logos-postgresql-0")
    assert (pg["cause"], pg["parent"]["name"]) == ("storage-class-missing", "logos-postgresql")
    assert all(c["status"] != "error" for c in doc["checks"])


def test_example_first_lines_are_the_root_causes() -> None:
    lines = run().stdout.splitlines()
    start = lines.index("ROOT CAUSES (fix these first):")
    assert start <= 2  # right under the header (which says the snapshot is offline)
    assert "offline: snapshot taken" in " ".join(lines[:start])
    assert "storage-class/missing StorageClass/ssd-premium" in lines[start + 1]
    block = "\n".join(lines[start:]).split("\n\n")[0]
    roots = " ".join(line.strip() for line in block.splitlines())  # as read, not as wrapped
    assert "fix: logos-doctor fix storageclass" in roots
    assert "3 Pods of Deployment/logos/logos-chat" in roots
    assert "4 Pods of Deployment/logos/logos-completion" in roots
    assert "gpu-nodes/gpu-label-missing" in roots
    # The label command is on the first screen, whole, as the thing to run.
    first_screen = " ".join(line.strip() for line in lines[:24])
    assert "run: kubectl label node kwok-gpu-0 kwok-gpu-1 nvidia.com/gpu=true" in first_screen
