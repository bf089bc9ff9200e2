"""Deciding what a fix will do: a pure function of the state, the findings and the config.

One planner per target: ``pvc_plan`` (``fix pvc``: Pending claims, with the StatefulSet
orphan-cascade recreation in ``recreation_plan``) and ``storageclass_plan`` (``fix
storageclass``); the steps both use are written once in ``plan_steps``.  This module is the
door the CLI plans through, so the rooms behind it can change without touching the CLI.

Nothing here talks to the cluster: the executor re-reads every object before it writes, and
refuses when the cluster no longer matches what was planned.
"""

from __future__ import annotations

from logos_doctor.fix.plan_steps import PlanOptions
from logos_doctor.fix.pvc_plan import VERIFY_PVC, plan_pvc
from logos_doctor.fix.storageclass_plan import VERIFY_CLASS, plan_storageclass

__all__ = ["VERIFY_CLASS", "VERIFY_PVC", "PlanOptions", "plan_pvc", "plan_storageclass"]
