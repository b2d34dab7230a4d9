"""The ``connections`` endpoints. Credentials and the webhook URL are write-only: responses say
only whether they are set (and the webhook's host), never what they are."""

from typing import Any
from urllib.parse import urlsplit

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from core.strict import StrictSerializer, no_parameters_check
from integrations import selectors
from integrations.crypto import DecryptionError
from integrations.models import IntegrationConnection
from integrations.platforms.registry import PLATFORMS
from integrations.services import (
    connection_create,
    connection_delete,
    connection_update,
    connection_verify,
)

OUTPUT_FIELDS = [
    "id", "name", "platform", "connection_type", "config", "is_active", "rate_limit", "is_verified",
    "last_verified_at", "last_error", "has_credentials", "webhook_url_set", "webhook_url_host",
    "created_at", "updated_at",
]  # fmt: skip


class SecretsUnreadable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "secrets_unreadable"


class ConnectionInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    platform = serializers.ChoiceField(choices=list(PLATFORMS))
    connection_type = serializers.CharField(max_length=64, required=False, allow_blank=True)
    credentials = serializers.DictField(required=False, write_only=True)
    webhook_url = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, write_only=True
    )
    config = serializers.DictField(required=False)
    is_active = serializers.BooleanField(required=False)
    rate_limit = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text='Requests per second, minute or hour across every worker: "5/s", "60/m", '
        '"1000/h"; null for none. Calls over it wait their turn.',
    )


class ConnectionSerializer(serializers.ModelSerializer[IntegrationConnection]):
    rate_limit = serializers.SerializerMethodField()
    has_credentials = serializers.SerializerMethodField()
    webhook_url_set = serializers.SerializerMethodField()
    webhook_url_host = serializers.SerializerMethodField(
        help_text="Only the host of the webhook URL; the URL itself is a secret."
    )

    class Meta:
        model = IntegrationConnection
        fields = OUTPUT_FIELDS
        read_only_fields = OUTPUT_FIELDS

    def get_rate_limit(self, connection: IntegrationConnection) -> str | None:
        return connection.rate_limit or None

    def get_has_credentials(self, connection: IntegrationConnection) -> bool:
        return bool(connection.credentials)

    def get_webhook_url_set(self, connection: IntegrationConnection) -> bool:
        return bool(connection.webhook_url)

    def get_webhook_url_host(self, connection: IntegrationConnection) -> str:
        if not connection.webhook_url:
            return ""
        try:
            return urlsplit(connection.webhook_url).hostname or ""
        except ValueError:
            return ""


class VerifyResultSerializer(serializers.Serializer):
    is_verified = serializers.BooleanField()
    detail = serializers.CharField()
    latency_ms = serializers.IntegerField()


@extend_schema(request=ConnectionInputSerializer, responses=ConnectionSerializer)
class ConnectionViewSet(viewsets.ModelViewSet):
    serializer_class = ConnectionSerializer
    filterset_fields = ["platform", "is_active", "is_verified"]
    search_fields = ["name", "connection_type"]
    ordering_fields = ["id", "name", "platform", "created_at", "last_verified_at"]

    def get_queryset(self) -> QuerySet[IntegrationConnection]:
        return selectors.connection_list()

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DecryptionError):
            exc = SecretsUnreadable(str(exc))
        return super().handle_exception(exc)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self._input(request, partial=False)
        connection = connection_create(**data, by=request)
        return Response(ConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        connection = self.get_object()
        data = self._input(request, partial=kwargs.get("partial", False))
        connection = connection_update(connection=connection, data=data, by=request)
        return Response(ConnectionSerializer(connection).data)

    def perform_destroy(self, instance: IntegrationConnection) -> None:
        connection_delete(connection=instance, by=self.request)

    @extend_schema(request=None, responses={200: VerifyResultSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        """Verify a connection with the smallest real call its platform has."""
        no_parameters_check(request)
        outcome = connection_verify(connection=self.get_object())
        return Response(VerifyResultSerializer(outcome).data)

    def _input(self, request: Request, *, partial: bool) -> dict[str, Any]:
        serializer = ConnectionInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
