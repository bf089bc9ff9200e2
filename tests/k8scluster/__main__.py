"""CLI: python -m k8scluster up|down|status|env|seed logos [--namespace NS]|realnode up|down"""

from __future__ import annotations

import argparse
import json
import sys
import time

from . import cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/testcluster",
                                     description="Local Kubernetes control plane for the tests.")
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("up", help="start the cluster (no-op when up); prints the kubeconfig path")
    sub.add_parser("down", help="stop the processes `up` started and remove the state")
    sub.add_parser("status", help="show the components and whether the cluster is up")
    sub.add_parser("env", help="print `export KUBECONFIG=...`")
    seed = sub.add_parser("seed", help="deploy a fixture: `seed logos` deploys the Logos stack")
    seed.add_argument("what", choices=["logos"])
    seed.add_argument("--namespace", default="logos")
    seed.add_argument("--timeout", type=float, default=120)
    real = sub.add_parser("realnode", help="start or stop the real node (kubelet, containerd, "
                          "registries) alone, against the running cluster")
    real.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args(argv)

    if args.verb == "realnode":
        return _realnode(args.action)

    if args.verb == "up":
        try:
            path = cluster.up()
        except cluster.ClusterError:
            return 1
        print(path)
        return 0
    if args.verb == "down":
        cluster.down()
        return 0
    if args.verb == "status":
        st = cluster.status()
        print(json.dumps(st, indent=2))
        return 0 if st["up"] else 3
    if args.verb == "env":
        if not cluster.kubeconfig_path().is_file():
            print("testcluster: not up (run scripts/testcluster up)", file=sys.stderr)
            return 1
        print(f"export KUBECONFIG={cluster.kubeconfig_path()}")
        return 0
    if args.verb == "seed":
        if not cluster.is_up():
            print("testcluster: not up (run scripts/testcluster up)", file=sys.stderr)
            return 1
        from . import logos_stack
        from .kube import api_client

        t0 = time.monotonic()
        api = api_client(cluster.kubeconfig_path())
        try:
            logos_stack.ensure_nodes(api)
            logos_stack.deploy(api, args.namespace)
            logos_stack.wait_healthy(api, args.namespace, args.timeout)
        except TimeoutError as e:
            print(f"testcluster: {e}", file=sys.stderr)
            return 1
        finally:
            api.close()
        print(f"testcluster: Logos stack healthy in namespace {args.namespace} "
              f"({time.monotonic() - t0:.1f}s)", file=sys.stderr)
        return 0
    return 2


def _realnode(action: str) -> int:
    if action == "up":
        try:
            rec = cluster.realnode_up()
        except cluster.ClusterError as e:
            print(f"testcluster: {e}", file=sys.stderr)
            return 1
        return 0 if rec.get("ready") else 1
    if action == "down":
        cluster.realnode_down()
        return 0
    st = cluster.status().get("realnode") or {"ready": False}
    print(json.dumps(st, indent=2))
    return 0 if st.get("ready") else 3


if __name__ == "__main__":
    sys.exit(main())
