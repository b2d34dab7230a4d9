"""The process manager behind ``manage.py serve``: starts web, worker and Beat, restarts a child
that dies, and stops everything on a signal or a crash loop.

- A child that exits on its own is logged loudly with the reason and restarted after a backoff
  (1 s, doubling, at most 30 s). Its restarts and last exit are written to ``serve-status.json``
  in ``DATA_DIR``, which ``GET health`` reports.
- More than ``CRASH_LOOP_RESTARTS`` restarts of one child within ``CRASH_LOOP_WINDOW_S`` is a
  crash loop: everything is stopped and serve exits non-zero, saying why.
- Each child runs in its own session (a Ctrl-C in the terminal reaches only the supervisor, which
  stops the children itself): SIGTERM, up to ``STOP_GRACE_S`` to finish, then SIGKILL to whatever
  is left of each child's process group. On Linux a child also gets SIGTERM if the supervisor
  itself dies.
"""

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

STOP_GRACE_S = 10.0
POLL_INTERVAL_S = 0.2
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
CRASH_LOOP_RESTARTS = 5
CRASH_LOOP_WINDOW_S = 60.0
STATUS_FILE = "serve-status.json"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class CrashLoop(Exception):
    """A child kept dying: everything was stopped."""


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = None
    restarts: list[float] = field(default_factory=list)  # monotonic times, in the window
    restart_total: int = 0
    last_exit: dict[str, Any] | None = None
    restart_at: float | None = None  # set while it waits out its backoff

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def status_read(data_dir: Path) -> dict[str, Any] | None:
    """What a running supervisor last wrote; None when no supervisor runs for ``data_dir``."""
    try:
        status: dict[str, Any] = json.loads((data_dir / STATUS_FILE).read_text())
        os.kill(int(status["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return status


class Supervisor:
    def __init__(
        self,
        commands: dict[str, tuple[list[str], dict[str, str]]],
        *,
        cwd: Path,
        data_dir: Path,
        say: Callable[[str, bool], None],
        write: Callable[[str], None],
        backoff_first_s: float = BACKOFF_FIRST_S,
        crash_loop_restarts: int = CRASH_LOOP_RESTARTS,
        crash_loop_window_s: float = CRASH_LOOP_WINDOW_S,
    ) -> None:
        """``commands``: each child's name → (argv, environment)."""
        self.children = [Child(name, argv, env) for name, (argv, env) in commands.items()]
        self.cwd, self.data_dir = cwd, data_dir
        self.backoff_first_s = backoff_first_s
        self.crash_loop = (crash_loop_restarts, crash_loop_window_s)
        self.say, self.write = say, write
        self.stop_requests = 0

    def run(self) -> None:
        """Start everything and supervise until a stop signal (returns) or a crash loop (raises
        CrashLoop). Everything is stopped either way."""
        try:
            for child in self.children:
                self._start(child)
            self._supervise()
        finally:
            self._stop()
            (self.data_dir / STATUS_FILE).unlink(missing_ok=True)

    def request_stop(self, signum: int, frame: Any) -> None:
        self.stop_requests += 1

    def _start(self, child: Child) -> None:
        child.restart_at = None
        child.process = subprocess.Popen(  # noqa: S603 (our own interpreter and fixed arguments)
            child.argv,
            cwd=self.cwd,
            env=child.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        assert child.process.stdout is not None
        child.pump = threading.Thread(
            target=self._pump, args=(child.name, child.process.stdout), daemon=True
        )
        child.pump.start()
        self._status_write()

    def _supervise(self) -> None:
        while not self.stop_requests:
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        self.say(f"restarting {child.name}", True)
                        self._start(child)
                elif not child.running:
                    self._on_exit(child, now)
            time.sleep(POLL_INTERVAL_S)

    def _on_exit(self, child: Child, now: float) -> None:
        assert child.process is not None
        kill_process_group(child.process.pid)  # what it left behind (pool or gunicorn workers)
        reason = describe_exit(child.process.returncode)
        child.last_exit = {"reason": reason, "at": time.time()}
        most, window_s = self.crash_loop
        child.restarts = [at for at in child.restarts if now - at < window_s] + [now]
        child.restart_total += 1
        if len(child.restarts) > most:
            message = (
                f"{child.name} stopped {len(child.restarts)} times within {window_s:g} s "
                f"(last: {reason}): a crash loop, stopping everything"
            )
            self.say(message, True)
            raise CrashLoop(message)
        delay = min(BACKOFF_MAX_S, self.backoff_first_s * 2 ** (len(child.restarts) - 1))
        child.restart_at = now + delay
        self.say(f"{child.name} STOPPED UNEXPECTEDLY ({reason}); restarting in {delay:g} s", True)
        self._status_write()

    def _stop(self) -> None:
        """SIGTERM every child, wait up to STOP_GRACE_S (a second Ctrl-C cuts it short), SIGKILL."""
        running = [child for child in self.children if child.running]
        if running:
            names = ", ".join(child.name for child in running)
            self.say(f"stopping {names} (Ctrl-C again to kill them at once)…", False)
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        requests_before = self.stop_requests
        deadline = time.monotonic() + STOP_GRACE_S
        while any(child.running for child in running):
            if time.monotonic() >= deadline or self.stop_requests > requests_before:
                break
            time.sleep(POLL_INTERVAL_S)
        for child in self.children:
            if child.process is None:
                continue
            if child.running:
                self.say(f"{child.name} is still running; killing it", True)
            kill_process_group(child.process.pid)
            child.process.wait()
            if child.pump is not None:
                child.pump.join(timeout=2)  # so its last lines come before "stopped"
            if child in running:
                self.say(f"{child.name} stopped ({describe_exit(child.process.returncode)})", False)

    def _pump(self, name: str, stream: IO[bytes]) -> None:
        prefix = f"{name:<6} | "
        with stream:
            for raw in iter(stream.readline, b""):
                self.write(prefix + raw.decode(errors="replace").rstrip("\r\n"))

    def _status_write(self) -> None:
        """Write the status file whole (a temporary file renamed over it)."""
        status = {
            "pid": os.getpid(),
            "children": {
                child.name: {
                    "pid": child.process.pid if child.running and child.process else None,
                    "running": child.running and child.restart_at is None,
                    "restarts": child.restart_total,
                    "last_exit": child.last_exit,
                }
                for child in self.children
            },
        }
        path = self.data_dir / STATUS_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(status))
        os.replace(temporary, path)


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
