"""One exception handler for the API: JSON errors with the right status, never a 500 for input."""

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from workflows.approvals import ApprovalRefused
from workflows.services.executions import ExecutionConflict
from workflows.services.overlap import OverlapSkipped

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large."}, status=413)
    if isinstance(exc, ExecutionConflict | OverlapSkipped):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ApprovalRefused):
        if exc.kind == "field":
            return Response({"fields": [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
        code = status.HTTP_409_CONFLICT if exc.kind == "conflict" else status.HTTP_403_FORBIDDEN
        return Response({"detail": exc.message}, status=code)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.error("database unavailable: %s", exc)
        return Response(
            {"detail": "The database is unavailable; try again shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    return drf_exception_handler(exc, context)
