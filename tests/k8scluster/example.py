"""Record the shipped example: a broken Logos deployment, with production names.

    python -m k8scluster.example examples/broken-logos.json.gz      (PYTHONPATH=tests)

The README's first command diagnoses this snapshot, so that a new user sees what the tool
does without a cluster.  It is recorded on a private test cluster of its own (deleting
``ssd-premium`` and relabelling the GPU pool would disturb other tests on the shared one):
namespace ``logos``, deployed while StorageClass ``ssd-premium`` is missing, with a chat
release whose image does not exist, and with the ``nvidia.com/gpu=true`` label gone from the
GPU nodes (a node-pool upgrade that dropped it), exactly as the production guide names them.
The events, conditions and scheduler messages in it are the real controllers'.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from kubernetes import client

from . import cluster, logos_stack, nodes
from .kube import api_client, wait_for

NAMESPACE = "logos"


def _events(api: client.ApiClient, reason: str, name_prefix: str) -> bool:
    items = client.CoreV1Api(api).list_namespaced_event(NAMESPACE).items
    return any(e.reason == reason and e.involved_object.name.startswith(name_prefix)
               for e in items)


def build(api: client.ApiClient) -> None:
    """Create the broken deployment and wait until the controllers have reacted."""
    nodes.remove_gpu_label(api, list(nodes.GPU_NODES))
    bad_chat = logos_stack.bad_image(logos_stack.IMAGES["chat"], "notfound")
    logos_stack.deploy(api, NAMESPACE, create_storage_class=False, images={"chat": bad_chat})
    wait_for(lambda: _events(api, "ProvisioningFailed", "data-logos-postgresql-0"), 90,
             "ProvisioningFailed on data-logos-postgresql-0")
    wait_for(lambda: _events(api, "BackOff", "logos-chat-"), 90, "chat pods in ImagePullBackOff")
    wait_for(lambda: _events(api, "FailedScheduling", "logos-completion-"), 90,
             "completion pods unschedulable")
    wait_for(lambda: _events(api, "FailedGetResourceMetric", "logos-web"), 90,
             "the HPA controller to try logos-web")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out = Path(args[0]).resolve()
    private = tempfile.mkdtemp(prefix="logos-example-cluster-")
    os.environ["LOGOS_TESTCLUSTER_DIR"] = private
    kubeconfig = cluster.up()
    try:
        build(api_client(kubeconfig))
        subprocess.run([sys.executable, "-m", "logos_doctor", "snapshot", "-n", NAMESPACE,
                        "--kubeconfig", str(kubeconfig), "-o", str(out)], check=True)
    finally:
        cluster.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
