"""GET audit: who did what to which object, newest first (staff only, as the whole API)."""

import django_filters
from django.db.models import QuerySet
from rest_framework import mixins, serializers, viewsets

from workflows.models import ActorKind, AuditEntry


class ActorSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ActorKind.choices)
    name = serializers.CharField()
    id = serializers.JSONField(allow_null=True, help_text="The user's, token's or delivery's id.")


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    actor = ActorSerializer(read_only=True)

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "action", "object_type", "object_id", "detail"]
        read_only_fields = fields


class AuditFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_name", help_text="The actor's name.")
    action = django_filters.CharFilter()
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    after = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["actor", "action", "object_type", "object_id"]


class AuditViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The audit trail: triggers, retries, cancels, approvals and workflow edits by people and
    API tokens, kept after the executions they name are pruned."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditFilter
    search_fields: list[str] = []
    ordering_fields = ["at"]

    def get_queryset(self) -> QuerySet[AuditEntry]:
        return AuditEntry.objects.order_by("-at", "-id")
