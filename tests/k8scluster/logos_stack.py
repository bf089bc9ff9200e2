"""The Logos stack of the production guide, as test fixtures, plus fault injectors.

`deploy(api, ns)` creates in namespace `ns` what `helm upgrade --install logos` would:

* Deployments `logos-web` (3, HPA 3-20 on cpu 70%), `logos-chat` (3), `logos-completion`
  (4, each `nvidia.com/gpu: 1`, node selector `nvidia.com/gpu: "true"`), all with
  `imagePullSecrets: [regcred]`, cpu/memory requests and a container port named `http`;
* StatefulSets `logos-postgresql` (claim template `data`, 200Gi -> PVC
  `data-logos-postgresql-0`) and `logos-redis-master` (claim template `redis-data`, 50Gi ->
  `redis-data-logos-redis-master-0`), both on StorageClass `ssd-premium`;
* Services for each (`logos-web`, `logos-chat`, `logos-completion` port 80 -> `http`;
  `logos-postgresql` 5432, `logos-redis-master` 6379, plus the headless governing services
  `logos-postgresql-hl` and `logos-redis-headless`);
* Secrets `logos-db-credentials` (password, postgres-password), `logos-redis-credentials`
  (redis-password), `regcred` (dockerconfigjson), `logos-tls` (self-signed, standing in for
  cert-manager's), all with obviously fake values;
* Ingress `logos` (class nginx, TLS secret logos-tls, cert-manager cluster-issuer
  letsencrypt-prod) routing to logos-web and logos-chat.

Cluster-scoped objects are created only if absent: StorageClass `ssd-premium` (provisioner
ebs.csi.aws.com, gp3, iops 3000, throughput 125, encrypted, Delete, WaitForFirstConsumer,
expansion allowed) and IngressClass `nginx`. Everything else is namespaced, so tests can
deploy side by side in their own namespaces. The node pools come from `nodes.ensure_nodes`.

Fault injectors do what an operator (or a bad release) would do; they take the ApiClient
first. For parallel safety prefer a per-test StorageClass name and per-test GPU nodes
(`nodes.create_gpu_nodes`) over mutating the shared ones.
"""

from __future__ import annotations

import base64
import copy
import json
import tempfile
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from . import pki
from .kube import wait_for
from .nodes import (  # noqa: F401 - re-exported for tests
    GPU_LABEL,
    create_gpu_nodes,
    delete_nodes,
    ensure_nodes,
    remove_gpu_label,
)

NAMESPACE = "logos"
STORAGE_CLASS = "ssd-premium"
PROVISIONER = "ebs.csi.aws.com"
HOST = "logos.example.com"
DEPLOYMENTS = {"logos-web": 3, "logos-chat": 3, "logos-completion": 4}
STATEFULSETS = {"logos-postgresql": ("data", "200Gi"), "logos-redis-master": ("redis-data", "50Gi")}
PVCS = ("data-logos-postgresql-0", "redis-data-logos-redis-master-0")
SERVICES = ("logos-web", "logos-chat", "logos-completion", "logos-postgresql",
            "logos-postgresql-hl", "logos-redis-master", "logos-redis-headless")
SECRETS = ("logos-db-credentials", "logos-redis-credentials", "regcred", "logos-tls")
IMAGES = {
    "web": "logos/web:1.0",
    "chat": "logos/chat:1.0",
    "completion": "logos/completion:1.0",
    "postgresql": "bitnami/postgresql:16.4.0",
    "redis": "bitnami/redis:7.4.1",
}

# Reserved image names understood by the cluster's kwok stages (see k8scluster/__init__.py).
TEST_REGISTRY = "registry.logos-test.invalid"
UNREACHABLE_REGISTRY = "unreachable.logos-test.invalid"
FAULT_KINDS = ("notfound", "unauthorized", "denied", "unreachable", "crashloop", "oomkilled")


# =========================================================================== manifests


def _labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "logos",
        "app.kubernetes.io/instance": "logos",
        "app.kubernetes.io/component": component,
    }


def _meta(name: str, namespace: str, component: str, **extra) -> dict:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {**_labels(component), "app.kubernetes.io/part-of": "logos",
                   "app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "logos-1.0.0"},
        **extra,
    }


