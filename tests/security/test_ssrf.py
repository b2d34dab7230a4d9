"""SSRF through every feature that sends a request to an address a user chose: the api_call action
(run by the engine), orchestration calls, alert webhooks (a delivery), connection verify (every
platform) and the alert test.

tests/integrations/test_http.py proves the outbound client refuses these addresses; this proves
each feature goes through it. Every target is a loopback listener that never accepts, so a
refusal that failed would show as a queued connection; addresses off this machine meet the
``egress`` guard, which records the attempt and fails it before a packet is sent.
"""

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from alerts.models import AlertDelivery
from alerts.services.alerts import alert_test
from alerts.services.deliveries import delivery_attempt
from integrations import http
from integrations.services import connection_verify
from orchestration.services import orchestration_run_create, orchestration_run_execute
from tests.factories import AlertFactory, ConnectionFactory, OrchestrationFactory, WorkflowFactory
from tests.security.conftest import Egress, untouched
from workflows.engine import execution_run
from workflows.services.executions import execution_create

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.216.34"  # public, so the guard lets it through; ``egress`` makes it unreachable
REFUSED = "not allowed for outbound requests"

# name → URL; {port} is the listener's. Each must be refused before anything connects.
CORPUS = {
    "127.0.0.1 (not allow-listed)": "http://127.0.0.1:{port}/x",
    "localhost.": "http://localhost.:{port}/x",
    "[::1]": "http://[::1]:{port}/x",
    "[::ffff:127.0.0.1]": "http://[::ffff:127.0.0.1]:{port}/x",
    "2130706433": "http://2130706433:{port}/x",
    "0177.0.0.1": "http://0177.0.0.1:{port}/x",
    "0.0.0.0": "http://0.0.0.0:{port}/x",
    "169.254.169.254": "http://169.254.169.254/latest/meta-data/iam/",
    "10.0.0.1": "http://10.0.0.1:{port}/x",
    "fd00::1": "http://[fd00::1]:{port}/x",
    "file://": "file:///etc/passwd",
    "gopher://": "gopher://127.0.0.1:{port}/_GET%20/",
    "a name answering public and loopback": "http://mixed.test:{port}/x",
    "a redirect from an allowed stub": "http://allowed.test:{stub}/go",
}
# What each refusal says: the client's reason, or (api_call, which validates its rendered params)
# the URL field's.
CLEAR_ERRORS = (REFUSED, "scheme 'file' is not allowed", "scheme 'gopher' is not allowed")
INVALID_URL = "Enter a valid URL."


@dataclass
class Names:
    """Canned DNS answers for made-up names; the rest goes to the (numeric-only) system resolver."""

    rebinding: Iterator[list[str]]
    asked: list[str]

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host == "allowed.test":
            return ["127.0.0.1"]
        if host == "mixed.test":
            return [PUBLIC_IP, "127.0.0.1"]
        if host == "rebind.test":
            return next(self.rebinding)
        return REAL_RESOLVER(host, port)


REAL_RESOLVER = http._getaddrinfo


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch, settings) -> Names:
    """The default resolver, replaced: features cannot be handed a resolver, so it is patched.
    Only ``allowed.test`` (the redirecting stub) is allow-listed."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["allowed.test"]
    resolver = Names(iter([[PUBLIC_IP], ["127.0.0.1"]]), [])
    monkeypatch.setattr(http, "_getaddrinfo", resolver)
    return resolver


@pytest.fixture
def redirecting_stub(httpserver: HTTPServer, listener: socket.socket) -> HTTPServer:
    """Answers every request with a redirect to the listener, which is not allowed."""
    target = f"http://127.0.0.1:{listener.getsockname()[1]}/admin"
    httpserver.expect_request("/go").respond_with_response(
        Response(status=307, headers={"Location": target})
    )
    return httpserver


# --- The features: each takes a URL and says what came of it ----------------------------------


@dataclass(frozen=True)
class Outcome:
    error: str
    retried: bool  # tried again, or left to try again later


def through_api_call(url: str) -> Outcome:
    """A workflow whose URL comes from the trigger payload (no save-time check can see it),
    with retries that a refusal must not use."""
    workflow = WorkflowFactory(
        actions=[
            {
                "id": "call",
                "type": "api_call",
                "params": {"url": "{{ trigger.url }}"},
                "retry": {"max_attempts": 3, "backoff": "fixed", "delay_s": 0},
            }
        ]
    )
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={"url": url})
    execution_run(execution_id=execution.pk, worker="security")
    execution.refresh_from_db()
    step = execution.steps.get()
    return Outcome(step.error_message, execution.status != "failed" or step.attempts > 1)


def through_orchestration(url: str) -> Outcome:
    orchestration = OrchestrationFactory(
        api_calls=[{"id": "call", "method": "POST", "url": "{{ input.url }}", "body": {"a": 1}}],
        retry_strategy={"max_attempts": 3, "backoff": "fixed", "delay_s": 0},
    )
    run = orchestration_run_create(orchestration=orchestration, input={"url": url}, dispatch=False)
    finished = orchestration_run_execute(run_id=run.pk)
    assert finished is not None
    call = finished.calls["call"]
    assert (finished.status, call["status"]) == ("failed", "failed")
    return Outcome(call["error"], call["attempts"] > 1 or finished.retryable)


def through_alert_delivery(url: str) -> Outcome:
    """An alert whose webhook connection names the URL (as if its DNS changed after it was
    saved: the factory skips the save-time URL check), delivered by the worker's code path."""
    connection = ConnectionFactory(platform="webhook", webhook_url=url)
    alert = AlertFactory(channel="webhook", connection=connection)
    delivery = AlertDelivery.objects.create(
        alert=alert, event="execution.failed", severity="critical", fold_key="f",
        payload={"title": "Nightly import failed", "text": "step 'fetch' failed"},
    )  # fmt: skip
    status = delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return Outcome(delivery.error, status != "failed")


