"""Start and stop a real, local Kubernetes control plane for the tests.

Components (all on 127.0.0.1, free ports, each logging to `.testcluster/logs/<name>.log`):
etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (fake kubelets for
nodes annotated `kwok.x-k8s.io/node: fake`) and `k8scluster.provisioner` (a stand-in for
the EBS CSI external provisioner), then the real node (`realnode`: a real kubelet on
containerd, with local registries; optional: `up` succeeds without it and records why;
LOGOS_TESTCLUSTER_REALNODE=0 skips it). The binaries come from `scripts/build-k8s-binaries`.

State lives in `.testcluster/` at the repository root (override: LOGOS_TESTCLUSTER_DIR):
`state.json` (pids, ports, paths), `pki/`, `logs/`, `kubeconfig` (admin, system:masters).
etcd's data directory is a temporary directory recorded in the state.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import pki

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES_DIR = Path(__file__).resolve().parent / "stages"
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
STOCK_STAGE_PATHS = (  # under sigs.k8s.io/kwok@VERSION/kustomize/stage
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)
STOCK_STAGES = tuple(p.rsplit("/", 1)[1] for p in STOCK_STAGE_PATHS)
# Components in start order; stopped in reverse.
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "provisioner",
)
TAIL_LINES = 20

# Popen objects of processes started by this Python process, so `down` can reap them.
_CHILDREN: dict[int, subprocess.Popen] = {}


class ClusterError(RuntimeError):
    """The cluster could not be started (the message says which component and why)."""


def state_dir() -> Path:
    return Path(os.environ.get("LOGOS_TESTCLUSTER_DIR") or REPO_ROOT / ".testcluster").resolve()


def kubeconfig_path() -> Path:
    return state_dir() / "kubeconfig"


def _log(msg: str) -> None:
    print(f"testcluster: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks) of a live process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], fields[19]


def _alive(pid: int, start: str | None = None) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    st = _proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return start is None or st[1] == start


def _stop_pid(pid: int, start: str | None, name: str, grace: float = 5.0) -> None:
    if not _alive(pid, start):
        _reap(pid)
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid, start):
            return
        time.sleep(0.1)
    _log(f"{name} (pid {pid}) did not stop after SIGTERM; sending SIGKILL")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(50):
        _reap(pid)
        if not _alive(pid, start):
            return
        time.sleep(0.1)


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _tail(path: Path, n: int = TAIL_LINES) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:])


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- state


@dataclass
class State:
    data: dict

    @classmethod
    def load(cls) -> State | None:
        try:
            return cls(json.loads((state_dir() / "state.json").read_text()))
        except (OSError, ValueError):
            return None

    def save(self) -> None:
        path = state_dir() / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2))
        tmp.replace(path)

    @property
    def procs(self) -> dict[str, dict]:
        return self.data.setdefault("procs", {})

    def alive(self) -> dict[str, bool]:
        return {n: _alive(p["pid"], p.get("start")) for n, p in self.procs.items()}


def _ssl_context(pki_dir: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
    ctx.load_cert_chain(str(pki_dir / "admin.crt"), str(pki_dir / "admin.key"))
    return ctx


def _get(url: str, ctx: ssl.SSLContext | None = None, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def _insecure() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def apiserver_ready(state: State | None = None) -> bool:
    state = state or State.load()
    if state is None or "server" not in state.data:
        return False
    try:
        code, _ = _get(state.data["server"] + "/readyz", _ssl_context(state_dir() / "pki"))
    except Exception:
        return False
    return code == 200


def is_up() -> bool:
    """True when every component this package started is alive and /readyz answers ok."""
    state = State.load()
    if state is None or set(state.procs) != set(COMPONENTS):
        return False
    return all(state.alive().values()) and apiserver_ready(state)


def status() -> dict:
    state = State.load()
    if state is None:
        return {"up": False, "state_dir": str(state_dir()), "components": {}}
    alive = state.alive()
    return {
        "up": bool(alive) and all(alive.values()) and apiserver_ready(state),
        "state_dir": str(state_dir()),
        "server": state.data.get("server"),
        "kubeconfig": str(kubeconfig_path()),
        "components": {
            n: {"pid": p["pid"], "alive": alive[n], "log": p.get("log")}
            for n, p in state.procs.items()
        },
        "realnode": _realnode_status(state),
    }


def _realnode_status(state: State) -> dict:
    from . import realnode

    return realnode.status(state)


# --------------------------------------------------------------------------- binaries and config


def build_binaries() -> Path:
    """Run scripts/build-k8s-binaries (a no-op when cached) and return the bin directory."""
    script = REPO_ROOT / "scripts" / "build-k8s-binaries"
    proc = subprocess.run([str(script)], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"scripts/build-k8s-binaries failed (exit {proc.returncode})")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if not lines:
        raise ClusterError("scripts/build-k8s-binaries printed no bin directory")
    bin_dir = Path(lines[-1].strip())
    missing = [c for c in ("etcd", "kube-apiserver", "kube-controller-manager",
                           "kube-scheduler", "kubectl", "kwok") if not (bin_dir / c).is_file()]
    if missing:
        raise ClusterError(f"missing binaries in {bin_dir}: {', '.join(missing)}")
    return bin_dir


def stock_stage_files(bin_dir: Path) -> list[Path]:
    """kwok's own node and pod stages (those kwokctl loads), copied from kwok's module source
    by the build script; falls back to the Go module cache."""
    cached = bin_dir.parent / "kwok-stages"
    if all((cached / n).is_file() for n in STOCK_STAGES):
        return [cached / n for n in STOCK_STAGES]
    tried = [str(cached)]
    try:
        modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                                  check=True).stdout.strip()
        version = os.environ.get("KWOK_VERSION", "v0.8.0")
        root = Path(modcache) / f"sigs.k8s.io/kwok@{version}" / "kustomize" / "stage"
        paths = [root / rel for rel in STOCK_STAGE_PATHS]
        if all(p.is_file() for p in paths):
            return paths
        tried.append(str(root))
    except (OSError, subprocess.CalledProcessError):
        pass
    raise ClusterError(f"kwok's stock stages not found in {' or '.join(tried)}; "
                       "re-run scripts/build-k8s-binaries")


def own_stage_files() -> list[Path]:
    return sorted(STAGES_DIR.glob("*.yaml"))


def _b64(path: Path) -> str:
    import base64

    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> None:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "logos-testcluster", "cluster": {
            "server": server, "certificate-authority-data": _b64(ca)}}],
        "users": [{"name": user, "user": {
            "client-certificate-data": _b64(cert), "client-key-data": _b64(key)}}],
        "contexts": [{"name": "logos-testcluster", "context": {
            "cluster": "logos-testcluster", "user": user}}],
        "current-context": "logos-testcluster",
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    path.chmod(0o600)


# --------------------------------------------------------------------------- up / down


@contextlib.contextmanager
def _locked():
    """Serialise up/down between processes (two test sessions starting at once)."""
    import fcntl
    import hashlib

    key = hashlib.sha256(str(state_dir()).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"logos-testcluster-{key}.lock"
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def up(*, quiet: bool = False) -> Path:
    """Start the cluster (no-op when already up) and return the admin kubeconfig path."""
    with _locked():
        return _up(quiet=quiet)


def ensure_up(*, quiet: bool = False) -> tuple[Path, bool]:
    """Like `up`, also telling whether this call started the cluster (atomically)."""
    with _locked():
        if is_up():
            return kubeconfig_path(), False
        return _up(quiet=quiet), True


def _up(*, quiet: bool = False) -> Path:
    if is_up():
        if not quiet:
            _log("already up")
        return kubeconfig_path()
    if State.load() is not None:
        _log("found a stale or partial cluster; cleaning it up first")
        _down(quiet=True)

    t0 = time.monotonic()
    bin_dir = build_binaries()
    stock = stock_stage_files(bin_dir)
    sd = state_dir()
    sd.mkdir(parents=True, exist_ok=True)
    logs, pki_dir, conf = sd / "logs", sd / "pki", sd / "conf"
    for d in (logs, pki_dir, conf):
        d.mkdir(exist_ok=True)
    etcd_data = tempfile.mkdtemp(prefix="logos-testcluster-etcd-")

    ports = {k: _free_port() for k in ("etcd", "etcd_peer", "apiserver", "kcm", "scheduler")}
    server = f"https://127.0.0.1:{ports['apiserver']}"
    state = State({"bin": str(bin_dir), "server": server, "ports": ports,
                   "etcd_data": etcd_data, "procs": {}, "started": time.time()})
    state.save()

    # PKI
    ca = pki.make_ca(pki_dir)
    srv = pki.make_cert(ca, pki_dir, "apiserver", "kube-apiserver", server=True, client=False,
                        sans=pki.SERVER_SANS)
    admin = pki.make_cert(ca, pki_dir, "admin", "logos-testcluster-admin", ("system:masters",))
    kcm = pki.make_cert(ca, pki_dir, "kube-controller-manager", "system:kube-controller-manager")
    sched = pki.make_cert(ca, pki_dir, "kube-scheduler", "system:kube-scheduler")
    kwok = pki.make_cert(ca, pki_dir, "kwok", "kwok", ("system:masters",))
    sa_key, sa_pub = pki.make_sa_keypair(pki_dir)
    # Front proxy (aggregation layer) CA: unused by the tests, but without it every
    # component logs "missing content for CA bundle ... requestheader-client-ca-file".
    fp_ca = pki.make_ca(pki_dir, "front-proxy-ca", "logos-testcluster-front-proxy-ca")
    fp_client = pki.make_cert(fp_ca, pki_dir, "front-proxy-client", "front-proxy-client")

    kubeconfigs = {}
    for name, pair, user in (("admin", admin, "admin"), ("kube-controller-manager", kcm, "kcm"),
                             ("kube-scheduler", sched, "scheduler"), ("kwok", kwok, "kwok")):
        path = sd / "kubeconfig" if name == "admin" else conf / f"{name}.kubeconfig"
        write_kubeconfig(path, server, ca.cert, pair.cert, pair.key, user)
        kubeconfigs[name] = path

    sched_cfg = conf / "kube-scheduler.yaml"
    sched_cfg.write_text(yaml.safe_dump({
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfigs["kube-scheduler"])},
        "leaderElection": {"leaderElect": False},
        "podInitialBackoffSeconds": 1,
        "podMaxBackoffSeconds": 2,
    }))

    b = lambda name: str(bin_dir / name)  # noqa: E731
    etcd_url = f"http://127.0.0.1:{ports['etcd']}"
    peer_url = f"http://127.0.0.1:{ports['etcd_peer']}"
    commands: dict[str, list[str]] = {
        "etcd": [
            b("etcd"), "--name=testcluster", f"--data-dir={etcd_data}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=testcluster={peer_url}", "--unsafe-no-fsync",
            "--quota-backend-bytes=4294967296", "--log-level=warn",
        ],
        "kube-apiserver": [
            b("kube-apiserver"), f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={ports['apiserver']}",
            f"--tls-cert-file={srv.cert}", f"--tls-private-key-file={srv.key}",
            f"--client-ca-file={ca.cert}",
            f"--requestheader-client-ca-file={fp_ca.cert}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-username-headers=X-Remote-User",
            f"--proxy-client-cert-file={fp_client.cert}",
            f"--proxy-client-key-file={fp_client.key}",
            "--authorization-mode=Node,RBAC",
            # Reach a kubelet (logs, exec) by its node IP, never by resolving its name.
            "--kubelet-preferred-address-types=InternalIP",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--profiling=false",
            "--event-ttl=2h",
            # A watch from a version the server no longer has must end in 410 Gone within a
            # test's wait (tests/integration/test_serve_watch.py): ConfigMaps are watched
            # from etcd itself, not the API server's cache (which would serve old versions
            # from its window), and etcd's history is compacted every 10 s (default 5 min).
            "--watch-cache-sizes=configmaps#0",
            "--etcd-compaction-interval=10s",
        ],
        "kube-controller-manager": [
            b("kube-controller-manager"),
            f"--kubeconfig={kubeconfigs['kube-controller-manager']}",
            f"--authentication-kubeconfig={kubeconfigs['kube-controller-manager']}",
            f"--authorization-kubeconfig={kubeconfigs['kube-controller-manager']}",
            "--bind-address=127.0.0.1", f"--secure-port={ports['kcm']}",
            "--controllers=*", "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={sa_key}",
            f"--root-ca-file={ca.cert}",
            f"--cluster-signing-cert-file={ca.cert}", f"--cluster-signing-key-file={ca.key}",
            "--service-cluster-ip-range=10.96.0.0/16",
            # Short sync periods so tests see controllers react within seconds.
            "--pvclaimbinder-sync-period=1s",
            "--horizontal-pod-autoscaler-sync-period=2s",
            "--horizontal-pod-autoscaler-downscale-stabilization=10s",
            "--horizontal-pod-autoscaler-initial-readiness-delay=5s",
            "--horizontal-pod-autoscaler-cpu-initialization-period=10s",
            "--node-monitor-period=2s",
            "--node-monitor-grace-period=20s",
            "--node-startup-grace-period=20s",
            "--namespace-sync-period=10s",
            "--resource-quota-sync-period=5s",
            "--attach-detach-reconcile-sync-period=5s",
            "--endpoint-updates-batch-period=0s",
            "--endpointslice-updates-batch-period=0s",
            "--min-resync-period=1m",
            "--terminated-pod-gc-threshold=100",
        ],
        "kube-scheduler": [
            b("kube-scheduler"), f"--config={sched_cfg}",
            f"--authentication-kubeconfig={kubeconfigs['kube-scheduler']}",
            f"--authorization-kubeconfig={kubeconfigs['kube-scheduler']}",
            "--bind-address=127.0.0.1", f"--secure-port={ports['scheduler']}",
        ],
        "kwok": [
            b("kwok"), f"--kubeconfig={kubeconfigs['kwok']}",
            f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
            "--node-lease-duration-seconds=20",
            "--cidr=10.244.0.0/16", "--node-ip=10.240.0.1",
            *[f"--config={p}" for p in (*stock, *own_stage_files())],
        ],
        "provisioner": [
            sys.executable, "-m", "k8scluster.provisioner",
            f"--kubeconfig={kubeconfigs['admin']}",
        ],
    }
    for name in commands:  # extra flags for debugging, e.g. LOGOS_TESTCLUSTER_ARGS_KWOK="-v=DEBUG"
        extra = os.environ.get("LOGOS_TESTCLUSTER_ARGS_" + name.upper().replace("-", "_"))
        if extra:
            commands[name] += shlex.split(extra)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1])]
        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.pop("KUBECONFIG", None)
    env["KWOK_WORKDIR"] = str(sd / "kwok-workdir")  # keep kwok away from ~/.kwok

    ctx = _ssl_context(pki_dir)

    def start(name: str) -> None:
        log_path = logs / f"{name}.log"
        with open(log_path, "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(commands[name])}\n"
                      .encode())
            log.flush()
            proc = subprocess.Popen(commands[name], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=sd, env=env,
                                    start_new_session=True)
        _CHILDREN[proc.pid] = proc
        st = _proc_stat(proc.pid)
        state.procs[name] = {"pid": proc.pid, "start": st[1] if st else None,
                             "log": str(log_path)}
        state.save()

    def wait(what: str, component: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for name, p in state.procs.items():
                if not _alive(p["pid"], p.get("start")):
                    _fail(state, name, f"{name} exited while waiting for {what}")
            try:
                if check():
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                _fail(state, component, f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.2)

    def healthz(port: int) -> bool:
        return _get(f"https://127.0.0.1:{port}/healthz", _insecure())[0] == 200

    try:
        start("etcd")
        wait("etcd /health", "etcd",
             lambda: '"true"' in _get(f"{etcd_url}/health")[1], 30)
        start("kube-apiserver")
        wait("kube-apiserver /readyz", "kube-apiserver",
             lambda: _get(f"{server}/readyz", ctx)[0] == 200, 90)
        for name in ("kube-controller-manager", "kube-scheduler", "kwok", "provisioner"):
            start(name)
        wait("kube-controller-manager /healthz", "kube-controller-manager",
             lambda: healthz(ports["kcm"]), 60)
        wait("kube-scheduler /healthz", "kube-scheduler", lambda: healthz(ports["scheduler"]), 60)
        wait("the default ServiceAccount in namespace default", "kube-controller-manager",
             lambda: _get(f"{server}/api/v1/namespaces/default/serviceaccounts/default",
                          ctx)[0] == 200, 60)

        from .kube import api_client as _api_client
        from .nodes import ensure_nodes, wait_nodes_ready

        client = _api_client(kubeconfig_path())
        try:
            names = ensure_nodes(client, wait=False)
            wait("fake nodes to become Ready (kwok)", "kwok",
                 lambda: wait_nodes_ready(client, names, timeout=0), 60)
        finally:
            client.close()
    except ClusterError:
        raise
    except BaseException as exc:
        _log(f"up failed ({exc!r}); stopping what was started")
        _stop_all(state)
        _cleanup(state, keep_logs=True)
        raise

    if os.environ.get("LOGOS_TESTCLUSTER_REALNODE", "1") != "0":
        from . import realnode

        realnode.up(state, bin_dir, quiet=quiet)  # never raises: records why it could not
    state.data["up_seconds"] = round(time.monotonic() - t0, 1)
    state.save()
    if not quiet:
        _log(f"up in {state.data['up_seconds']}s; server {server}")
    return kubeconfig_path()


def realnode_up(*, quiet: bool = False) -> dict:
    """Start the real node against the running cluster (no-op when it is up)."""
    from . import realnode

    with _locked():
        state = State.load()
        if state is None or not is_up():
            raise ClusterError("the test cluster is not up (run scripts/testcluster up)")
        if "realnode" in state.data:
            if realnode.unavailable_reason() is None:
                if not quiet:
                    _log("real node already up")
                return state.data["realnode"]
            realnode.down(state, quiet=True)
        return realnode.up(state, Path(state.data["bin"]), quiet=quiet)


def realnode_down(*, quiet: bool = False) -> bool:
    """Stop the real node and delete its Node object; the rest of the cluster keeps running."""
    from . import realnode

    with _locked():
        state = State.load()
        if state is None or "realnode" not in state.data:
            if not quiet:
                _log("real node not running")
            return False
        return realnode.down(state, delete_node=apiserver_ready(state), quiet=quiet)


def _fail(state: State, component: str, why: str) -> None:
    log = (state.procs.get(component, {}).get("log")
           or str(state_dir() / "logs" / f"{component}.log"))
    msg = (f"{component} failed to start: {why}\n"
           f"--- last {TAIL_LINES} lines of {log} ---\n{_tail(Path(log))}")
    _log(msg)
    _stop_all(state)
    _cleanup(state, keep_logs=True)
    raise ClusterError(msg)


def _stop_all(state: State) -> None:
    if "realnode" in state.data:  # first: the kubelet before the API server it talks to
        from . import realnode

        try:
            realnode.down(state, quiet=True)
        except Exception as exc:
            _log(f"stopping the real node failed: {exc}")
    for name in reversed(COMPONENTS):
        p = state.procs.get(name)
        if p:
            _stop_pid(p["pid"], p.get("start"), name)


def _cleanup(state: State, keep_logs: bool = False) -> None:
    etcd_data = state.data.get("etcd_data")
    if etcd_data and Path(etcd_data).name.startswith("logos-testcluster-etcd-"):
        shutil.rmtree(etcd_data, ignore_errors=True)
    sd = state_dir()
    if keep_logs:
        # Leave the logs for the post-mortem; remove everything else.
        for child in sd.iterdir():
            if child.name != "logs":
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(
                    missing_ok=True)
    else:
        shutil.rmtree(sd, ignore_errors=True)


def down(*, quiet: bool = False) -> bool:
    """Stop exactly the processes `up` started (SIGTERM, then SIGKILL) and remove the state.

    Returns False when there was nothing to stop."""
    with _locked():
        return _down(quiet=quiet)


def _down(*, quiet: bool = False) -> bool:
    state = State.load()
    if state is None:
        if not quiet:
            _log("not running")
        if state_dir().exists():
            shutil.rmtree(state_dir(), ignore_errors=True)
        return False
    _stop_all(state)
    _cleanup(state)
    if not quiet:
        _log("down")
    return True
