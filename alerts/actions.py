"""The alerts app's actions: ``notify`` (a message through any alert channel) and ``share`` (an
article to a list of connections, with a result per connection)."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from rest_framework import serializers

from alerts.channels.base import Message, SendResult, Target, connection_send
from alerts.channels.registry import CHANNELS, channel_get
from alerts.messages import execution_link
from alerts.models import Severity
from integrations.crypto import DecryptionError
from integrations.models import IntegrationConnection
from versioning.selectors import article_context
from workflows.actions.base import Action, ActionError, StepRun, Templated
from workflows.services.effects import effect_recall, effect_record
from workflows.templating import has_template

SHARE_PLATFORMS = ("slack", "telegram", "n8n", "zapier", "webhook")
MESSAGE_MAX_CHARS = 4000


def _connections_meta(ids: Iterable[int]) -> dict[int, IntegrationConnection]:
    """Connections by id, without their secrets (nothing is decrypted to validate params)."""
    rows = IntegrationConnection.objects.filter(pk__in=list(ids)).only(
        "id", "name", "platform", "config", "is_active"
    )
    return {row.pk: row for row in rows}


def _connection_load(connection_id: int) -> IntegrationConnection:
    """The connection with its secrets; a permanent ActionError when it is gone or unreadable."""
    try:
        connection = IntegrationConnection.objects.filter(pk=connection_id).first()
    except DecryptionError as exc:
        raise ActionError(f"Connection {connection_id}: {exc}") from None
    if connection is None:
        raise ActionError(f"Connection {connection_id} does not exist.")
    return connection


class NotifyParams(serializers.Serializer):
    channel = serializers.ChoiceField(choices=list(CHANNELS))
    connection = Templated(
        serializers.IntegerField(min_value=1), required=False, default=None, allow_null=True
    )
    recipients = serializers.ListField(
        child=serializers.CharField(max_length=254), required=False, default=list, max_length=100
    )
    subject = serializers.CharField(required=False, default="", allow_blank=True, max_length=300)
    message = serializers.CharField(max_length=MESSAGE_MAX_CHARS)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.INFO)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        connection_id = attrs.get("connection")
        if isinstance(connection_id, str):  # still a template: checked once rendered
            return attrs
        connection = None
        if connection_id is not None:
            connection = _connections_meta([connection_id]).get(connection_id)
            if connection is None:
                raise serializers.ValidationError(
                    {"connection": [f"Unknown connection {connection_id}."]}
                )
        recipients = attrs.get("recipients") or []
        if any(has_template(name) for name in recipients) and not self.context.get("rendered"):
            recipients = []  # checked once rendered
        channel_get(attrs["channel"]).validate(connection=connection, recipients=recipients)
        return attrs


class NotifyAction(Action):
    type = "notify"
    label = "Send a notification"
    params_serializer = NotifyParams

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        sent = effect_recall(key=step.idempotency_key)
        if sent is not None:  # a redelivered step: the message went out already
            return sent
        channel = params["channel"]
        connection_id = params.get("connection")
        connection = _connection_load(connection_id) if connection_id else None
        message = Message(
            text=params["message"],
            title=params.get("subject", ""),
            severity=params.get("severity", Severity.INFO),
            url=execution_link(step.execution_id),
            data={"execution_id": step.execution_id, "workflow_id": step.workflow_id,
                  "step_id": step.step_id, "idempotency_key": step.idempotency_key},
        )  # fmt: skip
        target = Target(connection=connection, recipients=params.get("recipients") or [])
        result = channel_get(channel).send(target, message)
        output = {"channel": channel, "delivered": result.ok, "detail": result.detail}
        if not result.ok:
            raise ActionError(
                f"notify via {channel} failed: {result.detail}",
                retryable=result.retryable,
                output=output,
            )
        effect_record(key=step.idempotency_key, step=step, result=output)
        return output


class ShareParams(serializers.Serializer):
    connections = Templated(
        serializers.ListField(
            child=serializers.IntegerField(min_value=1), allow_empty=False, max_length=50
        )
    )
    message = serializers.CharField(required=False, max_length=MESSAGE_MAX_CHARS)
    article_id = Templated(
        serializers.IntegerField(min_value=1), required=False, default=None, allow_null=True
    )
    allow_partial = serializers.BooleanField(default=False)

    def validate_connections(self, ids: Any) -> Any:
        if isinstance(ids, str):  # still a template: checked once rendered
            return ids
        found = _connections_meta(ids)
        unknown = [str(pk) for pk in ids if pk not in found]
        if unknown:
            raise serializers.ValidationError(f"Unknown connections: {', '.join(unknown)}.")
        wrong = [f"{pk} ({found[pk].platform})" for pk in ids if
                 found[pk].platform not in SHARE_PLATFORMS]  # fmt: skip
        if wrong:
            raise serializers.ValidationError(
                f"Connections {', '.join(wrong)} cannot share; use {', '.join(SHARE_PLATFORMS)}."
            )
        return list(dict.fromkeys(ids))


class ShareAction(Action):
    """Posts about an article to each connection once: a post that succeeded is recorded under
    ``<execution>-<step>-<connection>``, so a retried step posts only where it failed."""

    type = "share"
    label = "Share an article"
    params_serializer = ShareParams

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        article = _article(params, step)
        message = _share_message(params, article)
        results = {
            str(connection_id): _share_one(connection_id, message, step)
            for connection_id in params["connections"]
        }
        failed = [key for key, result in results.items() if not result["ok"]]
        retryable = any(results[key]["retryable"] for key in failed)
        for result in results.values():
            del result["retryable"]
        output = {"results": results, "shared": len(results) - len(failed), "failed": len(failed)}
        if failed and (not params.get("allow_partial") or len(failed) == len(results)):
            details = "; ".join(f"{key}: {results[key]['detail']}" for key in failed)
            raise ActionError(
                f"share failed for {len(failed)} of {len(results)} connections ({details})",
                retryable=retryable,
                output=output,
            )
        return output


def _article(params: Mapping[str, Any], step: StepRun) -> dict[str, Any] | None:
    article_id = params.get("article_id")
    context_article = step.context.get("article")
    if article_id is None and isinstance(context_article, Mapping):
        return dict(context_article)
    if article_id is None:
        trigger = step.context.get("trigger")
        article_id = trigger.get("article_id") if isinstance(trigger, Mapping) else None
        if article_id is None:
            return None
    article = article_context(article_id)
    if article is None:
        raise ActionError(f"Article {article_id} does not exist.")
    return article


def _share_message(params: Mapping[str, Any], article: Mapping[str, Any] | None) -> Message:
    if not params.get("message") and article is None:
        raise ActionError(
            "Nothing to share: set params.message, or run the workflow on an article (a publish "
            "trigger, a payload with article_id, or params.article_id)."
        )
    article = article or {}
    url = str(article.get("url") or "")
    if url.startswith("/"):
        url = f"{settings.SITE_URL}{url}"
    text = params.get("message") or "\n".join(
        part for part in (f"New: {article.get('title', '')}", article.get("excerpt")) if part
    )
    shared = {key: article.get(key) for key in ("id", "title", "slug", "excerpt") if key in article}
    return Message(text=text, title="", url=url, data={"article": {**shared, "url": url}})


def _share_one(connection_id: int, message: Message, step: StepRun) -> dict[str, Any]:
    key = f"{step.idempotency_key}-{connection_id}"
    posted = effect_recall(key=key)
    if posted is not None:
        return {
            "ok": True,
            "status": posted["status"],
            "detail": posted["detail"],
            "retryable": False,
        }
    try:
        connection = _connection_load(connection_id)
    except ActionError as exc:
        return {"ok": False, "status": None, "detail": exc.message, "retryable": False}
    data = {**message.data, "idempotency_key": key, "execution_id": step.execution_id}
    result: SendResult = connection_send(
        connection, Message(message.text, message.title, message.severity, message.url, data)
    )
    if result.ok:
        effect_record(key=key, step=step, result={"status": result.status, "detail": result.detail})
    return {"ok": result.ok, "status": result.status, "detail": result.detail,
            "retryable": result.retryable}  # fmt: skip