def through_alert_test(url: str) -> Outcome:
    connection = ConnectionFactory(platform="n8n", webhook_url=url)
    outcome = alert_test(alert=AlertFactory(channel="webhook", connection=connection))
    assert outcome["delivered"] is False
    return Outcome(outcome["detail"], retried=False)


def through_connection_verify(url: str) -> Outcome:
    connection = ConnectionFactory(platform="zapier", webhook_url=url)
    outcome = connection_verify(connection=connection)
    assert outcome["is_verified"] is False
    connection.refresh_from_db()
    assert connection.last_error == outcome["detail"]
    return Outcome(outcome["detail"], retried=False)


FEATURES: dict[str, Callable[[str], Outcome]] = {
    "api_call": through_api_call,
    "orchestration": through_orchestration,
    "alert delivery": through_alert_delivery,
    "alert test": through_alert_test,
    "connection verify": through_connection_verify,
}


def assert_nothing_reached(egress: Egress, listener: socket.socket, stub: HTTPServer) -> None:
    stub_address = ("127.0.0.1", stub.port)
    assert [address for address in egress.connects if address != stub_address] == []
    assert untouched(listener)


@pytest.mark.parametrize("case", list(CORPUS))
@pytest.mark.parametrize("feature", list(FEATURES))
def test_every_feature_refuses_every_internal_address_before_connecting(
    feature, case, names, listener, redirecting_stub, egress
):
    url = CORPUS[case].format(port=listener.getsockname()[1], stub=redirecting_stub.port)

    outcome = FEATURES[feature](url)

    if feature == "api_call" and INVALID_URL in outcome.error:
        assert case in ("localhost.", "2130706433", "0177.0.0.1", "file://", "gopher://")
    else:
        assert any(reason in outcome.error for reason in CLEAR_ERRORS), outcome.error
    assert not outcome.retried  # a refusal is permanent
    assert_nothing_reached(egress, listener, redirecting_stub)
    if case == "a redirect from an allowed stub":
        assert len(redirecting_stub.log) == 1  # the stub was asked; its redirect was not followed


@pytest.mark.parametrize("feature", ["orchestration", "alert delivery", "connection verify"])
def test_a_name_that_rebinds_after_the_check_is_only_ever_connected_at_the_checked_address(
    feature, names, listener, egress
):
    """Resolved, checked, then connected by address, never by name: the first attempt goes to
    the public address it checked (unreachable here, so a retry may follow), and the retry,
    resolving again, meets the loopback answer and is refused. Nothing reaches the listener."""
    port = listener.getsockname()[1]

    FEATURES[feature](f"http://rebind.test:{port}/x")

    assert egress.connects == [(PUBLIC_IP, port)]
    assert "rebind.test" in names.asked
    assert untouched(listener)


