"""Ghost deliveries: X-Ghost-Signature sha256 over the raw body followed by the millisecond
timestamp; the event in the body (Ghost 6+) or configured in trigger.event."""

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

PUBLISHED = example("ghost/post-published.json")
TAG_EDITED = example("ghost/tag-edited.json")


def ghost_signature(body: bytes, secret: str = SECRET, *, age_s: int = 0) -> str:
    """What Ghost's webhook trigger sends: the body and the timestamp (ms) concatenated."""
    timestamp_ms = int((time.time() - age_s) * 1000)
    return f"sha256={hmac_hex(secret, body + str(timestamp_ms).encode())}, t={timestamp_ms}"


def deliver(workflow, body, **kwargs):
    signature = ghost_signature(body, **kwargs)
    return post(workflow, body, x_ghost_signature=signature, content_version="v6.0")


def test_a_published_post_runs_named_by_the_event_in_its_body():
    workflow = hook_workflow("ghost")
    execution = execution_of(deliver(workflow, PUBLISHED))
    assert execution.trigger_payload == example_json("ghost/post-published.json")
    webhook = execution.context["webhook"]
    assert (webhook["sender"], webhook["event"]) == ("ghost", "post.published")
    assert webhook["headers"]["content-version"] == "v6.0"


def test_an_older_ghost_body_takes_its_event_from_trigger_event():
    workflow = hook_workflow("ghost", event="tag.edited")
    execution = execution_of(deliver(workflow, TAG_EDITED))
    assert execution.context["webhook"]["event"] == "tag.edited"
    assert execution.trigger_payload["tag"]["current"]["name"] == "Updated Tag 3"


def test_a_stale_timestamp_is_401():
    workflow = hook_workflow("ghost")
    response = deliver(workflow, PUBLISHED, age_s=301)
    assert response.status_code == 401
    assert "outside the tolerance" in response.json()["detail"]


def test_a_signature_under_another_secret_is_401():
    workflow = hook_workflow("ghost")
    assert deliver(workflow, PUBLISHED, secret="someone-elses-secret").status_code == 401
    assert AutomationExecution.objects.count() == 0


def test_a_signature_of_the_body_alone_is_401():
    workflow = hook_workflow("ghost")
    timestamp_ms = int(time.time() * 1000)
    header = f"sha256={hmac_hex(SECRET, PUBLISHED)}, t={timestamp_ms}"
    assert post(workflow, PUBLISHED, x_ghost_signature=header).status_code == 401


def test_a_retry_with_the_same_signature_returns_the_first_execution():
    workflow = hook_workflow("ghost")
    header = ghost_signature(PUBLISHED)
    first = post(workflow, PUBLISHED, x_ghost_signature=header).json()
    again = post(workflow, PUBLISHED, x_ghost_signature=header).json()
    assert again == {"execution_id": first["execution_id"], "duplicate": True}


def test_an_event_outside_trigger_events_is_answered_200_and_runs_nothing():
    workflow = hook_workflow("ghost", events=["post.unpublished"])
    response = deliver(workflow, PUBLISHED)
    assert response.status_code == 200
    assert "'post.published' is not in trigger.events" in response.json()["reason"]
    assert AutomationExecution.objects.count() == 0
