"""The activity feed: one newest-first stream of five kinds, filtered and paged by keyset."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from analytics.selectors import CursorInvalid, activity_feed
from tests.analytics.conftest import NOW, execution
from tests.factories import (
    AlertDeliveryFactory,
    AlertFactory,
    ArticleFactory,
    ConnectionFactory,
    WorkflowFactory,
)
from versioning.models import ContentVersion

pytestmark = pytest.mark.django_db
BASE = "/api/workflow-orchestration"


def minutes_ago(minutes):
    return NOW - timedelta(minutes=minutes)


def version(article, number, created):
    row = ContentVersion.objects.create(
        article=article, version_number=number, change_type="update", content_snapshot={},
        diff_data={}, change_description=f"edit {number}",
    )  # fmt: skip
    ContentVersion.objects.filter(pk=row.pk).update(created_at=created)
    return row


@pytest.fixture
def happenings():
    """One of each kind, a minute apart: the newest is the connection check."""
    workflow = WorkflowFactory(name="Nightly")
    run = execution(workflow, "failed", minutes_ago(10), 60_000, "Step 'post' failed: 503")
    alert = AlertFactory(name="Pager", channel="in_app")
    delivery = AlertDeliveryFactory(alert=alert, sent_at=minutes_ago(7), folded_count=3)
    article = ArticleFactory(title="Launch")
    edit = version(article, 2, minutes_ago(6))
    connection = ConnectionFactory(
        name="Team Slack", platform="webhook", is_verified=True, last_verified_at=minutes_ago(5)
    )
    return {"run": run, "delivery": delivery, "edit": edit, "connection": connection}


def test_the_feed_merges_every_kind_newest_first(happenings):
    results = activity_feed()["results"]
    assert [(item["kind"], item["object_id"]) for item in results] == [
        ("connection.verified", happenings["connection"].pk),
        ("version.created", happenings["edit"].pk),
        ("alert.sent", happenings["delivery"].pk),
        ("execution.finished", happenings["run"].pk),
        ("execution.started", happenings["run"].pk),
    ]
    assert [item["at"] for item in results] == [
        minutes_ago(5), minutes_ago(6), minutes_ago(7), minutes_ago(9), minutes_ago(10),
    ]  # fmt: skip


def test_each_item_says_what_happened_with_a_link(happenings):
    run, edit = happenings["run"], happenings["edit"]
    items = {item["kind"]: item for item in activity_feed()["results"]}
    finished = items["execution.finished"]
    assert finished["title"] == f"Execution #{run.pk} of 'Nightly' failed"
    assert finished["detail"] == "Step 'post' failed: 503"
    assert finished["link"] == f"{BASE}/executions/{run.pk}"
    assert items["alert.sent"]["title"] == "Alert 'Pager' sent via in_app"
    assert items["alert.sent"]["detail"] == "execution.failed, critical (3 events)."
    assert items["version.created"]["title"] == "'Launch' version 2 (update)"
    assert items["version.created"]["link"] == f"{BASE}/versions/{edit.article_id}/2"
    assert items["connection.verified"]["title"] == "Connection 'Team Slack' (webhook) verified"


def test_queued_executions_and_unsent_deliveries_are_not_activity(db):
    execution(WorkflowFactory(), "queued", minutes_ago(3))
    AlertDeliveryFactory(status="pending")
    ConnectionFactory()
    assert activity_feed()["results"] == []


def test_kinds_filter_the_feed(happenings):
    results = activity_feed(kinds=["alert.sent", "execution.started"])["results"]
    assert [item["kind"] for item in results] == ["alert.sent", "execution.started"]


def test_an_unknown_kind_is_refused(db):
    with pytest.raises(ValueError, match=r"Unknown kind 'execution\.exploded'"):
        activity_feed(kinds=["execution.exploded"])


def test_pages_follow_each_other_without_gaps_or_repeats_even_on_equal_times(db):
    workflow = WorkflowFactory()
    # Eight executions started at two instants and finished at the same instant: ties everywhere.
    for index in range(8):
        row = execution(workflow, "completed", minutes_ago(10 + index % 2), 0)
        row.__class__.objects.filter(pk=row.pk).update(completed_at=minutes_ago(5))
    everything = activity_feed(limit=100)["results"]
    assert len(everything) == 16
    paged, cursor = [], None
    while True:
        page = activity_feed(limit=3, cursor=cursor)
        paged += page["results"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == everything


def test_a_tampered_cursor_is_refused(db):
    with pytest.raises(CursorInvalid):
        activity_feed(cursor="bm90LWEtY3Vyc29y")


def test_any_signed_in_user_reads_the_activity_page_by_page(happenings, plain_api):
    first = plain_api.get(f"{BASE}/activity", {"page_size": 2})
    assert first.status_code == 200
    body = first.json()
    assert [item["kind"] for item in body["results"]] == ["connection.verified", "version.created"]
    second = plain_api.get(body["next"]).json()
    assert [item["kind"] for item in second["results"]] == ["alert.sent", "execution.finished"]
    last = plain_api.get(second["next"]).json()
    assert [item["kind"] for item in last["results"]] == ["execution.started"]
    assert last["next"] is None


def test_the_activity_endpoint_filters_by_kind(happenings, plain_api):
    response = plain_api.get(f"{BASE}/activity?kind=execution.started,alert.sent")
    assert [item["kind"] for item in response.json()["results"]] == [
        "alert.sent",
        "execution.started",
    ]
    repeated = plain_api.get(f"{BASE}/activity?kind=alert.sent&kind=version.created")
    assert len(repeated.json()["results"]) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "execution.exploded"}, "kind"),
        ({"cursor": "garbage"}, "cursor"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 500}, "page_size"),
    ],
)
def test_bad_activity_queries_get_400_with_the_field(plain_api, query, field):
    response = plain_api.get(f"{BASE}/activity", query)
    assert response.status_code == 400
    assert field in response.json()


def test_anonymous_callers_cannot_read_the_activity(db):
    assert APIClient().get(f"{BASE}/activity").status_code == 401
