"""Reads on articles and versions, and the ``article`` a workflow run sees in its context."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import IntegerField, Max, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from versioning.analysis import word_count
from versioning.diff import snapshot_diff, snapshot_text
from versioning.models import Article, ContentVersion


def article_list() -> QuerySet[Article]:
    """Articles with ``current_version`` (their latest version number) annotated."""
    # Explicitly ordered: Meta.ordering does not apply to a query with GROUP BY.
    return (
        Article.objects.select_related("author")
        .annotate(current_version=Max("versions__version_number"))
        .order_by("-id")
    )


def article_url(article: Article) -> str:
    return settings.ARTICLE_URL_TEMPLATE.format(slug=article.slug, id=article.pk)


def article_data(article: Article) -> dict[str, Any]:
    """The article as workflow templates see it: its fields plus ``word_count``, ``url`` and
    ``version_number`` (its latest content version; None before the first)."""
    version_number = ContentVersion.objects.filter(article=article).aggregate(
        latest=Max("version_number")
    )["latest"]
    return {
        "id": article.pk,
        "title": article.title,
        "slug": article.slug,
        "content": article.content,
        "excerpt": article.excerpt,
        "meta_description": article.meta_description,
        "status": article.status,
        "author": article.author.get_username() if article.author else None,
        "author_id": article.author_id,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "created_at": article.created_at.isoformat(),
        "updated_at": article.updated_at.isoformat(),
        "word_count": word_count(article.content),
        "url": article_url(article),
        "version_number": version_number,
    }


def article_context(article_id: Any) -> dict[str, Any] | None:
    """The context's ``article`` for a run whose trigger payload names ``article_id``; None when
    the id is not an integer or no such article exists."""
    if isinstance(article_id, bool):
        return None
    try:
        pk = int(article_id)
    except (TypeError, ValueError):
        return None
    article = Article.objects.select_related("author").filter(pk=pk).first()
    return article_data(article) if article is not None else None


def article_context_provide(payload: Any, context: dict[str, Any]) -> None:
    """Give a run whose trigger payload holds ``article_id`` its ``article`` (SPEC §4: the run
    then concerns that article). Publish-triggered runs arrive with the article already."""
    if "article" in context or not isinstance(payload, Mapping) or "article_id" not in payload:
        return
    article = article_context(payload["article_id"])
    if article is not None:
        context["article"] = article


def article_matches(article: Mapping[str, Any], trigger_filter: Any) -> bool:
    """Whether the article passes a publish trigger's ``filter``: each key names an article
    field; a list value matches any of its items, any other value must be equal."""
    if not trigger_filter:
        return True
    if not isinstance(trigger_filter, Mapping):
        return False
    for name, expected in trigger_filter.items():
        if name not in article:
            return False
        value = article[name]
        if isinstance(expected, list):
            if value not in expected:
                return False
        elif value != expected:
            return False
    return True


def version_history(*, article: Article) -> QuerySet[ContentVersion]:
    """The article's versions, newest first, with ``added`` / ``removed`` line counts annotated
    and the snapshot and diff text left unloaded."""
    return (
        ContentVersion.objects.filter(article=article)
        .select_related("changed_by")
        .annotate(
            added=Cast(KT("diff_data__added"), IntegerField()),
            removed=Cast(KT("diff_data__removed"), IntegerField()),
        )
        .defer("content_snapshot", "diff_data")
        .order_by("-version_number")
    )


def version_latest(*, article: Article) -> ContentVersion | None:
    return ContentVersion.objects.filter(article=article).order_by("-version_number").first()


@dataclass(frozen=True)
class VersionComparison:
    """Two versions of one article and the line diff between their snapshots."""

    old: ContentVersion
    new: ContentVersion
    old_lines: list[str]
    new_lines: list[str]
    unified: str
    added: int
    removed: int


def version_compare(*, article: Article, from_number: int, to_number: int) -> VersionComparison:
    """The diff from version ``from_number`` to version ``to_number`` of the article, any two
    (either order, or the same one twice). Raises ContentVersion.DoesNotExist when the article
    has no such version."""
    versions = {
        version.version_number: version
        for version in ContentVersion.objects.filter(
            article=article, version_number__in=[from_number, to_number]
        )
    }
    if from_number not in versions or to_number not in versions:
        missing = from_number if from_number not in versions else to_number
        raise ContentVersion.DoesNotExist(f"Article {article.pk} has no version {missing}.")
    old, new = versions[from_number], versions[to_number]
    diff = snapshot_diff(
        old.content_snapshot,
        new.content_snapshot,
        from_label=f"v{from_number}",
        to_label=f"v{to_number}",
    )
    return VersionComparison(
        old=old,
        new=new,
        old_lines=snapshot_text(old.content_snapshot),
        new_lines=snapshot_text(new.content_snapshot),
        unified=diff["unified"],
        added=diff["added"],
        removed=diff["removed"],
    )
