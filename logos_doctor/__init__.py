"""logos-doctor: find why the Logos deployment is unhealthy, name the cause, and fix it safely.

The data flows one way: fetch (``fetch``) -> state (``state.ClusterState``) -> checks
(``logos_doctor.checks``, pure functions) -> findings (``finding.Finding``) -> render or fix.
"""

__version__ = "0.1.0"
