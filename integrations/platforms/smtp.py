"""SMTP: ``config.host``, ``port`` (587), ``use_tls`` (true), ``username``, ``from_email``,
``recipients``; ``credentials.password``.

Verify = connect + EHLO + STARTTLS (required with ``use_tls``, used whenever offered) + login +
NOOP: it proves authentication, not deliverability. Port 465 speaks TLS from the first byte. The
host is vetted like every outbound HTTP host and the socket goes to the vetted address, while TLS
checks the certificate against the host name.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from integrations.http import check_host
from integrations.platforms.base import Errors, Message, Platform, SendResult, VerifyResult
from integrations.ratelimits.throttle import connection_throttle

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

TIMEOUT_S = 10.0
IMPLICIT_TLS_PORT = 465


def tls_context() -> ssl.SSLContext:
    """The TLS settings for STARTTLS and port 465: the system's CAs, hostname checked."""
    return ssl.create_default_context()


class _PinnedSMTP(smtplib.SMTP):
    """Connects its socket to a vetted address; the host name stays what TLS checks."""

    def __init__(self, host: str, port: int, *, address: str, **kwargs: Any) -> None:
        self.address = address
        super().__init__(host, port, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self.address, port), timeout, self.source_address)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    """As _PinnedSMTP, with TLS from the first byte (port 465)."""

    def __init__(self, host: str, port: int, *, address: str, **kwargs: Any) -> None:
        self.address = address
        super().__init__(host, port, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((self.address, port), timeout, self.source_address)
        return self.context.wrap_socket(sock, server_hostname=host)


class Smtp(Platform):
    name = "smtp"
    own_network = True
    label = "SMTP (email)"
    config_keys = frozenset({"host", "port", "use_tls", "username", "from_email", "recipients"})
    key_hints = {"user": "username", "from": "from_email", "tls": "use_tls"}

    def check_fields(
        self, errors: Errors, credentials: Mapping[str, Any], webhook_url: str,
        config: Mapping[str, Any],
    ) -> None:  # fmt: skip
        errors.require(config, "config", "host")
        port = config.get("port", 587)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            errors.add("config.port", "Must be a port number (1-65535).")
        if not isinstance(config.get("use_tls", True), bool):
            errors.add("config.use_tls", "Must be true or false.")
        if config.get("username"):
            errors.require(credentials, "credentials", "password")
        recipients = config.get("recipients", [])
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            errors.add("config.recipients", "Must be a list of email addresses.")

    def check(self, connection: IntegrationConnection) -> VerifyResult:
        try:
            with _session(connection) as client:
                code, _ = client.noop()
        except (smtplib.SMTPException, OSError) as exc:
            return VerifyResult(False, _describe(exc))
        who = (connection.config or {}).get("username") or "no login"
        return VerifyResult(code == 250, f"{_server(connection)} accepted {who} (NOOP {code})")

    def deliver(self, connection: IntegrationConnection, message: Message) -> SendResult:
        config = connection.config or {}
        recipients = message.data.get("recipients") or config.get("recipients") or []
        if not recipients:
            return SendResult(False, None, "no recipients (config.recipients or data.recipients)")
        email = EmailMessage()
        email["From"] = config.get("from_email") or config.get("username") or "workflows@localhost"
        email["To"] = ", ".join(recipients)
        first_line = (message.text.splitlines() or [""])[0][:120]
        email["Subject"] = message.title or first_line or "Notification"
        email.set_content("\n\n".join(part for part in (message.text, message.url) if part))
        try:
            with _session(connection) as client:
                client.send_message(email)
        except (smtplib.SMTPException, OSError) as exc:
            code = getattr(exc, "smtp_code", None)
            retryable = not isinstance(exc, smtplib.SMTPException) or 400 <= (code or 0) < 500
            return SendResult(False, code, _describe(exc), retryable)
        return SendResult(True, 250, f"sent to {len(recipients)} recipient(s)")


@contextmanager
def _session(connection: IntegrationConnection) -> Iterator[smtplib.SMTP]:
    """A logged-in SMTP session, within the connection's rate limit; raises OutboundRefused for
    a host the guard refuses, RateLimitWait when the limit leaves no slot in time."""
    connection_throttle(connection, timeout_s=TIMEOUT_S)
    config = connection.config or {}
    host, port = str(config["host"]).strip(), int(config.get("port") or 587)
    address = check_host(host, port)[0]
    local = socket.gethostname()  # not getfqdn(): no DNS lookup before we even connect
    client: smtplib.SMTP
    if port == IMPLICIT_TLS_PORT:
        client = _PinnedSMTPSSL(
            host, port, address=address, local_hostname=local, timeout=TIMEOUT_S,
            context=tls_context(),
        )  # fmt: skip
    else:
        client = _PinnedSMTP(host, port, address=address, local_hostname=local, timeout=TIMEOUT_S)
    try:
        client.ehlo()
        if port != IMPLICIT_TLS_PORT and client.has_extn("starttls"):
            client.starttls(context=tls_context())
            client.ehlo()
        elif port != IMPLICIT_TLS_PORT and config.get("use_tls", True):
            raise smtplib.SMTPNotSupportedError(
                "the server does not offer STARTTLS (set use_tls to false to send in clear text)"
            )
        if config.get("username"):
            client.login(config["username"], connection.credentials.get("password", ""))
        yield client
    finally:
        _close(client)


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _server(connection: IntegrationConnection) -> str:
    config = connection.config or {}
    return f"{config.get('host')}:{config.get('port') or 587}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"authentication failed ({exc.smtp_code} {_text(exc.smtp_error)})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"server answered {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return f"recipients refused: {', '.join(exc.recipients)}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not valid: {exc.verify_message}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out after {TIMEOUT_S:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}"


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else value)[:200]
