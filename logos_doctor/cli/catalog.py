"""``checks``: list the registered checks and the causes each can report."""

from __future__ import annotations

import json

import click

from logos_doctor.cli.app import cli
from logos_doctor.cli.options import examples, registry_with_warnings
from logos_doctor.runbook_links import runbook_url


@cli.command(
    "checks",
    epilog=examples(
        "logos-doctor checks",
        "logos-doctor checks -o json | jq '.[].causes[].id'",
    ),
)
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table")
def checks_cmd(fmt: str) -> None:
    """List the registered checks and the causes each can report."""
    registry = registry_with_warnings()
    rows = [
        {
            "id": c.id,
            "title": c.title,
            "severity": c.severity.label,
            "kinds": list(c.kinds),
            "causes": [
                {
                    "id": cause.id,
                    "title": cause.title,
                    "severity": cause.severity.label,
                    "runbook": {
                        "id": c.runbook,
                        "cause": cause.anchor,
                        "url": runbook_url(c.runbook, cause.anchor),
                    },
                    "fix": cause.fix,
                }
                for cause in c.cause_table.values()
            ],
            "runbook": c.runbook,
            "fix": c.fix,
        }
        for c in registry
    ]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from tabulate import tabulate

    table: list[list[str]] = []
    for c in registry:
        table.append([c.id, c.title, c.severity.label, f"{c.runbook}.md", c.fix or "-"])
        table += [
            [
                f"  {cause.id}",
                cause.title,
                cause.severity.label,
                f"{c.runbook}#{cause.anchor}",
                cause.fix or "-",
            ]
            for cause in c.cause_table.values()
        ]
    headers = ["CHECK/CAUSE", "TITLE", "SEVERITY", "RUNBOOK", "FIX"]
    click.echo(tabulate(table, headers=headers, tablefmt="plain"))
