"""Editorial approvals: who may decide an approval step, how votes decide it, and the signed
links that let an approver decide from a Slack, Telegram or email message without signing in.

Approvers are the users and the members of the groups the step names (``approvers``), joined by
those of ``escalate`` once the step has escalated. Without ``approvers`` any staff member decides,
alone. A rejection by any approver rejects; ``quorum`` distinct approvals approve. An approver
may edit the step's declared ``fields`` when approving; the edited values are the step's output
``fields``, which later steps read (``{{ steps.<id>.fields.<name> }}``).

A link is personal and single-use: it names the execution, the step, the approver and a nonce,
signed with the site's secret. It expires after APPROVAL_LINK_MAX_AGE_S, when the step is
decided, or once used (its nonce is kept in the step's output).
"""

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db.models import Q
from django.urls import reverse

from core.site import absolute_url

LINK_SALT = "workflows.approval-link"
BUTTON_SALT = "workflows.approval-button"
# The action_id of the Slack buttons an approval posts.
BUTTON_APPROVE, BUTTON_REJECT = "approval_approve", "approval_reject"
FIELD_MAX_LENGTH = 5000


class ApprovalRefused(Exception):
    """The decision is not allowed. ``kind``: ``forbidden`` (not an approver), ``conflict``
    (decided already, a link spent), ``invalid`` (a link tampered with or expired) or ``field``
    (``fields`` at fault)."""

    def __init__(self, message: str, kind: str = "forbidden") -> None:
        super().__init__(message)
        self.message, self.kind = message, kind


@dataclass(frozen=True)
class LinkClaim:
    execution_id: int
    step_id: str
    user_id: int
    nonce: str


def _names(part: Any, key: str) -> list[str]:
    return [str(name) for name in (part or {}).get(key) or []]


