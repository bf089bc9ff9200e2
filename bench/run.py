"""Benchmark logos-doctor against the raw LIST floor, k8sgpt and popeye on a seeded cluster.

In one run, per scale, alternating (the order rotates every repetition so that no tool always
runs on a cache another one warmed), several repetitions each:

(a) floor        the LISTs logos-doctor makes (same kinds, same page size, all namespaces,
                 same number of concurrent kinds), over HTTPS with the kubeconfig's
                 credentials, each page only ``json.loads``-ed: a fresh Python process with
                 nothing else to do, i.e. what the API server needs to serve them;
(b) logos-doctor ``check --all -A -o json`` (LOGOS_DOCTOR_STATS: requests, bytes, time split);
(c) k8sgpt       ``analyze`` with every built-in analyzer (``--filter``), no AI backend,
                 JSON output;
(d) popeye       ``-A -o json``.

Each run is a process timed from spawn to exit; its peak RSS comes from GNU time
(``%M``; ``wait4`` where GNU time is missing, see ``timed``).  Around
every logos-doctor run the API server's ``apiserver_request_total`` is scraped, so the
client's own request count is cross-checked by the server (other clients of the cluster LIST
rarely, the stand-in provisioner every 10s: the delta can be one or two above).

Results go to ``bench/results/<date>.json`` and a table is printed.  ``--scales 0.25,0.5,1``
seeds each scale in turn (bench/seed.py, growth only adds objects) to show how cost grows.

Usage:
  bench/cluster.sh up && bench/build_tools.sh
  .venv/bin/python bench/run.py --scales 0.25,0.5,1 --reps 5
  .venv/bin/python bench/run.py --scales 1 --reps 5 --no-seed   # reuse what is seeded
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import platform
import re
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

from trees import parse_trees  # bench/trees.py, beside this script

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_KUBECONFIG = "/tmp/logos-bench-cluster/kubeconfig"
TOOLS_DIR = Path(
    os.environ.get("BENCH_TOOLS_DIR") or Path.home() / ".cache/logos-doctor/bench-tools"
)
TOOLS = ("floor", "logos-doctor", "k8sgpt", "popeye")


@contextlib.contextmanager
def pinned(cpus: str | None, kubeconfig: str) -> Any:
    """With ``cpus`` = ``SERVER:CLIENT`` (e.g. ``0:1``): every process of the benchmark
    cluster (its state.json beside the kubeconfig) on the SERVER CPUs, all of their
    threads, until the run ends; the tools are run on the CLIENT CPUs (``client_prefix``).
    On one machine the API server and the tool otherwise take turns on the same cores, which
    no real cluster does: its API server runs elsewhere."""
    if not cpus:
        yield
        return
    server = cpus.split(":", 1)[0]
    state = json.loads((Path(kubeconfig).parent / "state.json").read_text())
    pids = [p["pid"] for p in state.get("procs", {}).values()]
    pids += [p["pid"] for p in (state.get("realnode") or {}).get("procs", {}).values()]
    every = f"0-{(os.cpu_count() or 1) - 1}"
    for pid in pids:
        subprocess.run(["taskset", "-a", "-pc", server, str(pid)], capture_output=True)
    log(f"cluster pinned to CPUs {server} ({len(pids)} processes)")
    try:
        yield
    finally:
        for pid in pids:
            subprocess.run(["taskset", "-a", "-pc", every, str(pid)], capture_output=True)


def client_prefix(cpus: str | None) -> list[str]:
    """``taskset -c CLIENT`` for ``--cpus SERVER:CLIENT``, else nothing."""
    return ["taskset", "-c", cpus.split(":", 1)[1]] if cpus else []


def is_doctor(tool: str) -> bool:
    """logos-doctor, installed or from a source tree (``logos-doctor@LABEL``, ``--tree``)."""
    return tool == "logos-doctor" or tool.startswith("logos-doctor@")


GNU_TIME = next((p for p in ("/usr/bin/time", "/bin/time") if os.access(p, os.X_OK)), None)
SLOW = ("k8sgpt", "popeye")
# k8sgpt v0.3.48's analyzers (pkg/analyzer/analyzer.go: coreAnalyzerMap + additionalAnalyzerMap).
# "Log" is left out: it reads container logs through the API server's proxy to each node's
# kubelet; kwok's fake nodes serve none, and the API server would dial node addresses that
# are not on this machine.
K8SGPT_SKIP = ("Log",)
K8SGPT_FILTERS_FALLBACK = (
    "Pod",
    "Deployment",
    "ReplicaSet",
    "PersistentVolumeClaim",
    "Service",
    "Ingress",
    "StatefulSet",
    "CronJob",
    "Node",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "HorizontalPodAutoScaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "GatewayClass",
    "Gateway",
    "HTTPRoute",
)


def log(msg: str) -> None:
    """Progress on stderr: a run takes minutes."""
    print(f"bench {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# =========================================================================== kubeconfig / HTTP


@dataclass
class Endpoint:
    """Where the API server is and how to authenticate, read from a kubeconfig without the
    kubernetes client (the floor process must not pay for importing it)."""

    host: str
    port: int
    context: ssl.SSLContext
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_kubeconfig(cls, path: str, tmp: Path) -> Endpoint:
        """The current context's server and credentials (inline data goes to ``tmp``)."""
        import yaml

        cfg = yaml.safe_load(Path(path).read_text())
        ctx_name = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])

        def material(data_key: str, file_key: str, section: dict[str, Any], name: str) -> str:
            if section.get(data_key):
                out = tmp / name
                out.write_bytes(base64.b64decode(section[data_key]))
                out.chmod(0o600)
                return str(out)
            return str(section[file_key])

        sslctx = ssl.create_default_context()
        if cluster.get("certificate-authority-data") or cluster.get("certificate-authority"):
            sslctx.load_verify_locations(
                material("certificate-authority-data", "certificate-authority", cluster, "ca.crt")
            )
        if user.get("client-certificate-data") or user.get("client-certificate"):
            sslctx.load_cert_chain(
                material("client-certificate-data", "client-certificate", user, "client.crt"),
                material("client-key-data", "client-key", user, "client.key"),
            )
        headers = {"Accept": "application/json"}
        if user.get("token"):
            headers["Authorization"] = f"Bearer {user['token']}"
        url = urlparse(cluster["server"])
        return cls(url.hostname or "127.0.0.1", url.port or 443, sslctx, headers)

    def connection(self) -> http.client.HTTPSConnection:
        """A new keep-alive HTTPS connection (one per thread)."""
        return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=120)

    def get(self, conn: http.client.HTTPSConnection, path: str) -> bytes | None:
        """GET ``path`` and return the body; None for 404 (a kind this cluster does not serve,
        such as cert-manager's without its CRDs); anything else but 200 raises."""
        conn.request("GET", path, headers=self.headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {resp.status}: {body[:200]!r}")
        return body


# =========================================================================== (a) the floor


def floor_main(args: argparse.Namespace) -> int:
    """One floor fetch (run in its own process by the parent): every kind paginated, kinds
    concurrently, bodies json-parsed and dropped.  Prints a JSON summary."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ep = Endpoint.from_kubeconfig(args.kubeconfig, Path(tmp))
        paths: list[str] = json.loads(args.paths)
        local = threading.local()
        lock = threading.Lock()
        stats: dict[str, Any] = {
            "requests": 0,
            "bytes": 0,
            "parse": 0.0,
            "objects": {},
            "absent": [],
        }

        def get(path: str) -> Any:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = ep.connection()
            body = ep.get(conn, path)
            p0 = time.perf_counter()
            data = json.loads(body) if body is not None else None
            with lock:
                stats["requests"] += 1
                stats["bytes"] += len(body or b"")
                stats["parse"] += time.perf_counter() - p0
            return data

        def list_all(path: str) -> None:
            token, count = None, 0
            while True:
                query: dict[str, Any] = {"limit": args.page_size}
                if token:
                    query["continue"] = token
                page = get(f"{path}?{urlencode(query)}")
                if page is None:  # not served here: logos-doctor skips it by discovery
                    with lock:
                        stats["absent"].append(path.rsplit("/", 1)[1])
                    return
                count += len(page.get("items") or [])
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    break
            with lock:
                stats["objects"][path.rsplit("/", 1)[1]] = count

        t1 = time.perf_counter()
        get("/version")  # logos-doctor asks for it too
        with ThreadPoolExecutor(max_workers=max(1, min(args.workers, len(paths)))) as pool:
            list(pool.map(list_all, paths))
        t2 = time.perf_counter()
    stats["seconds"] = {
        "fetch": round(t2 - t1, 4),
        "parse": round(stats["parse"], 4),
        "command": round(time.perf_counter() - t0, 4),
    }
    del stats["parse"]
    print(json.dumps(stats))
    return 0


# =========================================================================== running a tool


@dataclass
class RunResult:
    """One timed run of one tool."""

    tool: str
    seconds: float
    rss_mib: float
    exit_code: int
    detail: dict[str, Any] = field(default_factory=dict)
    cpu_seconds: float = float("nan")  # user + system, the tool's process tree
    loadavg: float = float("nan")  # 1-minute load average as the run started


def timed(
    cmd: list[str], *, env: dict[str, str], cwd: str, timeout: float, stdout_path: Path
) -> tuple[float, float, int, str, float]:
    """Run ``cmd``; (wall seconds, peak RSS MiB, exit code, stderr tail, CPU seconds).
    Killed after ``timeout`` (exit code -9).

    The peak RSS comes from GNU time's ``%M`` where it is installed.  A child's own
    ``ru_maxrss`` (``wait4``) is only the fallback: Python spawns children with vfork, and
    Linux folds the parent's peak RSS into the child's at exec, so every tool would show at
    least this benchmark process's own size.
    """
    with (
        open(stdout_path, "wb") as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as rss_file,
    ):
        wrapped = [GNU_TIME, "-f", "%U %S %M", "-o", rss_file.name, *cmd] if GNU_TIME else cmd
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            wrapped,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,  # so that a timeout kills the tool, not only GNU time
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        killer = threading.Timer(timeout, kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = -9 if killed.is_set() else code
        err.seek(0)
        tail = err.read()[-2000:].decode(errors="replace")
        rss_kib = float(usage.ru_maxrss)
        cpu = usage.ru_utime + usage.ru_stime
        if GNU_TIME:
            words = rss_file.read().split()
            numbers = [w for w in words if w.isdigit()]
            rss_kib = float(numbers[-1]) if numbers else float("nan")
            if len(words) >= 3:  # the tool's own CPU time, as GNU time measured it
                with contextlib.suppress(ValueError):
                    cpu = float(words[-3]) + float(words[-2])
    return wall, rss_kib / 1024, proc.returncode, tail, cpu


def scrape_requests(ep: Endpoint) -> dict[tuple[str, str], float]:
    """apiserver_request_total summed per (verb, resource)."""
    conn = ep.connection()
    try:
        text = (ep.get(conn, "/metrics") or b"").decode()
    finally:
        conn.close()
    out: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_part, _, value = line.rpartition(" ")
        labels = dict(re.findall(r'(\w+)="([^"]*)"', labels_part))
        key = (labels.get("verb", ""), labels.get("resource", ""))
        out[key] = out.get(key, 0.0) + float(value)
    return out


class Bench:
    """The tools, how to run each, and the runs."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.ep = Endpoint.from_kubeconfig(args.kubeconfig, work)
        self.env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        self.env.update(
            {
                "NO_COLOR": "1",
                "XDG_CONFIG_HOME": str(work / "xdg"),
                "XDG_CACHE_HOME": str(work / "xdg-cache"),
                "HOME": str(work / "home"),
            }
        )
        for d in ("xdg", "xdg-cache", "home"):
            (work / d).mkdir(exist_ok=True)
        from logos_doctor.cluster.collect import needed_kinds
        from logos_doctor.cluster.fetch import FetchOptions
        from logos_doctor.cluster.kinds import KINDS
        from logos_doctor.registry import default_registry

        self.kinds = sorted(needed_kinds(default_registry()))
        self.paths = [KINDS[k].list_path(None) for k in self.kinds]
        self.page_size = FetchOptions().page_size
        self.workers = FetchOptions().workers
        exe = Path(sys.executable).with_name("logos-doctor")
        self.logos = [str(exe)] if exe.exists() else [sys.executable, "-m", "logos_doctor"]
        self.unavailable: dict[str, str] = {}
        # LABEL -> a directory holding a logos_doctor package with its checks inside
        # (bench/same_findings.py says how to make one), run as logos-doctor@LABEL.
        self.trees: dict[str, str] = parse_trees(args.tree)
        self.k8sgpt_filters: list[str] = []
        self.versions: dict[str, str] = {}
        self._check_tools()
        self.walks = {t: self._walk(t) for t in args.tools if is_doctor(t)}

    def _check_tools(self) -> None:
        for tool in ("k8sgpt", "popeye"):
            if tool not in self.args.tools:
                continue
            binary = TOOLS_DIR / tool
            if not binary.exists():
                why = TOOLS_DIR / f"{tool}.error"
                reason = why.read_text().strip() if why.exists() else "not built"
                self.unavailable[tool] = f"{binary}: {reason} (run bench/build_tools.sh)"
                log(f"{tool} left out: {self.unavailable[tool].splitlines()[0]}")
                continue
            self.versions[tool] = (
                (TOOLS_DIR / f"{tool}.version").read_text().strip()
                if (TOOLS_DIR / f"{tool}.version").exists()
                else "?"
            )
        if "k8sgpt" in self.args.tools and "k8sgpt" not in self.unavailable:
            self.k8sgpt_filters = self._k8sgpt_filters()

    def _walk(self, tool: str) -> str:
        """Which sharing walk ``tool`` runs: ``c`` or ``python`` (cluster/share.py), or
        ``python only`` for a tree from before the walk in C.  A tree copied so that its C
        module looks older than its source runs the Python walk, so each run says which."""
        tree = self.trees.get(tool.partition("@")[2])
        env = dict(self.env, **({"PYTHONPATH": tree} if tree else {}))
        probe = (
            "from logos_doctor.cluster import share\n"
            "print('python only' if not hasattr(share, 'NATIVE')"
            " else 'c' if share.NATIVE else 'python')"
        )
        # self.logos is the logos-doctor next to this Python, or this Python with -m.
        proc = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd="/"
        )
        walk = proc.stdout.strip() or f"unknown ({proc.stderr.strip()[-200:]})"
        log(f"{tool}: sharing walk {walk}")
        return walk

    def _k8sgpt_filters(self) -> list[str]:
        """Every analyzer k8sgpt has (``filters list`` prints active and unused ones)."""
        proc = subprocess.run(
            [
                str(TOOLS_DIR / "k8sgpt"),
                "filters",
                "list",
                "--config",
                str(self.work / "k8sgpt.yaml"),
            ],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        names = set(re.findall(r"^\s*>\s*(\w+)", proc.stdout, re.M)) - set(K8SGPT_SKIP)
        if not names:
            log("k8sgpt filters list gave nothing usable; using the known v0.3.48 list")
            return list(K8SGPT_FILTERS_FALLBACK)
        return sorted(names)

    def command(self, tool: str, stats_path: Path) -> tuple[list[str], dict[str, str]]:
        """The command line and environment of one run of ``tool``."""
        kc = self.args.kubeconfig
        env = dict(self.env)
        if tool == "floor":
            return [
                sys.executable,
                str(Path(__file__).resolve()),
                "_floor",
                "--kubeconfig",
                kc,
                "--paths",
                json.dumps(self.paths),
                "--page-size",
                str(self.page_size),
                "--workers",
                str(self.workers),
            ], env
        if is_doctor(tool):
            env["LOGOS_DOCTOR_STATS"] = str(stats_path)
            tree = self.trees.get(tool.partition("@")[2])
            if tree:
                env["PYTHONPATH"] = tree
            return [
                *([sys.executable, "-m", "logos_doctor"] if tree else self.logos),
                "check",
                "--all",
                "-A",
                "-o",
                "json",
                "--fail-on",
                "never",
                "--kubeconfig",
                kc,
                "--timeout",
                "120",
            ], env
        if tool == "k8sgpt":
            return [
                str(TOOLS_DIR / "k8sgpt"),
                "analyze",
                "--kubeconfig",
                kc,
                "--config",
                str(self.work / "k8sgpt.yaml"),
                "--output",
                "json",
                "--filter",
                ",".join(self.k8sgpt_filters),
            ], env
        if tool == "popeye":
            return [
                str(TOOLS_DIR / "popeye"),
                "--kubeconfig",
                kc,
                "-A",
                "-o",
                "json",
                "--force-exit-zero",
                "--logs",
                str(self.work / "popeye.log"),
            ], env
        raise ValueError(tool)

    def timeout(self, tool: str) -> float:
        """Seconds a run of ``tool`` may take before it is killed."""
        return self.args.slow_timeout if tool in SLOW else self.args.timeout

    def run_once(self, tool: str) -> RunResult:
        """Run ``tool`` once, timed, with its own figures."""
        stats_path = self.work / f"{tool.replace('@', '-')}.stats.json"
        stats_path.unlink(missing_ok=True)
        out_path = self.work / f"{tool.replace('@', '-')}.out"
        cmd, env = self.command(tool, stats_path)
        cmd = [*client_prefix(self.args.cpus), *cmd]
        before = scrape_requests(self.ep)
        load = os.getloadavg()[0]
        wall, rss, code, err, cpu = timed(
            cmd, env=env, cwd=str(self.work), timeout=self.timeout(tool), stdout_path=out_path
        )
        detail: dict[str, Any] = {}
        if before is not None:
            after = scrape_requests(self.ep)
            delta = {
                f"{v} {r}": after[k] - before.get(k, 0.0)
                for k in after
                if (v := k[0]) in ("LIST", "GET")
                and (r := k[1])
                and after[k] - before.get(k, 0.0) > 0
            }
            detail["server_requests"] = delta
            detail["server_lists"] = int(sum(n for k, n in delta.items() if k.startswith("LIST ")))
        if tool == "floor" and code == 0:
            detail.update(json.loads(out_path.read_text()))
        if is_doctor(tool) and stats_path.exists():
            detail.update(json.loads(stats_path.read_text()))
            detail["findings"] = _count_findings(out_path)
        if tool == "k8sgpt":
            detail["problems"] = _json_field(out_path, "problems")
        if tool == "popeye":
            detail["score"] = _popeye_score(out_path)
        if code != 0:
            detail["stderr"] = err[-800:]
        return RunResult(tool, wall, rss, code, detail, cpu, load)

    def measure(self, reps: int, warmup: int, slow_reps: int) -> list[RunResult]:
        """``reps`` rounds, each tool once per round, the order rotating; k8sgpt and popeye
        (minutes each at scale) only in the first ``slow_reps`` rounds.  The warm-up rounds
        (floor and logos-doctor only: the others take long enough not to need one) fill the
        API server's and the OS's caches before anything is timed."""
        tools = [t for t in self.args.tools if t not in self.unavailable]
        for _ in range(warmup):
            for tool in tools:
                if tool in SLOW:
                    continue
                r = self.run_once(tool)
                log(f"warm-up {tool}: {r.seconds:.2f}s exit {r.exit_code}")
        results = []
        for rep in range(reps):
            order = tools[rep % len(tools) :] + tools[: rep % len(tools)]
            for tool in order:
                if tool in SLOW and rep >= slow_reps:
                    continue
                r = self.run_once(tool)
                log(
                    f"rep {rep + 1}/{reps} {tool}: {r.seconds:.2f}s, {r.cpu_seconds:.2f}s CPU, "
                    f"{r.rss_mib:.0f} MiB, load {r.loadavg:.1f}, "
                    f"exit {r.exit_code}"
                )
                results.append(r)
        return results


def _count_findings(path: Path) -> int | None:
    try:
        return len(json.loads(path.read_text()).get("findings") or [])
    except (ValueError, OSError, AttributeError):
        return None


def _json_field(path: Path, key: str) -> Any:
    try:
        return json.loads(path.read_text()).get(key)
    except (ValueError, OSError, AttributeError):
        return None


def _popeye_score(path: Path) -> Any:
    try:
        data = json.loads(path.read_text())
    except (ValueError, OSError):
        return None
    report = data.get("popeye") if isinstance(data, dict) else None
    return (report or {}).get("score")


# =========================================================================== summary


def median(values: list[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


def summarize(results: list[RunResult], unavailable: dict[str, str]) -> dict[str, Any]:
    """Per tool: medians, spread, peak memory, requests, ratio to the floor."""
    by_tool: dict[str, list[RunResult]] = {}
    for r in results:
        by_tool.setdefault(r.tool, []).append(r)
    out: dict[str, Any] = {}
    for tool, runs in by_tool.items():
        # The floor and logos-doctor (run with --fail-on never) succeed with 0 only; the
        # others exit non-zero when they find problems, which is not a failed run.
        ok = [
            r
            for r in runs
            if (r.exit_code == 0 if tool == "floor" or is_doctor(tool) else r.exit_code >= 0)
        ]
        killed = [r for r in runs if r.exit_code == -9]
        s: dict[str, Any] = {
            "runs": len(runs),
            "failed_runs": len(runs) - len(ok),
            # Killed at the timeout: the run took at least this long.
            "timed_out_after": min((r.seconds for r in killed), default=None),
            "server_lists_median": median(
                [r.detail["server_lists"] for r in runs if "server_lists" in r.detail]
            ),
            "median_seconds": median([r.seconds for r in ok]),
            "median_cpu_seconds": median([r.cpu_seconds for r in ok]),
            "median_loadavg": median([r.loadavg for r in ok]),
            "min_seconds": min((r.seconds for r in ok), default=None),
            "max_seconds": max((r.seconds for r in ok), default=None),
            "peak_rss_mib": max((r.rss_mib for r in ok), default=None),
            "median_rss_mib": median([r.rss_mib for r in ok]),
            "exit_codes": sorted({r.exit_code for r in runs}),
        }
        if tool == "floor" or is_doctor(tool):
            s["requests"] = median([r.detail.get("requests", 0) for r in ok])
            s["server_lists"] = median([r.detail.get("server_lists", 0) for r in ok])
            s["bytes"] = median([r.detail.get("bytes", 0) for r in ok])
            phases = {k for r in ok for k in (r.detail.get("seconds") or {})}
            s["median_phase_seconds"] = {
                k: median([r.detail["seconds"][k] for r in ok if k in r.detail.get("seconds", {})])
                for k in sorted(phases)
            }
            s["objects"] = ok[-1].detail.get("objects") if ok else None
        if tool == "floor":
            s["absent_kinds"] = sorted(ok[-1].detail.get("absent") or []) if ok else None
        if is_doctor(tool):
            s["requests_by_kind"] = ok[-1].detail.get("requests_by_kind") if ok else None
            s["findings"] = ok[-1].detail.get("findings") if ok else None
        if tool == "k8sgpt":
            s["problems"] = ok[-1].detail.get("problems") if ok else None
        if tool == "popeye":
            s["score"] = ok[-1].detail.get("score") if ok else None
        out[tool] = s
    floor = (out.get("floor") or {}).get("median_seconds")
    for s in out.values():
        s["ratio_to_floor"] = (
            round(s["median_seconds"] / floor, 2) if floor and s["median_seconds"] else None
        )
    for tool, why in unavailable.items():
        out[tool] = {"unavailable": why}
    return out


def f(v: Any, fmt: str) -> str:
    """A number formatted, or ``-``."""
    return format(v, fmt) if isinstance(v, (int, float)) else "-"


def table(report: dict[str, Any]) -> str:
    """The results as a plain-text table, one row per scale and tool."""
    lines = []
    head = (
        f"{'scale':>5} {'objects':>8} {'tool':<13} {'median s':>9} {'x floor':>8} "
        f"{'peak MiB':>9} {'requests':>9} {'server LISTs':>12}"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for sc in report["scales"]:
        objs = sc.get("objects_total") or 0
        for tool in sc["tools"]:
            s = sc["tools"][tool]
            if "unavailable" in s:
                lines.append(f"{sc['scale']:>5} {objs:>8} {tool:<13} {'n/a: see unavailable':>30}")
                continue
            if s["median_seconds"] is None and s["timed_out_after"]:
                over = ">" + format(s["timed_out_after"], ".0f")
                lines.append(
                    f"{sc['scale']:>5} {objs:>8} {tool:<13} {over:>9} "
                    f"{'-':>8} {'-':>9} {'-':>9} {f(s['server_lists_median'], '12.0f')}"
                )
                continue

            lines.append(
                f"{sc['scale']:>5} {objs:>8} {tool:<13} {f(s['median_seconds'], '9.2f')} "
                f"{f(s['ratio_to_floor'], '8.2f')} {f(s['peak_rss_mib'], '9.0f')} "
                f"{f(s.get('requests'), '9.0f')} {f(s['server_lists_median'], '12.0f')}"
            )
        ld = sc["tools"].get("logos-doctor") or {}
        ph = ld.get("median_phase_seconds")
        if ph:
            lines.append(
                "      logos-doctor split (median s): "
                + ", ".join(f"{k} {v:.2f}" for k, v in ph.items())
            )
    growth = report.get("growth")
    if growth:
        lines.append("")
        lines.append("growth relative to the smallest scale (objects x -> seconds x):")
        for tool, pts in growth.items():
            lines.append(
                f"  {tool:<13} "
                + "  ".join(f"{p['objects_x']:.2f}x -> {p['seconds_x']:.2f}x" for p in pts)
            )
    return "\n".join(lines)


def growth(scales: list[dict[str, Any]]) -> dict[str, list[dict[str, float]]]:
    """Per tool, time and objects relative to the smallest scale measured."""
    if len(scales) < 2:
        return {}
    base = scales[0]
    out: dict[str, list[dict[str, float]]] = {}
    for tool in TOOLS:
        b = (base["tools"].get(tool) or {}).get("median_seconds")
        if not b:
            continue
        pts = []
        for sc in scales:
            t = (sc["tools"].get(tool) or {}).get("median_seconds")
            if t and base.get("objects_total"):
                pts.append(
                    {
                        "scale": sc["scale"],
                        "objects_x": round(sc["objects_total"] / base["objects_total"], 3),
                        "seconds_x": round(t / b, 3),
                    }
                )
        out[tool] = pts
    return out


def write(report: dict[str, Any], out: Path) -> None:
    """Write the results file (with the growth curve of the scales so far)."""
    report["scales"].sort(key=lambda sc: sc["scale"])
    report["growth"] = growth(report["scales"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str))


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
        "peak_rss_from": "GNU time %M" if GNU_TIME else "wait4 ru_maxrss (includes the parent's)",
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, as ``_floor``, one floor fetch)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_floor"]:
        fp = argparse.ArgumentParser()
        fp.add_argument("--kubeconfig", required=True)
        fp.add_argument("--paths", required=True)
        fp.add_argument("--page-size", type=int, default=500)
        fp.add_argument("--workers", type=int, default=6)
        return floor_main(fp.parse_args(argv[1:]))

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", default=DEFAULT_KUBECONFIG)
    ap.add_argument("--scales", default="1", help="comma-separated, ascending (e.g. 0.25,0.5,1)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument(
        "--slow-reps", type=int, help="repetitions of k8sgpt and popeye (default: --reps)"
    )
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also run logos-doctor from a source tree, as tool logos-doctor@LABEL",
    )
    ap.add_argument("--prefix", default="bench")
    ap.add_argument(
        "--seed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="seed each scale first (bench/seed.py; a no-op when already seeded)",
    )
    ap.add_argument("--timeout", type=float, default=600, help="seconds per run")
    ap.add_argument(
        "--slow-timeout",
        type=float,
        default=1800,
        help="seconds per k8sgpt or popeye run (k8sgpt lists events once per object, at the "
        "client's default 5 requests/s: tens of minutes at scale 1)",
    )
    ap.add_argument("--out", help="results file (default bench/results/<date>.json)")
    ap.add_argument(
        "--cpus",
        metavar="SERVER:CLIENT",
        help="pin the benchmark cluster to the SERVER CPUs and each tool to the CLIENT CPUs "
        "(e.g. 0:1), as if the API server ran on its own machine",
    )
    ap.add_argument(
        "--merge",
        action="append",
        default=[],
        metavar="FILE",
        help="add the scales of an earlier results file (to draw one curve from several runs)",
    )
    args = ap.parse_args(argv)
    parse_trees(args.tree)  # a tree that cannot be one ends the run before anything is done
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    args.tools += [f"logos-doctor@{t.split('=', 1)[0]}" for t in args.tree]
    bad = [t for t in args.tools if t not in TOOLS and not is_doctor(t)]
    if bad:
        ap.error(f"unknown tools {bad}; choose from {TOOLS}")
    scales = [float(s) for s in args.scales.split(",")]
    out = (
        Path(args.out)
        if args.out
        else (HERE / "results" / f"{datetime.now().strftime('%Y-%m-%d-%H%M%S')}.json")
    )

    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "kubeconfig": args.kubeconfig,
        "reps": args.reps,
        "warmup": args.warmup,
        "scales": [],
        "merged_from": args.merge,
        "cpus": args.cpus,
    }
    for earlier in args.merge:
        report["scales"].extend(json.loads(Path(earlier).read_text())["scales"])
    with (
        tempfile.TemporaryDirectory(prefix="logos-bench-") as tmp,
        pinned(args.cpus, args.kubeconfig),
    ):
        bench = Bench(args, Path(tmp))
        report["kinds"] = bench.kinds
        report["page_size"] = bench.page_size
        report["tool_versions"] = bench.versions
        report["sharing_walks"] = bench.walks
        report["k8sgpt_filters"] = bench.k8sgpt_filters
        report["unavailable"] = bench.unavailable
        for scale in scales:
            seeded: dict[str, Any] | None = None
            if args.seed:
                sys.path.insert(0, str(HERE))
                import seed as seeder

                plan = seeder.make_plan(args.prefix, scale)
                api = seeder.Api(args.kubeconfig)
                try:
                    log(f"seeding scale {scale}")
                    seeded = seeder.seed(api, plan, ("nvidia.com/gpu", "true"), 16, 1800)
                finally:
                    api.close()
                seeded.pop("quotas", None)
                log(f"seeded: {seeded.get('plan')} in {seeded.get('total_seconds')}s")
            log(f"measuring scale {scale}: {args.reps} reps of {', '.join(args.tools)}")
            results = bench.measure(args.reps, args.warmup, args.slow_reps or args.reps)
            summary = summarize(results, bench.unavailable)
            objects = (summary.get("floor") or summary.get("logos-doctor") or {}).get("objects")
            report["scales"].append(
                {
                    "scale": scale,
                    "seed": seeded,
                    "objects": objects,
                    "objects_total": sum((objects or {}).values()),
                    "loadavg": os.getloadavg(),
                    "tools": summary,
                    "runs": [
                        {
                            "tool": r.tool,
                            "seconds": round(r.seconds, 4),
                            "rss_mib": round(r.rss_mib, 1),
                            "cpu_seconds": round(r.cpu_seconds, 3),
                            "loadavg": round(r.loadavg, 2),
                            "exit_code": r.exit_code,
                            **({"stderr": r.detail["stderr"]} if "stderr" in r.detail else {}),
                            **(
                                {"server_requests": r.detail["server_requests"]}
                                if "server_requests" in r.detail
                                else {}
                            ),
                        }
                        for r in results
                    ],
                }
            )
            write(report, out)  # after every scale: a long run that dies keeps what it had
    report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    write(report, out)
    print(table(report))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
