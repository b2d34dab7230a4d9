"""The action catalogue: every action type with its params schema, for step editors."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from workflows.catalogue import action_catalogue_list


class ActionTypeSerializer(serializers.Serializer):
    type = serializers.CharField()
    group = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    params_schema = serializers.DictField(
        help_text="JSON Schema (2020-12) of the params; x-template marks fields that take a "
        "template, x-connection-platform fields that take a connection of those platforms."
    )
    side_effects = serializers.BooleanField()
    example = serializers.DictField(help_text="An action definition using it.")


class ActionCatalogueView(APIView):
    @extend_schema(responses=ActionTypeSerializer(many=True))
    def get(self, request: Request) -> Response:
        """List the action types with their params schemas."""
        return Response(action_catalogue_list())
