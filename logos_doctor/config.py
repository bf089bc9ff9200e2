"""What a healthy Logos deployment looks like: the expectations the checks compare against.

One module on purpose (~400 lines): the expectations and the strict reader of their keys;
apart, load_config's module and the model's would import each other.

Built-in defaults are the Logos production guide's values.  A YAML file (``--config``, else
``./logos-doctor.yaml``, else ``<user config dir>/logos-doctor/config.yaml``) overrides them,
and ``--values values-production.yaml`` derives them from the Helm chart's values instead.
Validation is strict: an unknown key or a wrong type names the key, because a typo silently
ignored at 3 a.m. would make the tool check the wrong thing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from platformdirs import user_config_dir

from logos_doctor.errors import ConfigError


@dataclass(frozen=True)
class StorageClassSpec:
    """The StorageClass the stateful workloads need."""

    name: str = "ssd-premium"
    provisioner: str = "ebs.csi.aws.com"
    parameters: Mapping[str, str] = field(
        default_factory=lambda: {
            "type": "gp3",
            "iops": "3000",
            "throughput": "125",
            "encrypted": "true",
        }
    )
    reclaim_policy: str = "Delete"
    volume_binding_mode: str = "WaitForFirstConsumer"
    allow_volume_expansion: bool = True

    def manifest(self) -> dict[str, Any]:
        """The StorageClass object to create when it is missing."""
        return {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": self.name,
                "labels": {"app.kubernetes.io/managed-by": "logos-doctor"},
            },
            "provisioner": self.provisioner,
            "parameters": dict(self.parameters),
            "reclaimPolicy": self.reclaim_policy,
            "volumeBindingMode": self.volume_binding_mode,
            "allowVolumeExpansion": self.allow_volume_expansion,
        }


@dataclass(frozen=True)
class ClaimSpec:
    """A StatefulSet claim template that must use a given class and size."""

    statefulset: str
    template: str
    size: str
    storage_class: str


@dataclass(frozen=True)
class SecretSpec:
    """A Secret the deployment needs; only its type and key names are ever compared."""

    name: str
    keys: tuple[str, ...] = ()
    type: str | None = None


@dataclass(frozen=True)
class GpuSpec:
    """How GPU nodes are recognised and which extended resource they offer."""

    labels: tuple[tuple[str, str], ...] = (
        ("nvidia.com/gpu", "true"),
        ("nvidia.com/gpu.present", "true"),
    )
    resource: str = "nvidia.com/gpu"


@dataclass(frozen=True)
class Config:
    """All expectations and thresholds of one run."""

    namespace: str = "logos"
    storage_class: StorageClassSpec = field(default_factory=StorageClassSpec)
    claims: tuple[ClaimSpec, ...] = (
        ClaimSpec("logos-postgresql", "data", "200Gi", "ssd-premium"),
        ClaimSpec("logos-redis-master", "redis-data", "50Gi", "ssd-premium"),
    )
    secrets: tuple[SecretSpec, ...] = (
        SecretSpec("logos-db-credentials", ("password", "postgres-password")),
        SecretSpec("logos-redis-credentials", ("redis-password",)),
        SecretSpec("regcred", (".dockerconfigjson",), "kubernetes.io/dockerconfigjson"),
    )
    gpu: GpuSpec = field(default_factory=GpuSpec)
    provisioner_wait_seconds: int = 300
    runbook_base_url: str | None = None
    severity_overrides: Mapping[str, str] = field(default_factory=dict)
    helm_upgrade: tuple[str, ...] | None = None
    # Labels that mark the Logos release's workloads: the namespaces holding such workloads
    # are where the expectations above (Secrets, StorageClass) apply, besides ``namespace``.
    release_labels: Mapping[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "logos"}
    )
    # The edge: warn this many days before an Ingress's TLS certificate expires; where the
    # ServiceMonitor that scrapes Logos lives (the guide: namespace monitoring).
    certificate_warning_days: int = 14
    monitoring_namespace: str = "monitoring"
    # The controller that serves the Logos Ingress: the guide's ingress-nginx, whose
    # IngressClass says spec.controller k8s.io/ingress-nginx (its --controller-class default).
    ingress_controller: str = "k8s.io/ingress-nginx"
    # Prometheus's HTTP API (http://HOST:9090, e.g. through a port-forward): when set, the
    # monitoring check asks it whether the Logos targets are up and the key metrics have series.
    prometheus_url: str | None = None
    source: str = "built-in defaults"


# -- loading -------------------------------------------------------------------------------

_SC_KEYS = {
    "name": str,
    "provisioner": str,
    "parameters": dict,
    "reclaimPolicy": str,
    "volumeBindingMode": str,
    "allowVolumeExpansion": bool,
}
_TOP_KEYS = {
    "namespace": str,
    "storageClass": dict,
    "claims": list,
    "secrets": list,
    "gpu": dict,
    "thresholds": dict,
    "runbookBaseUrl": str,
    "severity": dict,
    "releaseLabels": dict,
    "fix": dict,
    "ingress": dict,
    "monitoring": dict,
}


_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def is_namespace_name(value: str) -> bool:
    """Whether ``value`` is a valid namespace name (an RFC 1123 label)."""
    return bool(_NAMESPACE.match(value))


def default_config_path() -> Path | None:
    """``./logos-doctor.yaml`` if present, else the user's config file if present."""
    for candidate in (
        Path("logos-doctor.yaml"),
        Path(user_config_dir("logos-doctor")) / "config.yaml",
    ):
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None = None, values: Path | None = None) -> Config:
    """Defaults, overridden by a config file, then by Helm values when given."""
    config = Config()
    path = path if path is not None else default_config_path()
    if path is not None:
        config = apply_config(config, _read_yaml(path, "config file"), str(path))
    if values is not None:
        config = apply_helm_values(config, _read_yaml(values, "Helm values file"), str(values))
    return config


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{what} {path} is not valid YAML{where}", "fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must be a mapping at the top level")
    return data


