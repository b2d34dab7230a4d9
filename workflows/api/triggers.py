"""Trigger endpoints: events (staff) and inbound webhooks (anonymous, verified the way the
workflow's sender signs)."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from core.strict import StrictSerializer
from workflows.api.views import IDEMPOTENCY_HEADER, idempotency_key_from
from workflows.api.webhook_docs import webhook_schema
from workflows.services.slack_interactions import InteractionRefused, slack_interaction
from workflows.services.triggers import event_emit
from workflows.services.webhooks import (
    WebhookBadRequest,
    WebhookInactive,
    WebhookNotFound,
    WebhookUnauthorized,
    webhook_receive,
)


class EventSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    payload = serializers.DictField(required=False, default=dict)


class EventAcceptedSerializer(serializers.Serializer):
    execution_ids = serializers.ListField(child=serializers.IntegerField())


class EventView(APIView):
    """Start every active workflow listening for the named event."""

    @extend_schema(
        request=EventSerializer,
        responses={
            202: EventAcceptedSerializer,
            409: OpenApiResponse(
                description="Nothing started: every listening workflow's overlap_policy is skip "
                "and each has a run under way."
            ),
        },
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Request) -> Response:
        serializer = EventSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        executions = event_emit(
            name=serializer.validated_data["name"],
            payload=serializer.validated_data["payload"],
            idempotency_key=idempotency_key_from(request),
        )
        return Response(
            {"execution_ids": [execution.pk for execution in executions]},
            status=status.HTTP_202_ACCEPTED,
        )


class WebhookTokenThrottle(SimpleRateThrottle):
    scope = "webhook"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": view.kwargs.get("token", "")}


class WebhookView(APIView):
    """Anonymous inbound trigger at the workflow's secret URL."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [WebhookTokenThrottle]

    @webhook_schema
    def post(self, request: Request, token: str) -> Response:
        # The raw bytes, never request.data: the signature covers exactly what was sent, and
        # nothing is parsed before it is verified.
        try:
            outcome = webhook_receive(
                token=token, body=request.body, headers=request.headers, now=timezone.now()
            )
        except WebhookNotFound as exc:
            raise NotFound(str(exc)) from None
        except WebhookInactive as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except WebhookUnauthorized as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_401_UNAUTHORIZED)
        except WebhookBadRequest as exc:
            raise ParseError(str(exc)) from None
        if outcome.execution is None:
            return Response(outcome.reply, status=status.HTTP_200_OK)
        return Response(
            {"execution_id": outcome.execution.pk, "duplicate": not outcome.created},
            status=status.HTTP_202_ACCEPTED,
        )


class SlackInteractionThrottle(SimpleRateThrottle):
    scope = "webhook"

    def get_cache_key(self, request: Request, view: Any) -> str:
        ident = f"slack-{view.kwargs.get('connection_id', '')}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SlackInteractionView(APIView):
    """Slack's interactivity request for a Slack app connection: a click on an approval's
    buttons. Verified with the connection's signing secret; answered 200 with what it did."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [SlackInteractionThrottle]

    @extend_schema(
        request={"application/x-www-form-urlencoded": {"type": "object"}},
        responses={200: OpenApiResponse(description="{\"text\": what the click did}"),
                   400: OpenApiResponse(), 401: OpenApiResponse(), 404: OpenApiResponse()},
    )  # fmt: skip
    def post(self, request: Request, connection_id: str) -> Response:
        try:
            text = slack_interaction(
                connection_id=int(connection_id),
                body=request.body,
                headers=request.headers,
                now=timezone.now(),
            )
        except InteractionRefused as exc:
            return Response({"detail": exc.message}, status=exc.status)
        return Response({"text": text})
