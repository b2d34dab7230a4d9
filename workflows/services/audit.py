"""Who did it: the actor of a request or of the system's own work, and the audit trail's writes.

Recorded: what people and API tokens do — trigger, retry, replay, cancel, approve or reject an
execution; create, edit or delete a workflow, a connection, an alert rule or an orchestration;
start or cancel a job. What the system starts by itself (a schedule, a
webhook delivery, an event) is told by each execution's ``triggered_by``, not repeated here.
"""

import getpass
from dataclasses import dataclass
from typing import Any

from workflows.models import ActorKind, ApiToken, AuditEntry


@dataclass(frozen=True)
class Actor:
    kind: str
    name: str
    id: int | str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "id": self.id}

    @property
    def is_person(self) -> bool:
        return self.kind in (ActorKind.USER, ActorKind.TOKEN)


def actor_of_request(request: Any) -> Actor | None:
    """The API token that authenticated the request (by its name, else its prefix), else the
    signed-in user; None for an anonymous request."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        return Actor(ActorKind.TOKEN, token.name or f"token {token.prefix}", token.pk)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Actor(ActorKind.USER, user.get_username(), user.pk)
    return None


def actor_of_command() -> Actor:
    """Someone on the server, running manage.py."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return Actor(ActorKind.USER, f"{login} (manage.py)")


def audit_record(
    *,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: int | str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry, in the caller's transaction; nothing for an unknown actor."""
    if actor is None:
        return
    AuditEntry.objects.create(
        actor=actor.as_dict(),
        actor_name=actor.name[:200],
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail or {},
    )


def connection_audit(
    *,
    connection_id: int,
    name: str,
    platform: str,
    action: str,
    changed: list[str],
    by: Any,
    **_more: Any,
) -> None:
    """The integrations layer's CONNECTION_CHANGED, in the audit trail: who created, edited or
    deleted which connection (the names of the fields changed, never their values)."""
    actor = by if isinstance(by, Actor) or by is None else actor_of_request(by)
    detail: dict[str, Any] = {"name": name, "platform": platform}
    if changed:
        detail["changed"] = changed
    audit_record(
        actor=actor, action=action, object_type="connection", object_id=connection_id, detail=detail
    )