def _check_keys(data: Mapping[str, Any], allowed: Mapping[str, type], where: str) -> None:
    for key, value in data.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(f"unknown key {where}{key!r}", f"known keys here: {known}")
        expected = allowed[key]
        if value is not None and not isinstance(value, expected):
            raise ConfigError(
                f"key {where}{key} must be a {_type_name(expected)}, not {_type_name(type(value))}"
            )


_TYPE_NAMES = {str: "string", dict: "mapping", list: "list", bool: "boolean", int: "number"}


def _type_name(t: type) -> str:
    return _TYPE_NAMES.get(t, t.__name__)


def _str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"key {where} must be a mapping of strings")
    out: dict[str, str] = {}
    for k, v in value.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        if not isinstance(v, str | int | float):
            raise ConfigError(f"key {where}.{k} must be a string")
        out[str(k)] = str(v)
    return out


def apply_config(config: Config, data: Mapping[str, Any], source: str) -> Config:
    """Apply a logos-doctor YAML config mapping on top of ``config``."""
    _check_keys(data, _TOP_KEYS, "")
    changes: dict[str, Any] = {"source": source}
    if data.get("namespace"):
        if not is_namespace_name(data["namespace"]):
            raise ConfigError(
                f"key namespace: {data['namespace']!r} is not a namespace name",
                "use lower-case letters, digits and '-', at most 63 characters",
            )
        changes["namespace"] = data["namespace"]
    if data.get("storageClass") is not None:
        changes["storage_class"] = _storage_class(config.storage_class, data["storageClass"])
    if data.get("claims") is not None:
        changes["claims"] = tuple(_claim(c, i) for i, c in enumerate(data["claims"]))
    if data.get("secrets") is not None:
        changes["secrets"] = tuple(_secret(s, i) for i, s in enumerate(data["secrets"]))
    if data.get("gpu") is not None:
        changes["gpu"] = _gpu(config.gpu, data["gpu"])
    if data.get("thresholds") is not None:
        thresholds = data["thresholds"]
        _check_keys(thresholds, {"provisionerWaitSeconds": int}, "thresholds.")
        if "provisionerWaitSeconds" in thresholds:
            changes["provisioner_wait_seconds"] = int(thresholds["provisionerWaitSeconds"])
    if data.get("runbookBaseUrl"):
        changes["runbook_base_url"] = data["runbookBaseUrl"]
    if data.get("severity") is not None:
        sev = _str_map(data["severity"], "severity")
        for key, value in sev.items():
            if value not in ("critical", "warning", "info"):
                raise ConfigError(f"key severity.{key} must be critical, warning or info")
        changes["severity_overrides"] = sev
    if data.get("releaseLabels") is not None:
        changes["release_labels"] = _str_map(data["releaseLabels"], "releaseLabels")
    if data.get("fix") is not None:
        _check_keys(data["fix"], {"helmUpgrade": list}, "fix.")
        cmd = data["fix"].get("helmUpgrade")
        if cmd is not None:
            if not all(isinstance(a, str) for a in cmd) or not cmd:
                raise ConfigError("key fix.helmUpgrade must be a non-empty list of strings")
            changes["helm_upgrade"] = tuple(cmd)
    if data.get("ingress") is not None:
        _check_keys(data["ingress"], {"certificateWarningDays": int, "controller": str}, "ingress.")
        days = data["ingress"].get("certificateWarningDays")
        if days is not None:
            if isinstance(days, bool) or days < 0:
                raise ConfigError("key ingress.certificateWarningDays must be a number of days")
            changes["certificate_warning_days"] = int(days)
        if data["ingress"].get("controller"):
            changes["ingress_controller"] = data["ingress"]["controller"]
    if data.get("monitoring") is not None:
        _check_keys(data["monitoring"], {"namespace": str, "prometheusUrl": str}, "monitoring.")
        mon_ns = data["monitoring"].get("namespace")
        if mon_ns is not None:
            if not is_namespace_name(mon_ns):
                raise ConfigError(f"key monitoring.namespace: {mon_ns!r} is not a namespace name")
            changes["monitoring_namespace"] = mon_ns
        url = data["monitoring"].get("prometheusUrl")
        if url:
            if not re.match(r"^https?://[^/\s]+", url):
                raise ConfigError(
                    f"key monitoring.prometheusUrl: {url!r} is not an http(s) URL",
                    "for example http://localhost:9090 (kubectl port-forward svc/prometheus 9090)",
                )
            changes["prometheus_url"] = url
    return replace(config, **changes)


