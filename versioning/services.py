"""Writes on articles and their versions.

Every change that touches an article's versioned fields records a ContentVersion in the same
transaction, numbered under a row lock on the article (1, 2, 3… with no gaps or duplicates; the
unique constraint backs the lock). Publishing by any path — create, update, revert, the API's
publish verb, the ``publish`` action — fires the publish trigger in that transaction, so the
workflows it starts are queued only if the publish commits.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from versioning.diff import snapshot_diff
from versioning.models import SNAPSHOT_FIELDS, Article, ArticleStatus, ChangeType, ContentVersion
from versioning.selectors import article_data, article_matches
from workflows.models import ActorKind, TriggerType
from workflows.services.audit import Actor
from workflows.services.triggers import TriggerDepthExceeded, trigger_fire

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = (*SNAPSHOT_FIELDS, "author")
SLUG_MAX_CHARS = Article._meta.get_field("slug").max_length or 200

User = AbstractBaseUser | AnonymousUser | None


class ArticleConflict(Exception):
    """The change clashes with another article (its slug is taken)."""


@dataclass
class ArticleChange:
    """What a write did: the article, the version it recorded (if any), and the executions the
    publish trigger queued."""

    article: Article
    version: ContentVersion | None = None
    published: bool = False
    execution_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class PublishResult:
    article: Article
    version_number: int | None
    already_published: bool
    execution_ids: list[int]


@dataclass(frozen=True)
class _Origin:
    """Who or what caused a change; a workflow that publishes passes its id and depth."""

    user: User = None
    description: str = ""
    depth: int = 0
    workflow_id: int | None = None


def _user_id(user: User) -> int | None:
    return user.pk if user is not None and user.is_authenticated else None


def slug_unique(base: str, *, exclude_pk: int | None = None) -> str:
    """``base`` slugified (or "article"), with -2, -3… appended while another article has it."""
    stem = (slugify(base) or "article")[: SLUG_MAX_CHARS - 8]
    others = Article.objects.filter(slug__startswith=stem)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    taken = set(others.values_list("slug", flat=True))
    candidate, n = stem, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def _slug_check(article: Article) -> None:
    if Article.objects.exclude(pk=article.pk).filter(slug=article.slug).exists():
        raise ArticleConflict(f"Another article already has the slug '{article.slug}'.")


def _version_record(article: Article, *, change_type: str, origin: _Origin) -> ContentVersion:
    """Record the article's current state as its next version. The caller holds the row lock
    on the article (or created it in this transaction)."""
    previous = ContentVersion.objects.filter(article=article).order_by("-version_number").first()
    number = previous.version_number + 1 if previous else 1
    snapshot = article.snapshot()
    diff = snapshot_diff(
        previous.content_snapshot if previous else None,
        snapshot,
        from_label=f"v{previous.version_number}" if previous else "empty",
        to_label=f"v{number}",
    )
    return ContentVersion.objects.create(
        article=article,
        version_number=number,
        content_snapshot=snapshot,
        change_description=origin.description,
        changed_by_id=_user_id(origin.user),
        change_type=change_type,
        diff_data=diff,
    )


def _publish_fire(article: Article, origin: _Origin) -> list[int]:
    """Queue every active publish-triggered workflow whose filter accepts the article. A chain
    deeper than TRIGGER_MAX_DEPTH is logged and stops here; the publish itself stands."""
    data = article_data(article)
    try:
        executions = trigger_fire(
            trigger_type=TriggerType.PUBLISH,
            payload={"article_id": article.pk},
            context={"article": data},
            predicate=lambda workflow: article_matches(data, workflow.trigger.get("filter")),
            depth=origin.depth,
            exclude_workflow_id=origin.workflow_id,
        )
    except TriggerDepthExceeded as exc:
        logger.warning("article %s published; publish trigger not fired: %s", article.pk, exc)
        return []
    return [execution.pk for execution in executions]


def _article_fire(article: Article, origin: _Origin, event: str, **details: Any) -> list[int]:
    """Queue every active article-triggered workflow that listens for ``event`` and whose filter
    (and, for status_changed, ``from`` / ``to``) accepts the article. Its ``trigger`` is
    ``{"article_id", "event", **details}``; like publish, a chain too deep is logged and stops."""
    data = article_data(article)

    def listening(workflow: Any) -> bool:
        trigger = workflow.trigger
        if event not in trigger.get("events", ()):
            return False
        if event == "status_changed" and any(
            key in trigger and trigger[key] != details.get(key) for key in ("from", "to")
        ):
            return False
        return article_matches(data, trigger.get("filter"))

    try:
        executions = trigger_fire(
            trigger_type=TriggerType.ARTICLE,
            payload={"article_id": article.pk, "event": event, **details},
            context={"article": data},
            predicate=listening,
            depth=origin.depth,
            exclude_workflow_id=origin.workflow_id,
            triggered_by=Actor(ActorKind.EVENT, f"article.{event}", article.pk),
        )
    except TriggerDepthExceeded as exc:
        logger.warning("article %s %s; article trigger not fired: %s", article.pk, event, exc)
        return []
    return [execution.pk for execution in executions]


def _article_fire_version(article: Article, origin: _Origin, version: ContentVersion) -> None:
    _article_fire(
        article,
        origin,
        "version_created",
        version_number=version.version_number,
        change_type=version.change_type,
    )


def _locked(article: Article) -> Article:
    """The article's row, locked until the transaction ends (the author row is not locked:
    PostgreSQL refuses FOR UPDATE on the nullable side of an outer join)."""
    return (
        Article.objects.select_for_update(of=("self",)).select_related("author").get(pk=article.pk)
    )


def article_create(*, data: dict[str, Any], user: User = None) -> ArticleChange:
    """Create an article and its version 1 (``create``). An article created published fires
    the publish trigger."""
    article = Article(**{key: data[key] for key in EDITABLE_FIELDS if key in data})
    if article.author_id is None and _user_id(user) is not None:
        article.author_id = _user_id(user)
    article.slug = article.slug or slug_unique(article.title)
    published = article.status == ArticleStatus.PUBLISHED
    if published:
        article.published_at = article.published_at or timezone.now()
    origin = _Origin(user=user, description="Created.")
    with transaction.atomic():
        _slug_check(article)
        article.save()
        version = _version_record(article, change_type=ChangeType.CREATE, origin=origin)
        execution_ids = _publish_fire(article, origin) if published else []
        _article_fire(article, origin, "created")
        _article_fire_version(article, origin, version)
    return ArticleChange(article, version, published, execution_ids)


def _article_apply(
    article: Article,
    values: dict[str, Any],
    *,
    change_type: str,
    origin: _Origin,
    always_record: bool = False,
) -> ArticleChange:
    """Apply ``values`` to the article under a row lock; record a version when a versioned field
    changed (or always); fire the publish trigger when the status becomes published."""
    with transaction.atomic():
        locked = _locked(article)
        changed = [key for key in values if getattr(locked, key) != values[key]]
        if not changed and not always_record:
            return ArticleChange(locked)
        was_published = locked.status == ArticleStatus.PUBLISHED
        status_before = locked.status
        for key in changed:
            setattr(locked, key, values[key])
        if "slug" in changed and not locked.slug:
            locked.slug = slug_unique(locked.title, exclude_pk=locked.pk)
        published = not was_published and locked.status == ArticleStatus.PUBLISHED
        if published:
            locked.published_at = locked.published_at or timezone.now()
        _slug_check(locked)
        locked.save()
        version = None
        if always_record or set(changed) & set(SNAPSHOT_FIELDS):
            if published and change_type == ChangeType.UPDATE:
                change_type = ChangeType.PUBLISH
            version = _version_record(locked, change_type=change_type, origin=origin)
        execution_ids = _publish_fire(locked, origin) if published else []
        if changed:
            event = "reverted" if change_type == ChangeType.REVERT else "updated"
            _article_fire(locked, origin, event, changed=changed)
        if "status" in changed:
            _article_fire(
                locked, origin, "status_changed", **{"from": status_before, "to": locked.status}
            )
        if version is not None:
            _article_fire_version(locked, origin, version)
    return ArticleChange(locked, version, published, execution_ids)


def article_update(
    *, article: Article, data: dict[str, Any], user: User = None, description: str = ""
) -> ArticleChange:
    """Apply the given fields. A change to a versioned field records an ``update`` version (or
    ``publish`` when the status becomes published, which fires the publish trigger)."""
    values = {key: data[key] for key in EDITABLE_FIELDS if key in data}
    origin = _Origin(user=user, description=description or "Updated.")
    return _article_apply(article, values, change_type=ChangeType.UPDATE, origin=origin)


def article_delete(*, article: Article) -> None:
    """Delete the article; its versions go with it."""
    with transaction.atomic():
        article.delete()


def article_publish(
    *,
    article: Article,
    user: User = None,
    depth: int = 0,
    workflow_id: int | None = None,
) -> PublishResult:
    """Publish the article: record a ``publish`` version and fire the publish trigger.

    Idempotent: an article already published is left alone (``already_published``; its latest
    version number is reported). ``workflow_id`` is the workflow doing the publishing, which the
    trigger does not start again; ``depth`` how deep in a trigger chain this publish is.
    """
    origin = _Origin(user=user, description="Published.", depth=depth, workflow_id=workflow_id)
    with transaction.atomic():
        locked = _locked(article)
        if locked.status == ArticleStatus.PUBLISHED:
            latest = (
                ContentVersion.objects.filter(article=locked)
                .order_by("-version_number")
                .values_list("version_number", flat=True)
                .first()
            )
            return PublishResult(locked, latest, True, [])
        change = _article_apply(
            locked,
            {"status": ArticleStatus.PUBLISHED},
            change_type=ChangeType.PUBLISH,
            origin=origin,
        )
    assert change.version is not None
    return PublishResult(change.article, change.version.version_number, False, change.execution_ids)


def version_create(
    *,
    article: Article,
    user: User = None,
    description: str = "",
    change_type: str = ChangeType.MANUAL,
) -> ContentVersion:
    """Snapshot the article as it is now, numbered after its latest version."""
    origin = _Origin(user=user, description=description)
    with transaction.atomic():
        locked = _locked(article)
        version = _version_record(locked, change_type=change_type, origin=origin)
        _article_fire_version(locked, origin, version)
        return version


def version_revert(*, version: ContentVersion, user: User = None) -> ArticleChange:
    """Restore ``version``'s snapshot onto its article and record a ``revert`` version; earlier
    versions stay as they were. Raises ArticleConflict when the snapshot's slug is now taken."""
    snapshot = version.content_snapshot
    values = {key: snapshot[key] for key in SNAPSHOT_FIELDS if key in snapshot}
    origin = _Origin(user=user, description=f"Reverted to version {version.version_number}.")
    return _article_apply(
        version.article, values, change_type=ChangeType.REVERT, origin=origin, always_record=True
    )


def article_optimize_apply(
    *, article: Article, values: dict[str, Any], description: str
) -> ArticleChange:
    """Write optimisation suggestions (slug, meta description) and record an ``optimize``
    version, whether or not a field changed."""
    origin = _Origin(description=description)
    return _article_apply(
        article, values, change_type=ChangeType.OPTIMIZE, origin=origin, always_record=True
    )


def version_commit_record(*, article: Article, commit_sha: str) -> ContentVersion | None:
    """Store a Git commit sha on the article's latest version; returns that version (None when
    the article has no version)."""
    with transaction.atomic():
        locked = _locked(article)
        version = ContentVersion.objects.filter(article=locked).order_by("-version_number").first()
        if version is not None:
            version.git_commit_hash = commit_sha
            version.save(update_fields=["git_commit_hash"])
    return version
