"""Built-in checks, one module each; every check is a pure function of ``ClusterState``.

They are registered through the ``logos_doctor.checks`` entry-point group in
``pyproject.toml``, exactly as a third-party package would register its own.
"""
