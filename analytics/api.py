"""Analytics endpoints."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.health import system_health


class HealthView(APIView):
    """200 when the system can take work, 503 when a critical component is down."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        responses={
            (200, "application/json"): inline_serializer(
                "Health",
                {"status": serializers.CharField(), "components": serializers.DictField()},
            ),
            (503, "application/json"): inline_serializer(
                "HealthDown",
                {"status": serializers.CharField(), "components": serializers.DictField()},
            ),
        }
    )
    def get(self, request: Request) -> Response:
        health = system_health()
        return Response(health, status=503 if health["status"] == "down" else 200)