def _named(params: dict[str, Any], state: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The usernames and group names that may decide (with ``escalate``'s once escalated)."""
    parts = [params.get("approvers")]
    if state.get("escalated"):
        parts.append(params.get("escalate"))
    usernames = [name for part in parts for name in _names(part, "users")]
    return usernames, [name for part in parts for name in _names(part, "groups")]


def approvers_configured(params: dict[str, Any], state: dict[str, Any]) -> bool:
    """Whether the step names its approvers; if not, any staff member decides, alone."""
    usernames, groups = _named(params, state)
    return bool(usernames or groups)


def approvers_of(params: dict[str, Any], state: dict[str, Any]) -> list[Any]:
    """The active users who may decide, by username: those named, the members of the groups
    named, and after an escalation those of ``escalate`` too."""
    usernames, groups = _named(params, state)
    if not usernames and not groups:
        return []
    users = get_user_model().objects.filter(is_active=True)
    named = users.filter(Q(username__in=usernames) | Q(groups__name__in=groups))
    return list(named.distinct().order_by("username"))


def approvers_escalated(params: dict[str, Any]) -> list[Any]:
    """The users the escalation adds (for its notification)."""
    return approvers_of({"approvers": params.get("escalate")}, {})


def may_decide(user: Any, params: dict[str, Any], state: dict[str, Any]) -> bool:
    if not approvers_configured(params, state):
        return bool(getattr(user, "is_staff", False))
    return any(approver.pk == user.pk for approver in approvers_of(params, state))


def fields_edited(params: dict[str, Any], edits: dict[str, Any] | None) -> dict[str, str]:
    """The declared fields' values after ``edits``. Raises ApprovalRefused naming an unknown or
    unfit field."""
    declared = {
        name: "" if value is None else str(value)
        for name, value in params.get("fields", {}).items()
    }
    for name, value in (edits or {}).items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ApprovalRefused(f"Unknown field {name!r}. Declared fields: {known}.", "field")
        if not isinstance(value, str) or len(value) > FIELD_MAX_LENGTH:
            raise ApprovalRefused(
                f"Field {name!r} must be text of at most {FIELD_MAX_LENGTH} characters.", "field"
            )
        declared[name] = value
    return declared


def vote_apply(
    output: dict[str, Any],
    params: dict[str, Any],
    *,
    user: Any,
    approved: bool,
    comment: str,
    edits: dict[str, Any] | None,
    via: str,
    at: str,
) -> dict[str, Any]:
    """The approval step's ``output`` with this vote counted, and ``decision`` set once the vote
    decides. Raises ApprovalRefused for a user who may not decide or has already, or for edits
    on a rejection or to undeclared fields."""
    if not may_decide(user, params, output):
        raise ApprovalRefused(f"{user.get_username()} is not an approver of this step.")
    votes = list(output.get("votes") or [])
    if any(vote["by"] == user.get_username() for vote in votes):
        raise ApprovalRefused(
            f"{user.get_username()} has decided on this step already.", "conflict"
        )
    if edits and not approved:
        raise ApprovalRefused("Fields are edited when approving, not when rejecting.", "field")
    fields = fields_edited(params, {**(output.get("fields") or {}), **(edits or {})})
    vote = {"by": user.get_username(), "approved": approved, "at": at, "via": via}
    if comment:
        vote["comment"] = comment
    votes.append(vote)
    result = {**output, "votes": votes}
    if params.get("fields"):
        result["fields"] = fields
    approvals = sum(1 for vote in votes if vote["approved"])
    quorum = int(params.get("quorum") or 1) if approvers_configured(params, output) else 1
    if not approved or approvals >= quorum:
        result.update(
            decision="approved" if approved else "rejected",
            decided_by=user.get_username(),
            decided_at=at,
            comment=comment,
        )
    return result


def link_make(*, execution_id: int, step_id: str, user: Any) -> str:
    """A personal, single-use link deciding this step as ``user``."""
    claim = {"e": execution_id, "s": step_id, "u": user.pk, "n": secrets.token_urlsafe(12)}
    token = signing.dumps(claim, salt=LINK_SALT, compress=True)
    return absolute_url(reverse("approval-link", args=[token]))


def link_read(token: str) -> LinkClaim:
    """The claim a link makes. Raises ApprovalRefused when it was tampered with or expired."""
    try:
        claim = signing.loads(token, salt=LINK_SALT, max_age=settings.APPROVAL_LINK_MAX_AGE_S)
    except signing.SignatureExpired as exc:
        raise ApprovalRefused(
            "This link has expired. Ask for the decision in the dashboard."
        ) from exc
    except signing.BadSignature as exc:
        raise ApprovalRefused(
            "This link is not valid: it was changed or cut short.", "invalid"
        ) from exc
    return LinkClaim(
        execution_id=int(claim["e"]),
        step_id=str(claim["s"]),
        user_id=int(claim["u"]),
        nonce=str(claim["n"]),
    )


def links_text(*, execution_id: int, step_id: str, users: list[Any]) -> str:
    """The lines a notification adds: one personal link per approver."""
    lines = [
        f"{user.get_username()}: {link_make(execution_id=execution_id, step_id=step_id, user=user)}"
        for user in users
    ]
    return "Review and decide (a personal link each, usable once):\n" + "\n".join(lines)


def buttons_make(*, execution_id: int, step_id: str) -> list[dict[str, str]]:
    """Approve and Reject buttons for a Slack app's message. Their value is signed; who clicked
    is told by Slack, so the same buttons serve every approver in the channel."""
    value = signing.dumps({"e": execution_id, "s": step_id}, salt=BUTTON_SALT, compress=True)
    return [
        {"text": "Approve", "value": value, "action_id": BUTTON_APPROVE, "style": "primary"},
        {"text": "Reject", "value": value, "action_id": BUTTON_REJECT, "style": "danger"},
    ]


def button_read(value: str) -> tuple[int, str]:
    """The execution and step a button names. Raises ApprovalRefused (``invalid``)."""
    try:
        claim = signing.loads(value, salt=BUTTON_SALT, max_age=settings.APPROVAL_LINK_MAX_AGE_S)
        return int(claim["e"]), str(claim["s"])
    except signing.SignatureExpired as exc:
        raise ApprovalRefused("These buttons have expired.", "invalid") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise ApprovalRefused("This button is not one of ours.", "invalid") from exc
