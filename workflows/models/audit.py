"""The audit trail: who did what to which object, when — kept for ever, whatever happens to the
object (no foreign keys: an entry outlives the pruning of executions and the deletion of a
workflow). Entries are only ever added."""

from django.db import models
from django.utils import timezone


class ActorKind(models.TextChoices):
    USER = "user"  # a person: signed in (dashboard, admin), or on the server (manage.py)
    TOKEN = "token"  # noqa: S105 (a kind of actor: an API token, by its name)
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    EVENT = "event"
    WORKFLOW = "workflow"
    REPLAY = "replay"


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # {"kind": ActorKind, "name": str, "id": int | str | None}, as executions' ``triggered_by``.
    actor = models.JSONField(default=dict)
    actor_name = models.CharField(max_length=200, db_index=True)
    action = models.CharField(max_length=32, db_index=True)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=64)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.object_type} {self.object_id}"
