"""The option group every command that reaches a cluster shares, as one frozen value.

``check``, ``serve``, ``rbac``, ``fix``, ``snapshot`` and ``runbook run`` take the same flags for
the same things (kubeconfig, context, timeout, namespace / -A, config and values files, which
checks): ``cluster_options(...)`` adds them, with the same names, help and defaults
everywhere, and hands the command one ``ClusterOptions`` (keyword ``cluster``) instead of a
dozen loose parameters.  A command only picks which parts it takes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from logos_doctor.errors import UsageError

if TYPE_CHECKING:
    from logos_doctor.config import Config
    from logos_doctor.registry import Check, Registry

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass(frozen=True)
class ClusterOptions:
    """Which cluster, which namespaces, which expectations and which checks a command uses."""

    kubeconfig: str | None = None
    contexts: tuple[str, ...] = ()
    timeout: float = 30.0
    namespace: str | None = None
    all_namespaces: bool = False
    config_path: str | None = None
    values_path: str | None = None
    check_ids: tuple[str, ...] = ()
    run_all: bool = False
    selector: str | None = None

    def one_context(self, what: str = "this command") -> str | None:
        """The one ``--context`` (None: the current one); several are a usage error."""
        if len(self.contexts) > 1:
            raise UsageError(f"{what} works on one cluster: give --context once")
        return self.contexts[0] if self.contexts else None

    def load_config(self) -> Config:
        """The expectations from ``--config`` and ``--values`` (or the default file)."""
        from logos_doctor.config import load_config

        return load_config(
            Path(self.config_path) if self.config_path else None,
            Path(self.values_path) if self.values_path else None,
        )

    def select(self, registry: Registry) -> list[Check]:
        """``--all`` or no ids: every check; else the named ones (unknown ids: usage error)."""
        if self.run_all and self.check_ids:
            raise UsageError("give check ids or --all, not both")
        if self.run_all or not self.check_ids:
            return list(registry)
        return registry.select(self.check_ids)

    def hint_flags(self) -> list[str]:
        """The flags that chose the cluster and namespace, for hints the user will paste."""
        flags: list[str] = []
        if self.kubeconfig:
            flags += ["--kubeconfig", self.kubeconfig]
        if len(self.contexts) == 1:
            flags += ["--context", self.contexts[0]]
        if self.namespace:
            flags += ["-n", self.namespace]
        return flags


FIELDS = frozenset(f.name for f in fields(ClusterOptions))


def registry_with_warnings() -> Registry:
    """The installed checks; broken plugins are named on stderr and skipped."""
    from logos_doctor.registry import default_registry

    registry = default_registry()
    for err in registry.load_errors:
        click.echo(
            f"logos-doctor: warning: check plugin {err.name} ({err.value}) not loaded: {err.error}",
            err=True,
        )
    return registry


def split_ids(values: Iterable[str]) -> list[str]:
    """``--checks a,b --checks c`` -> ``[a, b, c]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def complete_check_ids(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Check ids for ``--checks a,b,...``: completes the part after the last comma.  The
    registry is read only when the shell asks, so a plain run never pays for it here."""
    from logos_doctor.registry import default_registry

    done, _, last = incomplete.rpartition(",")
    prefix = f"{done}," if done else ""
    taken = set(done.split(",")) if done else set()
    return [
        CompletionItem(prefix + check.id, help=check.title)
        for check in default_registry()
        if check.id.startswith(last) and check.id not in taken
    ]


HELP = {
    "kubeconfig": "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).",
    "contexts": "kubeconfig context (default: the current one).",
    "contexts_many": "kubeconfig context (default: the current one; repeat for several clusters).",
    "timeout": "Seconds per API request; the whole fetch gets four times this.",
    "namespace": "Namespace to check (default: from config, logos).",
    "all_namespaces": "Look at every namespace.",
    "config_path": "logos-doctor.yaml (default: ./logos-doctor.yaml, then the user config dir).",
    "values_path": "Derive expectations from the Helm chart's values file.",
    "checks": "Only these checks (comma-separated or repeated; same as CHECK arguments).",
    "run_all": "Run every registered check (the default).",
    "selector": "Only workloads with these labels (kubectl syntax: app=x,tier!=db), with their "
    "pods, claims and Services; cluster-wide causes that affect them stay.",
}


def cluster_options(
    *,
    cluster: bool = True,
    timeout: bool = True,
    many_contexts: bool = False,
    scope: bool = True,
    all_namespaces: bool = True,
    config: bool = True,
    checks: bool = False,
    selector: bool = False,
    help: Mapping[str, str] | None = None,
    all_namespaces_aliases: tuple[str, ...] = (),
) -> Decorator:
    """Add the shared options and pass them to the command as ``cluster=ClusterOptions(...)``.

    ``cluster``: --kubeconfig, --context (repeatable with ``many_contexts``), --timeout;
    ``scope``: -n/--namespace, and -A/--all-namespaces unless ``all_namespaces`` is False;
    ``config``: --config, --values;
    ``checks``: [CHECK]... arguments, --checks ID,... and --all; ``selector``: -l/--selector.
    ``help`` overrides a field's help where a command means something narrower (``runbook
    run``'s -n fills a parameter).
    """
    texts = {**HELP, **(help or {})}
    params: list[Decorator] = []
    if checks:
        params += [
            click.argument(
                "check_args", nargs=-1, metavar="[CHECK]...", shell_complete=complete_check_ids
            ),
            click.option(
                "--checks",
                "checks_opt",
                multiple=True,
                metavar="ID,...",
                shell_complete=complete_check_ids,
                help=texts["checks"],
            ),
            click.option("--all", "run_all", is_flag=True, help=texts["run_all"]),
        ]
    if selector:
        params.append(
            click.option(
                "-l",
                "--selector",
                metavar="SELECTOR",
                help=texts["selector"],
            )
        )
    if scope:
        params.append(click.option("-n", "--namespace", metavar="NS", help=texts["namespace"]))
    if scope and all_namespaces:
        params += [
            click.option(
                "-A",
                "--all-namespaces",
                *all_namespaces_aliases,
                "all_namespaces",
                is_flag=True,
                help=texts["all_namespaces"],
            ),
        ]
    if cluster:
        params += [
            click.option(
                "--kubeconfig",
                type=click.Path(dir_okay=False),
                envvar="LOGOS_DOCTOR_KUBECONFIG",
                help=texts["kubeconfig"],
            ),
            click.option(
                "--context",
                "contexts",
                multiple=True,  # always: a second one is refused with a clear error
                metavar="NAME",
                help=texts["contexts_many" if many_contexts else "contexts"],
            ),
        ]
        if timeout:
            params.append(
                click.option(
                    "--timeout",
                    type=click.FloatRange(1, 600),
                    default=30.0,
                    show_default=True,
                    help=texts["timeout"],
                )
            )
    if config:
        params += [
            click.option(
                "--config",
                "config_path",
                type=click.Path(dir_okay=False),
                help=texts["config_path"],
            ),
            click.option(
                "--values",
                "values_path",
                type=click.Path(exists=True, dir_okay=False),
                help=texts["values_path"],
            ),
        ]

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs["cluster"] = _collect(kwargs)
            return f(*args, **kwargs)

        command: Callable[..., Any] = wrapper
        for param in reversed(params):  # click lists options in decoration order, bottom up
            command = param(command)
        return command

    return decorate


def _collect(kwargs: dict[str, Any]) -> ClusterOptions:
    """Pop the shared options out of a command's keyword arguments."""
    values: dict[str, Any] = {}
    if "check_args" in kwargs or "checks_opt" in kwargs:
        ids = [*kwargs.pop("check_args", ()), *split_ids(kwargs.pop("checks_opt", ()))]
        values["check_ids"] = tuple(dict.fromkeys(ids))
    contexts = kwargs.pop("contexts", None)
    if contexts is not None:
        values["contexts"] = (contexts,) if isinstance(contexts, str) else tuple(contexts)
    for name in FIELDS - {"check_ids", "contexts"}:
        if name in kwargs:
            values[name] = kwargs.pop(name)
    return ClusterOptions(**{k: v for k, v in values.items() if v is not None or k in _NONE_OK})


_NONE_OK = frozenset({"kubeconfig", "namespace", "config_path", "values_path", "selector"})


def examples(*lines: str) -> str:
    """A command's epilog: its examples, laid out as written (click's ``\\b`` keeps them)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


class CheckListCommand(click.Command):
    """A command whose ``--help`` lists the installed check ids before its examples."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The check ids (from the registry), then the examples."""
        from logos_doctor.registry import default_registry

        ids = [c.id for c in default_registry()]
        with formatter.section("Checks (CHECK)"):
            formatter.write_text(", ".join(ids))
        super().format_epilog(ctx, formatter)