def _secret_env(name: str, secret: str, key: str) -> dict:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def storage_class_manifest(name: str = STORAGE_CLASS, provisioner: str = PROVISIONER,
                           binding_mode: str = "WaitForFirstConsumer") -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": provisioner,
        "parameters": {"type": "gp3", "iops": "3000", "throughput": "125", "encrypted": "true"},
        "reclaimPolicy": "Delete",
        "volumeBindingMode": binding_mode,
        "allowVolumeExpansion": True,
    }


def ingress_class_manifest(name: str = "nginx") -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "ingress-nginx"}},
        "spec": {"controller": "k8s.io/ingress-nginx"},
    }


_TLS_CACHE: dict[str, tuple[str, str]] = {}


def _tls_pair(host: str) -> tuple[str, str]:
    if host not in _TLS_CACHE:
        with tempfile.TemporaryDirectory() as d:
            pair = pki.self_signed_tls(Path(d), "logos-tls", (host,))
            _TLS_CACHE[host] = (pair.cert.read_text(), pair.key.read_text())
    return _TLS_CACHE[host]


def secrets(namespace: str, host: str = HOST) -> list[dict]:
    auth = base64.b64encode(b"logos-ci:not-a-real-password").decode()
    dockercfg = {"auths": {"registry.logos.example": {
        "username": "logos-ci", "password": "not-a-real-password", "auth": auth}}}
    crt, key = _tls_pair(host)
    return [
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": _meta("logos-db-credentials", namespace, "postgresql"),
         "stringData": {"password": "fake-db-password-for-tests",
                        "postgres-password": "fake-postgres-password-for-tests"}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": _meta("logos-redis-credentials", namespace, "redis"),
         "stringData": {"redis-password": "fake-redis-password-for-tests"}},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
         "metadata": _meta("regcred", namespace, "registry"),
         "stringData": {".dockerconfigjson": json.dumps(dockercfg)}},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
         "metadata": _meta("logos-tls", namespace, "ingress", annotations={
             "cert-manager.io/issuer-name": "letsencrypt-prod",
             "cert-manager.io/issuer-kind": "ClusterIssuer",
             "cert-manager.io/certificate-name": "logos-tls",
             "cert-manager.io/common-name": host}),
         "stringData": {"tls.crt": crt, "tls.key": key}},
    ]


def _deployment(namespace: str, name: str, component: str, replicas: int, image: str,
                resources: dict, env: list[dict] | None = None,
                pod_extra: dict | None = None) -> dict:
    container = {
        "name": component,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
        "env": env or [],
        "resources": resources,
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                           "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                          "initialDelaySeconds": 15, "periodSeconds": 20},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, namespace, component),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": _labels(component)},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": _labels(component),
                             "annotations": {"prometheus.io/scrape": "true",
                                             "prometheus.io/port": "9090"}},
                "spec": {
                    "imagePullSecrets": [{"name": "regcred"}],
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    **(pod_extra or {}),
                },
            },
        },
    }


def _statefulset(namespace: str, name: str, component: str, service: str, image: str,
                 port: tuple[str, int], claim: tuple[str, str], storage_class: str,
                 mount_path: str, env: list[dict], resources: dict) -> dict:
    claim_name, size = claim
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(name, namespace, component),
        "spec": {
            "replicas": 1,
            "serviceName": service,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": _labels(component)},
            "template": {
                "metadata": {"labels": _labels(component)},
                "spec": {
                    "securityContext": {"fsGroup": 1001},
                    "containers": [{
                        "name": component,
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [{"name": port[0], "containerPort": port[1], "protocol": "TCP"}],
                        "env": env,
                        "resources": resources,
                        "volumeMounts": [{"name": claim_name, "mountPath": mount_path}],
                        "readinessProbe": {"tcpSocket": {"port": port[0]}, "periodSeconds": 10},
                    }],
                },
            },
            "volumeClaimTemplates": [{
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_name, "labels": _labels(component)},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "storageClassName": storage_class,
                         "resources": {"requests": {"storage": size}}},
            }],
        },
    }


