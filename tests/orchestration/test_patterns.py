"""The four patterns on the one scheduler, run in-process against a threaded local stub."""

import json
import threading
import time

import pytest

from tests.factories import ConnectionFactory, OrchestrationFactory
from tests.orchestration.conftest import Reply, run_now

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


def get(call_id, url, **extra):
    return {"id": call_id, "method": "GET", "url": url, **extra}


def statuses(run) -> dict[str, str]:
    return {call_id: record["status"] for call_id, record in run.calls.items()}


def barrier_handler(parties: int):
    """Answers only once ``parties`` requests are in flight together; else 500 after 5 s."""
    barrier = threading.Barrier(parties, timeout=5)

    def handle(request):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return Reply(500, {"error": "the requests were not in flight together"})
        return Reply(200, {"path": request.path})

    return handle


# --- parallel -------------------------------------------------------------------------------------


def test_parallel_calls_are_all_in_flight_at_once(stub):
    handler = barrier_handler(4)
    for n in range(4):
        stub.route(f"/p{n}", handler)
    orchestration = OrchestrationFactory(
        type="parallel", api_calls=[get(f"p{n}", stub.url(f"/p{n}")) for n in range(4)]
    )
    run = run_now(orchestration)
    assert run.status == "succeeded", run.error
    assert statuses(run) == dict.fromkeys(["p0", "p1", "p2", "p3"], "succeeded")


def test_a_diamond_runs_both_middle_calls_together_and_the_last_after_both(stub):
    stub.route("/a", Reply(200, {"n": 1}))
    middle = barrier_handler(2)
    stub.route("/b", middle)
    stub.route("/c", middle)
    stub.route("/d", Reply(200, {"done": True}))
    orchestration = OrchestrationFactory(
        type="parallel",
        api_calls=[get(name, stub.url(f"/{name}")) for name in "abcd"],
        dependencies={"b": ["a"], "c": ["a"], "d": ["b", "c"]},
    )
    run = run_now(orchestration)
    assert run.status == "succeeded", run.error
    events = stub.events
    d_received = events.index(("received", "/d"))
    assert events.index(("answered", "/b")) < d_received
    assert events.index(("answered", "/c")) < d_received
    assert events.index(("answered", "/a")) < events.index(("received", "/b"))


def test_a_parallel_failure_lets_calls_in_flight_finish_and_skips_the_rest(stub):
    stub.route("/slow", Reply(200, {"ok": True}, delay_s=0.3))
    stub.route("/broken", Reply(400, {"error": "bad"}))
    stub.route("/after", Reply(200))
    orchestration = OrchestrationFactory(
        type="parallel",
        api_calls=[
            get("slow", stub.url("/slow")),
            get("broken", stub.url("/broken")),
            get("after", stub.url("/after")),
        ],
        dependencies={"after": ["broken"]},
    )
    run = run_now(orchestration)
    assert run.status == "failed"
    assert statuses(run) == {"slow": "succeeded", "broken": "failed", "after": "skipped"}
    assert run.calls["slow"]["output"]["body"] == {"ok": True}
    assert stub.requests_to("/after") == []
    assert "Call 'broken' failed: HTTP 400" in run.error


def test_the_parallel_pool_is_bounded_by_the_setting(stub, settings):
    settings.ORCHESTRATION_POOL_SIZE = 2
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def counting(request):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        threading.Event().wait(0.1)
        with lock:
            in_flight[0] -= 1
        return Reply(200)

    stub.route("/n", counting)
    orchestration = OrchestrationFactory(
        type="parallel", api_calls=[get(f"c{n}", stub.url("/n")) for n in range(5)]
    )
    assert run_now(orchestration).status == "succeeded"
    assert most[0] == 2


# --- sequential -----------------------------------------------------------------------------------


def test_sequential_call_two_carries_a_value_from_call_ones_json(stub):
    stub.route("/token", Reply(200, {"token": "abc123", "user": {"id": 42}}))
    stub.route("/use", Reply(200, {"used": True}))
    orchestration = OrchestrationFactory(
        type="sequential",
        api_calls=[
            get("login", stub.url("/token"), extract={"uid": "user.id"}),
            {
                "id": "use",
                "method": "POST",
                "url": stub.url("/use"),
                "headers": {"Authorization": "Bearer {{ calls.login.body.token }}"},
                "body": {"user": "{{ calls.login.extracted.uid }}", "from": "{{ input.who }}"},
            },
        ],
    )
    run = run_now(orchestration, {"who": "tester"})
    assert run.status == "succeeded", run.error
    [use] = stub.requests_to("/use")
    assert use.json == {"user": 42, "from": "tester"}
    assert use.headers["Authorization"] == "Bearer abc123"
    assert run.result["use"] == {"body": {"used": True}, "extracted": {}}


def test_sequential_runs_in_dependency_order_with_list_order_for_ties(stub):
    for name in "abc":
        stub.route(f"/{name}", Reply(200))
    orchestration = OrchestrationFactory(
        api_calls=[get(name, stub.url(f"/{name}")) for name in "abc"],
        dependencies={"a": ["c"]},
    )
    assert run_now(orchestration).status == "succeeded"
    assert [request.path for request in stub.received] == ["/b", "/c", "/a"]


