"""A real node beside the kwok nodes: a real kubelet on a real containerd, and local registries.

``scripts/testcluster up`` starts it after the control plane (``scripts/testcluster realnode
up|down|status`` starts or stops it alone, against a running cluster).  When it cannot
start, ``up`` still succeeds: the reason is in ``state.json`` (``realnode.reason``), in
``logs/realnode.txt`` and in ``scripts/testcluster status``, and the tests that need the
node skip with it (``unavailable_reason``).

What runs (all as root, logs in ``.testcluster/logs/``; files in ``.testcluster/realnode/``):

* ``nxdomain``: a DNS server on a loopback address (127.53.x.y) that answers NXDOMAIN to
  everything.
* ``registry-open`` and ``registry-auth``: Debian's ``docker-registry`` on 127.0.0.1, free
  ports; the second wants HTTP basic auth (htpasswd, bcrypt).  The toolbox image
  (``images``) is pushed to both.
* ``containerd``: Debian's containerd 1.6 with its own root, state, socket, runc root and
  registry hosts directory, the cgroupfs driver, a locally built sandbox image, and a CNI
  configuration with the loopback plugin only.  It runs in a mount namespace of its own
  whose /etc/resolv.conf names only ``nxdomain``: every registry name fails to resolve, so
  nothing is ever pulled from outside, and a host under ``.invalid`` fails with the real
  resolver error.
* ``kubelet``: the kubelet built by ``scripts/build-k8s-binaries`` (same version as the
  control plane), node ``real-node-0``, label and taint ``logos-test/real-node=true``
  (NoSchedule), node IP 198.18.0.10 (see below), cgroup root ``/logos-realnode-<hash>``
  (with a 3 GiB memory limit for all its pods together).

Why these choices:

* Node IP: the kubelet rejects a loopback node IP ("nodeIP can't be loopback address"),
  so the harness adds 198.18.0.10/32 (RFC 2544 benchmarking range) to the ``lo`` device:
  an address of the loopback device, so traffic to it never leaves the machine.  The
  kubelet serves on that address only.
* Pods on the node use ``hostNetwork: true``: the CNI configuration is loopback-only
  (enough for containerd to report the network ready), so a pod with its own network
  namespace fails at sandbox creation (``FailedCreatePodSandBox``: ``failed to setup
  network for sandbox "ID": failed to find network info for sandbox "ID"``), after a
  ``MissingClusterDNS`` warning (the kubelet has no cluster DNS).  A bridge would let pod
  traffic be forwarded off the machine.
* containerd's registry hosts directory sends every registry it does not know (a public
  one, an IP address) to the closed local port, through containerd's ``_default`` hosts
  entry: pulling ``postgres:16`` fails with ``failed to do request: Head
  "http://127.0.0.1:P/v2/library/postgres/manifests/16?ns=docker.io": dial tcp
  127.0.0.1:P: connect: connection refused``.  Only ``registry.invalid`` goes to the
  resolver, which resolves nothing.
* The kubelet sets six kernel sysctls at start (vm.overcommit_memory=1, kernel.panic=10,
  kernel.panic_on_oops=1 ...).  It runs in a mount namespace of its own in which the
  /proc/sys files that differ are covered by files holding the values it wants, so it
  never changes the host's kernel settings.
* The node directory is a shared bind mount, so the kubelet's volume mounts (Secrets,
  projected tokens) reach containerd's namespace, and ``down`` unmounts them all.
* cgroup v1 needs ``failCgroupV1: false``; containerd 1.6 lacks the RuntimeConfig CRI call,
  so the kubelet falls back to its configured ``cgroupDriver: cgroupfs``.
* ``restrict_oom_score_adj``: this machine withholds CAP_SYS_RESOURCE even from root, so runc
  cannot lower a sandbox's oom_score_adj to -998 ("failed to update /proc/self/oom_score_adj:
  Permission denied"); containerd clamps it to its own value instead.
* The kubelet's server allows anonymous requests (AlwaysAllow): the API server has no
  kubelet client certificate, and the port is reachable from this machine only.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

from . import images, pki

NODE_NAME = "real-node-0"
LABEL = ("logos-test/real-node", "true")
TAINT = {"key": "logos-test/real-node", "value": "true", "effect": "NoSchedule"}
NODE_IP = "198.18.0.10"
CGROUP_PREFIX = "logos-realnode"  # + a hash of the state dir: one per cluster on a machine
CGROUP_MEMORY_LIMIT = 3 * 1024**3  # all pods on the node together
PAUSE_IMAGE = "localhost/logos-test/pause:1"
REGISTRY_USER = "logos-puller"
# Repositories and tags chosen to mislead anything that classifies by name: the toolbox is
# busybox, not nginx; the tag v1.403 is a plain "not found".
TOOLBOX_REPO = "acme/nginx-tls"
TOOLBOX_TAG = "v1.2"
PRIVATE_REPO = "acme/x509-exporter"
PRIVATE_TAG = "v2.0.1"
UNRESOLVABLE_REGISTRY = "registry.invalid"
PROCS = ("nxdomain", "registry-open", "registry-auth", "containerd", "kubelet")
# The sysctls the kubelet insists on (pkg/kubelet/cm/container_manager_linux.go).
KUBELET_SYSCTLS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}
REQUIRED_TOOLS = {  # command: Debian package
    "containerd": "containerd",
    "containerd-shim-runc-v2": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "docker-registry": "docker-registry",
    "htpasswd": "apache2-utils",
    "unshare": "util-linux",
    "mount": "mount",
    "ip": "iproute2",
}
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")


class RealNodeError(RuntimeError):
    """The real node could not start (the message says which part and why)."""


# --------------------------------------------------------------------------- state


def node_dir() -> Path:
    from .cluster import state_dir

    return state_dir() / "realnode"


def info() -> dict[str, Any] | None:
    """The real node's record in the cluster state (None when the cluster is not up)."""
    from .cluster import State

    state = State.load()
    return None if state is None else state.data.get("realnode")


