"""Connecting to a cluster through the official client's own config loading.

kubeconfig files, ``--context``, exec credential plugins (EKS, GKE) and in-cluster service
account config are all the ``kubernetes`` client's work; this module only chooses between
them and turns their failures into one line that says what to do.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from logos_doctor.errors import ClusterError


@dataclass(frozen=True)
class Connection:
    """An API client and the names a user knows the cluster by."""

    api: k8s.ApiClient
    context: str | None
    server: str

    def close(self) -> None:
        """Release pooled connections."""
        self.api.close()

    def send(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, Any]] = (),
        *,
        timeout: float | tuple[float, float],
        body: Any = None,
    ) -> Any:
        """``send`` through this connection's client."""
        return send(self.api, method, path, query, timeout=timeout, body=body)

    def unauthorized(self) -> ClusterError:
        """The one line for a 401: the credentials of this context were refused."""
        return ClusterError(
            f"the API server {self.server} rejected the credentials of context "
            f"{self.context or '(default)'} (401 Unauthorized)",
            "log in again or refresh the token (e.g. aws eks update-kubeconfig)",
        )


def send(
    api: k8s.ApiClient,
    method: str,
    path: str,
    query: Sequence[tuple[str, Any]] = (),
    *,
    timeout: float | tuple[float, float],
    body: Any = None,
) -> Any:
    """One request through the client's pool with the kubeconfig's credentials, JSON
    accepted; the client's response, its body unread (the fetch, the watches and the fix read,
    stream or map it as each needs).  Raises what ``ApiClient.call_api`` raises."""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    verb, url, hdrs, payload, _ = api.param_serialize(
        method,
        path,
        query_params=list(query),
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
    )
    return api.call_api(verb, url, header_params=hdrs, body=payload, _request_timeout=timeout)


def _default_kubeconfig() -> str | None:
    env = os.environ.get("KUBECONFIG")
    if env:
        return env
    home = Path(k8s_config.KUBE_CONFIG_DEFAULT_LOCATION).expanduser()
    return str(home) if home.exists() else None


def connect(
    kubeconfig: str | None = None, context: str | None = None, *, pool_size: int = 8
) -> Connection:
    """Build an API client from a kubeconfig (given, ``$KUBECONFIG``, ``~/.kube/config``),
    or the pod's service account when running inside a cluster and no kubeconfig exists.
    """
    cfg = k8s.Configuration()
    path = kubeconfig or _default_kubeconfig()
    in_cluster = path is None and "KUBERNETES_SERVICE_HOST" in os.environ
    context_name: str | None = context
    try:
        if in_cluster:
            k8s_config.load_incluster_config(client_configuration=cfg)
            context_name = "in-cluster"
        else:
            if path is None:
                raise ClusterError(
                    "no kubeconfig found (looked at $KUBECONFIG and ~/.kube/config)",
                    "pass --kubeconfig PATH or set $KUBECONFIG",
                )
            if kubeconfig and not Path(kubeconfig).expanduser().is_file():
                raise ClusterError(
                    f"kubeconfig {kubeconfig} does not exist", "check the --kubeconfig path"
                )
            if context is not None:
                found, _ = k8s_config.list_kube_config_contexts(config_file=path)
                names = sorted(c["name"] for c in found or [])
                if context not in names:
                    raise ClusterError(
                        f"context {context} not found", f"contexts: {', '.join(names) or 'none'}"
                    )
            k8s_config.load_kube_config(
                config_file=path, context=context, client_configuration=cfg, persist_config=False
            )
            if context_name is None:
                _, active = k8s_config.list_kube_config_contexts(config_file=path)
                context_name = (active or {}).get("name")
    except ClusterError:
        raise
    except ConfigException as exc:
        where = "in-cluster config" if in_cluster else f"kubeconfig {path}"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        raise ClusterError(
            f"cannot load {where}: {detail}",
            "check the file, or choose a context with --context",
        ) from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as exc:
        raise ClusterError(
            f"cannot load kubeconfig {path}: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            "check that it is a valid kubeconfig file",
        ) from None
    # We retry ourselves (with backoff, Retry-After and a deadline); urllib3's own silent
    # retries would multiply every timeout by four.
    cfg.retries = urllib3.util.Retry(total=0, connect=0, read=0, redirect=0, status=0)
    cfg.connection_pool_maxsize = pool_size
    return Connection(k8s.ApiClient(cfg), context_name, str(cfg.host))
