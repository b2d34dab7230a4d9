"""``manage.py serve`` runs the whole system and takes all of it down on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROC = Path("/proc")
STARTUP_TIMEOUT_S = 90
SHUTDOWN_TIMEOUT_S = 20

# A process is named by (pid, start time), so a pid reused after it died is not mistaken for it.
ProcessKey = tuple[int, str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state is [0], ppid [1], start [19])."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def _descendants(root: int) -> set[ProcessKey]:
    """Every process below ``root``, found through the parent pids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            starts[int(entry.name)] = fields[19]
    found: set[ProcessKey] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add((child, starts[child]))
            stack.append(child)
    return found


def _alive(process: ProcessKey) -> bool:
    fields = _stat(process[0])
    return fields is not None and fields[19] == process[1] and fields[0] not in ("Z", "X")


def _serve_env(data_dir: Path) -> dict[str, str]:
    """The embedded defaults (SQLite, the embedded broker) under a fresh data directory."""
    env = dict(os.environ, DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "HOST", "PORT"):
        env.pop(name, None)
    return env


def _wait_until_healthy(serve: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert serve.poll() is None, f"serve exited early:\n{log.read_text()[-5000:]}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not healthy in {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-5000:]}")


def _kill_leftovers(serve: subprocess.Popen[bytes], processes: set[ProcessKey]) -> None:
    """After a failure, leave nothing running behind the test."""
    processes = processes | _descendants(serve.pid)
    if serve.poll() is None:
        serve.kill()
        serve.wait()
    for process in processes:
        if _alive(process):
            os.kill(process[0], signal.SIGKILL)


@pytest.mark.worker
@pytest.mark.skipif(not PROC.is_dir(), reason="finds the child processes through /proc")
def test_it_serves_until_sigterm_then_exits_0_leaving_no_process_behind(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]
    children: set[ProcessKey] = set()
    with log.open("wb") as output:
        serve = subprocess.Popen(
            command, cwd=ROOT, env=_serve_env(tmp_path / "data"), stdout=output, stderr=output
        )
    try:
        health = f"http://127.0.0.1:{port}/api/workflow-orchestration/health"
        _wait_until_healthy(serve, health, log)
        children = _descendants(serve.pid)
        # At least gunicorn, the Celery worker and Beat (plus their own workers).
        assert len(children) >= 3, log.read_text()[-5000:]

        serve.send_signal(signal.SIGTERM)
        returncode = serve.wait(timeout=SHUTDOWN_TIMEOUT_S)

        assert returncode == 0, log.read_text()[-5000:]
        assert [process for process in children if _alive(process)] == []
    finally:
        _kill_leftovers(serve, children)


def _direct_child(parent: int, *words: str) -> int | None:
    """The child of ``parent`` whose command line holds every word."""
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or (fields := _stat(int(entry.name))) is None:
            continue
        if int(fields[1]) != parent:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(word.encode() in argv for word in words):
            return int(entry.name)
    return None


@pytest.mark.worker
@pytest.mark.skipif(not PROC.is_dir(), reason="finds the child processes through /proc")
def test_a_worker_killed_under_serve_is_restarted_and_health_says_so(tmp_path: Path) -> None:
    import json

    port = _free_port()
    log = tmp_path / "serve.log"
    command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]
    children: set[ProcessKey] = set()
    with log.open("wb") as output:
        serve = subprocess.Popen(
            command, cwd=ROOT, env=_serve_env(tmp_path / "data"), stdout=output, stderr=output
        )
    try:
        health = f"http://127.0.0.1:{port}/api/workflow-orchestration/health"
        _wait_until_healthy(serve, health, log)
        worker = _direct_child(serve.pid, "celery", "worker")
        assert worker is not None, log.read_text()[-3000:]
        os.kill(worker, signal.SIGKILL)

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        report: dict = {}
        while time.monotonic() < deadline:
            assert serve.poll() is None, log.read_text()[-5000:]
            try:
                with urllib.request.urlopen(health, timeout=5) as response:
                    report = json.loads(response.read())
            except urllib.error.HTTPError as error:
                report = json.loads(error.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            processes = report.get("components", {}).get("processes", {})
            if processes.get("ok") and processes["children"]["worker"]["restarts"] == 1:
                break
            time.sleep(0.5)
        worker_status = report["components"]["processes"]["children"]["worker"]
        assert worker_status["restarts"] == 1
        assert worker_status["last_exit"]["reason"] == "killed by SIGKILL"
        restarted = _direct_child(serve.pid, "celery", "worker")
        assert restarted not in (None, worker)
        text = log.read_text()
        assert "worker STOPPED UNEXPECTEDLY (killed by SIGKILL); restarting in 1 s" in text
        children = _descendants(serve.pid)

        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=SHUTDOWN_TIMEOUT_S) == 0, log.read_text()[-5000:]
        assert [process for process in children if _alive(process)] == []
    finally:
        _kill_leftovers(serve, children)