def unavailable_reason() -> str | None:
    """Why the real node cannot be used, or None when it is up."""
    from .cluster import _alive

    rec = info()
    if rec is None:
        return ("the real node was not started (the local test cluster is not up, or was "
                "started before the real node existed: run `scripts/testcluster realnode up`)")
    if not rec.get("ready"):
        return rec.get("reason") or "the real node did not start (no reason recorded)"
    dead = [n for n, p in rec.get("procs", {}).items() if not _alive(p["pid"], p.get("start"))]
    if dead:
        return f"real node process(es) no longer running: {', '.join(dead)}"
    return None


def registry(kind: str = "open") -> str:
    """``127.0.0.1:PORT`` of the open or the auth registry (``kind``: open, auth, closed)."""
    rec = info() or {}
    try:
        return rec["registries"][kind]
    except KeyError:
        raise RealNodeError(f"real node not up: {unavailable_reason()}") from None


def credentials() -> tuple[str, str]:
    """(user, password) of the auth registry."""
    rec = info() or {}
    if "password" not in rec:
        raise RealNodeError(f"real node not up: {unavailable_reason()}")
    return rec["user"], rec["password"]


def toolbox_image(kind: str = "open", tag: str = TOOLBOX_TAG) -> str:
    """The toolbox image reference on the open (or auth) registry."""
    repo = PRIVATE_REPO if kind == "auth" else TOOLBOX_REPO
    if kind == "auth" and tag == TOOLBOX_TAG:
        tag = PRIVATE_TAG
    return f"{registry(kind)}/{repo}:{tag}"


def image_digest(name: str = "toolbox") -> str:
    """The manifest digest of the locally built ``toolbox`` (or ``pause``) image."""
    rec = info() or {}
    if name in rec.get("image_digests", {}):
        return str(rec["image_digests"][name])
    from .cluster import State

    state = State.load()
    if state is None:
        raise RealNodeError("the test cluster is not up")
    built = images.build(Path(state.data["bin"]).parent / "realnode-images")
    return built[name].manifest.digest


# --------------------------------------------------------------------------- pods


def real_pod(
    name: str,
    containers: list[dict[str, Any]],
    *,
    init_containers: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    image_pull_secrets: list[str] | None = None,
    restart_policy: str = "Always",
    grace: int = 1,
) -> dict[str, Any]:
    """Manifest of a Pod for the real node: its node selector and toleration, host network,
    a short grace period.  Containers without an image get the toolbox image."""
    def fill(c: dict[str, Any]) -> dict[str, Any]:
        return {"image": toolbox_image(), "imagePullPolicy": "IfNotPresent", **c}

    spec: dict[str, Any] = {
        "nodeSelector": {LABEL[0]: LABEL[1]},
        "tolerations": [{"key": TAINT["key"], "operator": "Equal", "value": TAINT["value"],
                         "effect": TAINT["effect"]}],
        "hostNetwork": True,
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": restart_policy,
        "terminationGracePeriodSeconds": grace,
        "enableServiceLinks": False,
        "containers": [fill(c) for c in containers],
    }
    if init_containers:
        spec["initContainers"] = [fill(c) for c in init_containers]
    if volumes:
        spec["volumes"] = volumes
    if image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in image_pull_secrets]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": name}}, "spec": spec}


