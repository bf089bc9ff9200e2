"""Safe, resumable fixes: ``logos-doctor fix storageclass`` and ``logos-doctor fix pvc``.

The flow is the rest of logos-doctor's, extended by one stage: fetch -> state -> checks ->
findings -> ``planner`` (a pure function to a ``plan.FixPlan``: ``pvc_plan``,
``storageclass_plan``, ``recreation_plan``, ``plan_steps``) -> ``executor`` (the run and
``--resume``; ``preflight`` re-reads and backs up, ``storageclass_apply`` and
``recreation_apply`` do the steps through ``writer``).  ``journal`` keeps the trail on disk
for ``--resume`` and ``--list`` (``durable`` writes its files, ``saved_config`` the
expectations); ``lock`` makes sure only one fix runs per namespace; ``kube`` is the only
module that writes to the cluster.
"""
