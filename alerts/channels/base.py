"""What every alert channel implements: ``validate`` where its messages go, and ``send`` one.

A channel never raises for the target's or the network's faults: ``send`` answers with a
SendResult whose ``retryable`` says whether trying again later may help.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rest_framework.exceptions import ValidationError

from integrations.http import outbound_is_sealed
from integrations.platforms.base import Message, SendResult
from integrations.platforms.registry import platform_get

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

__all__ = ["Channel", "Message", "PlatformChannel", "SendResult", "Target", "connection_send"]


@dataclass(frozen=True)
class Target:
    """Where one message goes: a connection, recipients, or both (as the channel needs)."""

    connection: IntegrationConnection | None = None
    recipients: Sequence[str] = ()


class Channel:
    name: ClassVar[str]
    # The connection platforms this channel sends through; empty: it takes no connection.
    platforms: ClassVar[tuple[str, ...]] = ()
    connection_required: ClassVar[bool] = False
    uses_recipients: ClassVar[bool] = False

    def validate(
        self, *, connection: IntegrationConnection | None, recipients: Sequence[str]
    ) -> None:
        """Raise ValidationError naming ``connection`` and/or ``recipients`` when unusable."""
        errors: dict[str, list[str]] = {}
        problem = self._connection_problem(connection)
        if problem:
            errors["connection"] = [problem]
        if recipients and not self.uses_recipients:
            errors["recipients"] = [
                f"The {self.name} channel sends through its connection; leave recipients empty."
            ]
        elif self.uses_recipients:
            errors.update(self.recipients_errors(recipients, connection))
        if errors:
            raise ValidationError(errors)

    def recipients_errors(
        self, recipients: Sequence[str], connection: IntegrationConnection | None
    ) -> dict[str, list[str]]:
        """Field errors for ``recipients``, for channels that use them."""
        return {}

    def send(self, target: Target, message: Message) -> SendResult:
        raise NotImplementedError

    def _connection_problem(self, connection: IntegrationConnection | None) -> str:
        needed = ", ".join(self.platforms)
        if connection is None:
            if self.connection_required:
                return f"The {self.name} channel needs a connection ({needed})."
            return ""
        if not self.platforms:
            return f"The {self.name} channel takes no connection."
        if connection.platform not in self.platforms:
            return (
                f"Connection {connection.pk} is a {connection.platform} connection; the "
                f"{self.name} channel needs one of: {needed}."
            )
        return ""


class PlatformChannel(Channel):
    """A channel that hands the message to its connection's platform."""

    connection_required = True

    def send(self, target: Target, message: Message) -> SendResult:
        if target.connection is None:
            return SendResult(False, None, f"the {self.name} channel needs a connection")
        return connection_send(target.connection, message)


# What a send that a workflow test stops says (integrations.http.outbound_sealed).
SEALED_NOT_SENT = "not sent: workflow test"


def connection_send(connection: IntegrationConnection, message: Message) -> SendResult:
    """Send ``message`` through the connection's platform, unless the connection is disabled."""
    if not connection.is_active:
        return SendResult(False, None, f"connection {connection.pk} is not active")
    platform = platform_get(connection.platform)
    if platform.own_network and outbound_is_sealed():
        return SendResult(True, None, SEALED_NOT_SENT)
    return platform.send(connection, message)