def real_pod_template(pod: dict[str, Any]) -> dict[str, Any]:
    """The pod template of a workload, from a ``real_pod`` manifest."""
    return {"metadata": {"labels": pod["metadata"]["labels"]}, "spec": pod["spec"]}


def pull_secret(name: str) -> dict[str, Any]:
    """A kubernetes.io/dockerconfigjson Secret with the auth registry's credentials."""
    import base64

    user, password = credentials()
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    config = {"auths": {registry("auth"): {"username": user, "password": password,
                                           "auth": auth}}}
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": name},
            "stringData": {".dockerconfigjson": json.dumps(config)}}


# --------------------------------------------------------------------------- processes


def _log(msg: str) -> None:
    print(f"testcluster: real node: {msg}", file=sys.stderr, flush=True)


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RealNodeError(f"{' '.join(cmd)} failed (exit {proc.returncode}): "
                            f"{(proc.stderr or proc.stdout).strip()}")
    return proc


def _start(rec: dict[str, Any], name: str, cmd: list[str], logs: Path,
           env: dict[str, str] | None = None) -> None:
    from .cluster import _CHILDREN, _proc_stat

    log_path = logs / f"{name}.log"
    with open(log_path, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=node_dir(),
                                env=env or dict(os.environ), start_new_session=True)
    _CHILDREN[proc.pid] = proc
    st = _proc_stat(proc.pid)
    rec.setdefault("procs", {})[name] = {"pid": proc.pid, "start": st[1] if st else None,
                                         "log": str(log_path)}


def _wait(rec: dict[str, Any], what: str, component: str, check: Any, timeout: float) -> None:
    from .cluster import _alive, _tail

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        for name, p in rec.get("procs", {}).items():
            if not _alive(p["pid"], p.get("start")):
                raise RealNodeError(f"{name} exited while waiting for {what}; last lines of "
                                    f"{p['log']}:\n{_tail(Path(p['log']))}")
        try:
            if check():
                return
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            log = rec.get("procs", {}).get(component, {}).get("log", "")
            raise RealNodeError(f"timed out after {timeout:.0f}s waiting for {what}"
                                f"{f' ({last})' if last else ''}; last lines of {log}:\n"
                                f"{_tail(Path(log)) if log else ''}")
        time.sleep(0.2)


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


# --------------------------------------------------------------------------- preflight


def preflight(bin_dir: Path) -> None:
    """Raise RealNodeError naming what this machine lacks for a real node."""
    if os.geteuid() != 0:
        raise RealNodeError("needs root (containerd, runc and the kubelet's mounts and cgroups)")
    if not (bin_dir / "kubelet").is_file():
        raise RealNodeError(f"no kubelet in {bin_dir} (scripts/build-k8s-binaries builds it)")
    missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if not shutil.which(tool)})
    if missing:
        raise RealNodeError(f"missing Debian packages: {' '.join(missing)} "
                            "(scripts/test installs them)")
    if not _cni_bin_dir():
        raise RealNodeError("no CNI loopback plugin (install containernetworking-plugins)")
    images.find_busybox()
    if not Path("/sys/fs/cgroup/memory").is_dir():
        raise RealNodeError("no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory "
                            "(this harness drives the kubelet with cgroup v1 and cgroupfs)")


def _cni_bin_dir() -> str | None:
    return next((d for d in CNI_BIN_DIRS if Path(d, "loopback").is_file()), None)


# --------------------------------------------------------------------------- mounts, cgroups