def test_sequential_stops_at_the_first_failure_and_records_the_rest_as_skipped(stub):
    stub.route("/one", Reply(200))
    stub.route("/two", Reply(422, {"error": "nope"}))
    stub.route("/three", Reply(200))
    orchestration = OrchestrationFactory(
        api_calls=[get(name, stub.url(f"/{name}")) for name in ("one", "two", "three")]
    )
    run = run_now(orchestration)
    assert run.status == "failed"
    assert statuses(run) == {"one": "succeeded", "two": "failed", "three": "skipped"}
    assert run.calls["two"]["status_code"] == 422
    assert run.calls["three"]["error"] == "not run: call 'two' failed"
    assert stub.requests_to("/three") == []
    assert run.result is None


def test_every_request_carries_the_run_and_call_as_idempotency_key(stub):
    stub.route("/x", Reply(200))
    run = run_now(OrchestrationFactory(api_calls=[get("first", stub.url("/x"))]))
    assert stub.received[0].headers["Idempotency-Key"] == f"{run.pk}-first"


def test_a_template_that_fails_at_run_time_fails_its_call_with_the_reason(stub):
    stub.route("/x", Reply(200))
    orchestration = OrchestrationFactory(
        api_calls=[get("x", stub.url("/x"), query={"q": "{{ input.missing.deeper }}"})]
    )
    run = run_now(orchestration)
    assert run.status == "failed"
    assert "undefined" in run.calls["x"]["error"]
    assert stub.received == []


# --- conditional ----------------------------------------------------------------------------------


def test_a_false_condition_skips_the_call_and_its_dependants_and_a_true_one_runs(stub):
    stub.route("/check", Reply(200, {"plan": "free"}))
    for name in ("upgrade", "notify", "log"):
        stub.route(f"/{name}", Reply(200))
    orchestration = OrchestrationFactory(
        type="conditional",
        api_calls=[
            get("check", stub.url("/check")),
            get("upgrade", stub.url("/upgrade"), condition="calls.check.body.plan == 'pro'"),
            get("notify", stub.url("/notify")),
            get("log", stub.url("/log"), condition="input.verbose"),
        ],
        dependencies={"upgrade": ["check"], "notify": ["upgrade"], "log": ["check"]},
    )
    run = run_now(orchestration, {"verbose": True})
    assert run.status == "succeeded", run.error
    assert statuses(run) == {
        "check": "succeeded",
        "upgrade": "skipped",
        "notify": "skipped",
        "log": "succeeded",
    }
    assert "condition is false" in run.calls["upgrade"]["error"]
    assert "depends on call 'upgrade'" in run.calls["notify"]["error"]
    assert stub.requests_to("/upgrade") == stub.requests_to("/notify") == []


# --- pipeline -------------------------------------------------------------------------------------


def test_a_pipeline_hands_each_call_the_previous_output_and_ends_with_the_last(stub):
    stub.route("/one", Reply(200, {"value": 1}))
    stub.route("/two", lambda request: Reply(200, {"value": request.json["value"] + 10}))
    stub.route("/three", lambda request: Reply(200, {"value": request.json["value"] * 2}))
    orchestration = OrchestrationFactory(
        type="pipeline",
        api_calls=[
            get("one", stub.url("/one")),
            {"id": "two", "method": "POST", "url": stub.url("/two"),
             "body": {"value": "{{ prev.body.value }}"}},
            {"id": "three", "method": "POST", "url": stub.url("/three"),
             "body": {"value": "{{ prev.body.value }}"}, "extract": {"v": "value"}},
        ],
    )  # fmt: skip
    run = run_now(orchestration)
    assert run.status == "succeeded", run.error
    assert [request.json for request in stub.received] == [None, {"value": 1}, {"value": 11}]
    assert run.result == {"body": {"value": 22}, "extracted": {"v": 22}}


# --- retries --------------------------------------------------------------------------------------


def test_503_503_200_under_three_attempts_succeeds_with_attempts_3(stub):
    stub.route("/flaky", [Reply(503), Reply(503), Reply(200, {"ok": True})])
    orchestration = OrchestrationFactory(
        api_calls=[get("flaky", stub.url("/flaky"))],
        retry_strategy={"max_attempts": 3, "backoff": "fixed", "delay_s": 0},
    )
    run = run_now(orchestration)
    assert run.status == "succeeded", run.error
    assert run.calls["flaky"]["attempts"] == 3
    assert run.calls["flaky"]["status_code"] == 200


def test_a_404_is_not_retried(stub):
    stub.route("/missing", Reply(404, {"error": "not found"}))
    orchestration = OrchestrationFactory(
        api_calls=[get("missing", stub.url("/missing"))],
        retry_strategy={"max_attempts": 3, "delay_s": 0},
    )
    run = run_now(orchestration)
    assert run.status == "failed"
    assert run.calls["missing"]["attempts"] == 1
    assert len(stub.requests_to("/missing")) == 1
    assert run.retryable is False