def _storage_class(base: StorageClassSpec, data: Any) -> StorageClassSpec:
    if not isinstance(data, dict):
        raise ConfigError("key storageClass must be a mapping")
    _check_keys(data, _SC_KEYS, "storageClass.")
    changes: dict[str, Any] = {}
    for key, attr in (
        ("name", "name"),
        ("provisioner", "provisioner"),
        ("reclaimPolicy", "reclaim_policy"),
        ("volumeBindingMode", "volume_binding_mode"),
        ("allowVolumeExpansion", "allow_volume_expansion"),
    ):
        if data.get(key) is not None:
            changes[attr] = data[key]
    if data.get("parameters") is not None:
        changes["parameters"] = _str_map(data["parameters"], "storageClass.parameters")
    return replace(base, **changes)


def _claim(data: Any, index: int) -> ClaimSpec:
    where = f"claims[{index}]."
    if not isinstance(data, dict):
        raise ConfigError(f"key claims[{index}] must be a mapping")
    keys = {"statefulSet": str, "template": str, "size": str, "storageClass": str}
    _check_keys(data, keys, where)
    missing = [k for k in keys if not data.get(k)]
    if missing:
        raise ConfigError(f"key {where}{missing[0]} is required")
    return ClaimSpec(data["statefulSet"], data["template"], data["size"], data["storageClass"])


def _secret(data: Any, index: int) -> SecretSpec:
    where = f"secrets[{index}]."
    if not isinstance(data, dict):
        raise ConfigError(f"key secrets[{index}] must be a mapping")
    _check_keys(data, {"name": str, "keys": list, "type": str}, where)
    if not data.get("name"):
        raise ConfigError(f"key {where}name is required")
    keys = data.get("keys") or []
    if not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"key {where}keys must be a list of strings")
    return SecretSpec(data["name"], tuple(keys), data.get("type"))


def _gpu(base: GpuSpec, data: Any) -> GpuSpec:
    _check_keys(data, {"labels": list, "resource": str}, "gpu.")
    labels = base.labels
    if data.get("labels") is not None:
        parsed = []
        for item in data["labels"]:
            if not isinstance(item, str) or "=" not in item:
                raise ConfigError("key gpu.labels must be a list of 'key=value' strings")
            key, _, value = item.partition("=")
            parsed.append((key.strip(), value.strip()))
        labels = tuple(parsed)
    return replace(base, labels=labels, resource=data.get("resource") or base.resource)


def apply_helm_values(config: Config, values: Mapping[str, Any], source: str) -> Config:
    """Derive expectations from the Logos Helm chart's values (``values-production.yaml``).

    Only the blocks that say what the cluster must hold are read: ``storageClass``,
    ``postgresql.primary.persistence`` and ``redis.master.persistence``; everything else in a
    values file is the chart's business and is ignored.
    """
    sc_values = values.get("storageClass")
    sc = config.storage_class
    if sc_values is not None:
        if not isinstance(sc_values, dict):
            raise ConfigError(f"{source}: storageClass must be a mapping")
        params = dict(sc.parameters)
        for key in ("type", "iops", "throughput", "encrypted"):
            if sc_values.get(key) is not None:
                params[key] = _str_map({key: sc_values[key]}, f"storageClass.{key}")[key]
        sc = replace(
            sc,
            name=str(sc_values.get("name") or sc.name),
            provisioner=str(sc_values.get("provisioner") or sc.provisioner),
            parameters=params,
        )
    claims = list(config.claims)
    for path, sts, template in (
        (("postgresql", "primary", "persistence"), "logos-postgresql", "data"),
        (("redis", "master", "persistence"), "logos-redis-master", "redis-data"),
    ):
        block: Any = values
        for part in path:
            block = block.get(part) if isinstance(block, dict) else None
        if block is None:
            continue
        if not isinstance(block, dict):
            raise ConfigError(f"{source}: {'.'.join(path)} must be a mapping")
        claims = [c for c in claims if c.statefulset != sts]
        claims.append(
            ClaimSpec(
                sts,
                template,
                str(block.get("size") or "8Gi"),
                str(block.get("storageClass") or sc.name),
            )
        )
    return replace(config, storage_class=sc, claims=tuple(claims), source=source)