def _service(namespace: str, name: str, component: str, port: int, target: str | int,
             port_name: str = "http", headless: bool = False) -> dict:
    spec: dict = {
        "type": "ClusterIP",
        "selector": _labels(component),
        "ports": [{"name": port_name, "port": port, "targetPort": target, "protocol": "TCP"}],
    }
    if headless:
        spec["clusterIP"] = "None"
        spec["publishNotReadyAddresses"] = True
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, namespace, component),
            "spec": spec}


def manifests(
    namespace: str = NAMESPACE,
    *,
    storage_class: str = STORAGE_CLASS,
    claim_storage_class: str | None = None,
    gpu_label: tuple[str, str] = GPU_LABEL,
    images: dict[str, str] | None = None,
    replicas: dict[str, int] | None = None,
    host: str = HOST,
) -> list[dict]:
    """The namespaced objects of the stack, in creation order (no Namespace, no classes)."""
    img = {**IMAGES, **(images or {})}
    reps = {**DEPLOYMENTS, **(replicas or {})}
    claim_class = claim_storage_class or storage_class
    gpu_key, gpu_value = gpu_label
    objs: list[dict] = list(secrets(namespace, host))
    objs += [
        _service(namespace, "logos-web", "web", 80, "http"),
        _service(namespace, "logos-chat", "chat", 80, "http"),
        _service(namespace, "logos-completion", "completion", 80, "http"),
        _service(namespace, "logos-postgresql", "postgresql", 5432, "tcp-postgresql",
                 "tcp-postgresql"),
        _service(namespace, "logos-postgresql-hl", "postgresql", 5432, "tcp-postgresql",
                 "tcp-postgresql", headless=True),
        _service(namespace, "logos-redis-master", "redis", 6379, "tcp-redis", "tcp-redis"),
        _service(namespace, "logos-redis-headless", "redis", 6379, "tcp-redis", "tcp-redis",
                 headless=True),
    ]
    objs += [
        _statefulset(namespace, "logos-postgresql", "postgresql", "logos-postgresql-hl",
                     img["postgresql"], ("tcp-postgresql", 5432),
                     STATEFULSETS["logos-postgresql"], claim_class, "/bitnami/postgresql",
                     [{"name": "POSTGRES_USER", "value": "logos"},
                      {"name": "POSTGRES_DATABASE", "value": "logos"},
                      _secret_env("POSTGRES_PASSWORD", "logos-db-credentials", "password"),
                      _secret_env("POSTGRES_POSTGRES_PASSWORD", "logos-db-credentials",
                                  "postgres-password")],
                     {"requests": {"cpu": "500m", "memory": "1Gi"},
                      "limits": {"memory": "2Gi"}}),
        _statefulset(namespace, "logos-redis-master", "redis", "logos-redis-headless",
                     img["redis"], ("tcp-redis", 6379), STATEFULSETS["logos-redis-master"],
                     claim_class, "/data",
                     [_secret_env("REDIS_PASSWORD", "logos-redis-credentials", "redis-password")],
                     {"requests": {"cpu": "100m", "memory": "256Mi"},
                      "limits": {"memory": "512Mi"}}),
    ]
    d3n = {"name": "D3N_API_ENDPOINT", "value": "https://d3n.bravozero.ai"}
    objs += [
        _deployment(namespace, "logos-web", "web", reps["logos-web"], img["web"],
                    {"requests": {"cpu": "250m", "memory": "512Mi"},
                     "limits": {"cpu": "1", "memory": "1Gi"}},
                    [{"name": "LOGOS_CHAT_URL", "value": "http://logos-chat"}, d3n]),
        _deployment(namespace, "logos-chat", "chat", reps["logos-chat"], img["chat"],
                    {"requests": {"cpu": "250m", "memory": "512Mi"},
                     "limits": {"memory": "1Gi"}},
                    [{"name": "REDIS_HOST", "value": "logos-redis-master"},
                     _secret_env("REDIS_PASSWORD", "logos-redis-credentials", "redis-password"),
                     {"name": "DATABASE_HOST", "value": "logos-postgresql"},
                     _secret_env("DATABASE_PASSWORD", "logos-db-credentials", "password"),
                     {"name": "ARIA_CONDUCTOR_ENDPOINT", "value": "https://aria.bravozero.ai"},
                     {"name": "ARIA_AGENT_TIMEOUT_MS", "value": "45000"}]),
        _deployment(namespace, "logos-completion", "completion", reps["logos-completion"],
                    img["completion"],
                    {"requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"},
                     "limits": {"memory": "16Gi", "nvidia.com/gpu": "1"}},
                    [d3n, {"name": "D3N_DEFAULT_TIER", "value": "2"}],
                    {"nodeSelector": {gpu_key: gpu_value},
                     "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                                      "effect": "NoSchedule"}]}),
    ]
    objs.append({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta("logos-web", namespace, "web"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "logos-web"},
            "minReplicas": 3,
            "maxReplicas": 20,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
        },
    })
    objs.append({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta("logos", namespace, "ingress", annotations={
            "cert-manager.io/cluster-issuer": "letsencrypt-prod",
            "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
            "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
        }),
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [host], "secretName": "logos-tls"}],
            "rules": [{"host": host, "http": {"paths": [
                {"path": "/api/chat", "pathType": "Prefix", "backend": {
                    "service": {"name": "logos-chat", "port": {"name": "http"}}}},
                {"path": "/", "pathType": "Prefix", "backend": {
                    "service": {"name": "logos-web", "port": {"name": "http"}}}},
            ]}}],
        },
    })
    return objs


