"""Helpers for the sender tests: the vendored examples (see data/README.md), a webhook workflow
per sender, raw posts to its URL, and signatures computed with the plain hmac library — never
with the code under test."""

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from django.test.client import Client
from rest_framework.test import APIClient

from workflows.models import AutomationExecution, AutomationWorkflow
from workflows.services.workflows import workflow_create

DATA = Path(__file__).parent / "data"
SECRET = "whsec-test-0123456789abcdef"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
ACTIONS = [{"id": "t", "type": "transform", "params": {"values": {"x": 1}}}]


def example(name: str) -> bytes:
    return (DATA / name).read_bytes()


def example_json(name: str) -> dict[str, Any]:
    return json.loads(example(name))


def hook_workflow(sender: str, secret: str = SECRET, **trigger: Any) -> AutomationWorkflow:
    data: dict[str, Any] = {
        "name": f"{sender} hook",
        "trigger": {"type": "webhook", "sender": sender, **trigger},
        "actions": ACTIONS,
    }
    if secret:
        data["webhook_secret"] = secret
    return workflow_create(data=data)


def post(workflow: AutomationWorkflow, body: bytes, content_type: str = JSON, **headers: str):
    """POST exactly ``body`` to the workflow's URL; ``x_github_event="push"`` sends
    ``X-GitHub-Event: push``."""
    client: Client = APIClient()
    extra = {f"HTTP_{name.upper()}": value for name, value in headers.items()}
    return client.generic(
        "POST", f"/api/workflow-orchestration/hooks/{workflow.webhook_token}", body,
        content_type=content_type, **extra,
    )  # fmt: skip


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def execution_of(response) -> AutomationExecution:
    assert response.status_code == 202, response.content
    return AutomationExecution.objects.get(pk=response.json()["execution_id"])
