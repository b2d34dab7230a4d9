"""Demo content for a first run: one draft article and a "publish → optimize → commit" workflow."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from integrations.models import IntegrationConnection
from versioning.models import Article
from versioning.services import article_create
from workflows.definition import definition_validate
from workflows.models import AutomationWorkflow
from workflows.services.workflows import workflow_create

DEMO_ARTICLE = {
    "title": "Getting started with workflow automation",
    "slug": "getting-started-with-workflow-automation",
    "excerpt": "How a publish can tidy an article's SEO and commit it to Git, unattended.",
    "content": (
        "# Getting started\n\n"
        "Workflows run a list of actions when something happens. Publishing an article is one "
        "such thing. A workflow can then check the article for readability, suggest a better "
        "meta description, and commit the text to a Git repository.\n\n"
        "Each run is recorded step by step, so you can see what happened and retry what failed."
    ),
}

WORKFLOW_NAME = "Publish, optimize and commit an article"
NO_GIT = (
    " To commit the article to Git as well, add a github connection (credentials.token, "
    'config.repo "owner/name") and append a step {"id": "commit", "type": "git_commit", '
    '"params": {"connection": <its id>}}.'
)


def _workflow(article: Article, connection: IntegrationConnection | None) -> dict[str, Any]:
    article_id = f"{{{{ trigger.article_id | default({article.pk}) }}}}"
    actions: list[dict[str, Any]] = [
        {"id": "publish", "type": "publish", "params": {"article_id": article_id}},
        {
            "id": "optimize",
            "type": "optimize",
            "params": {"article_id": article_id, "target_keyword": "workflow"},
        },
    ]
    description = (
        'Run it with {"article_id": N} (default: the demo article): publishes the article and '
        "analyses its SEO and readability."
    )
    if connection is not None:
        actions.append(
            {
                "id": "commit",
                "type": "git_commit",
                "params": {"connection": connection.pk, "article_id": article_id},
            }
        )
        description += f" Then commits it as Markdown through the connection '{connection.name}'."
    else:
        description += NO_GIT
    return {
        "name": WORKFLOW_NAME,
        "description": description,
        "workflow_type": "content_publishing",
        "trigger": {"type": "manual"},
        "actions": actions,
    }


def demo_seed(user: AbstractBaseUser | None) -> list[str]:
    """Create the demo article and workflow unless they exist; returns what was created."""
    created = []
    article = Article.objects.filter(slug=DEMO_ARTICLE["slug"]).first()
    if article is None:
        article = article_create(data=DEMO_ARTICLE, user=user).article
        created.append(f"article '{article.title}'")
    if not AutomationWorkflow.objects.filter(name=WORKFLOW_NAME).exists():
        connection = (
            IntegrationConnection.objects.filter(platform="github", is_active=True)
            .order_by("pk")
            .first()
        )
        data = _workflow(article, connection)
        definition_validate(trigger=data["trigger"], actions=data["actions"], schedule=None)
        workflow_create(data=data, user=user)
        created.append(f"workflow '{WORKFLOW_NAME}'")
    return created