# =========================================================================== apply


def _create(api_client: client.ApiClient, obj: dict, *, exist_ok: bool = False) -> None:
    kind = obj["kind"]
    ns = obj["metadata"].get("namespace")
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    creators = {
        "Namespace": lambda: core.create_namespace(obj),
        "Secret": lambda: core.create_namespaced_secret(ns, obj),
        "Service": lambda: core.create_namespaced_service(ns, obj),
        "ConfigMap": lambda: core.create_namespaced_config_map(ns, obj),
        "Deployment": lambda: apps.create_namespaced_deployment(ns, obj),
        "StatefulSet": lambda: apps.create_namespaced_stateful_set(ns, obj),
        "HorizontalPodAutoscaler": lambda: client.AutoscalingV2Api(api_client)
        .create_namespaced_horizontal_pod_autoscaler(ns, obj),
        "Ingress": lambda: client.NetworkingV1Api(api_client).create_namespaced_ingress(ns, obj),
        "IngressClass": lambda: client.NetworkingV1Api(api_client).create_ingress_class(obj),
        "StorageClass": lambda: client.StorageV1Api(api_client).create_storage_class(obj),
    }
    try:
        creators[kind]()
    except ApiException as e:
        if not (exist_ok and e.status == 409):
            raise


def ensure_storage_class(api_client: client.ApiClient, name: str = STORAGE_CLASS,
                         provisioner: str = PROVISIONER,
                         binding_mode: str = "WaitForFirstConsumer") -> None:
    """Create the StorageClass if absent (an existing one is left as it is)."""
    _create(api_client, storage_class_manifest(name, provisioner, binding_mode), exist_ok=True)


def deploy(
    api_client: client.ApiClient,
    namespace: str = NAMESPACE,
    *,
    storage_class: str = STORAGE_CLASS,
    create_storage_class: bool = True,
    claim_storage_class: str | None = None,
    gpu_label: tuple[str, str] = GPU_LABEL,
    images: dict[str, str] | None = None,
    replicas: dict[str, int] | None = None,
    create_namespace: bool = True,
    create_ingress_class: bool = True,
    host: str = HOST,
) -> list[dict]:
    """Create the Logos stack in `namespace`; returns the namespaced manifests created.

    storage_class: the class the claim templates use and (if create_storage_class and absent)
    the one created. claim_storage_class: give the claim templates another class than the
    one created (a typo scenario). gpu_label: (key, value) of logos-completion's node
    selector. images / replicas: overrides by component ("web", "chat", "completion",
    "postgresql", "redis") / by Deployment name.
    """
    if create_storage_class:
        ensure_storage_class(api_client, storage_class)
    if create_ingress_class:
        _create(api_client, ingress_class_manifest(), exist_ok=True)
    if create_namespace:
        _create(api_client, {"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": namespace}}, exist_ok=True)
    objs = manifests(namespace, storage_class=storage_class,
                     claim_storage_class=claim_storage_class, gpu_label=gpu_label,
                     images=images, replicas=replicas, host=host)
    for obj in objs:
        _create(api_client, obj)
    return objs


