"""``rbac``: print the least-privilege roles for the selected checks (and fixes)."""

from __future__ import annotations

import re

import click

from logos_doctor.cli.app import cli
from logos_doctor.cli.options import (
    ClusterOptions,
    cluster_options,
    examples,
    registry_with_warnings,
)
from logos_doctor.errors import UsageError
from logos_doctor.rbac import Subject, plan_rbac, render_yaml

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def parse_subject(text: str, default_namespace: str) -> Subject:
    """``NAME`` or ``NAMESPACE/NAME`` of a ServiceAccount."""
    ns, _, name = text.rpartition("/")
    subject = Subject(ns or default_namespace, name)
    for part in (subject.namespace, subject.name):
        if len(part) > 63 or not _DNS_LABEL.match(part):
            raise UsageError(
                f"invalid service account {text!r}",
                "give NAME or NAMESPACE/NAME in lower-case letters, digits and '-'",
            )
    return subject


@cli.command(
    "rbac",
    epilog=examples(
        "logos-doctor rbac -n logos | kubectl apply -f -",
        "logos-doctor rbac --with-fix -n logos --service-account ops/doctor",
        "logos-doctor rbac nodes pvc-pending -A",
    ),
)
@cluster_options(
    cluster=False,
    checks=True,
    all_namespaces_aliases=("--cluster-wide",),
    help={
        "namespace": "Namespace checked and fixed (default: from config).",
        "all_namespaces": "Read every namespace (a ClusterRole); "
        "fixes stay limited to --namespace.",
    },
)
@click.option("--with-fix", is_flag=True, help="Also grant what the checks' fixes write.")
@click.option(
    "--service-account",
    default="logos-doctor",
    show_default=True,
    metavar="[NS/]NAME",
    help="ServiceAccount to bind (namespace defaults to --namespace).",
)
@click.option(
    "--name",
    "prefix",
    default="logos-doctor",
    show_default=True,
    help="Name (prefix) of the roles and bindings.",
)
def rbac_cmd(cluster: ClusterOptions, with_fix: bool, service_account: str, prefix: str) -> None:
    """Print the Roles/ClusterRoles (and bindings) the selected checks need, as YAML.

    \b
    Only get/list/watch on the kinds the checks read; Secrets only if a selected check reads
    them.  Apply with: logos-doctor rbac -n logos | kubectl apply -f -
    """
    if len(prefix) > 40 or not _DNS_LABEL.match(prefix):
        raise UsageError(f"invalid --name {prefix!r}", "use lower-case letters, digits and '-'")
    config = cluster.load_config()
    ns = cluster.namespace or config.namespace
    registry = registry_with_warnings()
    chosen = cluster.select(registry)
    if not chosen:
        raise UsageError("no checks are installed", "see 'logos-doctor checks'")
    plan = plan_rbac(
        chosen,
        namespace=ns,
        cluster_wide=cluster.all_namespaces,
        with_fix=with_fix,
        subject=parse_subject(service_account, ns),
        prefix=prefix,
    )
    click.echo(render_yaml(plan), nl=False)
