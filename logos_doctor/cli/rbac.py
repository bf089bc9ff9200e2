"""``rbac``: print the least-privilege roles for the selected checks (and fixes)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from logos_doctor.cli.app import cli, config_options
from logos_doctor.cli.check import registry_with_warnings
from logos_doctor.cli.completion import complete_check_ids
from logos_doctor.config import load_config
from logos_doctor.errors import UsageError
from logos_doctor.rbac import Subject, plan_rbac, render_yaml

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def split_ids(values: tuple[str, ...]) -> list[str]:
    """``--checks a,b --checks c`` -> ``[a, b, c]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


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


@cli.command("rbac")
@click.option(
    "--checks",
    "check_ids",
    multiple=True,
    metavar="ID,...",
    shell_complete=complete_check_ids,
    help="Only these checks (comma-separated or repeated; default: all).",
)
@click.option("--with-fix", is_flag=True, help="Also grant what the checks' fixes write.")
@click.option(
    "-n", "--namespace", metavar="NS", help="Namespace checked and fixed (default: from config)."
)
@click.option(
    "-A",
    "--all-namespaces",
    "--cluster-wide",
    "cluster_wide",
    is_flag=True,
    help="Read every namespace (a ClusterRole); fixes stay limited to --namespace.",
)
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
@config_options
def rbac_cmd(
    check_ids: tuple[str, ...],
    with_fix: bool,
    namespace: str | None,
    cluster_wide: bool,
    service_account: str,
    prefix: str,
    config_path: str | None,
    values_path: str | None,
) -> None:
    """Print the Roles/ClusterRoles (and bindings) the selected checks need, as YAML.

    \b
    Only get/list on the kinds the checks read; Secrets only if a selected check reads
    them.  Apply with: logos-doctor rbac -n logos | kubectl apply -f -
    """
    if len(prefix) > 40 or not _DNS_LABEL.match(prefix):
        raise UsageError(f"invalid --name {prefix!r}", "use lower-case letters, digits and '-'")
    config = load_config(
        Path(config_path) if config_path else None, Path(values_path) if values_path else None
    )
    ns = namespace or config.namespace
    registry = registry_with_warnings()
    ids = split_ids(check_ids)
    chosen = registry.select(ids) if ids else list(registry)
    if not chosen:
        raise UsageError("no checks are installed", "see 'logos-doctor checks'")
    plan = plan_rbac(
        chosen,
        namespace=ns,
        cluster_wide=cluster_wide,
        with_fix=with_fix,
        subject=parse_subject(service_account, ns),
        prefix=prefix,
    )
    click.echo(render_yaml(plan), nl=False)
