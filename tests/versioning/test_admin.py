"""The admin: article edits go through the services; versions show their diff and revert."""

import pytest
from django.urls import reverse

from tests.factories import WorkflowFactory
from versioning.models import Article, ContentVersion
from versioning.services import article_create, article_update
from workflows.models import AutomationExecution

pytestmark = pytest.mark.django_db


def form(**fields):
    data = {
        "title": "From the admin",
        "slug": "from-the-admin",
        "content": "Body",
        "excerpt": "",
        "meta_description": "",
        "status": "draft",
        "author": "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    return data


def test_adding_an_article_in_the_admin_records_version_1(admin_client, admin_user):
    response = admin_client.post(reverse("admin:versioning_article_add"), form())
    assert response.status_code == 302
    version = ContentVersion.objects.get()
    assert (version.change_type, version.changed_by) == ("create", admin_user)


def test_publishing_by_editing_the_status_in_the_admin_fires_the_publish_trigger(admin_client):
    WorkflowFactory(trigger={"type": "publish"})
    article = article_create(data={"title": "From the admin", "content": "Body"}).article
    url = reverse("admin:versioning_article_change", args=[article.pk])
    response = admin_client.post(url, form(status="published"))
    assert response.status_code == 302
    assert ContentVersion.objects.filter(article=article).latest("version_number").change_type == (
        "publish"
    )
    assert AutomationExecution.objects.get().trigger_payload == {"article_id": article.pk}


def test_the_publish_admin_action_publishes_and_fires_the_trigger(admin_client):
    WorkflowFactory(trigger={"type": "publish"})
    article = article_create(data={"title": "Ready", "content": "Body"}).article
    response = admin_client.post(
        reverse("admin:versioning_article_changelist"),
        {"action": "publish", "_selected_action": [article.pk]},
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == "published"
    assert AutomationExecution.objects.count() == 1


def test_the_article_page_lists_its_versions_inline(admin_client):
    article = article_create(data={"title": "Inline", "content": "one"}).article
    article_update(article=article, data={"content": "two"})
    page = admin_client.get(reverse("admin:versioning_article_change", args=[article.pk]))
    assert page.status_code == 200
    assert b">v1</a>" in page.content
    assert b">v2</a>" in page.content


def test_a_version_page_shows_its_unified_diff_in_a_pre_block(admin_client):
    article = article_create(data={"title": "Diffed", "content": "old <line>"}).article
    article_update(article=article, data={"content": "new <line>"})
    version = ContentVersion.objects.get(article=article, version_number=2)
    page = admin_client.get(reverse("admin:versioning_contentversion_change", args=[version.pk]))
    html = page.content.decode()
    assert '<pre style="white-space: pre-wrap">--- v1\n+++ v2' in html
    assert "-old &lt;line&gt;" in html
    assert "+new &lt;line&gt;" in html


def test_the_revert_admin_action_restores_the_chosen_version(admin_client):
    article = article_create(data={"title": "Reverted", "content": "first"}).article
    article_update(article=article, data={"content": "second"})
    first = ContentVersion.objects.get(article=article, version_number=1)
    response = admin_client.post(
        reverse("admin:versioning_contentversion_changelist"),
        {"action": "revert", "_selected_action": [first.pk]},
    )
    assert response.status_code == 302
    assert Article.objects.get().content == "first"
    assert ContentVersion.objects.filter(article=article).latest("version_number").change_type == (
        "revert"
    )


def test_the_revert_admin_action_wants_exactly_one_version(admin_client):
    article = article_create(data={"title": "Two picked", "content": "first"}).article
    article_update(article=article, data={"content": "second"})
    ids = list(ContentVersion.objects.values_list("pk", flat=True))
    admin_client.post(
        reverse("admin:versioning_contentversion_changelist"),
        {"action": "revert", "_selected_action": ids},
    )
    assert ContentVersion.objects.count() == 2
    assert Article.objects.get().content == "second"
