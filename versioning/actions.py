"""The content actions: ``publish``, ``optimize`` and ``git_commit``.

Each works on one article: ``params.article_id`` when given, else the run's article (the context's
``article``, or ``article_id`` in the trigger payload).
"""

from collections.abc import Mapping
from typing import Any

from integrations.models import IntegrationConnection
from integrations.platforms.github import REPO
from versioning.analysis import article_analyse
from versioning.export import article_markdown, article_path
from versioning.github import ContentsClient, GitHubError, contents_commit
from versioning.models import Article
from versioning.services import (
    ArticleConflict,
    article_optimize_apply,
    article_publish,
    version_commit_record,
)
from workflows.actions.base import Action, ActionError, StepRun
from workflows.services.effects import effect_recall, effect_record


def _article_id(params: Mapping[str, Any], step: StepRun) -> Any:
    if params.get("article_id") is not None:
        return params["article_id"]
    article = step.context.get("article")
    if isinstance(article, Mapping) and article.get("id") is not None:
        return article["id"]
    trigger = step.context.get("trigger")
    return trigger.get("article_id") if isinstance(trigger, Mapping) else None


def article_find(params: Mapping[str, Any], step: StepRun) -> Article | None:
    """The step's article, or None when the step names none. Raises a permanent ActionError
    when the id names no article."""
    article_id = _article_id(params, step)
    if article_id is None:
        return None
    if isinstance(article_id, bool) or not str(article_id).isdecimal():
        raise ActionError(f"article_id must be a positive integer, got {article_id!r}.")
    article = Article.objects.select_related("author").filter(pk=int(article_id)).first()
    if article is None:
        raise ActionError(f"Article {article_id} does not exist.")
    return article


def article_resolve(params: Mapping[str, Any], step: StepRun) -> Article:
    """The step's article; a permanent ActionError when there is none."""
    article = article_find(params, step)
    if article is None:
        raise ActionError(
            "No article: set params.article_id, or run the workflow on an article (a publish "
            "trigger, or a payload with article_id)."
        )
    return article


ARTICLE_ID = {
    "type": "integer",
    "minimum": 1,
    "x-template": True,
    "description": "The article (default: the run's article: the one published, or the "
    "trigger payload's article_id).",
}


class PublishAction(Action):
    type = "publish"
    label = "Publish the article"
    group = "content"
    description = (
        "Sets the article published (idempotent: already_published when it was), records a "
        "publish version and fires the publish triggers of other workflows."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"article_id": ARTICLE_ID},
    }
    example = {
        "id": "publish",
        "type": "publish",
        "params": {"article_id": "{{ trigger.article_id }}"},
    }

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        article = article_resolve(params, step)
        # The workflow publishing is not started again by its own publish (loop guard), and the
        # workflows it does start are one trigger deeper.
        result = article_publish(
            article=article, depth=step.depth + 1, workflow_id=step.workflow_id
        )
        published_at = result.article.published_at
        return {
            "article_id": article.pk,
            "published_at": published_at.isoformat() if published_at else None,
            "version_number": result.version_number,
            "already_published": result.already_published,
            "triggered_execution_ids": result.execution_ids,
        }


