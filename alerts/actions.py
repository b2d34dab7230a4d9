"""The alerts app's actions: ``notify`` (a message through any alert channel) and ``share`` (an
article to a list of connections, with a result per connection)."""

from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework import serializers

from alerts.channel_registry import CHANNELS, channel_get
from alerts.channels.base import Message, SendResult, Target, connection_send
from alerts.messages import execution_link
from alerts.models import Severity
from core.site import absolute_url
from integrations.crypto import DecryptionError
from integrations.models import IntegrationConnection
from integrations.platforms.base import failure_public
from workflows.actions.base import Action, ActionError, StepRun
from workflows.services.effects import effect_recall, effect_record
from workflows.services.executions import context_for
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


def _channel_platforms() -> dict[str, list[str]]:
    return {name: list(channel_get(name).platforms) for name in CHANNELS}


class NotifyAction(Action):
    type = "notify"
    label = "Send a notification"
    group = "messages"
    description = (
        "Sends a message through an alert channel: slack, telegram, webhook (also n8n and "
        "Zapier) and apprise send through a connection of their platform, email to recipients "
        "through an smtp connection or the server's mail settings, in_app to staff users' "
        "notifications. A redelivered step does not send twice."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["channel", "message"],
        "properties": {
            "channel": {
                "type": "string",
                "enum": list(CHANNELS),
                "description": "The alert channel. Connection platforms by channel: "
                + "; ".join(
                    f"{name}: {', '.join(platforms) or 'none'}"
                    for name, platforms in _channel_platforms().items()
                )
                + ".",
            },
            "connection": {
                "type": "integer",
                "minimum": 1,
                "x-template": True,
                "x-connection-platform": sorted(
                    {platform for found in _channel_platforms().values() for platform in found}
                ),
                "description": "The connection to send through, of the channel's platform.",
            },
            "recipients": {
                "type": "array",
                "maxItems": 100,
                "items": {"type": "string", "minLength": 1, "maxLength": 254, "x-template": True},
                "default": [],
                "description": "email: addresses (else the connection's or the server's "
                "default); in_app: usernames (empty: every staff user).",
            },
            "subject": {
                "type": "string",
                "maxLength": 300,
                "default": "",
                "x-template": True,
                "description": "The title (email subject, first line elsewhere).",
            },
            "message": {
                "type": "string",
                "minLength": 1,
                "maxLength": MESSAGE_MAX_CHARS,
                "x-template": True,
                "description": "The text to send.",
            },
            "severity": {
                "type": "string",
                "enum": list(Severity.values),
                "default": Severity.INFO.value,
                "description": "Shown with the message.",
            },
        },
    }
    example = {
        "id": "tell_team",
        "type": "notify",
        "params": {
            "channel": "slack",
            "connection": 3,
            "message": "Published: {{ article.title }}",
            "severity": "info",
        },
    }

    def params_check(self, params: dict[str, Any], *, rendered: bool) -> dict[str, Any]:
        """The connection exists and the channel can use it and the recipients."""
        connection_id = params.get("connection")
        if isinstance(connection_id, str):  # still a template: checked once rendered
            return {}
        connection = None
        if connection_id is not None:
            connection = _connections_meta([connection_id]).get(connection_id)
            if connection is None:
                return {"connection": [f"Unknown connection {connection_id}."]}
        recipients = params.get("recipients") or []
        if not rendered and any(has_template(name) for name in recipients):
            recipients = []  # checked once rendered
        try:
            channel_get(params["channel"]).validate(connection=connection, recipients=recipients)
        except serializers.ValidationError as exc:
            return dict(exc.detail)  # type: ignore[arg-type]
        return {}

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        sent = effect_recall(key=step.idempotency_key)
        if sent is not None:  # a redelivered step: the message went out already
            return sent
        channel = params["channel"]
        connection_id = params.get("connection")
        connection = _connection_load(connection_id) if connection_id else None
        data = {"execution_id": step.execution_id, "workflow_id": step.workflow_id,
                "step_id": step.step_id, "idempotency_key": step.idempotency_key}  # fmt: skip
        if params.get("buttons"):
            # Not a param of the schema: an approval step adds its Slack buttons here.
            data["buttons"] = params["buttons"]
        message = Message(
            text=params["message"],
            title=params.get("subject", ""),
            severity=params.get("severity", Severity.INFO),
            url=execution_link(step.execution_id),
            data=data,
        )
        target = Target(connection=connection, recipients=params.get("recipients") or [])
        result = channel_get(channel).send(target, message)
        output = {"channel": channel, "delivered": result.ok, "detail": result.detail}
        if not result.ok:
            raise ActionError(
                f"notify via {channel} failed: {failure_public(result.status, result.detail)}",
                retryable=result.retryable,
                output=output,
            )
        effect_record(key=step.idempotency_key, step=step, result=output)
        return output


