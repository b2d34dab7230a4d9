"""``manage.py serve``: migrate, seed, then run web, Celery worker and Celery Beat (foreground)
under a small process manager (workflows/supervisor.py): a child that dies is restarted with a
backoff, a crash loop stops everything, and Ctrl-C or SIGTERM stops all of it.
"""

import os
import signal
import sys
import threading
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from core.env import env_int, env_str
from workflows.supervisor import STOP_GRACE_S, CrashLoop, Supervisor

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
        self._prepare()
        self._print_banner(host, port)
        supervisor = Supervisor(
            child_commands(host, port),
            cwd=settings.BASE_DIR,
            data_dir=settings.DATA_DIR,
            say=self._say,
            write=self._write,
        )
        for signum in STOP_SIGNALS:
            signal.signal(signum, supervisor.request_stop)
        try:
            supervisor.run()
        except CrashLoop as exc:
            raise CommandError(str(exc)) from None

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

    def _say(self, message: str, error: bool = False) -> None:
        self._write(f"{'serve':<6} | {self.style.ERROR(message) if error else message}")

    def _write(self, line: str) -> None:
        with self._output_lock:
            try:
                self.stdout.write(line)
                self.stdout.flush()
            except OSError:
                pass  # The terminal is gone; keep draining the children's pipes regardless.


def child_commands(host: str, port: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    """The three processes, by name: the same interpreter, the production flags, and each one's
    environment."""
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
    beat = [
        *celery,
        "beat",
        "--loglevel=INFO",
        "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
        # The schedule lives in the database; keep Beat's own files out of the source tree.
        f"--schedule={settings.DATA_DIR / 'celerybeat-schedule'}",
        "--pidfile=",
    ]
    env = child_env()
    # Links written outside a request (alert messages) name the server this command serves,
    # unless SITE_URL says otherwise; the web server names the host each client asked for.
    offline = {"SITE_URL": f"http://{netloc(display_host(host), port)}", **env}
    return {
        "web": (web, env),
        "worker": ([*celery, "worker", "--loglevel=INFO", "--concurrency=2"], offline),
        "beat": (beat, offline),
    }


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Absolute, so a relative DATA_DIR means the same directory from the children's cwd.
    env["DATA_DIR"] = str(settings.DATA_DIR)
    # Log lines reach the terminal as they are written, not when a pipe buffer fills.
    env["PYTHONUNBUFFERED"] = "1"
    return env


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
    if url.startswith("sqlite://"):
        return f"embedded (SQLite) {url.removeprefix('sqlite://')}"
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
