"""What every platform implements, and the shapes it answers with.

A platform class validates where its settings go (``validate``), proves a connection works with
the smallest real call the platform documents (``check``) and delivers a message (``deliver``).
Callers use ``verify`` and ``send``, which turn outbound errors into results and redact the
connection's secrets from every detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from rest_framework.exceptions import ValidationError

from core.strict import unknown_keys_errors
from integrations.http import OutboundError, OutboundResponse
from integrations.redaction import redact, secrets_of

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

DETAIL_CHARS = 300
# Every connection can lend HTTP auth to an api_call step (integrations.services
# connection_auth_headers), whatever its platform: these keys are known on all of them.
HTTP_AUTH_CREDENTIALS = frozenset({"token", "username", "password"})
HTTP_AUTH_CONFIG = frozenset({"auth_header"})
_URL = URLValidator(schemes=["http", "https"])
TEST_MESSAGE = "Connection test from workflow orchestration: this connection works."


@dataclass(frozen=True)
class Message:
    text: str
    title: str = ""
    severity: str = "info"  # info, warning, critical
    url: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def plain(self) -> str:
        """Title, text and link as one plain-text message."""
        return "\n".join(part for part in (self.title, self.text, self.url) if part)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    detail: str


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int | None
    detail: str
    retryable: bool = False


def failure_public(status: int | None, detail: str) -> str:
    """What a failed send or verify may say where plain users and logs read it (a step's error):
    the HTTP status when the platform answered, as its detail may quote the answer's body; the
    detail itself when nothing answered (refused, timed out, not configured). The full detail
    stays in the step's output, for staff."""
    return f"answered {status}" if status is not None else detail


def snippet(response: OutboundResponse) -> str:
    return response.text.strip()[:DETAIL_CHARS]


class Platform:
    name: ClassVar[str]
    label: ClassVar[str]
    # The documented API root, replaced by config.api_base_url when set ("" when there is none).
    api_root: ClassVar[str] = ""
    # The keys this platform reads from credentials and config (SPEC §8), beside the HTTP auth
    # ones every platform knows; any other key is refused, naming the one to use when
    # ``key_hints`` or its snake_case spelling knows it.
    credential_keys: ClassVar[frozenset[str]] = frozenset()
    config_keys: ClassVar[frozenset[str]] = frozenset()
    key_hints: ClassVar[dict[str, str]] = {}
    # Sends with its own network client rather than integrations.http (mail, Apprise): inside a
    # workflow test (integrations.http.outbound_sealed) it says it sent, without sending.
    own_network: ClassVar[bool] = False

    def validate(
        self, credentials: Mapping[str, Any], webhook_url: str, config: Mapping[str, Any]
    ) -> None:
        """Raise ValidationError naming each missing or malformed field; return when usable."""
        errors = Errors()
        self._unknown_keys(errors, "credentials", credentials, self.known_credentials())
        self._unknown_keys(errors, "config", config, self.known_config())
        if config.get("api_base_url"):
            errors.url("config.api_base_url", str(config["api_base_url"]))
        if webhook_url:
            errors.url("webhook_url", webhook_url)
        self.check_fields(errors, credentials, webhook_url, config)
        errors.raise_if_any()

    def known_credentials(self) -> frozenset[str]:
        return self.credential_keys | HTTP_AUTH_CREDENTIALS

    def known_config(self) -> frozenset[str]:
        return self.config_keys | HTTP_AUTH_CONFIG | ({"api_base_url"} if self.api_root else set())

    def _unknown_keys(
        self, errors: Errors, prefix: str, given: Mapping[str, Any], known: frozenset[str]
    ) -> None:
        for key, messages in unknown_keys_errors(given, known, self.key_hints).items():
            for message in messages:
                errors.add(f"{prefix}.{key}", message.replace("field", f"{prefix} key", 1))

    def check_fields(
        self,
        errors: Errors,
        credentials: Mapping[str, Any],
        webhook_url: str,
        config: Mapping[str, Any],
    ) -> None:
        """Record what this platform requires (SPEC §8) in ``errors``."""

    def check(self, connection: IntegrationConnection) -> VerifyResult:
        raise NotImplementedError

    def deliver(self, connection: IntegrationConnection, message: Message) -> SendResult:
        return SendResult(False, None, f"{self.label} connections cannot send messages")

    def verify(self, connection: IntegrationConnection) -> VerifyResult:
        """Prove the connection works; never raises for the platform's or the network's faults."""
        try:
            result = self.check(connection)
        except OutboundError as exc:
            result = VerifyResult(False, exc.message)
        return VerifyResult(result.ok, redact(result.detail, secrets_of(connection)))

    def send(self, connection: IntegrationConnection, message: Message) -> SendResult:
        """Deliver ``message``; never raises for the platform's or the network's faults.

        ``retryable`` says whether sending again later may succeed (timeouts, 429, 5xx).
        """
        try:
            result = self.deliver(connection, message)
        except OutboundError as exc:
            result = SendResult(False, None, exc.message, exc.retryable)
        detail = redact(result.detail, secrets_of(connection))
        return SendResult(result.ok, result.status, detail, result.retryable)


class Errors:
    """Field errors keyed by dotted path ("credentials.token"), raised nested as DRF writes them."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}

    def add(self, path: str, message: str) -> None:
        *parents, leaf = path.split(".")
        node = self.fields
        for parent in parents:
            node = node.setdefault(parent, {})
        node.setdefault(leaf, []).append(message)

    def require(self, source: Mapping[str, Any], prefix: str, *keys: str) -> None:
        """Record "Required." for each of ``keys`` missing or blank in ``source``."""
        for key in keys:
            value = source.get(key)
            if not isinstance(value, str) or not value.strip():
                self.add(f"{prefix}.{key}", "Required.")

    def url(self, path: str, value: str) -> None:
        """Record an error unless ``value`` is an http(s) URL."""
        try:
            _URL(value)
        except DjangoValidationError:
            self.add(path, "Enter an http or https URL.")

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationError(self.fields)
