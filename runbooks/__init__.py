"""The runbooks shipped with logos-doctor: one markdown file per check and on-call procedure."""
