"""Shared fixtures: users and API clients, and real Celery worker processes."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from tests.factories import UserFactory
from workflows.broker import bulk_lane, control_lane
from workflows.services.tokens import api_token_create

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def empty_broker_lanes() -> None:
    """Each test starts with empty broker lanes: what the sweep re-sends depends on what still
    waits in the broker, and a message another test left there must not decide for this one."""
    with current_app.connection_for_write() as conn:
        for lane in (control_lane(), bulk_lane()):
            conn.default_channel.queue_purge(lane)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Full-cost password hashing would add about a second to every test that makes a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def httpserver_listen_address():
    """Stub servers listen on 127.0.0.1 (and URLs name it), never on a public address."""
    return ("127.0.0.1", 0)


@pytest.fixture
def threaded_httpserver() -> Iterator[HTTPServer]:
    """A stub server that answers requests concurrently (one request may block the others not)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True, username="staff")


@pytest.fixture
def plain_user(db):
    return UserFactory(username="plain")


@pytest.fixture
def api(staff_user) -> APIClient:
    """An API client authenticated as staff with a bearer token."""
    _, raw = api_token_create(user=staff_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def plain_api(plain_user) -> APIClient:
    _, raw = api_token_create(user=plain_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def allow_loopback(settings) -> None:
    """Let outbound requests reach the local stub servers."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def process_env(**overrides: str) -> dict[str, str]:
    """The environment a child process needs to share this test's database and broker."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_DIR=str(settings.DATA_DIR),
        DATABASE_URL=_database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        CELERY_TASK_DEFAULT_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE,
        OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


class CeleryProcess:
    """A real ``celery worker`` or ``celery beat`` in its own process group; only the test that
    started it kills it."""

    def __init__(self, arguments: list[str], ready: bytes, log_path: Path, env: dict[str, str]):
        self.command = [sys.executable, "-m", "celery", "-A", "config", *arguments]
        self.ready = ready
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60) -> "CeleryProcess":
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ready in self.log_path.read_bytes():
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.command} did not start:\n{self.log_path.read_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the process and its children, as an OOM killer or a power cut would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """The test is over and nothing in flight matters any more: no graceful shutdown."""
        self.kill()
        self.log.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path) -> Iterator[Callable[..., CeleryProcess]]:
    """Start real worker processes against the test database and broker; all stopped after."""
    processes: list[CeleryProcess] = []

    def start(concurrency: int = 1, **env: str) -> CeleryProcess:
        environment = process_env(**env)
        arguments = [
            "worker", "--loglevel=INFO", f"--concurrency={concurrency}",
            "-n", f"test-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        log_path = tmp_path / f"worker-{len(processes)}.log"
        worker = CeleryProcess(arguments, b" ready.", log_path, environment)
        processes.append(worker)
        return worker.start()

    yield start
    for process in processes:
        process.stop()


@pytest.fixture
def start_beat(transactional_db, tmp_path) -> Iterator[Callable[..., CeleryProcess]]:
    """Start real Celery Beat processes (DatabaseScheduler); all stopped after."""
    processes: list[CeleryProcess] = []

    def start(**env: str) -> CeleryProcess:
        index = len(processes)
        arguments = [
            "beat", "--loglevel=DEBUG", "--max-interval=1",
            "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
            f"--schedule={tmp_path / f'beat-{index}.db'}",
            f"--pidfile={tmp_path / f'beat-{index}.pid'}",
        ]  # fmt: skip
        beat = CeleryProcess(
            arguments, b"beat: Starting", tmp_path / f"beat-{index}.log", process_env(**env)
        )
        processes.append(beat)
        return beat.start()

    yield start
    for process in processes:
        process.stop()


def wait_for(predicate: Callable[[], object], timeout_s: float = 30, interval_s: float = 0.1):
    """Poll until ``predicate`` returns something truthy; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")
