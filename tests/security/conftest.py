"""Shared by the security tests: a network guard, one object of every kind, the API's operations
as the OpenAPI schema lists them, and the dashboard's pages as the URLconf names them.

No security test sends traffic off this machine: ``egress`` records every TCP connect and DNS
lookup the process attempts, lets loopback through and fails everything else before a packet
is sent, as an unreachable network would.
"""

import ipaddress
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import urllib3.util.connection
from django.core.cache import cache
from django.urls import URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from alerts.models import AlertDelivery
from orchestration.models import OrchestrationRun
from tests.factories import (
    AlertFactory,
    ConnectionFactory,
    NotificationFactory,
    OrchestrationFactory,
    UserFactory,
)
from versioning.services import article_create
from workflows.models import AutomationExecutionStep, Job, JobKind, WorkflowTest
from workflows.services.executions import execution_create
from workflows.services.tokens import api_token_create, api_token_revoke
from workflows.services.workflows import workflow_create

API = "/api/workflow-orchestration/"
METHODS = ("get", "post", "put", "patch", "delete")


# --- Network guard -------------------------------------------------------------------------------


@dataclass
class Egress:
    """What the process tried to reach: (address, port) connects and host names looked up."""

    connects: list[tuple[str, int]] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)

    def off_machine(self) -> list[tuple[str, int]]:
        return [address for address in self.connects if not _loopback(address[0])]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


@pytest.fixture(autouse=True)
def egress(monkeypatch: pytest.MonkeyPatch) -> Egress:
    """Connects to loopback go through; any other connect fails as unreachable, and a name is
    only ever resolved as a numeric address (``2130706433``, ``0177.0.0.1``), never by DNS."""
    seen = Egress()
    real_urllib3 = urllib3.util.connection.create_connection
    real_socket = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def guard(real: Callable[..., socket.socket]) -> Callable[..., socket.socket]:
        def connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
            seen.connects.append((address[0], address[1]))
            if not _loopback(address[0]):
                raise ConnectionRefusedError(f"test guard: {address[0]} is off this machine")
            return real(address, *args, **kwargs)

        return connect

    def getaddrinfo(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name != "localhost":
            seen.lookups.append(name)
            flags |= socket.AI_NUMERICHOST
        return real_getaddrinfo(host, port, family, type, proto, flags)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", guard(real_urllib3))
    monkeypatch.setattr(socket, "create_connection", guard(real_socket))
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Failed-token counts and webhook rates live in the cache: each test starts and leaves it
    empty, so one test's refusals never throttle another's requests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that queues connections but never accepts them: ``untouched`` proves
    nobody knocked."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield sock


def untouched(listener: socket.socket) -> bool:
    try:
        connection, _ = listener.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


# --- One of everything ---------------------------------------------------------------------------


@dataclass
class World:
    """One object of every kind the API serves, and the users and clients to call it with."""

    staff: Any
    plain: Any
    other: Any
    staff_token: str
    plain_token: str
    revoked_token: str
    ids: dict[str, Any]
    notification_of: dict[str, int]

    def client(self, role: str) -> APIClient:
        client = APIClient()
        if role == "staff":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.staff_token}")
        elif role == "plain_token":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.plain_token}")
        elif role == "revoked_token":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.revoked_token}")
        elif role == "plain_session":
            client.force_login(self.plain)
        return client


