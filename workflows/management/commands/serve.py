"""``manage.py serve``: migrate, seed, then run web, Celery worker and Celery Beat (foreground).

Each child runs in its own session, so a Ctrl-C in the terminal reaches only this process, which
then stops the children itself: SIGTERM to each, up to ``STOP_GRACE_S`` to finish, then SIGKILL to
whatever is left of each child's process group. A child that exits on its own stops everything
with a non-zero status: nothing is ever restarted silently.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from config.env import env_int, env_str

STOP_GRACE_S = 10.0
POLL_INTERVAL_S = 0.2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    pump: threading.Thread | None = None


class Command(BaseCommand):
    help = "Migrate, seed the demo data, then run web + Celery worker + Celery Beat until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default=None, help="Address to bind (default: $HOST or 127.0.0.1)."
        )
        parser.add_argument(
            "--port", type=int, default=None, help="Port to bind (default: $PORT or 8000)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host: str = options["host"] or env_str("HOST", "127.0.0.1")
        port: int = options["port"] if options["port"] is not None else env_int("PORT", 8000)
        if not 0 < port < 65536:
            raise CommandError(f"The port must be between 1 and 65535, got {port}.")
        self._output_lock = threading.Lock()
        self._stop_requests = 0
        self._prepare()
        self._print_banner(host, port)
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_stop_signal)
        children: list[Child] = []
        crashed: Child | None = None
        try:
            self._start_all(children, child_commands(host, port))
            crashed = self._supervise(children)
            if crashed is not None:
                reason = describe_exit(crashed.process.returncode)
                self._say(f"{crashed.name} STOPPED UNEXPECTEDLY ({reason})", error=True)
                self._say("stopping everything: nothing is restarted", error=True)
        finally:
            self._stop(children)
        if crashed is not None:
            reason = describe_exit(crashed.process.returncode)
            raise CommandError(f"{crashed.name} stopped unexpectedly ({reason}).")

    def _prepare(self) -> None:
        call_command("migrate", interactive=False)
        call_command("seed_demo")
        call_command("collectstatic", interactive=False, verbosity=0)
        # The children open their own connections; this process needs none while it supervises.
        connections.close_all()

    def _print_banner(self, host: str, port: int) -> None:
        base = f"http://{netloc(display_host(host), port)}"
        lines = [
            "Starting web, Celery worker and Celery Beat:",
            f"  dashboard/admin  {base}/admin/",
            f"  API              {base}/api/workflow-orchestration/",
            f"  API docs         {base}/api/docs/",
            f"  database         {describe_database()}",
            f"  broker           {describe_broker()}",
            f"  data directory   {settings.DATA_DIR}",
            "Press Ctrl-C to stop.",
        ]
        for line in lines:
            self._say(line)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requests += 1

    def _start_all(self, children: list[Child], commands: dict[str, list[str]]) -> None:
        """Start every child into ``children`` (so a failure part-way still stops the first ones),
        then their output pumps: no thread exists yet while forking."""
        preexec = die_with_parent()
        for name, argv in commands.items():
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and fixed arguments)
                argv,
                cwd=settings.BASE_DIR,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec,
            )
            children.append(Child(name, process))
        for child in children:
            assert child.process.stdout is not None
            child.pump = threading.Thread(
                target=self._pump, args=(child.name, child.process.stdout), daemon=True
            )
            child.pump.start()

    def _supervise(self, children: list[Child]) -> Child | None:
        """Wait for a stop signal (returns None) or for a child to exit (returns that child)."""
        while not self._stop_requests:
            for child in children:
                if child.process.poll() is not None:
                    return child
            time.sleep(POLL_INTERVAL_S)
        return None

    def _stop(self, children: list[Child]) -> None:
        """SIGTERM every child, wait up to STOP_GRACE_S (a second Ctrl-C cuts it short), SIGKILL."""
        running = [child for child in children if child.process.poll() is None]
        if running:
            names = ", ".join(child.name for child in running)
            self._say(f"stopping {names} (Ctrl-C again to kill them at once)…")
        for child in running:
            child.process.send_signal(signal.SIGTERM)
        requests_before = self._stop_requests
        deadline = time.monotonic() + STOP_GRACE_S
        while any(child.process.poll() is None for child in running):
            if time.monotonic() >= deadline or self._stop_requests > requests_before:
                break
            time.sleep(POLL_INTERVAL_S)
        for child in children:
            if child.process.poll() is None:
                self._say(f"{child.name} is still running; killing it", error=True)
            # Also kills what the child left behind in its group (gunicorn or pool workers).
            kill_process_group(child.process.pid)
            child.process.wait()
            if child.pump is not None:
                child.pump.join(timeout=2)  # so its last lines come before "stopped"
            if child in running:
                self._say(f"{child.name} stopped ({describe_exit(child.process.returncode)})")

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        prefix = f"{name:<6} | "
        with stream:
            for raw in iter(stream.readline, b""):
                self._write(prefix + raw.decode(errors="replace").rstrip("\r\n"))

    def _say(self, message: str, *, error: bool = False) -> None:
        self._write(f"{'serve':<6} | {self.style.ERROR(message) if error else message}")

    def _write(self, line: str) -> None:
        with self._output_lock:
            try:
                self.stdout.write(line)
                self.stdout.flush()
            except OSError:
                pass  # The terminal is gone; keep draining the children's pipes regardless.


def child_commands(host: str, port: int) -> dict[str, list[str]]:
    """The three processes, by name: the same interpreter, the production flags."""
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    web = [
        *(sys.executable, "-m", "gunicorn", "config.wsgi:application"),
        f"--bind={netloc(host, port)}",
        "--worker-class=gthread",
        "--threads=4",
        f"--graceful-timeout={int(STOP_GRACE_S) - 2}",
        "--access-logfile=-",
        "--error-logfile=-",
        # Otherwise every instance shares one control socket under $HOME, which nothing here uses.
        "--no-control-socket",
    ]
    return {
        "web": web,
        "worker": [*celery, "worker", "--loglevel=INFO", "--concurrency=2"],
        "beat": [
            *celery,
            "beat",
            "--loglevel=INFO",
            "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
            # The schedule lives in the database; keep Beat's own files out of the source tree.
            f"--schedule={settings.DATA_DIR / 'celerybeat-schedule'}",
            "--pidfile=",
        ],
    }


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Absolute, so a relative DATA_DIR means the same directory from the children's cwd.
    env["DATA_DIR"] = str(settings.DATA_DIR)
    # Log lines reach the terminal as they are written, not when a pipe buffer fills.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def die_with_parent() -> Callable[[], None] | None:
    """On Linux, a hook that makes a child get SIGTERM if this process dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec


def kill_process_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # Everyone in the group has already exited.
        os.killpg(pgid, signal.SIGKILL)


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def describe_database() -> str:
    """The default database, never with its password."""
    db = settings.DATABASES["default"]
    vendor = str(db["ENGINE"]).rsplit(".", 1)[-1]
    if vendor == "sqlite3":
        return f"SQLite {db['NAME']}"
    user = f"{db.get('USER')}@" if db.get("USER") else ""
    port = f":{db.get('PORT')}" if db.get("PORT") else ""
    return f"{vendor} {user}{db.get('HOST') or 'localhost'}{port}/{db['NAME']}"


def describe_broker() -> str:
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith("filesystem://"):
        return f"filesystem {settings.BROKER_DIR}"
    return ";".join(mask_credentials(part) for part in url.split(";"))


def mask_credentials(url: str) -> str:
    """``redis://:secret@host/0`` → ``redis://:***@host/0``; URLs without a password unchanged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


def netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def display_host(host: str) -> str:
    """A host a browser can open: the wildcard addresses are reachable on loopback."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
