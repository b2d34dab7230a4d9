"""Apprise (optional extra ``apprise``): ``credentials.url``, any URL Apprise knows.

Apprise has no call that checks without sending, so verify sends a test notification. Apprise does
its own network I/O (requests, smtplib, …), outside http_request: every target, whatever its scheme
(json://, ntfy://, gotify://, mmost://, matrix://, mailto://, tgram://, …), is sent inside
integrations.http.sockets_guarded, which vets each address at the moment a socket connects to it,
by the same rules and OUTBOUND_ALLOWED_HOSTS as every other outbound request. A refused address
fails the send, permanently.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.http import OutboundRefused, sockets_guarded
from integrations.platforms.base import (
    TEST_MESSAGE,
    Errors,
    Message,
    Platform,
    SendResult,
    VerifyResult,
)
from integrations.ratelimits.throttle import connection_throttle

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

NOT_INSTALLED = "apprise is not installed (pip install 'workflow-orchestration[apprise]')"
SEVERITY_TYPES = {"info": "info", "warning": "warning", "critical": "failure"}
# How long a notification may wait for a slot of the connection's rate limit.
THROTTLE_TIMEOUT_S = 15.0


def apprise_installed() -> bool:
    return importlib.util.find_spec("apprise") is not None


class Apprise(Platform):
    name = "apprise"
    own_network = True
    label = "Apprise"
    credential_keys = frozenset({"url"})

    def check_fields(
        self, errors: Errors, credentials: Mapping[str, Any], webhook_url: str,
        config: Mapping[str, Any],
    ) -> None:  # fmt: skip
        errors.require(credentials, "credentials", "url")
        url = credentials.get("url")
        if isinstance(url, str) and url and apprise_installed() and _plugin(url) is None:
            errors.add("credentials.url", "Apprise does not recognise this URL.")

    def check(self, connection: IntegrationConnection) -> VerifyResult:
        result = self.deliver(connection, Message(TEST_MESSAGE, title="Connection test"))
        return VerifyResult(result.ok, "test notification sent" if result.ok else result.detail)

    def deliver(self, connection: IntegrationConnection, message: Message) -> SendResult:
        if not apprise_installed():
            return SendResult(False, None, NOT_INSTALLED)
        import apprise

        url = connection.credentials.get("url", "")
        plugin = _plugin(url)
        if plugin is None:
            return SendResult(False, None, "Apprise does not recognise credentials.url")
        connection_throttle(connection, timeout_s=THROTTLE_TIMEOUT_S)
        # One service, sent in order (not in Apprise's thread pool): the guard is per context.
        plugin.asset.async_mode = False
        notifier = apprise.Apprise()
        notifier.add(plugin)
        with (
            apprise.LogCapture(level=apprise.logging.WARNING) as log,
            sockets_guarded(str(plugin.host or "")) as guard,
        ):
            try:
                ok = bool(
                    notifier.notify(
                        body="\n".join(part for part in (message.text, message.url) if part),
                        title=message.title,
                        notify_type=SEVERITY_TYPES.get(message.severity, "info"),
                    )
                )
            except OutboundRefused:  # a plugin that lets connection errors through
                ok = False
            reasons = log.getvalue().strip()
        if ok:
            return SendResult(True, None, "sent")
        if guard.refused:
            return SendResult(False, None, guard.refused[0], retryable=False)
        detail = f"Apprise could not send: {reasons[-300:] or 'no reason given'}"
        return SendResult(False, None, detail, retryable=True)


def _plugin(url: str) -> Any:
    import apprise

    return apprise.Apprise.instantiate(url, suppress_exceptions=True) or None
