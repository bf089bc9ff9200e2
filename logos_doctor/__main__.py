"""Allow ``python -m logos_doctor``."""

from logos_doctor.cli import script

script()
