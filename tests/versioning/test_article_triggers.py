"""Article triggers (SPEC §11): {"type": "article", "events": [...], "filter": {...}} start a
workflow on an article's lifecycle — created, updated, status_changed (with from / to),
reverted, version_created — with the same filter syntax as publish."""

import pytest

from tests.factories import WorkflowFactory
from versioning.models import ContentVersion
from versioning.services import article_create, article_update, version_create, version_revert
from workflows.models import AutomationExecution

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"
STEP = [{"id": "t", "type": "transform", "params": {"values": {"title": "{{ article.title }}"}}}]


def listening(events, **trigger):
    return WorkflowFactory(
        name=f"on {'/'.join(events)}",
        trigger={"type": "article", "events": events, **trigger},
        actions=STEP,
    )


def runs_of(workflow) -> list[AutomationExecution]:
    return list(AutomationExecution.objects.filter(workflow=workflow).order_by("pk"))


def test_each_lifecycle_event_starts_the_workflows_listening_for_it():
    created = listening(["created"])
    updated = listening(["updated"])
    versioned = listening(["version_created"])
    reverted = listening(["reverted"])
    article = article_create(data={"title": "Draft one", "content": "Words."}).article
    assert len(runs_of(created)) == 1
    assert runs_of(created)[0].trigger_payload == {"article_id": article.pk, "event": "created"}
    assert runs_of(created)[0].context["article"]["title"] == "Draft one"
    article_update(article=article, data={"title": "Draft two"})
    assert runs_of(updated)[0].trigger_payload["changed"] == ["title"]
    assert [run.trigger_payload["version_number"] for run in runs_of(versioned)] == [1, 2]
    version_revert(version=ContentVersion.objects.get(article=article, version_number=1))
    assert runs_of(reverted)[0].trigger_payload["event"] == "reverted"
    assert len(runs_of(updated)) == 1  # a revert is told as reverted, not as updated
    assert runs_of(versioned)[-1].trigger_payload["change_type"] == "revert"
    assert runs_of(created)[0].triggered_by == {
        "kind": "event",
        "name": "article.created",
        "id": article.pk,
    }


def test_status_changed_follows_from_and_to():
    any_change = listening(["status_changed"])
    to_published = listening(["status_changed"], to="published")
    from_published = listening(["status_changed"], **{"from": "published", "to": "archived"})
    article = article_create(data={"title": "A", "content": "B"}).article
    article_update(article=article, data={"status": "published"})
    article_update(article=article, data={"status": "archived"})
    assert [(r.trigger_payload["from"], r.trigger_payload["to"]) for r in runs_of(any_change)] == [
        ("draft", "published"),
        ("published", "archived"),
    ]
    assert len(runs_of(to_published)) == 1
    assert runs_of(from_published)[0].trigger_payload["to"] == "archived"


def test_the_filter_selects_articles_as_publishs_does():
    news = listening(["created"], filter={"slug": ["tech-news", "world-news"]})
    article_create(data={"title": "Cooking", "content": "B"})
    assert runs_of(news) == []
    article_create(data={"title": "Tech news", "content": "D"})
    assert len(runs_of(news)) == 1


def test_a_manual_version_and_an_unchanged_update_say_what_they_are():
    versioned = listening(["version_created"])
    updated = listening(["updated"])
    article = article_create(data={"title": "A", "content": "B"}).article
    article_update(article=article, data={"title": "A"})  # nothing changed: nothing fires
    assert runs_of(updated) == []
    version_create(article=article, description="Checkpoint")
    assert [run.trigger_payload["change_type"] for run in runs_of(versioned)] == [
        "create",
        "manual",
    ]


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"type": "article"}, "events"),
        ({"type": "article", "events": ["deleted"]}, "events"),
        ({"type": "article", "events": ["created"], "to": "published"}, "events"),
        ({"type": "article", "events": ["status_changed"], "to": ""}, "to"),
        ({"type": "manual", "from": "draft"}, "from"),
        ({"type": "event", "event": "x", "events": ["created"]}, "events"),
    ],
)
def test_a_bad_article_trigger_is_a_400_naming_the_field(api, trigger, field):
    body = {"name": "x", "trigger": trigger, "actions": STEP}
    response = api.post(f"{BASE}/workflows", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["trigger"]
