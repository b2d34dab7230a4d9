"""The ``alerts`` and ``notifications`` endpoints. Views parse and authorise; services do the work.

Staff manage alerts; any signed-in user reads and marks their own notifications, never another's.
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from alerts import selectors
from alerts.channel_registry import CHANNELS
from alerts.models import (
    QUIET_MINUTES_MAX,
    AlertDelivery,
    AlertEvent,
    AlertType,
    AutomationAlert,
    Notification,
)
from alerts.services.alerts import (
    alert_create,
    alert_delete,
    alert_test,
    alert_update,
    alert_validate,
)
from alerts.services.notifications import notification_mark_read
from core.strict import StrictFieldsMixin, no_parameters_check
from integrations.crypto import DecryptionError
from integrations.models import IntegrationConnection
from workflows.models import AutomationWorkflow
from workflows.services.audit import actor_of_request

RECIPIENTS_MAX = 100


class SecretsUnreadable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "secrets_unreadable"


class AlertSerializer(StrictFieldsMixin, serializers.ModelSerializer[AutomationAlert]):
    workflow = serializers.PrimaryKeyRelatedField(
        queryset=AutomationWorkflow.objects.all(),
        allow_null=True,
        required=False,
        error_messages={"does_not_exist": "Unknown workflow {pk_value}."},
    )
    connection = serializers.PrimaryKeyRelatedField(
        queryset=IntegrationConnection.objects.all(),
        allow_null=True,
        required=False,
        error_messages={"does_not_exist": "Unknown connection {pk_value}."},
    )
    channel = serializers.ChoiceField(choices=list(CHANNELS))
    recipients = serializers.ListField(
        child=serializers.CharField(max_length=254), required=False, max_length=RECIPIENTS_MAX
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=AlertEvent.choices),
        required=False,
        max_length=len(AlertEvent.values),
    )

    class Meta:
        model = AutomationAlert
        fields = [
            "id",
            "name",
            "workflow",
            "alert_type",
            "channel",
            "connection",
            "recipients",
            "events",
            "severity",
            "throttle_s",
            "slow_threshold_ms",
            "quiet_minutes",
            "quiet_counts",
            "is_active",
            "trigger_count",
            "success_count",
            "failure_count",
            "last_triggered_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "trigger_count",
            "success_count",
            "failure_count",
            "last_triggered_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"quiet_minutes": {"min_value": 1, "max_value": QUIET_MINUTES_MAX}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance

        def current(key: str, default: Any) -> Any:
            return attrs.get(key, getattr(instance, key) if instance else default)

        alert_validate(
            channel=current("channel", ""),
            connection=current("connection", None),
            recipients=list(current("recipients", [])),
            events=list(current("events", [])),
            alert_type=current("alert_type", AlertType.FAILURE),
            workflow_id=getattr(current("workflow", None), "pk", None),
            quiet_minutes=current("quiet_minutes", None),
        )
        return attrs


class DeliverySerializer(serializers.ModelSerializer[AlertDelivery]):
    class Meta:
        model = AlertDelivery
        fields = [
            "id",
            "alert",
            "event",
            "severity",
            "status",
            "folded_count",
            "folded_into",
            "workflow_id",
            "execution_id",
            "payload",
            "attempts",
            "attempt_log",
            "response_code",
            "error",
            "window_ends_at",
            "next_attempt_at",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


class AlertTestSerializer(serializers.Serializer):
    delivered = serializers.BooleanField()
    detail = serializers.CharField()


class AlertViewSet(viewsets.ModelViewSet):
    serializer_class = AlertSerializer
    filterset_fields = ["is_active", "channel", "alert_type", "severity", "workflow"]
    search_fields = ["name"]
    ordering_fields = ["id", "name", "created_at", "last_triggered_at", "trigger_count"]

    def get_queryset(self) -> QuerySet[AutomationAlert]:
        return selectors.alert_list()

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DecryptionError):
            exc = SecretsUnreadable(str(exc))
        return super().handle_exception(exc)

    def perform_create(self, serializer: BaseSerializer[AutomationAlert]) -> None:
        serializer.instance = alert_create(
            data=serializer.validated_data, actor=actor_of_request(self.request)
        )

    def perform_update(self, serializer: BaseSerializer[AutomationAlert]) -> None:
        assert serializer.instance is not None
        serializer.instance = alert_update(
            alert=serializer.instance,
            data=serializer.validated_data,
            actor=actor_of_request(self.request),
        )

    def perform_destroy(self, instance: AutomationAlert) -> None:
        alert_delete(alert=instance, actor=actor_of_request(self.request))

    @extend_schema(request=None, responses={200: AlertTestSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Send a test alert through the alert's channel."""
        no_parameters_check(request)
        outcome = alert_test(alert=self.get_object(), request=request)
        return Response(AlertTestSerializer(outcome).data)

    @extend_schema(request=None, responses={200: DeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        """List an alert's deliveries."""
        page = self.paginate_queryset(selectors.delivery_list(alert=self.get_object()))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    class Meta:
        model = Notification
        fields = ["id", "title", "body", "severity", "link", "is_read", "created_at"]
        read_only_fields = fields


@extend_schema_view(
    read=extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
)
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own in-app notifications, newest first; ``?unread=true`` for unread only.
    The list adds ``unread_count``."""

    serializer_class = NotificationSerializer
    permission_classes = [IsAuthenticated]
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Notification]:
        unread = False
        if self.action == "list":
            flag = serializers.BooleanField()
            try:
                unread = flag.run_validation(self.request.query_params.get("unread", False))
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"unread": exc.detail}) from None
        return selectors.notification_list(user=self.request.user, unread=unread)

    @extend_schema(parameters=[OpenApiParameter("unread", bool, description="Unread only.")])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        response.data["unread_count"] = selectors.notification_unread_count(user=request.user)
        return response

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        """Mark a notification read."""
        no_parameters_check(request)
        notification = notification_mark_read(notification=self.get_object())
        return Response(NotificationSerializer(notification).data)
