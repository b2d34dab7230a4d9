"""Articles and their history: versions recorded on create, update, publish, revert; diffs."""

import pytest

from tests.factories import UserFactory, WorkflowFactory
from versioning.models import ContentVersion
from versioning.selectors import article_context, article_matches, version_history
from versioning.services import (
    ArticleConflict,
    article_create,
    article_publish,
    article_update,
    version_create,
    version_revert,
)
from workflows.models import AutomationExecution

pytestmark = pytest.mark.django_db


def make_article(**data):
    fields = {"title": "First title", "content": "line one\nline two\n", **data}
    return article_create(data=fields).article


def history(article) -> list[tuple[int, str]]:
    return list(
        ContentVersion.objects.filter(article=article)
        .order_by("version_number")
        .values_list("version_number", "change_type")
    )


def test_creating_an_article_records_version_1_as_create():
    user = UserFactory()
    article = article_create(data={"title": "Hello world", "content": "Hi."}, user=user).article
    version = ContentVersion.objects.get(article=article)
    assert (version.version_number, version.change_type) == (1, "create")
    assert version.changed_by == user
    assert article.author == user
    assert article.slug == "hello-world"
    assert version.content_snapshot == {
        "title": "Hello world",
        "slug": "hello-world",
        "content": "Hi.",
        "excerpt": "",
        "meta_description": "",
        "status": "draft",
    }


def test_a_generated_slug_never_collides_with_another_article():
    make_article(title="Same")
    assert make_article(title="Same").slug == "same-2"


def test_an_update_that_changes_a_field_records_an_update_version_with_its_diff():
    article = make_article()
    article_update(article=article, data={"content": "line one\nline 2\nline three\n"})
    assert history(article) == [(1, "create"), (2, "update")]
    diff = ContentVersion.objects.get(article=article, version_number=2).diff_data
    assert (diff["added"], diff["removed"]) == (2, 1)
    assert "-line two" in diff["unified"]
    assert "+line 2" in diff["unified"]
    assert "+line three" in diff["unified"]
    assert diff["unified"].startswith("--- v1\n+++ v2")


def test_an_update_that_changes_nothing_records_no_version():
    article = make_article()
    article_update(article=article, data={"title": "First title", "content": article.content})
    assert history(article) == [(1, "create")]


def test_version_1_diffs_against_nothing_so_every_line_is_added():
    article = make_article(content="a\nb")
    diff = ContentVersion.objects.get(article=article).diff_data
    # Five metadata lines, a blank separator, two content lines.
    assert (diff["added"], diff["removed"]) == (8, 0)


def test_a_manual_snapshot_is_recorded_even_without_changes():
    article = make_article()
    version = version_create(article=article, description="Before the big edit")
    assert (version.version_number, version.change_type) == (2, "manual")
    assert version.change_description == "Before the big edit"
    assert version.diff_data["added"] == version.diff_data["removed"] == 0


def test_revert_to_version_1_after_two_edits_restores_it_and_appends_a_revert_version():
    article = make_article(excerpt="original")
    original = ContentVersion.objects.get(article=article, version_number=1).content_snapshot
    article_update(article=article, data={"title": "Second title", "content": "changed"})
    article_update(article=article, data={"excerpt": "edited", "meta_description": "meta"})
    first = ContentVersion.objects.get(article=article, version_number=1)

    change = version_revert(version=first)

    article.refresh_from_db()
    assert article.snapshot() == original
    assert history(article) == [(1, "create"), (2, "update"), (3, "update"), (4, "revert")]
    assert change.version.content_snapshot == original
    assert change.version.change_description == "Reverted to version 1."
    # History is never rewritten.
    assert ContentVersion.objects.get(article=article, version_number=2).content_snapshot[
        "title"
    ] == ("Second title")


def test_revert_refuses_a_slug_another_article_took_meanwhile():
    article = make_article(title="Mine", slug="mine")
    article_update(article=article, data={"slug": "renamed"})
    make_article(title="Thief", slug="mine")
    with pytest.raises(ArticleConflict, match="mine"):
        version_revert(version=ContentVersion.objects.get(article=article, version_number=1))
    assert history(article) == [(1, "create"), (2, "update")]


def test_publishing_records_a_publish_version_and_sets_published_at():
    article = make_article()
    result = article_publish(article=article)
    article.refresh_from_db()
    assert article.status == "published"
    assert article.published_at is not None
    assert (result.version_number, result.already_published) == (2, False)
    assert history(article)[-1] == (2, "publish")