class ShareAction(Action):
    """Posts about an article to each connection once: a post that succeeded is recorded under
    ``<execution>-<step>-<connection>``, so a retried step posts only where it failed."""

    type = "share"
    label = "Share an article"
    group = "messages"
    description = (
        "Posts about the article (or a message) to each listed connection, with a result per "
        "connection; a retried step posts only where it failed. Fails when any post fails, "
        "unless allow_partial and at least one succeeded."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["connections"],
        "properties": {
            "connections": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": {"type": "integer", "minimum": 1},
                "x-template": True,
                "x-connection-platform": list(SHARE_PLATFORMS),
                "description": "The connections to post to (ids).",
            },
            "message": {
                "type": "string",
                "minLength": 1,
                "maxLength": MESSAGE_MAX_CHARS,
                "x-template": True,
                "description": "The text (default: 'New: <title>' and the article's excerpt).",
            },
            "article_id": {
                "type": "integer",
                "minimum": 1,
                "x-template": True,
                "description": "The article (default: the run's article).",
            },
            "allow_partial": {
                "type": "boolean",
                "default": False,
                "description": "Succeed when at least one connection got the post.",
            },
        },
    }
    example = {
        "id": "share",
        "type": "share",
        "params": {"connections": [3, 4], "message": "New: {{ article.title }}"},
    }

    def params_check(self, params: dict[str, Any], *, rendered: bool) -> dict[str, Any]:
        """Every connection exists and is of a platform that can share."""
        ids = params["connections"]
        if isinstance(ids, str):  # still a template: checked once rendered
            return {}
        found = _connections_meta(ids)
        unknown = [str(pk) for pk in ids if pk not in found]
        if unknown:
            return {"connections": [f"Unknown connections: {', '.join(unknown)}."]}
        wrong = [f"{pk} ({found[pk].platform})" for pk in ids if
                 found[pk].platform not in SHARE_PLATFORMS]  # fmt: skip
        if wrong:
            return {
                "connections": [
                    f"Connections {', '.join(wrong)} cannot share; "
                    f"use {', '.join(SHARE_PLATFORMS)}."
                ]
            }
        return {}

    def run(self, params: dict[str, Any], step: StepRun) -> dict[str, Any]:
        article = _article(params, step)
        message = _share_message(params, article)
        results = {
            str(connection_id): _share_one(connection_id, message, step)
            for connection_id in dict.fromkeys(params["connections"])  # each one once
        }
        failed = [key for key, result in results.items() if not result["ok"]]
        retryable = any(results[key]["retryable"] for key in failed)
        for result in results.values():
            del result["retryable"]
        output = {"results": results, "shared": len(results) - len(failed), "failed": len(failed)}
        if failed and (not params.get("allow_partial") or len(failed) == len(results)):
            details = "; ".join(
                f"{key}: {failure_public(results[key]['status'], results[key]['detail'])}"
                for key in failed
            )
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
    # The content app provides ``article`` for a payload naming ``article_id`` (a kernel hook:
    # alerts does not import it).
    article = context_for({"article_id": article_id}, None).get("article")
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
        url = absolute_url(url)
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
