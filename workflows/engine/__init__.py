"""The engine: runs one execution's steps in order, saving progress after every step.

A worker first *claims* the execution (claim.py: one conditional UPDATE), which bumps its
``attempt`` — the fencing number. Every later write is conditional on that attempt (record.py),
so a worker that lost its lease (paused, partitioned, presumed dead) can never overwrite the work
of the attempt that replaced it. The loop (runner.py) runs the steps from the first one not yet
done and decides what comes next; an attempt ends in a wait (waits.py: a retry or a pause) or at
the end (finish.py: status, times, counters, the ``execution.finished`` event).

Read in that order: claim, runner, record, waits, finish.
"""

from workflows.engine.claim import execution_claim
from workflows.engine.errors import CancelRequested, StaleAttempt
from workflows.engine.runner import Runner, execution_run

__all__ = ["CancelRequested", "Runner", "StaleAttempt", "execution_claim", "execution_run"]