def _mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` in this mount namespace, deepest last."""
    prefix = str(root)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return points


def _unmount_all(root: Path) -> None:
    for _ in range(3):
        points = _mounts_under(root)
        if not points:
            return
        for point in reversed(points):
            if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True)
    left = _mounts_under(root)
    if left:
        raise RealNodeError(f"could not unmount: {', '.join(left)}")


def _instance() -> tuple[str, str]:
    """(cgroup root name, DNS server address) of this cluster's real node: derived from the
    state dir, so that two clusters on one machine never touch each other's."""
    import hashlib

    from .cluster import state_dir

    key = hashlib.sha256(str(state_dir()).encode()).digest()
    return f"{CGROUP_PREFIX}-{key.hex()[:8]}", f"127.53.{key[0]}.{key[1] or 1}"


def _cgroup_dirs(name: str, *, unified: bool = True) -> list[Path]:
    """``/sys/fs/cgroup/<hierarchy>/<name>`` for every cgroup hierarchy (with ``unified``,
    also the cgroup v2 one of a hybrid setup, where runc makes its own)."""
    base = Path("/sys/fs/cgroup")
    return [d / name for d in sorted(base.iterdir())
            if d.is_dir() and not d.is_symlink() and (unified or d.name != "unified")
            and (d / "cgroup.procs").exists()]


def _make_cgroups(name: str) -> None:
    for d in _cgroup_dirs(name, unified=False):
        d.mkdir(exist_ok=True)
        if d.parent.name == "cpuset":  # an empty cpuset admits no process
            for f in ("cpuset.cpus", "cpuset.mems"):
                (d / f).write_text((d.parent / f).read_text())
        if d.parent.name == "memory":
            (d / "memory.limit_in_bytes").write_text(str(CGROUP_MEMORY_LIMIT))


def _cgroup_pids(name: str) -> set[int]:
    pids: set[int] = set()
    for d in _cgroup_dirs(name):
        if d.is_dir():
            for procs in d.rglob("cgroup.procs"):
                with contextlib.suppress(OSError, ValueError):
                    pids.update(int(p) for p in procs.read_text().split())
    return pids


def _kill_cgroup_processes(name: str) -> None:
    """SIGKILL every process in the node's cgroups (the containers and their sandboxes)."""
    for _ in range(50):
        pids = _cgroup_pids(name)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _remove_cgroups(name: str) -> None:
    for d in _cgroup_dirs(name):
        if not d.is_dir():
            continue
        for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                sub.rmdir()
        with contextlib.suppress(OSError):
            d.rmdir()


def _shim_pids(address: str) -> list[int]:
    """containerd shims serving the containerd at ``address`` (never anyone else's)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (argv and argv[0].endswith(b"containerd-shim-runc-v2")
                and address.encode() in argv):
            found.append(int(proc.name))
    return found


def _other_real_nodes(cgroup_root: str | None) -> list[str]:
    """The cgroup roots of other clusters' real nodes running on this machine."""
    return [p.name for p in Path("/sys/fs/cgroup/memory").glob(f"{CGROUP_PREFIX}*")
            if p.name != cgroup_root]


def _has_address(ip: str) -> bool:
    out = _run("ip", "-o", "-4", "addr", "show", "dev", "lo", check=False).stdout
    return f" {ip}/" in out


# --------------------------------------------------------------------------- configuration


def _containerd_config(d: Path, sock: str, cni_bin: str) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{d}/containerd/root"
state = "{d}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{sock}"
[ttrpc]
  address = ""
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/containerd/opt"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = true
  max_container_log_line_size = 16384
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{d}/containerd/runc"
[{cri}.cni]
  bin_dir = "{cni_bin}"
  conf_dir = "{d}/cni"
  max_conf_num = 1
[{cri}.registry]
  config_path = "{d}/containerd/certs.d"
"""


def write_registry_hosts(certs_d: Path, registries: dict[str, str]) -> None:
    """containerd's registry hosts (read at every pull): plain HTTP to the local registries
    (open, auth, and the closed port), ``registry.invalid`` left to the resolver (which
    resolves nothing), and every other host, names and IP addresses alike, sent to the
    closed local port: no pull can ever leave the machine."""
    def hosts(directory: str, server: str) -> None:
        (certs_d / directory).mkdir(parents=True, exist_ok=True)
        (certs_d / directory / "hosts.toml").write_text(
            f'server = "{server}"\n\n[host."{server}"]\n  capabilities = ["pull", "resolve"]\n')

    for host in registries.values():
        hosts(host, f"http://{host}")
    hosts(UNRESOLVABLE_REGISTRY, f"https://{UNRESOLVABLE_REGISTRY}")
    hosts("_default", f"http://{registries['closed']}")


def _registry_config(root: Path, port: int, htpasswd: Path | None) -> str:
    cfg: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True},
                    "maintenance": {"uploadpurging": {"enabled": False}}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    if htpasswd:
        cfg["auth"] = {"htpasswd": {"realm": "logos-test-registry", "path": str(htpasswd)}}
    return yaml.safe_dump(cfg, sort_keys=False)


def _htpasswd_line(user: str, password: str) -> str:
    try:
        import bcrypt  # type: ignore[import-not-found]

        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=8)).decode()
        return f"{user}:{hashed}\n"
    except ImportError:
        return _run("htpasswd", "-nbB", "-C", "8", user, password).stdout.strip() + "\n"


def _kubelet_config(d: Path, sock: str, ca: Path, port: int, healthz: int,
                    cgroup_root: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz,
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False},
                           "x509": {"clientCAFile": str(ca)}},
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{sock}",
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{cgroup_root}",
        "cgroupsPerQOS": True,
        "enforceNodeAllocatable": ["pods"],
        "failCgroupV1": False,
        "failSwapOn": False,
        "makeIPTablesUtilChains": False,
        "protectKernelDefaults": False,
        "registerNode": True,
        "registerWithTaints": [dict(TAINT)],
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "resolvConf": str(d / "resolv.conf"),
        "clusterDomain": "cluster.local",
        "podLogsDir": str(d / "pod-logs"),
        "volumePluginDir": str(d / "volume-plugins"),
        "maxPods": 32,
        "serializeImagePulls": False,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
        "syncFrequency": "10s",
        "fileCheckFrequency": "20s",
        "nodeStatusUpdateFrequency": "5s",
        "nodeStatusReportFrequency": "1m",
        "nodeLeaseDurationSeconds": 20,
        "runtimeRequestTimeout": "2m",
        "containerLogMaxSize": "1Mi",
        "containerLogMaxFiles": 2,
        "shutdownGracePeriod": "0s",
        "hairpinMode": "none",
    }


# --------------------------------------------------------------------------- up / down


def up(state: Any, bin_dir: Path, *, quiet: bool = False) -> dict[str, Any]:
    """Start the real node for the cluster in ``state``; never raises: on failure, stops what
    it started and records the reason.  Returns the record (also saved in the state)."""
    from .cluster import state_dir

    t0 = time.monotonic()
    rec: dict[str, Any] = {"node": NODE_NAME, "ready": False, "procs": {}}
    state.data["realnode"] = rec
    state.save()
    try:
        _up(state, rec, bin_dir)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, (RealNodeError, images.ImageError)) else (
            f"{type(exc).__name__}: {exc}")
        detail = traceback.format_exc()
        _log(f"could not start; the rest of the cluster runs without it: {reason}")
        with contextlib.suppress(Exception):
            _stop(rec)
        rec.clear()
        rec.update({"node": NODE_NAME, "ready": False, "reason": reason.splitlines()[0]})
        (state_dir() / "logs").mkdir(parents=True, exist_ok=True)
        (state_dir() / "logs" / "realnode.txt").write_text(f"{reason}\n\n{detail}")
        state.save()
        return rec
    rec["ready"] = True
    rec["up_seconds"] = round(time.monotonic() - t0, 1)
    state.save()
    if not quiet:
        _log(f"{NODE_NAME} Ready in {rec['up_seconds']}s (registries "
             f"{rec['registries']['open']} open, {rec['registries']['auth']} with auth)")
    return rec


def _up(state: Any, rec: dict[str, Any], bin_dir: Path) -> None:
    from .cluster import _free_port, kubeconfig_path, state_dir, write_kubeconfig
    from .kube import api_client

    preflight(bin_dir)
    d = node_dir()
    logs = state_dir() / "logs"
    if d.exists():
        _unmount_all(d)
        shutil.rmtree(d)
    for sub in ("containerd/certs.d", "cni", "pod-logs", "volume-plugins", "kubelet", "pki",
                "registry-open", "registry-auth", "sysctl", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    logs.mkdir(exist_ok=True)

    # The node directory becomes a shared mount: the kubelet's volume mounts below it then
    # reach containerd's (slave) mount namespace.
    _run("mount", "--bind", str(d), str(d))
    rec["mounted"] = str(d)
    state.save()
    _run("mount", "--make-rshared", str(d))
    cgroup_root, dns_ip = _instance()
    if not _has_address(NODE_IP):
        _run("ip", "addr", "add", f"{NODE_IP}/32", "dev", "lo")
        rec["added_address"] = NODE_IP
    elif not _other_real_nodes(cgroup_root):  # left by a real node that was not stopped
        rec["added_address"] = NODE_IP
    rec["cgroup_root"], rec["dns_ip"] = cgroup_root, dns_ip
    state.save()
    _make_cgroups(cgroup_root)

    # DNS that resolves nothing, for containerd (and the pods' resolv.conf).
    _start(rec, "nxdomain", [sys.executable, "-m", "k8scluster.nxdomain", dns_ip, "53"], logs,
           env=_py_env())
    (d / "resolv.conf").write_text(f"nameserver {dns_ip}\noptions timeout:1 attempts:1\n")

    # Registries.
    password = secrets.token_urlsafe(18)
    htpasswd = d / "registry-auth" / "htpasswd"
    htpasswd.write_text(_htpasswd_line(REGISTRY_USER, password))
    ports = {"open": _free_port(), "auth": _free_port(), "closed": _free_port()}
    for kind in ("open", "auth"):
        cfg = d / f"registry-{kind}" / "config.yml"
        cfg.write_text(_registry_config(d / f"registry-{kind}" / "data", ports[kind],
                                        htpasswd if kind == "auth" else None))
        _start(rec, f"registry-{kind}", ["docker-registry", "serve", str(cfg)], logs)
    rec["registries"] = {k: f"127.0.0.1:{p}" for k, p in ports.items()}
    rec["user"], rec["password"] = REGISTRY_USER, password
    state.save()
    for kind in ("open", "auth"):
        _wait(rec, f"registry-{kind} on port {ports[kind]}", f"registry-{kind}",
              lambda p=ports[kind]: _port_open(p), 30)

    write_registry_hosts(d / "containerd" / "certs.d", rec["registries"])
    (d / "cni" / "10-loopback.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "logos-test-loopback",
        "plugins": [{"type": "loopback"}]}))
    sock = str(d / "containerd" / "containerd.sock")
    rec["containerd_socket"] = sock
    cd_cfg = d / "containerd" / "config.toml"
    cd_cfg.write_text(_containerd_config(d, sock, _cni_bin_dir() or CNI_BIN_DIRS[0]))
    _start(rec, "containerd", [
        "unshare", "--mount", "--propagation", "slave", "--",
        "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', str(d / "resolv.conf"),
        "containerd", "--config", str(cd_cfg)], logs)
    state.save()
    _wait(rec, "the containerd socket", "containerd",
          lambda: _run("ctr", "--address", sock, "version", check=False).returncode == 0, 30)

    # Images: the sandbox image straight into containerd, the toolbox into both registries.
    built = images.build(bin_dir.parent / "realnode-images")
    images.import_into_containerd(built["pause"], PAUSE_IMAGE, sock, d / "tmp")
    images.push(built["toolbox"], rec["registries"]["open"], TOOLBOX_REPO, TOOLBOX_TAG)
    images.push(built["toolbox"], rec["registries"]["auth"], PRIVATE_REPO, PRIVATE_TAG,
                (REGISTRY_USER, password))
    rec["image_digests"] = {k: v.manifest.digest for k, v in built.items()}

    # The kubelet: its client certificate from the cluster CA, its config, its namespace.
    pki_dir = state_dir() / "pki"
    ca = pki.CertPair(pki_dir / "ca.crt", pki_dir / "ca.key")
    cert = pki.make_cert(ca, d / "pki", "kubelet", f"system:node:{NODE_NAME}",
                         ("system:nodes",))
    kubeconfig = d / "kubelet.kubeconfig"
    write_kubeconfig(kubeconfig, state.data["server"], ca.cert, cert.cert, cert.key,
                     f"system:node:{NODE_NAME}")
    kport, hport = _free_port(), _free_port()
    kcfg = d / "kubelet-config.yaml"
    kcfg.write_text(yaml.safe_dump(_kubelet_config(d, sock, ca.cert, kport, hport,
                                                   cgroup_root)))
    binds = []
    for key, want in KUBELET_SYSCTLS.items():
        current = Path("/proc/sys", key).read_text().strip()
        if current != want:
            fake = d / "sysctl" / key.replace("/", ".")
            fake.write_text(want + "\n")
            binds.append(f'mount --bind {fake} /proc/sys/{key}')
    script = " && ".join([*binds, 'exec "$@"'])
    _start(rec, "kubelet", [
        "unshare", "--mount", "--propagation", "unchanged", "--",
        "sh", "-c", script, "kubelet",
        str(bin_dir / "kubelet"), f"--config={kcfg}", f"--kubeconfig={kubeconfig}",
        f"--hostname-override={NODE_NAME}", f"--node-ip={NODE_IP}",
        f"--node-labels={LABEL[0]}={LABEL[1]}", f"--root-dir={d / 'kubelet'}",
        f"--cert-dir={d / 'pki'}", "--v=2"], logs)
    rec["kubelet_port"] = kport
    state.save()

    from kubernetes import client

    api = api_client(kubeconfig_path())
    try:
        core = client.CoreV1Api(api)

        def ready() -> bool:
            node = core.read_node(NODE_NAME)
            conds = {c.type: c.status for c in node.status.conditions or []}
            taints = {t.key for t in node.spec.taints or []}
            return conds.get("Ready") == "True" and "node.kubernetes.io/not-ready" not in taints

        _wait(rec, f"node {NODE_NAME} to be Ready", "kubelet", ready, 120)
        rec["kubelet_version"] = core.read_node(NODE_NAME).status.node_info.kubelet_version
    finally:
        api.close()


def _py_env() -> dict[str, str]:
    env = dict(os.environ)
    tests = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([tests, *([env["PYTHONPATH"]] if env.get(
        "PYTHONPATH") else [])])
    return env


def _stop(rec: dict[str, Any]) -> None:
    """Stop everything in ``rec`` and undo the mounts, cgroups and address it made."""
    from .cluster import _stop_pid

    procs = rec.get("procs", {})
    if "kubelet" in procs:
        _stop_pid(procs["kubelet"]["pid"], procs["kubelet"].get("start"), "kubelet")
    cgroup_root = rec.get("cgroup_root") or (CGROUP_PREFIX if rec.get("cgroups") else None)
    if cgroup_root:
        _kill_cgroup_processes(cgroup_root)
    if "containerd" in procs:
        _stop_pid(procs["containerd"]["pid"], procs["containerd"].get("start"), "containerd")
    sock = rec.get("containerd_socket")
    if sock:
        for pid in _shim_pids(sock):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for name in ("registry-auth", "registry-open", "nxdomain"):
        if name in procs:
            _stop_pid(procs[name]["pid"], procs[name].get("start"), name)
    if cgroup_root:
        _kill_cgroup_processes(cgroup_root)
        _remove_cgroups(cgroup_root)
    d = node_dir()
    if d.exists():
        _unmount_all(d)
    if rec.get("added_address") and not _other_real_nodes(cgroup_root):  # else still used
        _run("ip", "addr", "del", f"{rec['added_address']}/32", "dev", "lo", check=False)


def down(state: Any, *, delete_node: bool = False, quiet: bool = False) -> bool:
    """Stop the real node of the cluster in ``state`` and remove its files (the logs stay).
    With ``delete_node`` (the cluster keeps running), also delete its Node object."""
    rec = state.data.get("realnode")
    if rec is None:
        return False
    _stop(rec)
    if delete_node:
        from kubernetes import client

        from .cluster import kubeconfig_path
        from .kube import api_client

        api = api_client(kubeconfig_path())
        try:
            with contextlib.suppress(client.exceptions.ApiException):
                client.CoreV1Api(api).delete_node(NODE_NAME)
        finally:
            api.close()
    shutil.rmtree(node_dir(), ignore_errors=True)
    state.data.pop("realnode", None)
    state.save()
    if not quiet:
        _log("stopped")
    return True


def status(state: Any) -> dict[str, Any]:
    """The real node's part of ``scripts/testcluster status``."""
    from .cluster import _alive

    rec = state.data.get("realnode")
    if rec is None:
        return {"ready": False, "reason": unavailable_reason()}
    out = {k: v for k, v in rec.items() if k not in ("procs", "password")}
    out["procs"] = {n: {"pid": p["pid"], "alive": _alive(p["pid"], p.get("start")),
                        "log": p.get("log")} for n, p in rec.get("procs", {}).items()}
    return out
