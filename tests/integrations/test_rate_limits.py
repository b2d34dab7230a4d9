"""Per-connection rate limits: validation, the two shared counters (database, Redis), waiting
for a slot within the timeout, honouring a 429's Retry-After, and two workers sharing a limit."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from werkzeug import Request, Response

from integrations.http import OutboundResponse
from integrations.platforms.base import Message
from integrations.platforms.registry import platform_get
from integrations.ratelimits.backends import JITTER_MARGIN_S, limiter_get
from integrations.ratelimits.models import ConnectionRateWindow
from integrations.ratelimits.rates import Rate, rate_parse
from integrations.ratelimits.throttle import RateLimitWait, connection_throttle, retry_after_s
from integrations.services import connection_update
from tests.conftest import wait_for
from tests.factories import ConnectionFactory
from tests.reliability.conftest import RedisServer
from workflows.actions.api_call import ApiCallAction
from workflows.actions.base import StepRun
from workflows.models import AutomationExecution

pytestmark = pytest.mark.django_db

BASE = "/api/workflow-orchestration"


@pytest.fixture(params=["database", "redis"])
def backend(request, settings, tmp_path) -> Iterator[str]:
    """Each counter in turn: the database's, and a private Redis's."""
    if request.param == "database":
        settings.RATE_LIMIT_REDIS_URL = ""
        yield "database"
        return
    server = RedisServer(tmp_path)
    server.start()
    settings.RATE_LIMIT_REDIS_URL = server.url
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("given", "stored"),
    [("5/s", "5/s"), ("60/M", "60/m"), (" 100 / hour ", "100/h"), ("", ""), (None, "")],
)
def test_a_rate_limit_is_stored_in_its_canonical_form(given, stored):
    connection = ConnectionFactory()
    connection_update(connection=connection, data={"rate_limit": given})
    connection.refresh_from_db()
    assert connection.rate_limit == stored


@pytest.mark.parametrize("text", ["5", "0/s", "5/d", "five/s", "10001/s", "5/s/s"])
def test_a_malformed_rate_limit_is_refused(text):
    with pytest.raises(ValueError):
        rate_parse(text)


def test_the_api_sets_shows_validates_and_clears_a_rate_limit(api):
    created = api.post(
        f"{BASE}/connections",
        {"name": "Hook", "platform": "webhook", "webhook_url": "https://hooks.example.com/a",
         "rate_limit": "5/S"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    assert created.json()["rate_limit"] == "5/s"
    url = f"{BASE}/connections/{created.json()['id']}"
    refused = api.patch(url, {"rate_limit": "lots"}, format="json")
    assert refused.status_code == 400
    assert list(refused.json()) == ["rate_limit"]
    assert api.patch(url, {"rate_limit": None}, format="json").json()["rate_limit"] is None


def test_calls_within_the_limit_go_at_once_and_the_next_waits_for_the_oldest(backend):
    limiter, rate = limiter_get(), Rate(count=3, period_s=1.0)
    key = str(ConnectionFactory().pk)
    assert [limiter.acquire(key, rate) for _ in range(3)] == [0, 0, 0]
    wait = limiter.acquire(key, rate)
    assert 0.5 < wait <= 1.01 + JITTER_MARGIN_S


def test_a_caller_over_the_limit_waits_its_turn(backend):
    connection = ConnectionFactory(rate_limit="2/s")
    started = time.monotonic()
    waits = [connection_throttle(connection, timeout_s=5) for _ in range(3)]
    assert waits[:2] == [0.0, 0.0]
    assert 0.5 < waits[2] < 1.5
    assert time.monotonic() - started >= 1.0


def test_no_slot_within_the_timeout_is_a_retryable_error_raised_without_waiting(backend):
    connection = ConnectionFactory(rate_limit="1/m")
    connection_throttle(connection, timeout_s=1)
    started = time.monotonic()
    with pytest.raises(RateLimitWait) as raised:
        connection_throttle(connection, timeout_s=0.5)
    assert time.monotonic() - started < 1.0  # not the minute it would take
    assert raised.value.retryable is True
    assert 55 < raised.value.retry_after_s <= 61
    assert "rate limit of connection" in raised.value.message


def test_a_block_after_a_429_holds_back_every_caller(backend):
    limiter, rate = limiter_get(), Rate(count=100, period_s=1.0)
    key = str(ConnectionFactory().pk)
    limiter.block(key, 1.0)
    assert 0.5 < limiter.acquire(key, rate) <= 1.0


def test_a_connection_without_a_limit_is_never_counted(settings):
    settings.RATE_LIMIT_REDIS_URL = ""
    connection = ConnectionFactory()
    assert [connection_throttle(connection, timeout_s=0.1) for _ in range(50)] == [0.0] * 50
    assert not ConnectionRateWindow.objects.exists()


def response_with(headers: dict[str, str], body: bytes = b"") -> OutboundResponse:
    return OutboundResponse(429, headers, body, "https://x.example", 1)


def test_retry_after_is_read_from_seconds_an_http_date_or_telegrams_body():
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert retry_after_s(response_with({"retry-after": "7"})) == 7.0
    assert 28 < (retry_after_s(response_with({"retry-after": later})) or 0) <= 30
    telegram = b'{"ok": false, "error_code": 429, "parameters": {"retry_after": 3}}'
    assert retry_after_s(response_with({}, telegram)) == 3.0
    assert retry_after_s(response_with({"retry-after": "soon"})) is None
    assert retry_after_s(response_with({})) is None


@pytest.mark.usefixtures("allow_loopback")
def test_a_429_with_retry_after_is_waited_out_and_sent_once_more(httpserver):
    httpserver.expect_oneshot_request("/hook").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_oneshot_request("/hook").respond_with_data("", status=204)
    connection = ConnectionFactory(webhook_url=httpserver.url_for("/hook"), rate_limit="10/s")
    started = time.monotonic()
    result = platform_get("webhook").send(connection, Message("hello"))
    assert (result.ok, result.status) == (True, 204)
    assert len(httpserver.log) == 2
    assert time.monotonic() - started >= 1.0


@pytest.mark.usefixtures("allow_loopback")
def test_a_retry_after_beyond_the_timeout_fails_at_once_as_retryable(httpserver):
    httpserver.expect_request("/hook").respond_with_data(
        "later", status=429, headers={"Retry-After": "120"}
    )
    connection = ConnectionFactory(webhook_url=httpserver.url_for("/hook"))
    started = time.monotonic()
    result = platform_get("webhook").send(connection, Message("hello"))
    assert (result.ok, result.status, result.retryable) == (False, 429, True)
    assert len(httpserver.log) == 1
    assert time.monotonic() - started < 2


def busiest_second(times: list[float]) -> int:
    """The most requests that arrived within any one-second window."""
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


@pytest.mark.worker
@pytest.mark.usefixtures("allow_loopback")
@pytest.mark.parametrize("counter", ["database", "redis"])
def test_two_workers_sharing_a_5_per_second_limit_never_send_more_than_5_in_a_second(
    api, start_worker, threaded_httpserver, tmp_path, counter
):
    arrivals: list[float] = []

    def record(request: Request) -> Response:
        arrivals.append(time.time())
        return Response("", status=204)

    threaded_httpserver.expect_request("/hook", method="POST").respond_with_handler(record)
    connection = ConnectionFactory(
        webhook_url=threaded_httpserver.url_for("/hook"), rate_limit="5/s"
    )
    params = {"channel": "webhook", "connection": connection.pk, "message": "hi"}
    notify = {"id": "tell", "type": "notify", "params": params}
    workflow_id = api.post(
        f"{BASE}/workflows", {"name": "Chatty", "actions": [notify]}, format="json"
    ).json()["id"]
    redis_url = ""
    if counter == "redis":
        server = RedisServer(tmp_path)
        server.start()
        redis_url = server.url
    try:
        for _ in range(2):
            start_worker(concurrency=2, RATE_LIMIT_REDIS_URL=redis_url)
        ids = [
            api.post(f"{BASE}/workflows/{workflow_id}/execute", {}, format="json").json()[
                "execution_id"
            ]
            for _ in range(15)
        ]
        wait_for(
            lambda: (
                AutomationExecution.objects.filter(
                    pk__in=ids, status__in=["completed", "failed"]
                ).count()
                == 15
            ),
            timeout_s=60,
        )
    finally:
        if counter == "redis":
            server.stop()
    statuses = set(AutomationExecution.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {"completed"}
    assert len(arrivals) == 15
    assert busiest_second(arrivals) <= 5
    assert max(arrivals) - min(arrivals) >= 2.0  # 15 calls at 5 a second need three windows


def api_call_step(connection_id: int, url: str) -> tuple[dict, StepRun]:
    params = ApiCallAction().validate({"method": "POST", "url": url, "connection": connection_id})
    return params, StepRun(execution_id=1, workflow_id=1, step_id="call", attempt=1, timeout_s=10)


@pytest.mark.usefixtures("allow_loopback")
def test_an_api_call_made_as_a_rate_limited_connection_waits_its_turn(httpserver, settings):
    settings.RATE_LIMIT_REDIS_URL = ""
    httpserver.expect_request("/api").respond_with_json({"ok": True})
    connection = ConnectionFactory(platform="webhook", credentials={"token": "t"}, rate_limit="2/s")
    params, step = api_call_step(connection.pk, httpserver.url_for("/api"))
    started = time.monotonic()
    for _ in range(3):
        assert ApiCallAction().run(params, step)["status_code"] == 200
    assert time.monotonic() - started >= 1.0
    assert len(httpserver.log) == 3


@pytest.mark.usefixtures("allow_loopback")
def test_an_api_call_honours_a_429_retry_after(httpserver):
    httpserver.expect_oneshot_request("/api").respond_with_data(
        "", status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_oneshot_request("/api").respond_with_json({"ok": True})
    connection = ConnectionFactory(platform="webhook", credentials={"token": "t"})
    params, step = api_call_step(connection.pk, httpserver.url_for("/api"))
    assert ApiCallAction().run(params, step)["body"] == {"ok": True}
    assert len(httpserver.log) == 2
