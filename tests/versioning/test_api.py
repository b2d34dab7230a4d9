"""The articles and versions endpoints: CRUD, publish, history, one version, revert, bad input."""

import pytest
from rest_framework.test import APIClient

from integrations.models import IntegrationConnection
from tests.factories import ArticleFactory, WorkflowFactory
from versioning.models import Article, ContentVersion
from workflows.models import AutomationExecution

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"


def create(api, **data):
    response = api.post(
        f"{BASE}/articles", {"title": "Hello", "content": "a b c", **data}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


# --- articles -------------------------------------------------------------------------------------


def test_creating_an_article_returns_it_with_version_1_word_count_and_url(api, staff_user):
    body = create(api, title="Hello world")
    assert body["slug"] == "hello-world"
    assert body["status"] == "draft"
    assert body["author"] == staff_user.pk
    assert body["author_username"] == "staff"
    assert (body["current_version"], body["word_count"]) == (1, 3)
    assert body["url"] == "/articles/hello-world/"
    version = ContentVersion.objects.get(article_id=body["id"])
    assert (version.change_type, version.changed_by) == ("create", staff_user)


def test_patching_an_article_records_an_update_version(api):
    article = create(api)
    response = api.patch(
        f"{BASE}/articles/{article['id']}/", {"content": "new text"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["current_version"] == 2
    assert ContentVersion.objects.get(article_id=article["id"], version_number=2).change_type == (
        "update"
    )


def test_articles_filter_by_status_and_search_by_title(api):
    ArticleFactory(title="Cooking pasta", status="published")
    ArticleFactory(title="Cooking rice")
    ArticleFactory(title="Gardening")
    published = api.get(f"{BASE}/articles", {"status": "published"}).json()
    assert [row["title"] for row in published["results"]] == ["Cooking pasta"]
    found = api.get(f"{BASE}/articles", {"search": "cooking"}).json()
    assert found["count"] == 2


def test_listing_articles_takes_the_same_queries_for_many_articles(
    api, django_assert_max_num_queries
):
    ArticleFactory.create_batch(20)
    with django_assert_max_num_queries(4):
        response = api.get(f"{BASE}/articles")
    assert response.json()["count"] == 20


def test_deleting_an_article_deletes_its_versions(api):
    article = create(api)
    assert api.delete(f"{BASE}/articles/{article['id']}").status_code == 204
    assert not ContentVersion.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": ["not", "a", "string"]}, "title"),
        ({"title": "x", "content": {"an": "object"}}, "content"),
        ({"title": "x", "status": "live"}, "status"),
        ({"title": "x", "slug": "not a slug!"}, "slug"),
        ({"title": "x", "author": 999999}, "author"),
        ({"content": "no title"}, "title"),
    ],
)
def test_article_fields_of_the_wrong_type_are_a_400_naming_the_field(api, data, field):
    response = api.post(f"{BASE}/articles", data, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Article.objects.exists()


def test_a_taken_slug_is_a_400(api):
    create(api, slug="taken")
    response = api.post(f"{BASE}/articles", {"title": "Other", "slug": "taken"}, format="json")
    assert response.status_code == 400
    assert "slug" in response.json()


def test_an_unknown_article_is_a_404(api):
    assert api.get(f"{BASE}/articles/999999").status_code == 404
    assert api.post(f"{BASE}/articles/999999/publish").status_code == 404


# --- publish --------------------------------------------------------------------------------------


def test_publishing_over_the_api_records_a_version_and_queues_the_publish_workflow(api):
    workflow = WorkflowFactory(trigger={"type": "publish"})
    article = create(api)
    response = api.post(f"{BASE}/articles/{article['id']}/publish")
    assert response.status_code == 200
    body = response.json()
    execution = AutomationExecution.objects.get()
    assert body["execution_ids"] == [execution.pk]
    assert (body["status"], body["version_number"], body["already_published"]) == (
        "published",
        2,
        False,
    )
    assert execution.workflow == workflow
    assert execution.context["article"]["id"] == article["id"]


def test_publishing_twice_over_the_api_reports_already_published_and_starts_nothing_new(api):
    WorkflowFactory(trigger={"type": "publish"})
    article = create(api)
    api.post(f"{BASE}/articles/{article['id']}/publish/")
    again = api.post(f"{BASE}/articles/{article['id']}/publish/").json()
    assert (again["already_published"], again["execution_ids"]) == (True, [])
    assert AutomationExecution.objects.count() == 1


# --- versions -------------------------------------------------------------------------------------


def test_posting_a_version_snapshots_the_article_as_manual(api):
    article = create(api)
    response = api.post(
        f"{BASE}/versions",
        {"article_id": article["id"], "change_description": "checkpoint"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["version_number"], body["change_type"]) == (2, "manual")
    assert body["change_description"] == "checkpoint"
    assert body["content_snapshot"]["title"] == "Hello"


def test_history_is_newest_first_with_diff_stats(api):
    article = create(api)
    api.patch(f"{BASE}/articles/{article['id']}", {"content": "x"}, format="json")
    response = api.get(f"{BASE}/versions/{article['id']}")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["version_number"], row["change_type"]) for row in rows] == [
        (2, "update"),
        (1, "create"),
    ]
    assert (rows[0]["added"], rows[0]["removed"]) == (1, 1)
    assert "diff_data" not in rows[0]
    assert api.get(f"{BASE}/versions/{article['id']}/").status_code == 200


def test_one_version_comes_with_its_full_diff(api):
    article = create(api)
    api.patch(f"{BASE}/articles/{article['id']}", {"content": "x"}, format="json")
    body = api.get(f"{BASE}/versions/{article['id']}/2").json()
    assert body["diff_data"]["unified"].startswith("--- v1\n+++ v2")
    assert (body["added"], body["removed"]) == (1, 1)
    assert body["content_snapshot"]["content"] == "x"


def test_revert_over_the_api_restores_the_version_and_records_a_revert(api):
    article = create(api, content="original")
    api.patch(f"{BASE}/articles/{article['id']}", {"content": "second"}, format="json")
    api.patch(f"{BASE}/articles/{article['id']}", {"title": "Third"}, format="json")
    response = api.post(
        f"{BASE}/versions/{article['id']}/revert", {"version_number": 1}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["version_number"], response.json()["change_type"]) == (4, "revert")
    current = api.get(f"{BASE}/articles/{article['id']}").json()
    assert (current["title"], current["content"]) == ("Hello", "original")


def test_revert_to_a_missing_version_is_a_404_naming_it(api):
    article = create(api)
    response = api.post(
        f"{BASE}/versions/{article['id']}/revert/", {"version_number": 7}, format="json"
    )
    assert response.status_code == 404
    assert "no version 7" in response.json()["detail"]
    assert ContentVersion.objects.count() == 1


def test_revert_to_a_slug_another_article_took_is_a_409(api):
    article = create(api, slug="wanted")
    api.patch(f"{BASE}/articles/{article['id']}", {"slug": "moved"}, format="json")
    create(api, slug="wanted")
    response = api.post(
        f"{BASE}/versions/{article['id']}/revert", {"version_number": 1}, format="json"
    )
    assert response.status_code == 409
    assert "wanted" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "versions/999999", None),
        ("get", "versions/abc", None),
        ("get", "versions/999999/1", None),
        ("get", "versions/{id}/99", None),
        ("get", "versions/{id}/x", None),
        ("post", "versions/999999/revert", {"version_number": 1}),
    ],
)
def test_unknown_articles_and_versions_are_404s(api, method, path, data):
    article = create(api)
    response = getattr(api, method)(f"{BASE}/{path.format(id=article['id'])}", data, format="json")
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("versions", {"article_id": 999999}, "article_id"),
        ("versions", {"article_id": "abc"}, "article_id"),
        ("versions", {}, "article_id"),
        ("versions/{id}/revert", {"version_number": "one"}, "version_number"),
        ("versions/{id}/revert", {}, "version_number"),
    ],
)
def test_bad_version_input_is_a_400_naming_the_field(api, path, data, field):
    article = create(api)
    response = api.post(f"{BASE}/{path.format(id=article['id'])}", data, format="json")
    assert response.status_code == 400
    assert field in response.json()