class OptimizeAction(Action):
    type = "optimize"
    label = "Optimize the article (SEO and readability)"
    group = "content"
    description = (
        "Analyses the article (readability, title and meta description length, keyword "
        "density) and suggests a slug and meta description; with apply, writes the suggestions "
        "and records an optimize version."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "article_id": ARTICLE_ID,
            "target_keyword": {
                "type": "string",
                "maxLength": 200,
                "default": "",
                "x-template": True,
                "description": "The keyword whose density is measured.",
            },
            "apply": {
                "type": "boolean",
                "default": False,
                "x-template": True,
                "description": "Write the suggested slug and meta description to the article.",
            },
        },
    }
    example = {
        "id": "seo",
        "type": "optimize",
        "params": {"target_keyword": "workflow automation", "apply": True},
    }

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        article = article_resolve(params, step)
        keyword = (params.get("target_keyword") or "").strip()
        analysis = article_analyse(
            title=article.title,
            content=article.content,
            excerpt=article.excerpt,
            meta_description=article.meta_description,
            keyword=keyword,
        )
        output = {
            "article_id": article.pk,
            "target_keyword": keyword,
            **analysis.as_output(),
            "applied": [],
            "version_number": None,
        }
        if params.get("apply"):
            output.update(self._apply(article, analysis.suggested_slug, output))
        return output

    def _apply(self, article: Article, slug: str, output: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if slug and slug != article.slug:
            if Article.objects.exclude(pk=article.pk).filter(slug=slug).exists():
                output["issues"].append(f"Suggested slug '{slug}' is taken; the slug was kept.")
            else:
                values["slug"] = slug
        meta = output["suggested_meta_description"]
        if meta and meta != article.meta_description:
            values["meta_description"] = meta
        description = "Optimized: " + (", ".join(sorted(values)) or "no changes") + "."
        try:
            change = article_optimize_apply(article=article, values=values, description=description)
        except ArticleConflict as exc:
            raise ActionError(str(exc)) from None
        assert change.version is not None
        return {"applied": sorted(values), "version_number": change.version.version_number}


class GitCommitAction(Action):
    type = "git_commit"
    label = "Commit the article to a Git repository"
    group = "content"
    description = (
        "Commits one file through the GitHub contents API (the article as Markdown unless "
        "content is given) and stores the commit sha on the article's latest version. A "
        "redelivered step does not commit twice."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["connection"],
        "properties": {
            "connection": {
                "type": "integer",
                "minimum": 1,
                "x-connection-platform": ["github"],
                "description": "The GitHub connection to commit with.",
            },
            "repo": {
                "type": "string",
                "maxLength": 200,
                "pattern": "^(" + REPO.pattern + ")?$",
                "x-template": True,
                "x-messages": {"pattern": "Must be owner/name."},
                "description": "owner/name (default: the connection's config.repo).",
            },
            "branch": {
                "type": "string",
                "maxLength": 255,
                "x-template": True,
                "description": "The branch (default: the repository's default branch).",
            },
            "path": {
                "type": "string",
                "maxLength": 1000,
                "x-template": True,
                "description": "The file's path in the repository (default: the article's "
                "articles/<slug>.md).",
            },
            "content": {
                "type": "string",
                "x-template": True,
                "description": "The file's content (default: the article as Markdown with YAML "
                "front matter).",
            },
            "message": {
                "type": "string",
                "maxLength": 2000,
                "x-template": True,
                "description": "The commit message (default: Update <path>).",
            },
            "article_id": ARTICLE_ID,
        },
    }
    example = {
        "id": "archive",
        "type": "git_commit",
        "params": {"connection": 2, "message": "Publish {{ article.slug }}"},
    }

    def params_check(self, params: dict[str, Any], *, rendered: bool) -> dict[str, Any]:
        connection_id = params["connection"]
        connection = IntegrationConnection.objects.filter(pk=connection_id).first()
        if connection is None:
            return {"connection": [f"Connection {connection_id} does not exist."]}
        if connection.platform != "github":
            return {
                "connection": [
                    f"Connection {connection_id} is a {connection.platform} connection; "
                    "git_commit needs a github one."
                ]
            }
        return {}

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        committed = effect_recall(key=step.idempotency_key)
        if committed is not None:  # a redelivered step: the commit exists already
            return committed
        connection, repo = self._repository(params)
        article, content, path = self._file(params, step)
        client = ContentsClient(
            connection, repo, idempotency_key=step.idempotency_key, timeout_s=step.timeout_s
        )
        try:
            result = contents_commit(
                client,
                path=path,
                content=content,
                message=params.get("message") or f"Update {path}",
                branch=params.get("branch") or "",
            )
        except GitHubError as exc:
            raise ActionError(exc.message, retryable=exc.retryable) from None
        version = None
        if article is not None and result.commit_sha:
            version = version_commit_record(article=article, commit_sha=result.commit_sha)
        output = {
            "commit_sha": result.commit_sha,
            "path": path,
            "html_url": result.html_url,
            "repo": repo,
            "created": result.created,
            "unchanged": result.unchanged,
            "article_id": article.pk if article else None,
            "version_number": version.version_number if version else None,
        }
        effect_record(key=step.idempotency_key, step=step, result=output)
        return output

    def _repository(self, params: dict[str, Any]) -> tuple[IntegrationConnection, str]:
        connection = IntegrationConnection.objects.get(pk=params["connection"])
        if not connection.is_active:
            raise ActionError(f"Connection '{connection.name}' is inactive.")
        repo = params.get("repo") or (connection.config or {}).get("repo") or ""
        if not REPO.fullmatch(repo):
            raise ActionError(
                f"No repository: set params.repo or config.repo of connection '{connection.name}' "
                "to owner/name."
            )
        return connection, repo

    def _file(self, params: dict[str, Any], step: StepRun) -> tuple[Article | None, str, str]:
        """The article (None when content is given and no article), the content and the path."""
        content = params.get("content")
        article: Article | None
        if content is None:
            article = article_resolve(params, step)
            content = article_markdown(article)
        else:
            article = article_find(params, step)
        path = (params.get("path") or (article_path(article) if article else "")).strip("/")
        if not path or ".." in path.split("/"):
            raise ActionError("path must name a file inside the repository (no '..').")
        return article, content, path