def world_create(*, connection_url: str = "http://127.0.0.1:9/hook") -> World:
    """Users, tokens and one row of each kind. Outbound URLs point at loopback ports that no
    allow-list names, so anything that tries to send is refused before it connects."""
    staff = UserFactory(username="sec-staff", is_staff=True)
    plain = UserFactory(username="sec-plain")
    other = UserFactory(username="sec-other")
    _, staff_token = api_token_create(user=staff)
    _, plain_token = api_token_create(user=plain)
    revoked, revoked_token = api_token_create(user=staff, name="revoked")
    api_token_revoke(token=revoked)
    workflow = workflow_create(
        data={
            "name": "Hooked",
            "trigger": {"type": "webhook"},
            "actions": [{"id": "set", "type": "transform", "params": {"values": {"x": 1}}}],
        },
        user=staff,
    )
    execution, _ = execution_create(workflow=workflow, trigger_type="manual", payload={})
    AutomationExecutionStep.objects.create(
        execution=execution, step_index=0, step_id="set", step_type="transform", status="failed"
    )
    connection = ConnectionFactory(webhook_url=connection_url)
    slack_app = ConnectionFactory(
        platform="slack", webhook_url="", config={"channel": "#editorial"},
        credentials={"token": "xoxb-security", "signing_secret": "security-secret"},
    )  # fmt: skip
    alert = AlertFactory(channel="webhook", connection=connection)
    AlertDelivery.objects.create(
        alert=alert, event="execution.failed", severity="critical", fold_key="x", payload={}
    )
    article = article_create(data={"title": "Security", "content": "Words."}, user=staff).article
    orchestration = OrchestrationFactory(
        api_calls=[{"id": "ping", "method": "GET", "url": connection_url}]
    )
    run = OrchestrationRun.objects.create(orchestration=orchestration, input={}, definition={})
    job = Job.objects.create(kind=JobKind.BULK_REPLAY, params={}, items=[])
    case = WorkflowTest.objects.create(workflow=workflow, name="a case")
    notification_of = {
        name: NotificationFactory(user=user).pk
        for name, user in (("staff", staff), ("plain", plain), ("other", other))
    }
    ids = {
        "workflows": workflow.pk,
        "executions": execution.pk,
        "alerts": alert.pk,
        "connections": connection.pk,
        "articles": article.pk,
        "orchestrations": orchestration.pk,
        "orchestration-runs": run.pk,
        "jobs": job.pk,
        "test_id": case.pk,
        "article_id": article.pk,
        "version_number": 1,
        "token": workflow.webhook_token,
        "workflow_id": workflow.pk,
        "connection_id": slack_app.pk,
        "number": 1,
        "a": 1,
        "b": 1,
    }
    return World(staff, plain, other, staff_token, plain_token, revoked_token, ids, notification_of)


@pytest.fixture
def world(db) -> World:
    return world_create()


# --- The API, as the schema lists it --------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the schema's path, e.g. /api/workflow-orchestration/workflows/{id}/

    @property
    def pattern(self) -> str:
        """The path below the API root without slashes at the ends: ``workflows/{id}``."""
        return self.path.removeprefix(API).strip("/")

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.pattern}"


def schema_load() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def schema_operations() -> list[Operation]:
    """Every path and method of the OpenAPI schema, in schema order."""
    paths = schema_load()["paths"]
    return [
        Operation(method, path)
        for path, item in paths.items()
        for method in METHODS
        if method in item
    ]


_PARAMETER = re.compile(r"\{(\w+)\}")


def operation_url(operation: Operation, values: dict[str, Any]) -> str:
    """The operation's path with each ``{name}`` filled from ``values``; ``{id}`` takes the id of
    the collection it follows (``workflows/{id}`` → values["workflows"])."""
    collection = operation.pattern.split("/")[0]

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        key = collection if name == "id" else name
        if key not in values:
            raise KeyError(f"no value for {{{name}}} in {operation}: add one to world_create")
        return str(values[key])

    return _PARAMETER.sub(fill, operation.path)


# --- The dashboard, as the URLconf names it -------------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str  # without the namespace, e.g. "workflow-detail"
    parameters: tuple[str, ...]


def dashboard_pages() -> list[Page]:
    """Every URL name in the ``dashboard`` namespace, with the parameters it takes; none when the
    dashboard is not installed."""
    resolver = get_resolver()
    if "dashboard" not in resolver.namespace_dict:
        return []
    _, namespace = resolver.namespace_dict["dashboard"]
    assert isinstance(namespace, URLResolver)
    pages = []
    for name, entries in namespace.reverse_dict.lists():
        if isinstance(name, str):
            parameters = entries[0][0][0][1]
            pages.append(Page(name, tuple(parameters)))
    return sorted(pages, key=lambda page: page.name)