# =========================================================================== health


def _pod_ready(pod) -> bool:
    conds = {c.type: c.status for c in (pod.status.conditions or [])}
    return pod.status.phase == "Running" and conds.get("Ready") == "True"


def health(api_client: client.ApiClient, namespace: str) -> list[str]:
    """What is not healthy in the namespace's Logos stack (empty list when all is well)."""
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    disc = client.DiscoveryV1Api(api_client)
    problems: list[str] = []
    deps = {d.metadata.name: d for d in apps.list_namespaced_deployment(namespace).items}
    for name in DEPLOYMENTS:
        d = deps.get(name)
        if d is None:
            problems.append(f"deployment {name} missing")
            continue
        want = d.spec.replicas
        st = d.status
        if (st.ready_replicas or 0) != want or (st.updated_replicas or 0) != want \
                or (st.observed_generation or 0) < d.metadata.generation:
            problems.append(f"deployment {name}: {st.ready_replicas or 0}/{want} ready, "
                            f"{st.updated_replicas or 0} updated")
    stss = {s.metadata.name: s for s in apps.list_namespaced_stateful_set(namespace).items}
    for name in STATEFULSETS:
        s = stss.get(name)
        if s is None:
            problems.append(f"statefulset {name} missing")
        elif (s.status.ready_replicas or 0) != s.spec.replicas:
            problems.append(f"statefulset {name}: {s.status.ready_replicas or 0}/"
                            f"{s.spec.replicas} ready")
    pvcs = {p.metadata.name: p
            for p in core.list_namespaced_persistent_volume_claim(namespace).items}
    for name in PVCS:
        p = pvcs.get(name)
        if p is None or p.status.phase != "Bound":
            problems.append(f"pvc {name}: {p.status.phase if p else 'missing'}")
    unready = [p for p in core.list_namespaced_pod(namespace).items
               if p.metadata.deletion_timestamp is None and not _pod_ready(p)]
    last_event: dict[str, str] = {}
    if unready or any(p.status.phase != "Bound" for p in pvcs.values()):
        evs = sorted(core.list_namespaced_event(namespace).items,
                     key=lambda e: str(e.last_timestamp or e.event_time or ""))
        for e in evs:
            last_event[e.involved_object.name] = f"{e.reason}: {e.message}"
    for name in PVCS:
        if name in last_event and (name not in pvcs or pvcs[name].status.phase != "Bound"):
            problems.append(f"  last event of pvc {name}: {last_event[name]}")
    for pod in unready:
        where = f" on {pod.spec.node_name}" if pod.spec.node_name else ""
        problems.append(f"pod {pod.metadata.name}: {pod.status.phase}{where}, not ready"
                        + (f" (last event {last_event[pod.metadata.name]})"
                           if pod.metadata.name in last_event else ""))
    slices = disc.list_namespaced_endpoint_slice(namespace).items
    for svc in SERVICES:
        ready = [e for s in slices
                 if (s.metadata.labels or {}).get("kubernetes.io/service-name") == svc
                 for e in (s.endpoints or []) if e.conditions and e.conditions.ready]
        if not ready:
            problems.append(f"service {svc}: no ready endpoints")
    return problems


def wait_healthy(api_client: client.ApiClient, namespace: str, timeout: float = 90) -> None:
    """Wait until every workload is ready, every pod Running and Ready, both PVCs Bound and
    every Service has ready endpoints; TimeoutError lists what is still wrong."""
    last: list[list[str]] = [[]]

    def check() -> bool:
        last[0] = health(api_client, namespace)
        return not last[0]

    wait_for(check, timeout, f"the Logos stack in {namespace} to be healthy",
             interval=0.5, describe=lambda: "\n".join(last[0]))


