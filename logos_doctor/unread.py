"""What no diagnosis reads, dropped as a diagnosis's fetch decodes each page.

A fetch keeps the objects as the API server sent them (less ``managedFields`` and Secret
values), because ``snapshot``, the fix and the exporter need them whole.  ``check`` needs only
what its checks read (``FetchOptions.lean``), and on the benchmark cluster (scale 1, 55,657
objects) these values, read by nothing, were about 12 MiB of its state:

- every object's ``metadata.resourceVersion``: versions are for writers and watchers; the fix
  reads its own full fetch before it writes, the exporter keeps its watch cache;
- an event's own ``name`` and ``uid`` (nothing refers to an event) and the version of the
  object it is about (``involvedObject.resourceVersion``).  Events are read through
  ``Event.from_obj`` (reason, message, type, counts, times, source) and the index and the
  containers check (``involvedObject``'s kind, namespace, name, uid and field path);
- a pod's ``status.podIPs`` and ``status.hostIPs``, the address lists (``podIP`` and
  ``hostIP``, their first entries, stay).

tests/unit/test_lean.py holds it two ways: every check finds the same without these on every
recorded snapshot, and no module that diagnoses names a field dropped here.
"""

from __future__ import annotations

from logos_doctor.objects import Obj

METADATA = ("resourceVersion",)
EVENT_METADATA = ("name", "uid", "resourceVersion")
EVENT_INVOLVED = ("resourceVersion",)
POD_STATUS = ("podIPs", "hostIPs")


def drop_unread(plural: str, obj: Obj) -> None:
    """Remove from ``obj`` (of kind ``plural``) what no diagnosis reads."""
    md = obj.get("metadata")
    if type(md) is dict:
        for key in EVENT_METADATA if plural == "events" else METADATA:
            md.pop(key, None)
    if plural == "events":
        _pop(obj.get("involvedObject"), EVENT_INVOLVED)
    elif plural == "pods":
        _pop(obj.get("status"), POD_STATUS)


def _pop(node: object, keys: tuple[str, ...]) -> None:
    if type(node) is dict:
        for key in keys:
            node.pop(key, None)
