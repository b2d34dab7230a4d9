"""Fault injection: real workers and Beat with short leases, a private Redis, and the
conservation audit that every fault test ends with."""

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from kombu import pools

from config.celery import app
from workflows.models import AutomationExecution, ExecutionStatus

# Short leases and a fast sweep, so a dead worker's execution is recovered in seconds.
FAST = {
    "EXECUTION_LEASE_S": "2",
    "EXECUTION_SWEEP_INTERVAL_S": "1",
    "EXECUTION_REQUEUE_AFTER_S": "2",
}
FINISHED = [ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED]


def audit() -> None:
    """Accepted triggers = completed + failed + cancelled, and nothing is left in flight past
    its lease plus one sweep."""
    executions = AutomationExecution.objects.all()
    accepted = executions.count()
    finished = executions.filter(status__in=FINISHED).count()
    stuck = executions.exclude(status__in=FINISHED).filter(
        created_at__lt=timezone.now() - timedelta(seconds=float(FAST["EXECUTION_LEASE_S"]) + 1)
    )
    assert accepted == finished, f"{accepted} accepted, {finished} finished: {list(stuck.values())}"


@pytest.fixture
def fast(settings, allow_loopback):
    settings.EXECUTION_LEASE_S = float(FAST["EXECUTION_LEASE_S"])
    settings.EXECUTION_REQUEUE_AFTER_S = float(FAST["EXECUTION_REQUEUE_AFTER_S"])
    return FAST


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server on its own port, started and stopped only by the test."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "the fault tests need redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cli(self, *command: str) -> str:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *command],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip()

    def shutdown(self) -> None:
        self.cli("SHUTDOWN", "NOSAVE")
        if self.process:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path, settings) -> Iterator[RedisServer]:
    """A private Redis as this process's broker too (the workers get its URL through env)."""
    server = RedisServer(tmp_path)
    server.start()
    original = app.conf.broker_url
    settings.CELERY_BROKER_URL = server.url
    _point_celery_at(server.url)
    yield server
    _point_celery_at(original)
    server.stop()


def _point_celery_at(url: str) -> None:
    """Send this process's messages to ``url``: new broker URL, no pooled connections left."""
    if app._pool is not None:
        app._pool.force_close_all()
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()


@pytest.fixture(autouse=True)
def conservation_audit(transactional_db):
    """Every fault test ends with the audit (before the database is emptied)."""
    yield
    audit()


def postgres_only(test):
    """Marks a test that needs PostgreSQL (``-m "not postgres"`` deselects it); elsewhere it is
    skipped with the reason."""
    skip = pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="terminates PostgreSQL backends; CI runs it on PostgreSQL",
    )
    return pytest.mark.postgres(skip(test))