# =========================================================================== faults


# For the image-pull faults, a path segment after the reserved prefix whose words belong to
# another cause (a certificate exporter that is refused, a "forbidden" API that does not
# exist, a mirror called 429 that denies or cannot be reached): a checker that classified on
# names instead of the runtime's error would get every one of them wrong.
MISLEADING = {
    "notfound": "forbidden-api",
    "unauthorized": "x509-certificate-exporter",
    "denied": "mirror-429",
    "unreachable": "mirror-429",
}


def bad_image(image: str, kind: str = "notfound") -> str:
    """The reserved image name for `kind` (one of FAULT_KINDS) derived from `image`:
    logos/web:1.0 -> registry.logos-test.invalid/notfound/forbidden-api/logos/web:1.0, or
    unreachable.logos-test.invalid/mirror-429/logos/web:1.0 for kind="unreachable"."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {FAULT_KINDS}, not {kind!r}")
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        image = rest  # drop the original registry host
    if kind in MISLEADING:
        image = f"{MISLEADING[kind]}/{image}"
    if kind == "unreachable":
        return f"{UNREACHABLE_REGISTRY}/{image}"
    return f"{TEST_REGISTRY}/{kind}/{image}"


def set_image(api_client: client.ApiClient, namespace: str, name: str, image: str, *,
              container: str | None = None, workload: str = "Deployment") -> str:
    """Set a container's image on a Deployment or StatefulSet (as `kubectl set image`)."""
    apps = client.AppsV1Api(api_client)
    read, patch = {
        "Deployment": (apps.read_namespaced_deployment, apps.patch_namespaced_deployment),
        "StatefulSet": (apps.read_namespaced_stateful_set, apps.patch_namespaced_stateful_set),
    }[workload]
    obj = read(name, namespace)
    containers = obj.spec.template.spec.containers
    target = container or containers[0].name
    patch(name, namespace, {"spec": {"template": {"spec": {"containers": [
        {"name": target, "image": image}]}}}})
    return image


def _current_image(api_client, namespace, name, container, workload) -> str:
    apps = client.AppsV1Api(api_client)
    obj = (apps.read_namespaced_deployment if workload == "Deployment"
           else apps.read_namespaced_stateful_set)(name, namespace)
    for c in obj.spec.template.spec.containers:
        if container is None or c.name == container:
            return c.image
    raise ValueError(f"no container {container!r} in {workload} {namespace}/{name}")


def set_bad_image(api_client: client.ApiClient, namespace: str, deployment: str,
                  kind: str = "notfound", *, container: str | None = None,
                  workload: str = "Deployment") -> str:
    """Point the workload's image at the reserved test registry so its new pods sit in
    ErrImagePull/ImagePullBackOff ("notfound", "unauthorized", "denied", "unreachable").
    Returns the new image."""
    if kind not in ("notfound", "unauthorized", "denied", "unreachable"):
        raise ValueError(f"not an image-pull fault: {kind!r}")
    image = bad_image(_current_image(api_client, namespace, deployment, container, workload), kind)
    return set_image(api_client, namespace, deployment, image, container=container,
                     workload=workload)


def set_crashloop(api_client: client.ApiClient, namespace: str, deployment: str, *,
                  oom: bool = False, container: str | None = None,
                  workload: str = "Deployment") -> str:
    """Make the workload's new pods crash-loop (exit code 1, or OOMKilled 137 if `oom`)."""
    image = bad_image(_current_image(api_client, namespace, deployment, container, workload),
                      "oomkilled" if oom else "crashloop")
    return set_image(api_client, namespace, deployment, image, container=container,
                     workload=workload)


def break_service_selector(api_client: client.ApiClient, namespace: str, service: str, *,
                           selector: dict[str, str] | None = None) -> dict[str, str]:
    """Replace the Service's selector with one matching no pod (default: the component
    label gets a typo, e.g. `web` -> `web-frontend`). Returns the new selector."""
    core = client.CoreV1Api(api_client)
    svc = core.read_namespaced_service(service, namespace)
    if selector is None:
        selector = dict(svc.spec.selector or {})
        comp = selector.get("app.kubernetes.io/component", "app")
        selector["app.kubernetes.io/component"] = f"{comp}-frontend"
    core.patch_namespaced_service(service, namespace,
                                  [{"op": "replace", "path": "/spec/selector", "value": selector}])
    return selector