def test_an_api_call_to_a_rebinding_name_connects_only_to_the_checked_address(
    names, listener, egress
):
    port = listener.getsockname()[1]
    workflow = WorkflowFactory(
        actions=[
            {"id": "call", "type": "api_call", "params": {"url": f"http://rebind.test:{port}/"}}
        ]
    )
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})

    execution_run(execution_id=execution.pk, worker="security")

    step = execution.steps.get()
    assert "connection refused" in step.error_message  # by the unreachable public address
    assert names.asked.count("rebind.test") == 1
    assert egress.connects == [(PUBLIC_IP, port)]
    assert untouched(listener)


# --- Each platform's verify, through its own API root or host -----------------------------------


def platform_connections(port: int) -> dict[str, dict]:
    """One connection per platform whose API root or host is internal (webhook_url "" unless
    the platform sends there)."""
    base = f"http://127.0.0.1:{port}"
    smtp = {"host": "127.0.0.1", "port": port, "use_tls": False,
            "from_email": "a@example.com", "recipients": ["b@example.com"]}  # fmt: skip
    return {
        "slack web api": {"platform": "slack", "credentials": {"token": "xoxb-1"},
                          "config": {"channel": "C1", "api_base_url": base}, "webhook_url": ""},
        "slack webhook": {"platform": "slack", "webhook_url": f"http://[::1]:{port}/services/x"},
        "telegram": {"platform": "telegram", "credentials": {"bot_token": "1:abc"},
                     "config": {"api_base_url": base}, "webhook_url": ""},
        "github": {"platform": "github", "credentials": {"token": "ghp_1"}, "webhook_url": "",
                   "config": {"repo": "a/b", "api_base_url": "http://169.254.169.254"}},
        "smtp": {"platform": "smtp", "credentials": {"password": "pw"}, "config": smtp,
                 "webhook_url": ""},
        "apprise json://": {"platform": "apprise", "credentials": {"url": f"json://{base[7:]}/"},
                            "webhook_url": ""},
    }  # fmt: skip


@pytest.mark.parametrize("platform", list(platform_connections(0)))
def test_verify_on_every_platform_refuses_an_internal_api_root_or_host(
    platform, settings, listener, egress
):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    connection = ConnectionFactory(**platform_connections(listener.getsockname()[1])[platform])

    outcome = connection_verify(connection=connection)

    assert outcome["is_verified"] is False
    assert REFUSED in outcome["detail"], outcome["detail"]
    if not platform.startswith("apprise"):
        # Apprise is vetted at connect time: its attempt reaches the socket and is refused
        # there, before a packet is sent (untouched says so).
        assert egress.connects == []
    assert untouched(listener)


# --- Apprise: every scheme goes through the guard, at connect time ------------------------------

APPRISE_TARGETS = {
    "json": "json://127.0.0.1:{port}/notify",
    "xml": "xml://127.0.0.1:{port}/notify",
    "form": "form://127.0.0.1:{port}/notify",
    "ntfy": "ntfy://127.0.0.1:{port}/alerts",
    "gotify": "gotify://127.0.0.1:{port}/AbCdEfGhIjKlMnO",
    "mattermost": "mmost://127.0.0.1:{port}/abcdefghijklmnopqrstuvwxyz",
    "matrix": "matrix://bot:pass@127.0.0.1:{port}/#alerts",
    "mailto (smtp)": "mailto://bot:pass@example.com?smtp=127.0.0.1&port={port}&to=ops@example.com",
}


def apprise_send(url: str):
    from integrations.platforms.base import Message
    from integrations.platforms.registry import platform_get
    from tests.factories import ConnectionFactory

    connection = ConnectionFactory(platform="apprise", webhook_url="", credentials={"url": url})
    return platform_get("apprise").send(connection, Message("Deploy finished"))


@pytest.mark.parametrize("scheme", list(APPRISE_TARGETS))
def test_an_apprise_target_on_loopback_is_refused_without_connecting(scheme, listener, db):
    url = APPRISE_TARGETS[scheme].format(port=listener.getsockname()[1])

    result = apprise_send(url)

    assert not result.ok and not result.retryable
    assert "loopback address" in result.detail
    assert untouched(listener)


def test_an_allowed_address_lets_apprise_through(settings, httpserver, db):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.0/8"]
    httpserver.expect_request("/notify", method="POST").respond_with_data("{}")

    result = apprise_send(f"json://127.0.0.1:{httpserver.port}/notify")

    assert result.ok, result.detail
    assert len(httpserver.log) == 1


def test_the_connect_guard_is_off_outside_apprise(listener):
    with socket.create_connection(listener.getsockname(), timeout=1):
        pass  # a plain loopback connect of this process is not the guard's business

    assert not untouched(listener)
