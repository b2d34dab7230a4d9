"""An action type only the operability tests install (through ACTION_TYPES_EXTRA)."""

import logging
from typing import Any

from integrations.models import IntegrationConnection
from workflows.actions.base import Action, StepRun

logger = logging.getLogger("tests.ops.leaky")


class LeakyAction(Action):
    """Careless with secrets: logs a connection's token, then crashes with it in the error."""

    type = "leaky"
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["connection"],
        "properties": {"connection": {"type": "integer"}},
    }

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        token = IntegrationConnection.objects.get(pk=params["connection"]).credentials["token"]
        logger.warning("calling the platform with token %s", token)
        raise RuntimeError(f"the platform refused token {token}")