def set_hpa_target_missing(api_client: client.ApiClient, namespace: str, hpa: str = "logos-web",
                           target: str = "logos-web-canary") -> str:
    """Point the HPA's scaleTargetRef at a Deployment that does not exist."""
    client.AutoscalingV2Api(api_client).patch_namespaced_horizontal_pod_autoscaler(
        hpa, namespace, {"spec": {"scaleTargetRef": {"name": target}}})
    return target


def delete_secret(api_client: client.ApiClient, namespace: str, name: str) -> None:
    """Delete a Secret. (kwok's kubelets do not check secret references, so pods keep
    starting; the diagnosis must come from the references themselves.)"""
    try:
        client.CoreV1Api(api_client).delete_namespaced_secret(name, namespace)
    except ApiException as e:
        if e.status != 404:
            raise


def delete_storage_class(api_client: client.ApiClient, name: str = STORAGE_CLASS) -> None:
    """Delete a (cluster-scoped) StorageClass. Do it before `deploy(...,
    create_storage_class=False)` to get claims stuck Pending with the PV controller's
    ProvisioningFailed `storageclass.storage.k8s.io "<name>" not found`. The shared
    `ssd-premium` is used by every test: in parallel runs prefer a per-test class name."""
    try:
        client.StorageV1Api(api_client).delete_storage_class(name)
    except ApiException as e:
        if e.status != 404:
            raise


def wrong_claim_template_class(api_client: client.ApiClient, namespace: str,
                               statefulset: str = "logos-postgresql",
                               class_name: str = "ssd-premum", timeout: float = 60) -> None:
    """Re-create a StatefulSet with its claim templates on another StorageClass, the way an
    operator would after a bad values change (claim templates are immutable): delete it with
    --cascade=orphan, delete its pods and claims, create it again. Its new claims then wait
    on `class_name` (by default a typo of ssd-premium that does not exist)."""
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    sts = apps.read_namespaced_stateful_set(statefulset, namespace)
    body = api_client.sanitize_for_serialization(sts)
    apps.delete_namespaced_stateful_set(statefulset, namespace,
                                        body=client.V1DeleteOptions(propagation_policy="Orphan"))

    def gone(read) -> bool:
        try:
            read()
            return False
        except ApiException as e:
            return e.status == 404

    wait_for(lambda: gone(lambda: apps.read_namespaced_stateful_set(statefulset, namespace)),
             timeout, f"statefulset {statefulset} to be deleted")
    replicas = sts.spec.replicas or 1
    pods = [f"{statefulset}-{i}" for i in range(replicas)]
    claims = [f"{t.metadata.name}-{p}" for t in sts.spec.volume_claim_templates or [] for p in pods]
    for pod in pods:
        try:
            core.delete_namespaced_pod(pod, namespace, grace_period_seconds=0)
        except ApiException as e:
            if e.status != 404:
                raise
    for claim in claims:
        try:
            core.delete_namespaced_persistent_volume_claim(claim, namespace)
        except ApiException as e:
            if e.status != 404:
                raise
    for name in pods:
        wait_for(lambda n=name: gone(lambda: core.read_namespaced_pod(n, namespace)),
                 timeout, f"pod {name} to be deleted")
    for name in claims:
        wait_for(lambda n=name: gone(
            lambda: core.read_namespaced_persistent_volume_claim(n, namespace)),
            timeout, f"claim {name} to be deleted")
    new = copy.deepcopy(body)
    new["metadata"] = {k: v for k, v in new["metadata"].items()
                       if k in ("name", "namespace", "labels", "annotations")}
    new.pop("status", None)
    for tmpl in new["spec"].get("volumeClaimTemplates", []):
        tmpl["spec"]["storageClassName"] = class_name
        tmpl.pop("status", None)
    apps.create_namespaced_stateful_set(namespace, new)
