"""Event and webhook triggers, idempotency, and trigger validation."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.signing import signature_header
from tests.factories import WorkflowFactory
from workflows.api.triggers import WebhookTokenThrottle
from workflows.models import AutomationExecution, AutomationWorkflow
from workflows.services.workflows import workflow_create, workflow_update

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"
ACTIONS = [{"id": "t", "type": "transform", "params": {"values": {"x": "{{ trigger.n }}"}}}]
SECRET = "s3cret-signing-key-0123456789"


def event_workflow(event: str, **fields) -> AutomationWorkflow:
    return WorkflowFactory(trigger={"type": "event", "event": event}, **fields)


class TestEvents:
    def test_an_event_starts_the_matching_active_workflows_only(self, api):
        published = event_workflow("article.published")
        event_workflow("article.published", is_active=False)
        event_workflow("comment.created")
        response = api.post(
            f"{BASE}/events", {"name": "article.published", "payload": {"n": 3}}, format="json"
        )
        assert response.status_code == 202
        ids = response.json()["execution_ids"]
        executions = AutomationExecution.objects.filter(pk__in=ids)
        assert [e.workflow_id for e in executions] == [published.pk]
        assert executions[0].trigger_payload == {"n": 3}
        assert executions[0].trigger_type == "event"

    def test_an_event_nobody_listens_to_starts_nothing(self, api):
        response = api.post(f"{BASE}/events", {"name": "nothing"}, format="json")
        assert response.status_code == 202
        assert response.json() == {"execution_ids": []}

    def test_a_repeated_idempotency_key_returns_the_first_executions(self, api):
        event_workflow("ping")
        first = api.post(
            f"{BASE}/events", {"name": "ping"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
        again = api.post(
            f"{BASE}/events", {"name": "ping"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
        assert first.json() == again.json()
        assert AutomationExecution.objects.count() == 1

    def test_an_event_without_a_name_is_a_400(self, api):
        response = api.post(f"{BASE}/events", {"payload": {}}, format="json")
        assert response.status_code == 400
        assert "name" in response.json()

    def test_events_are_for_staff(self, plain_api):
        assert plain_api.post(f"{BASE}/events", {"name": "x"}, format="json").status_code == 403
        assert APIClient().post(f"{BASE}/events", {"name": "x"}, format="json").status_code == 401


def webhook_workflow(secret: str = "", **fields) -> AutomationWorkflow:
    data = {"name": "Hook", "trigger": {"type": "webhook"}, "actions": ACTIONS, **fields}
    if secret:
        data["webhook_secret"] = secret
    return workflow_create(data=data)


def post_hook(workflow, body: bytes, **headers):
    client = APIClient()
    return client.generic(
        "POST",
        f"{BASE}/hooks/{workflow.webhook_token}",
        body,
        content_type="application/json",
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
    )


def signed(body: bytes, secret: str = SECRET, *, age_s: int = 0) -> str:
    return signature_header(secret, body, int(time.time()) - age_s)


class TestWebhooks:
    body = json.dumps({"n": 7}).encode()

    def test_the_workflow_shows_its_webhook_url_and_hides_the_secret(self, api):
        workflow = webhook_workflow(SECRET)
        data = api.get(f"{BASE}/workflows/{workflow.pk}").json()
        assert data["webhook_url"].endswith(f"/hooks/{workflow.webhook_token}")
        assert data["has_webhook_secret"] is True
        assert SECRET not in json.dumps(data)
        assert len(workflow.webhook_token) >= 32

    def test_an_unsigned_hook_without_a_secret_is_accepted(self):
        workflow = webhook_workflow()
        response = post_hook(workflow, self.body)
        assert response.status_code == 202
        execution = AutomationExecution.objects.get(pk=response.json()["execution_id"])
        assert (execution.trigger_type, execution.trigger_payload) == ("webhook", {"n": 7})

    def test_a_valid_signature_is_accepted(self):
        workflow = webhook_workflow(SECRET)
        assert post_hook(workflow, self.body, x_signature=signed(self.body)).status_code == 202

    def test_a_body_changed_by_one_byte_is_refused(self):
        workflow = webhook_workflow(SECRET)
        tampered = self.body.replace(b"7", b"8")
        response = post_hook(workflow, tampered, x_signature=signed(self.body))
        assert response.status_code == 401
        assert AutomationExecution.objects.count() == 0

    # A minute past the 300 s tolerance either way: the server reads its clock after the test
    # does, so a future timestamp only 1 s outside would come back inside on a slow machine.
    # The exact boundary is tested with a fixed clock in tests/integrations/test_signing.py.
    @pytest.mark.parametrize("age_s", [360, -360])
    def test_a_timestamp_outside_the_tolerance_is_refused(self, age_s):
        workflow = webhook_workflow(SECRET)
        response = post_hook(workflow, self.body, x_signature=signed(self.body, age_s=age_s))
        assert response.status_code == 401

    def test_a_missing_signature_is_refused_when_a_secret_is_set(self):
        workflow = webhook_workflow(SECRET)
        response = post_hook(workflow, self.body)
        assert response.status_code == 401
        assert "Missing signature" in response.json()["detail"]

    def test_githubs_signature_header_is_accepted(self):
        import hashlib
        import hmac

        workflow = webhook_workflow(SECRET)
        digest = hmac.new(SECRET.encode(), self.body, hashlib.sha256).hexdigest()
        response = post_hook(workflow, self.body, x_hub_signature_256=f"sha256={digest}")
        assert response.status_code == 202

    def test_the_previous_secret_stays_valid_during_rotation_then_expires(self, settings):
        workflow = webhook_workflow(SECRET)
        workflow_update(workflow=workflow, data={"webhook_secret": "a-brand-new-secret-value"})
        assert post_hook(workflow, self.body, x_signature=signed(self.body)).status_code == 202
        new = signed(self.body, "a-brand-new-secret-value")
        assert post_hook(workflow, self.body, x_signature=new).status_code == 202
        AutomationWorkflow.objects.filter(pk=workflow.pk).update(
            webhook_secret_rotated_at=timezone.now()
            - timedelta(seconds=settings.WEBHOOK_SECRET_OVERLAP_S + 1)
        )
        assert post_hook(workflow, self.body, x_signature=signed(self.body)).status_code == 401

    def test_the_same_delivery_id_twice_gives_the_same_execution(self):
        workflow = webhook_workflow()
        first = post_hook(workflow, self.body, x_github_delivery="abc-123").json()
        again = post_hook(workflow, self.body, x_github_delivery="abc-123").json()
        assert first["execution_id"] == again["execution_id"]
        assert again["duplicate"] is True
        assert AutomationExecution.objects.count() == 1

    def test_an_unknown_token_is_404(self):
        response = APIClient().post(f"{BASE}/hooks/nope", {}, format="json")
        assert response.status_code == 404

    def test_an_inactive_workflow_is_409(self):
        workflow = webhook_workflow(is_active=False)
        assert post_hook(workflow, self.body).status_code == 409

    def test_a_body_over_one_megabyte_is_413(self):
        workflow = webhook_workflow()
        assert post_hook(workflow, b"x" * (1024 * 1024 + 1)).status_code == 413

    def test_a_body_that_is_not_json_is_a_400(self):
        workflow = webhook_workflow()
        assert post_hook(workflow, b"{oops").status_code == 400

    def test_hooks_are_rate_limited_per_token(self, monkeypatch):
        monkeypatch.setitem(WebhookTokenThrottle.THROTTLE_RATES, "webhook", "2/minute")
        workflow = webhook_workflow()
        statuses = [post_hook(workflow, self.body).status_code for _ in range(3)]
        assert statuses == [202, 202, 429]

    def test_a_short_webhook_secret_is_a_400(self, api):
        data = {
            "name": "Hook",
            "trigger": {"type": "webhook"},
            "actions": ACTIONS,
            "webhook_secret": "short",
        }
        response = api.post(f"{BASE}/workflows", data, format="json")
        assert response.status_code == 400
        assert "webhook_secret" in response.json()


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_executes_with_one_idempotency_key_make_one_execution(staff_user):
    from workflows.services.tokens import api_token_create

    workflow = WorkflowFactory()
    _, raw = api_token_create(user=staff_user)
    results: list[int] = []
    barrier = threading.Barrier(20)

    def call():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        barrier.wait()
        response = client.post(
            f"{BASE}/workflows/{workflow.pk}/execute",
            {},
            format="json",
            HTTP_IDEMPOTENCY_KEY="once",
        )
        results.append(response.json()["execution_id"])
        close_old_connections()

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert len(set(results)) == 1
    assert AutomationExecution.objects.filter(workflow=workflow).count() == 1


@pytest.mark.parametrize(
    "header",
    [("HTTP_X_SIGNATURE", "t=¹,v1=ab"), ("HTTP_X_SIGNATURE", "t=1,v1=é"),
     ("HTTP_X_HUB_SIGNATURE_256", "sha256=é"), ("HTTP_X_HUB_SIGNATURE_256", "sha256=" + "é" * 64)],
)  # fmt: skip
def test_a_non_ascii_signature_header_is_answered_401(header, db):
    workflow = workflow_create(
        data={"name": "Signed", "trigger": {"type": "webhook"}, "actions": []}, user=None
    )
    workflow = workflow_update(workflow=workflow, data={"webhook_secret": "s" * 24}, user=None)
    name, value = header

    response = APIClient().post(
        f"/api/workflow-orchestration/hooks/{workflow.webhook_token}", {}, format="json",
        **{name: value.encode().decode("latin-1")},
    )  # fmt: skip

    assert response.status_code == 401
