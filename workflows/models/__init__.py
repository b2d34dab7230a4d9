"""The kernel's tables: workflows, their executions and each execution's steps, and what the
kernel keeps beside them."""

from workflows.models.audit import ActorKind, AuditEntry
from workflows.models.executions import (
    FINISHED_STATUSES,
    STEP_DONE_STATUSES,
    STEP_UNDER_WAY_STATUSES,
    AutomationExecution,
    AutomationExecutionStep,
    ExecutionStatus,
    StepStatus,
)
from workflows.models.jobs import Job, JobKind, JobStatus
from workflows.models.suites import WorkflowTest
from workflows.models.support import (
    ApiToken,
    BrokerWatermark,
    KernelEvent,
    StepEffect,
)
from workflows.models.workflows import (
    AutomationWorkflow,
    OverlapPolicy,
    TriggerType,
    WorkflowDraft,
    WorkflowRevision,
    WorkflowType,
)

__all__ = [
    "FINISHED_STATUSES",
    "STEP_DONE_STATUSES",
    "STEP_UNDER_WAY_STATUSES",
    "ActorKind",
    "ApiToken",
    "AuditEntry",
    "AutomationExecution",
    "AutomationExecutionStep",
    "AutomationWorkflow",
    "BrokerWatermark",
    "ExecutionStatus",
    "Job",
    "JobKind",
    "JobStatus",
    "KernelEvent",
    "OverlapPolicy",
    "StepEffect",
    "StepStatus",
    "TriggerType",
    "WorkflowDraft",
    "WorkflowRevision",
    "WorkflowTest",
    "WorkflowType",
]
