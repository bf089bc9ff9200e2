"""The benchmark still works: bench/seed.py seeds a tiny state and bench/run.py measures it.

No timing is asserted (timings depend on the machine and on whatever else the cluster runs);
what is asserted is that seeding reaches the state it planned through the real controllers,
that a second seeding at the same scale reuses it, and that the benchmark measures the floor
and logos-doctor and writes its results file with the request counts the issue asks for.
The seeded objects live under a fresh prefix (own namespaces, own tainted nodes with their
own GPU label, own StorageClass) and are deleted at the end.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "bench" / "seed.py"
RUN = REPO / "bench" / "run.py"
SCALE = "0.002"  # 2 nodes, 1 namespace, 20 pods, 4 claims, 6 Services, 1 HPA, 60 events


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_bench_seeds_a_tiny_cluster_and_measures_floor_and_logos_doctor(cluster, tmp_path):
    if not cluster.has_kwok:
        pytest.skip("needs kwok's fake kubelets to run the seeded pods")
    prefix = f"bsmoke-{secrets.token_hex(3)}"
    seed = [
        sys.executable,
        str(SEED),
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--prefix",
        prefix,
        "--scale",
        SCALE,
        "--gpu-label",
        f"logos.bench/gpu-{prefix}=true",
        "--workers",
        "4",
        "--timeout",
        "240",
    ]
    try:
        first = _run(seed, 420)
        assert first.returncode == 0, first.stderr[-3000:]
        report = json.loads(first.stdout)
        assert report["complete"] and report["scale"] == float(SCALE)
        assert report["pods"] == report["plan"]["pods"] == report["pods_settled"]

        again = _run(seed, 300)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "server-side apply" not in again.stderr, "a seeded scale must be reused"

        out = tmp_path / "results.json"
        bench = _run(
            [
                sys.executable,
                str(RUN),
                "--kubeconfig",
                str(cluster.kubeconfig),
                "--no-seed",
                "--scales",
                SCALE,
                "--tools",
                "floor,logos-doctor",
                "--reps",
                "1",
                "--warmup",
                "0",
                "--out",
                str(out),
            ],
            600,
        )
        assert bench.returncode == 0, bench.stderr[-3000:]
        assert "logos-doctor" in bench.stdout and "floor" in bench.stdout  # the table
        results = json.loads(out.read_text())
        scale = results["scales"][0]
        floor, doctor = scale["tools"]["floor"], scale["tools"]["logos-doctor"]
        assert floor["failed_runs"] == doctor["failed_runs"] == 0
        assert floor["median_seconds"] > 0 and doctor["median_seconds"] > 0
        assert doctor["peak_rss_mib"] > 0
        # The floor lists what logos-doctor lists (kinds the cluster serves: cert-manager's
        # and the ServiceMonitor are not, without their CRDs), and sees what was seeded.
        served = set(results["kinds"]) - set(floor["absent_kinds"])
        assert "pods" in served and len(served) > len(results["kinds"]) / 2
        assert set(floor["objects"]) == served
        assert floor["objects"]["pods"] >= report["plan"]["pods"]
        # One LIST per kind plus pages, and /version: counted by the client, seen by the server.
        assert doctor["requests"] >= len(served) + 1
        assert set(doctor["requests_by_kind"]) == {*served, "version"}
        assert doctor["server_lists"] >= len(served)
        assert set(doctor["median_phase_seconds"]) >= {
            "fetch",
            "parse",
            "index",
            "checks",
            "render",
        }
        # The walk the measured logos-doctor ran: the C one, which this install built.
        assert results["sharing_walks"] == {"logos-doctor": "c"}
    finally:
        _run([*seed, "--delete"], 300)