def test_publishing_a_published_article_again_changes_nothing():
    article = make_article()
    article_publish(article=article)
    result = article_publish(article=article)
    assert (result.version_number, result.already_published) == (2, True)
    assert len(history(article)) == 2


def test_publishing_queues_each_active_publish_workflow_once_with_the_article_in_context():
    listening = WorkflowFactory(trigger={"type": "publish"})
    WorkflowFactory(trigger={"type": "publish"}, is_active=False)
    WorkflowFactory(trigger={"type": "manual"})
    article = make_article()
    result = article_publish(article=article)
    execution = AutomationExecution.objects.get()
    assert result.execution_ids == [execution.pk]
    assert execution.workflow == listening
    assert execution.trigger_type == "publish"
    assert execution.trigger_payload == {"article_id": article.pk}
    assert execution.context["article"]["title"] == "First title"
    assert execution.context["article"]["word_count"] == 4
    assert execution.context["article"]["url"] == "/articles/first-title/"
    assert execution.context["depth"] == 0


def test_a_publish_trigger_filter_on_article_fields_selects_the_workflows():
    WorkflowFactory(trigger={"type": "publish", "filter": {"author": "ann"}}, name="ann's")
    WorkflowFactory(trigger={"type": "publish", "filter": {"author": ["bob", "cy"]}}, name="bob")
    article = make_article()
    article_update(article=article, data={"author": UserFactory(username="bob")})
    article_publish(article=article)
    assert list(AutomationExecution.objects.values_list("workflow__name", flat=True)) == ["bob"]


def test_an_update_that_sets_status_published_is_a_publish():
    WorkflowFactory(trigger={"type": "publish"})
    article = make_article()
    change = article_update(article=article, data={"status": "published", "title": "New"})
    assert change.published
    assert history(article)[-1] == (2, "publish")
    assert AutomationExecution.objects.count() == 1


def test_an_article_created_published_fires_the_publish_trigger():
    WorkflowFactory(trigger={"type": "publish"})
    change = article_create(data={"title": "Live", "status": "published"})
    assert change.article.published_at is not None
    assert len(change.execution_ids) == 1


def test_a_publish_deeper_than_the_trigger_limit_still_publishes_but_starts_nothing(settings):
    settings.TRIGGER_MAX_DEPTH = 2
    WorkflowFactory(trigger={"type": "publish"})
    article = make_article()
    result = article_publish(article=article, depth=3)
    article.refresh_from_db()
    assert article.status == "published"
    assert result.execution_ids == []
    assert AutomationExecution.objects.count() == 0


def test_the_publishing_workflow_is_not_started_by_its_own_publish():
    publisher = WorkflowFactory(trigger={"type": "publish"})
    other = WorkflowFactory(trigger={"type": "publish"})
    article_publish(article=make_article(), depth=1, workflow_id=publisher.pk)
    execution = AutomationExecution.objects.get()
    assert execution.workflow == other
    assert execution.context["depth"] == 1


def test_history_lists_newest_first_with_line_counts():
    article = make_article()
    article_update(article=article, data={"content": "only one line"})
    rows = [(v.version_number, v.added, v.removed) for v in version_history(article=article)]
    # The first content ends with a newline: the empty line after it counts (versioning/diff.py).
    assert rows == [(2, 1, 3), (1, 9, 0)]


def test_article_context_holds_fields_word_count_and_url_or_none():
    article = make_article(content="one two three")
    context = article_context(article.pk)
    assert context["id"] == article.pk
    assert context["word_count"] == 3
    assert context["url"] == f"/articles/{article.slug}/"
    assert article_context(str(article.pk)) == context
    assert article_context(999999) is None
    assert article_context("nope") is None
    assert article_context(True) is None


@pytest.mark.parametrize(
    ("trigger_filter", "matches"),
    [
        (None, True),
        ({}, True),
        ({"status": "published"}, True),
        ({"status": ["draft", "published"]}, True),
        ({"status": "draft"}, False),
        ({"no_such_field": 1}, False),
        ("not an object", False),
    ],
)
def test_a_trigger_filter_matches_article_fields(trigger_filter, matches):
    assert article_matches({"status": "published"}, trigger_filter) is matches