def test_a_status_left_out_of_retry_on_is_not_retried(stub):
    stub.route("/busy", [Reply(503), Reply(200)])
    orchestration = OrchestrationFactory(
        api_calls=[get("busy", stub.url("/busy"))],
        retry_strategy={"max_attempts": 3, "delay_s": 0, "retry_on": [429]},
    )
    run = run_now(orchestration)
    assert run.calls["busy"]["attempts"] == 1
    assert run.retryable is True


def test_a_timeout_is_retried_when_retry_on_names_it(stub):
    stub.route("/slow", [Reply(200, delay_s=1.0), Reply(200, {"fast": True})])
    orchestration = OrchestrationFactory(
        api_calls=[get("slow", stub.url("/slow"), timeout_s=0.3)],
        retry_strategy={"max_attempts": 2, "delay_s": 0, "retry_on": ["timeout"]},
    )
    run = run_now(orchestration)
    assert run.status == "succeeded", run.error
    assert run.calls["slow"]["attempts"] == 2


# --- the SSRF guard, counters ---------------------------------------------------------------------


def test_a_refused_address_fails_that_call_with_a_clear_error(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    orchestration = OrchestrationFactory(
        api_calls=[get("metadata", "http://169.254.169.254/latest/meta-data/")],
        retry_strategy={"max_attempts": 3, "delay_s": 0},
    )
    run = run_now(orchestration)
    assert run.status == "failed"
    record = run.calls["metadata"]
    assert record["status"] == "failed"
    assert record["attempts"] == 1
    assert "refused: 169.254.169.254 is a link-local address" in record["error"]
    assert "Call 'metadata' failed: refused" in run.error


def test_finished_runs_move_the_counters_and_the_average(stub):
    stub.route("/x", [Reply(200, delay_s=0.05), Reply(200, delay_s=0.05), Reply(500)])
    orchestration = OrchestrationFactory(api_calls=[get("x", stub.url("/x"))])
    durations = [run_now(orchestration).duration_ms for _ in range(3)]
    orchestration.refresh_from_db()
    assert (orchestration.success_count, orchestration.failure_count) == (2, 1)
    assert orchestration.avg_duration_ms == pytest.approx(sum(durations) / 3)
    assert orchestration.last_run_at == orchestration.runs.first().completed_at


# --- connections ----------------------------------------------------------------------------------


def test_a_call_with_a_connection_carries_its_auth_and_the_record_does_not(stub):
    connection = ConnectionFactory(credentials={"token": "s3cret-token"})
    stub.route("/private", Reply(200, {"ok": True}))
    orchestration = OrchestrationFactory(
        api_calls=[get("private", stub.url("/private"), connection=connection.pk)]
    )
    run = run_now(orchestration)
    assert run.status == "succeeded", run.error
    assert stub.received[0].headers["Authorization"] == "Bearer s3cret-token"
    assert "s3cret" not in json.dumps([run.calls, run.result, run.definition, run.error])


@pytest.mark.django_db(transaction=True)  # the pool threads count in the database themselves
def test_calls_through_a_rate_limited_connection_wait_their_turn(stub, settings):
    settings.RATE_LIMIT_REDIS_URL = ""  # the database counter of the embedded default
    settings.ORCHESTRATION_POOL_SIZE = 8
    connection = ConnectionFactory(credentials={"token": "t"}, rate_limit="2/s")
    arrivals: list[float] = []

    def handler(request):
        arrivals.append(time.monotonic())
        return Reply(200, {})

    stub.route("/limited", handler)
    calls = [get(f"c{i}", stub.url("/limited"), connection=connection.pk) for i in range(6)]
    run = run_now(OrchestrationFactory(type="parallel", api_calls=calls))
    assert run.status == "succeeded", run.error
    assert len(arrivals) == 6
    arrivals.sort()
    assert max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals) <= 2
    assert arrivals[-1] - arrivals[0] >= 2.0


def test_a_call_whose_connection_is_inactive_fails_without_a_request(stub):
    connection = ConnectionFactory(credentials={"token": "t"}, is_active=False)
    orchestration = OrchestrationFactory(
        api_calls=[get("private", stub.url("/private"), connection=connection.pk)]
    )
    run = run_now(orchestration)
    assert run.status == "failed"
    assert f"connection {connection.pk} does not exist or is inactive" in run.error
    assert stub.received == []


def test_a_header_that_cannot_be_encoded_fails_the_call_without_quoting_it(stub):
    stub.route("/x", Reply(200))
    not_latin_1 = "s\u00e9cr\u00e9t\u2013{{ input.k }}"  # an en dash
    orchestration = OrchestrationFactory(
        api_calls=[get("x", stub.url("/x"), headers={"X-Key": not_latin_1})]
    )
    run = run_now(orchestration, {"k": "1"})
    assert run.status == "failed"
    error = run.calls["x"]["error"]
    assert error.startswith(f"could not send GET {stub.url('/x')}: UnicodeEncodeError")
    assert "sécrét" not in error
