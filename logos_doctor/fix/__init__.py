"""Safe, resumable fixes: ``logos-doctor fix storageclass`` and ``logos-doctor fix pvc``.

The flow is the rest of logos-doctor's, extended by one stage: fetch -> state -> checks ->
findings -> ``planner`` (a pure function to a ``plan.FixPlan``) -> ``executor`` (re-reads,
backs up, writes, journals).  ``journal`` keeps the trail on disk for ``--resume`` and
``--list``; ``lock`` makes sure only one fix runs per namespace; ``kube`` is the only module
that writes to the cluster.
"""
