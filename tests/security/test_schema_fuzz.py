"""Schema fuzzing: schemathesis generates requests for every operation of /api/schema/ and sends
them, as staff, to the WSGI app in this process. No response may be a 5xx, and every response
must conform to the schema (status code, content type, headers, body); a request without the
token must be refused (``ignored_auth``).

Two of schemathesis's checks are left out, both about what the API *accepts*, not what it
answers: ``positive_data_acceptance`` (a schema-valid request must succeed) cannot hold where
validity depends on data (a Slack alert needs a Slack connection, a filter an existing row), and
``negative_data_rejection`` (a schema-violating request must fail) flags DRF's documented
leniency (``0`` is read as ``"0"`` for a text field; unknown headers are ignored). Invalid data
is still generated and sent: it must still never cause a 5xx.

Each example runs inside a savepoint that is rolled back, so every example meets the same objects
(one of each kind, from ``world_create``) and path ids point at them half of the time.
"""

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from tests.security.conftest import World, world_create

EXAMPLES_PER_OPERATION = 12
# Requests sent, by operation: printed at the end of the module (run with -s to see them).
SENT: Counter[str] = Counter()

# The WSGI app gunicorn serves (config.wsgi), built without django.setup(): that would configure
# logging again, onto the stream pytest captures while collecting, and leave it closed after.
schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    print(f"\nschemathesis: {len(SENT)} operations, {sum(SENT.values())} requests")


@pytest.fixture
def fuzz_world(db) -> Iterator[World]:
    """The objects, and the test's database connection kept open across requests (the app is
    called as WSGI, not through Django's test client, which does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield world_create()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def real_ids(world: World, case) -> dict[str, object]:
    """The path parameters of ``case`` pointed at existing objects."""
    collection = case.path.removeprefix("/api/workflow-orchestration/").split("/")[0]
    values = {**world.ids, "notifications": world.notification_of["staff"]}
    filled = {}
    for name in case.path_parameters or {}:
        key = collection if name == "id" else name
        filled[name] = values.get(key, case.path_parameters[name])
    return filled


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
@pytest.mark.filterwarnings("ignore")
def test_no_request_gets_a_5xx_or_a_response_outside_the_schema(case, fuzz_world):
    # Half the cases, chosen by what was generated: existing objects instead of made-up ids.
    if case.path_parameters and len(repr(case.path_parameters)) % 2:
        case.path_parameters = real_ids(fuzz_world, case)
    SENT[case.operation.label] += 1
    with transaction.atomic():
        case.call_and_validate(
            headers={"Authorization": f"Bearer {fuzz_world.staff_token}"},
            excluded_checks=[positive_data_acceptance, negative_data_rejection],
        )
        transaction.set_rollback(True)
