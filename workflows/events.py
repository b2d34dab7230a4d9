"""The kernel's event hooks: apps above the kernel subscribe (in ``AppConfig.ready``) to hear
that an execution finished or a step failed, without the engine importing them.

Events are emitted after the transaction that caused them commits:
- ``execution.finished``: execution_id, workflow_id, status, error, execution_time_ms
- ``step.failed``: execution_id, workflow_id, step_id, step_type, error
"""

from integrations.hooks import Hooks

EXECUTION_FINISHED = "execution.finished"
STEP_FAILED = "step.failed"

_hooks = Hooks()
subscribe = _hooks.subscribe
unsubscribe = _hooks.unsubscribe
emit = _hooks.emit
