"""The OpenAPI description of the inbound webhook (``POST hooks/{token}``): the headers senders
sign and identify deliveries with, and every answer, so a generated client can sign a delivery
and read a refusal. The view and workflows.services.webhooks decide; this only documents."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from workflows.api.views import IDEMPOTENCY_HEADER

_HEADERS = {
    "X-Signature": 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>: needed '
    "when the workflow has a webhook_secret (300 s tolerance; during a rotation the previous "
    "secret is valid for 24 h).",
    "X-Hub-Signature-256": "GitHub's signature, sha256=<hex HMAC-SHA256(secret, raw body)>; "
    "accepted instead of X-Signature.",
    "X-Delivery-Id": "The delivery's id: a repeated id returns the first execution and starts "
    "nothing new.",
    "X-GitHub-Delivery": "GitHub's delivery id (as X-Delivery-Id).",
    "X-GitHub-Event": "GitHub's event name (ping, push, …).",
    IDEMPOTENCY_HEADER: "A client's delivery id (as X-Delivery-Id), 1 to 200 characters.",
    "X-Gitlab-Token": "GitLab's secret token (trigger.sender gitlab).",
    "Stripe-Signature": "Stripe's t=…,v1=… signature (trigger.sender stripe).",
    "X-Slack-Signature": "Slack's v0=… signature (trigger.sender slack).",
    "X-Slack-Request-Timestamp": "The Unix time Slack signed (trigger.sender slack).",
    "X-Ghost-Signature": "Ghost's sha256=…, t=… signature (trigger.sender ghost).",
}


class WebhookAcceptedSerializer(serializers.Serializer):
    execution_id = serializers.IntegerField()
    duplicate = serializers.BooleanField(
        help_text="True when the delivery id was seen before: this is the first execution."
    )


class WebhookAnsweredSerializer(serializers.Serializer):
    """What a delivery that starts nothing is answered with."""

    ignored = serializers.BooleanField(
        required=False, help_text="True when the event is not in the trigger's events."
    )
    event = serializers.CharField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, help_text="Why nothing was run.")
    detail = serializers.CharField(required=False, help_text="What was received (a ping).")
    challenge = serializers.CharField(
        required=False, help_text="Slack's url_verification challenge, echoed."
    )


def _refusal(description: str) -> OpenApiResponse:
    """An error answer: config.openapi gives it the Error body ({"detail": "..."})."""
    return OpenApiResponse(description=description)


webhook_schema = extend_schema(
    summary="Start a workflow from a webhook delivery",
    description="Anonymous: the unguessable token in the URL names the workflow. The signature "
    "covers the raw body exactly as sent. 202 only after the execution is committed.",
    request={
        "application/json": {"type": "object", "additionalProperties": True},
        "application/x-www-form-urlencoded": {"type": "object", "additionalProperties": True},
    },
    parameters=[
        OpenApiParameter(name, str, OpenApiParameter.HEADER, required=False, description=text)
        for name, text in _HEADERS.items()
    ],
    responses={
        202: OpenApiResponse(WebhookAcceptedSerializer, description="An execution is queued."),
        200: OpenApiResponse(
            WebhookAnsweredSerializer,
            description="Received, nothing started: a sender's handshake (GitHub's ping, "
            "Slack's url_verification), or an event not in trigger.events.",
        ),
        400: _refusal("The body or a header cannot be read."),
        401: _refusal("The signature or token is missing, stale or wrong."),
        404: _refusal("No workflow has this token."),
        409: _refusal(
            "The workflow is inactive, or its overlap_policy is skip and a run is under way."
        ),
        413: _refusal("The body is over REQUEST_BODY_MAX_BYTES."),
        429: _refusal("Too many deliveries to this token; see Retry-After."),
    },
)
