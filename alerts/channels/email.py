"""``email``: mails the message to ``recipients``.

With an smtp connection, the connection's platform sends it (its server, login and STARTTLS, and
the same address vetting as every outbound request). Without one, Django's email backend sends it
with the EMAIL_* settings.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from alerts.channels.base import (
    SEALED_NOT_SENT,
    Channel,
    Message,
    SendResult,
    Target,
    connection_send,
)
from integrations.http import outbound_is_sealed

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

SUBJECT_MAX_CHARS = 200


class EmailChannel(Channel):
    name = "email"
    platforms = ("smtp",)
    uses_recipients = True

    def recipients_errors(
        self, recipients: Sequence[str], connection: IntegrationConnection | None
    ) -> dict[str, list[str]]:
        configured = connection is not None and (connection.config or {}).get("recipients")
        if not recipients and not configured:
            return {"recipients": ["The email channel needs at least one email address."]}
        bad = [address for address in recipients if not _is_email(address)]
        if bad:
            return {"recipients": [f"Not email addresses: {', '.join(bad)}."]}
        return {}

    def send(self, target: Target, message: Message) -> SendResult:
        if target.connection is not None:
            data = dict(message.data)
            if target.recipients:
                data["recipients"] = list(target.recipients)
            via = Message(message.text, message.title, message.severity, message.url, data)
            return connection_send(target.connection, via)
        return _send_with_settings(list(target.recipients), message)


def _send_with_settings(recipients: list[str], message: Message) -> SendResult:
    if not recipients:
        return SendResult(False, None, "no recipients")
    if outbound_is_sealed():
        return SendResult(True, None, SEALED_NOT_SENT)
    first_line = (message.text.splitlines() or [""])[0]
    subject = (message.title or first_line or "Notification")[:SUBJECT_MAX_CHARS]
    body = "\n\n".join(part for part in (message.text, message.url) if part)
    backend = get_connection(timeout=settings.EMAIL_TIMEOUT)
    email = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, connection=backend)
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as exc:
        return SendResult(False, None, f"recipients refused: {', '.join(exc.recipients)}")
    except smtplib.SMTPResponseException as exc:
        retryable = 400 <= exc.smtp_code < 500
        return SendResult(False, exc.smtp_code, f"mail server answered {exc.smtp_code}", retryable)
    except (smtplib.SMTPException, OSError) as exc:
        return SendResult(
            False, None, f"could not reach the mail server ({type(exc).__name__})", True
        )
    return SendResult(True, None, f"mailed {len(recipients)} recipient(s)")


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except DjangoValidationError:
        return False
    return True
