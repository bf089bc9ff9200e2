"""The schema table shipped with the package agrees with the official client's models.

Snapshot validation reads ``logos_doctor/cluster/schema_table.json`` instead of importing
the client's pydantic models (see ``logos_doctor.cluster.schema``).  A table that drifted from
the API would refuse good snapshots or wave bad ones through, so it is held against the
installed client here.  A newer client may add fields; the ones both know must have the same
type.
"""

from __future__ import annotations

import json
from importlib import resources

from logos_doctor.cluster import schema
from logos_doctor.cluster.kinds import KINDS


def _shipped() -> dict[str, dict[str, object]]:
    text = resources.files("logos_doctor.cluster").joinpath(schema.TABLE_FILE).read_text("utf-8")
    table: dict[str, dict[str, object]] = json.loads(text)
    return table


def test_every_kind_the_client_models_is_in_the_shipped_table() -> None:
    built = schema.build_table()
    assert set(built["kinds"]) <= set(_shipped()["kinds"])
    assert {"pods", "deployments", "events", "persistentvolumeclaims"} <= set(built["kinds"])
    assert set(_shipped()["kinds"]) <= set(KINDS)


def test_shipped_field_types_match_the_installed_client() -> None:
    built, shipped = schema.build_table()["models"], _shipped()["models"]
    disagree, known = [], 0
    for model, fields in shipped.items():
        assert isinstance(fields, dict)
        for field, type_name in fields.items():
            theirs = built.get(model, {}).get(field)
            if theirs is not None:
                known += 1
                if theirs != type_name:
                    disagree.append(f"{model}.{field}: {type_name} != {theirs}")
    total = sum(len(f) for f in shipped.values() if isinstance(f, dict))
    regenerate = "regenerate with: python -m logos_doctor.cluster.schema\n"
    assert not disagree, regenerate + "\n".join(disagree)
    # A client that renamed everything would leave nothing to compare: most must be known.
    assert known >= 0.9 * total


def test_the_table_is_what_validation_uses() -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": 3}]}}
    assert schema.mismatch("pods", pod) == "spec.containers[0].image must be a string"
    pod["spec"]["containers"][0]["image"] = "nginx"  # type: ignore[index]
    pod["status"] = None
    assert schema.normalise("pods", pod) == {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
