"""Stripe deliveries: Stripe-Signature t=…,v1=… over "<t>.<raw body>"; the body is the event."""

import time

import pytest

from tests.workflows.senders.hooks import (
    SECRET,
    example,
    example_json,
    execution_of,
    hmac_hex,
    hook_workflow,
    post,
)
from workflows.models import AutomationExecution

pytestmark = pytest.mark.django_db

BODY = example("stripe/event.json")


def stripe_signature(body: bytes, secret: str = SECRET, *, age_s: int = 0) -> str:
    """The header as Stripe's documentation describes it, computed with hmac alone."""
    timestamp = int(time.time()) - age_s
    return f"t={timestamp},v1={hmac_hex(secret, f'{timestamp}.'.encode() + body)}"


def test_an_event_runs_named_by_its_type_and_identified_by_its_id():
    workflow = hook_workflow("stripe")
    execution = execution_of(post(workflow, BODY, stripe_signature=stripe_signature(BODY)))
    assert execution.trigger_payload == example_json("stripe/event.json")
    webhook = execution.context["webhook"]
    assert (webhook["sender"], webhook["event"]) == ("stripe", "plan.created")
    assert webhook["delivery_id"] == "evt_1Pgc76B7WZ01zgkWwyRHS12y"


def test_one_matching_v1_among_several_is_enough():
    workflow = hook_workflow("stripe")
    good = stripe_signature(BODY)
    timestamp, v1 = good.split(",")
    header = f"{timestamp},v1={'0' * 64},{v1},v0={'1' * 64}"
    assert post(workflow, BODY, stripe_signature=header).status_code == 202


def test_a_signature_under_another_secret_is_401():
    workflow = hook_workflow("stripe")
    header = stripe_signature(BODY, "whsec_someone_elses_secret")
    assert post(workflow, BODY, stripe_signature=header).status_code == 401
    assert AutomationExecution.objects.count() == 0


def test_a_stale_timestamp_is_401():
    workflow = hook_workflow("stripe")
    header = stripe_signature(BODY, age_s=301)
    response = post(workflow, BODY, stripe_signature=header)
    assert response.status_code == 401
    assert "outside the tolerance" in response.json()["detail"]


def test_a_missing_signature_is_401():
    workflow = hook_workflow("stripe")
    assert post(workflow, BODY).status_code == 401


def test_a_retried_event_returns_the_first_execution():
    workflow = hook_workflow("stripe")
    first = post(workflow, BODY, stripe_signature=stripe_signature(BODY)).json()
    again = post(workflow, BODY, stripe_signature=stripe_signature(BODY, age_s=60)).json()
    assert again == {"execution_id": first["execution_id"], "duplicate": True}


def test_an_event_type_outside_trigger_events_is_answered_200_and_runs_nothing():
    workflow = hook_workflow("stripe", events=["invoice.paid"])
    response = post(workflow, BODY, stripe_signature=stripe_signature(BODY))
    assert response.status_code == 200
    assert response.json()["event"] == "plan.created"
    assert AutomationExecution.objects.count() == 0
