"""GET audit: who did what to which object, newest first (staff only, as the whole API)."""

from django.db.models import QuerySet
from rest_framework import mixins, serializers, viewsets

from workflows.api.filters import AuditFilter
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


class AuditViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The audit trail: triggers, retries, cancels, approvals and workflow edits by people and
    API tokens, kept after the executions they name are pruned."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditFilter
    search_fields: list[str] = []
    ordering_fields = ["at"]

    def get_queryset(self) -> QuerySet[AuditEntry]:
        return AuditEntry.objects.order_by("-at", "-id")
