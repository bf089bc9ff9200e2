"""The two checks a fix builds on, and the helpers it shares with them.

``logos_doctor.checks`` is installed from the top-level ``checks/`` directory (see
``[tool.setuptools] package-dir``), which mypy cannot map back to source, so the modules are
imported by name here and the few names the fix uses are given their types once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from logos_doctor.config import StorageClassSpec
from logos_doctor.objects import Obj
from logos_doctor.registry import Check

_storage_class = importlib.import_module("logos_doctor.checks.storage_class")
_pvc_pending = importlib.import_module("logos_doctor.checks.pvc_pending")

claim_class: Callable[[Obj], str | None] = _storage_class.claim_class
drift: Callable[[StorageClassSpec, Obj], list[str]] = _storage_class.drift
PVC_PENDING: Check = _pvc_pending.CHECK
STORAGE_CLASS: Check = _storage_class.CHECK
