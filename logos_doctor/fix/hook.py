"""The test hook that kills (or stops) a fix at an exact point of an exact step.

``LOGOS_DOCTOR_FIX_CRASH_AT=<step-id>:<moment>[:stop]`` sends this process SIGKILL (or
SIGSTOP with ``:stop``) there, so the tests can prove that a fix killed anywhere resumes to
the same end state, and can change the cluster at an exact moment of a running fix.

Moments: ``start`` (journaled as started, nothing read yet), ``before-write`` (preconditions
re-read and checked, the write not sent), ``after-write`` (the server accepted the write, the
journal does not know it yet), ``end`` (the step reached its goal, not journaled as done).
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "LOGOS_DOCTOR_FIX_CRASH_AT"


class CrashHook:
    """Fires at one (step, moment); inert when not configured."""

    def __init__(self, spec: str | None) -> None:
        self.step: str | None = None
        self.moment = ""
        self.sig = signal.SIGKILL
        if not spec:
            return
        parts = spec.strip().split(":")
        if parts[-1].lower() in ("stop", "kill"):
            self.sig = signal.SIGSTOP if parts.pop().lower() == "stop" else signal.SIGKILL
        moment = parts.pop() if len(parts) > 1 else "before-write"
        self.moment = f"{moment}-write" if moment in ("before", "after") else moment
        self.step = ":".join(parts)

    @classmethod
    def from_env(cls) -> CrashHook:
        """The hook named by the environment, or an inert one."""
        return cls(os.environ.get(CRASH_ENV))

    def __call__(self, step_id: str, moment: str) -> None:
        """Fire when this is the configured step and moment."""
        if self.step == step_id and self.moment == moment:
            os.kill(os.getpid(), self.sig)
