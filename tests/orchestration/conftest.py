"""A threaded stub HTTP server on 127.0.0.1 (pytest-httpserver's answers one request at a time,
which cannot show calls in flight together), and helpers to run orchestrations in-process."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from orchestration.models import OrchestrationRun
from orchestration.services import orchestration_run_create, orchestration_run_execute


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


Handler = Callable[[Received], Reply]


class Stub:
    """Routes by path to a Reply, a list of Replies (one per request, in order) or a handler.

    ``events`` records ("received", path) and ("answered", path) in the order they happened.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.routes: dict[str, Handler] = {}
        self.received: list[Received] = []
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, reply: Reply | list[Reply] | Handler) -> None:
        if isinstance(reply, Reply):
            self.routes[path] = lambda request: reply
        elif isinstance(reply, list):
            replies = iter(reply)
            self.routes[path] = lambda request: next(replies)
        else:
            self.routes[path] = reply

    def requests_to(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    def handle(self, request: Received) -> Reply:
        with self.lock:
            self.received.append(request)
            self.events.append(("received", request.path))
        handler = self.routes.get(request.path)
        reply = handler(request) if handler else Reply(404, {"error": "no route"})
        time.sleep(reply.delay_s)
        return reply

    def answered(self, path: str) -> None:
        with self.lock:
            self.events.append(("answered", path))


class _RequestHandler(BaseHTTPRequestHandler):
    server: "_Server"

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        request = Received(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers=dict(self.headers.items()),
            json=json.loads(raw) if raw else None,
        )
        reply = self.server.stub.handle(request)
        payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        data = payload.encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up waiting (a timeout test)
        self.server.stub.answered(request.path)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: Stub


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = _Server(("127.0.0.1", 0), _RequestHandler)
    server.stub = Stub(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.stub
    server.shutdown()
    server.server_close()


def run_now(orchestration, input: Any = None) -> OrchestrationRun:
    """Queue a run and run it here, as a worker would."""
    run = orchestration_run_create(orchestration=orchestration, input=input or {}, dispatch=False)
    finished = orchestration_run_execute(run_id=run.pk)
    assert finished is not None
    return finished
