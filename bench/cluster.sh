#!/usr/bin/env bash
# The benchmark's own control plane: scripts/testcluster with a separate state directory
# (its own ports, pids, etcd data and lock), so that the benchmark never loads the shared test
# cluster in .testcluster/ and tests never disturb the benchmark's timings.
# Usage: bench/cluster.sh up|down|status|env
#
# Flags beyond the test cluster's (the last occurrence of a flag wins):
# - controller-manager and scheduler client QPS raised from 20/50: seeding 10,000 pods
#   through the real ReplicaSet/StatefulSet controllers and scheduler at the default client
#   rate limits would take ten minutes and more;
# - HPA sync every 30s instead of 2s, and the PV controller's claim resync every 15s (the
#   Kubernetes default) instead of 1s: with 200 HPAs and 2,000 claims (some Pending for ever)
#   those short periods keep the controller-manager at half a core, background load the test
#   cluster accepts for fast tests and the benchmark does not want;
# - events kept 48h instead of 2h, so that a seeded cluster stays seeded between runs.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export LOGOS_TESTCLUSTER_DIR=${LOGOS_TESTCLUSTER_DIR:-/tmp/logos-bench-cluster}
export LOGOS_TESTCLUSTER_ARGS_KUBE_CONTROLLER_MANAGER="--kube-api-qps=400 --kube-api-burst=800 \
--concurrent-replicaset-syncs=8 --concurrent-statefulset-syncs=8 --concurrent-deployment-syncs=8 \
--horizontal-pod-autoscaler-sync-period=30s --pvclaimbinder-sync-period=15s"
export LOGOS_TESTCLUSTER_ARGS_KUBE_SCHEDULER="--kube-api-qps=400 --kube-api-burst=800"
# The test cluster watches ConfigMaps from etcd and compacts every 10 s (to provoke 410s in
# a test); the benchmark keeps the API server's defaults (a non-zero size only turns the
# cache on: its size is dynamic).
export LOGOS_TESTCLUSTER_ARGS_KUBE_APISERVER="--event-ttl=48h --watch-cache-sizes=configmaps#100 \
--etcd-compaction-interval=5m"
exec "$here/scripts/testcluster" "$@"