# --- workflows using the content actions ----------------------------------------------------------


def workflow_with(action):
    return {"name": "Commit", "actions": [{"id": "git", **action}]}


def test_a_git_commit_step_without_a_connection_is_refused_at_save_naming_it(api):
    response = api.post(
        f"{BASE}/workflows", workflow_with({"type": "git_commit", "params": {}}), format="json"
    )
    assert response.status_code == 400
    assert "connection" in response.json()["actions"]["0"]["params"]


@pytest.mark.parametrize("platform", ["missing", "slack"])
def test_a_git_commit_step_with_an_unknown_or_non_github_connection_is_refused(api, platform):
    connection_id = 999999
    if platform != "missing":
        connection_id = IntegrationConnection.objects.create(
            name="chat", platform=platform, webhook_url="https://hooks.slack.com/services/x"
        ).pk
    action = {"type": "git_commit", "params": {"connection": connection_id}}
    response = api.post(f"{BASE}/workflows", workflow_with(action), format="json")
    assert response.status_code == 400
    message = response.json()["actions"]["0"]["params"]["connection"][0]
    assert str(connection_id) in message


def test_a_git_commit_step_with_a_github_connection_is_saved(api):
    connection = IntegrationConnection.objects.create(
        name="gh", platform="github", credentials={"token": "t"}, config={"repo": "o/r"}
    )
    action = {"type": "git_commit", "params": {"connection": connection.pk, "path": "a/{{ x }}"}}
    assert api.post(f"{BASE}/workflows", workflow_with(action), format="json").status_code == 201


@pytest.mark.parametrize(
    "params",
    [{"article_id": "abc"}, {"apply": "perhaps"}, {"unknown": 1}],
)
def test_bad_optimize_params_are_refused_at_save(api, params):
    action = {"type": "optimize", "params": params}
    response = api.post(f"{BASE}/workflows", workflow_with(action), format="json")
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["actions"]["0"]["params"]


# --- who may ------------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "articles"),
    ("post", "articles"),
    ("get", "articles/{id}"),
    ("post", "articles/{id}/publish"),
    ("post", "versions"),
    ("get", "versions/{id}"),
    ("get", "versions/{id}/1"),
    ("post", "versions/{id}/revert"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_plain_users_and_anonymous_callers_are_refused(plain_api, method, path):
    article = ArticleFactory()
    url = f"{BASE}/{path.format(id=article.pk)}"
    assert getattr(plain_api, method)(url, {}, format="json").status_code == 403
    assert getattr(APIClient(), method)(url, {}, format="json").status_code in (401, 403)
    assert Article.objects.get().status == "draft"
