"""The runbooks shipped in the package (``logos_doctor.runbooks``), by id."""

from __future__ import annotations

from importlib.resources import files

from logos_doctor.errors import UsageError
from logos_doctor.runbook.document import Runbook, parse
from logos_doctor.runbook.front_matter import ID, RunbookError

PACKAGE = "logos_doctor.runbooks"


def runbook_ids() -> list[str]:
    """Ids of every runbook shipped in the package, sorted."""
    root = files(PACKAGE)
    return sorted(
        entry.name[:-3]
        for entry in root.iterdir()
        if entry.name.endswith(".md") and ID.fullmatch(entry.name[:-3])
    )


def load(runbook_id: str) -> Runbook:
    """The packaged runbook with this id; a usage error listing the ids if there is none."""
    if not ID.fullmatch(runbook_id) or runbook_id not in runbook_ids():
        raise UsageError(
            f"no runbook {runbook_id!r}",
            "see 'logos-doctor runbook list' for the ids",
        )
    resource = files(PACKAGE).joinpath(f"{runbook_id}.md")
    book = parse(resource.read_text(encoding="utf-8"), f"runbooks/{runbook_id}.md")
    if book.id != runbook_id:
        raise RunbookError(f"runbooks/{runbook_id}.md declares id {book.id!r}")
    return book


def load_all() -> list[Runbook]:
    """Every packaged runbook."""
    return [load(i) for i in runbook_ids()]


def split_ref(ref: str) -> tuple[str, str | None]:
    """``pvc-pending#storage-class-missing`` (as ``check`` prints it) -> id and cause."""
    rid, _, cause = ref.partition("#")
    return rid, cause or None
