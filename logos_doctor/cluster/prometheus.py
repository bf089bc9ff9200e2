"""What Prometheus itself says about Logos: read when ``monitoring.prometheusUrl`` is set.

The ServiceMonitor and the Services can all look right while the dashboards stay blank: the
Prometheus that should pick the ServiceMonitor up does not, or scrapes fail (network policy,
TLS, a crashing pod), or the metrics are not exported.  Only Prometheus's own HTTP API knows.
This is a read outside the Kubernetes API, done in the fetch phase like the LISTs: its answer
becomes the ``prometheus`` section of the state (and of a snapshot), so the monitoring check
stays a pure function of the state.  Two GETs, short timeouts; any failure (refused, DNS,
timeout, HTTP status, not Prometheus) becomes the section's ``error``, never an exception.

The section::

    {"url": "http://host:9090", "error": None | "what went wrong",
     "targets": [{"scrapePool", "scrapeUrl", "health", "lastError", "lastScrape",
                  "labels": {job, namespace, service, pod, endpoint, instance}}],
     "targetsTotal": N, "series": [{"metric", "namespace", "count"}]}

Field names are Prometheus's (prometheus/prometheus web/api/v1/api.go), quoted where read.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterable
from typing import Any

# The Logos production guide's key metrics (Monitoring > Key Metrics).
KEY_METRICS = (
    "logos_chat_messages_total",
    "logos_completion_requests_total",
    "logos_mode_switches_total",
    "logos_tool_invocations_total",
)
# Target labels kept: what the Prometheus Operator puts on a ServiceMonitor's targets
# (prometheus-operator pkg/prometheus/promcfg.go relabels namespace, service, pod, endpoint,
# and job from the Service) and Prometheus's own instance.
TARGET_LABELS = ("job", "namespace", "service", "pod", "endpoint", "instance", "container")
MAX_TARGETS = 1000
MAX_BYTES = 64 * 1024**2
REQUEST_TIMEOUT = 5.0
# One instant query: how many series of each key metric Prometheus has now, per namespace.
SERIES_QUERY = 'count by (__name__, namespace) ({__name__=~"' + "|".join(KEY_METRICS) + '"})'


class PrometheusError(Exception):
    """Prometheus could not be asked, or did not answer as Prometheus does."""


def public_url(url: str) -> str:
    """``url`` without user:password, query or fragment: what may be shown and stored."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def read_prometheus(
    url: str,
    timeout: float = REQUEST_TIMEOUT,
    namespaces: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Ask Prometheus at ``url`` for its active targets and the key metrics' series.

    ``namespaces``: keep only targets labelled with one of them (or with no namespace label);
    None keeps every target (an ``-A`` run), up to ``MAX_TARGETS``.
    """
    timeout = min(timeout, REQUEST_TIMEOUT)
    section: dict[str, Any] = {
        "url": public_url(url),
        "error": None,
        "targets": [],
        "targetsTotal": 0,
        "series": [],
    }
    try:
        # GET /api/v1/targets?state=active -> data.activeTargets (api.go TargetDiscovery).
        data = _get(url, "/api/v1/targets", {"state": "active"}, timeout)
        active = data.get("activeTargets") if isinstance(data, dict) else None
        if not isinstance(active, list):
            raise PrometheusError("/api/v1/targets answered without data.activeTargets")
        wanted = set(namespaces) if namespaces is not None else None
        kept = [t for t in (_target(t) for t in active if isinstance(t, dict)) if t]
        if wanted is not None:
            kept = [t for t in kept if t["labels"].get("namespace", "") in wanted | {""}]
        section["targetsTotal"] = len(kept)
        section["targets"] = kept[:MAX_TARGETS]
        # GET /api/v1/query -> data.resultType "vector", data.result[].metric / .value
        # ([unix time, "count"]) (api.go queryData; promql vector JSON).
        data = _get(url, "/api/v1/query", {"query": SERIES_QUERY}, timeout)
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            raise PrometheusError("/api/v1/query answered without data.result")
        section["series"] = sorted(
            (s for s in (_series(r) for r in result if isinstance(r, dict)) if s),
            key=lambda s: (s["metric"], s["namespace"] or ""),
        )
    except PrometheusError as exc:
        section["error"] = str(exc)
    return section


def _target(raw: dict[str, Any]) -> dict[str, Any] | None:
    # api.go Target: "labels", "scrapePool", "scrapeUrl", "lastError", "lastScrape",
    # "health" (scrape/target.go TargetHealth: "up", "down", "unknown").
    labels = raw.get("labels")
    if not isinstance(labels, dict):
        return None
    scraped = str(raw.get("lastScrape") or "")  # Go's zero time when never scraped: none
    return {
        "scrapePool": str(raw.get("scrapePool") or ""),
        "scrapeUrl": str(raw.get("scrapeUrl") or ""),
        "health": str(raw.get("health") or "unknown"),
        "lastError": str(raw.get("lastError") or ""),
        "lastScrape": "" if scraped.startswith("0001-") else scraped,
        "labels": {k: str(labels[k]) for k in TARGET_LABELS if k in labels},
    }


def _series(raw: dict[str, Any]) -> dict[str, Any] | None:
    metric, value = raw.get("metric"), raw.get("value")
    if not isinstance(metric, dict) or not isinstance(value, list) or len(value) != 2:
        return None
    try:
        count = int(float(value[1]))
    except (TypeError, ValueError):
        return None
    name = metric.get("__name__")
    if name not in KEY_METRICS:
        return None
    ns = metric.get("namespace")
    return {"metric": name, "namespace": str(ns) if ns else None, "count": count}


def _get(url: str, path: str, query: dict[str, str], timeout: float) -> Any:
    """GET one API path; returns the response's ``data`` (api.go response: status, data,
    errorType, error)."""
    # Imported here: urllib.request brings ssl and http.client (about 0.05 s), which an
    # offline check, reading only KEY_METRICS from this module, never needs.
    import urllib.error
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    base = public_url(url)
    target = f"{base}{path}?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(target, headers={"Accept": "application/json"})
    if parts.username is not None:  # http://user:password@host: basic auth, never stored
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    shown = f"GET {base}{path}"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        detail = _api_error(exc.read(64 * 1024)) or exc.reason
        raise PrometheusError(f"{shown}: HTTP {exc.code} {detail}") from None
    except urllib.error.URLError as exc:
        raise PrometheusError(f"{shown}: {_reason(exc.reason)}") from None
    except (TimeoutError, OSError) as exc:
        raise PrometheusError(f"{shown}: {_reason(exc)}") from None
    if len(body) > MAX_BYTES:
        raise PrometheusError(f"{shown}: the answer is larger than {MAX_BYTES // 1024**2} MiB")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PrometheusError(f"{shown}: the answer is not JSON (is this Prometheus?)") from None
    if not isinstance(doc, dict) or doc.get("status") != "success":
        detail = _api_error(body) or "no status 'success'"
        raise PrometheusError(f"{shown}: {detail}")
    return doc.get("data")


def _api_error(body: bytes) -> str | None:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict) and doc.get("status") == "error":
        return f"{doc.get('errorType') or 'error'}: {doc.get('error') or ''}".strip()
    return None


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)
