"""The process manager behind ``manage.py serve``, with real child processes: a child that dies
is restarted after a backoff and reported; one that keeps dying stops everything."""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for
from workflows.supervisor import STATUS_FILE, CrashLoop, Supervisor, status_read

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
CRASHER = [sys.executable, "-c", "import sys; sys.exit(3)"]


class Harness:
    def __init__(self, tmp_path: Path, commands: dict[str, list[str]], **options: float) -> None:
        self.lines: list[tuple[str, bool]] = []
        self.data_dir = tmp_path
        self.supervisor = Supervisor(
            {name: (argv, dict(os.environ)) for name, argv in commands.items()},
            cwd=tmp_path,
            data_dir=tmp_path,
            say=lambda message, error: self.lines.append((message, error)),
            write=lambda line: None,
            **options,  # type: ignore[arg-type]
        )
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.supervisor.run()
        except BaseException as exc:
            self.error = exc

    def start(self) -> "Harness":
        self.thread.start()
        wait_for(lambda: all(child.running for child in self.supervisor.children), 10)
        return self

    def pid(self, name: str) -> int:
        child = next(child for child in self.supervisor.children if child.name == name)
        assert child.process is not None
        return child.process.pid

    def stop(self) -> None:
        self.supervisor.request_stop(signal.SIGTERM, None)
        self.thread.join(timeout=30)

    def said(self, text: str) -> bool:
        return any(text in message for message, _ in self.lines)


def test_a_child_that_dies_is_restarted_and_reported_with_its_exit(tmp_path):
    harness = Harness(tmp_path, {"worker": SLEEPER, "web": SLEEPER}, backoff_first_s=0.1).start()
    try:
        first = harness.pid("worker")
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: harness.pid("worker") != first and harness.said("restarting worker"), 10)
        wait_for(
            lambda: (
                (status_read(tmp_path) or {}).get("children", {}).get("worker", {}).get("running")
            ),
            10,
        )
        status = status_read(tmp_path)
        assert status is not None
        worker = status["children"]["worker"]
        assert worker["restarts"] == 1
        assert worker["last_exit"]["reason"] == "killed by SIGKILL"
        assert status["children"]["web"]["restarts"] == 0
        assert harness.said("worker STOPPED UNEXPECTEDLY (killed by SIGKILL)")
    finally:
        harness.stop()
    assert harness.error is None
    assert not (tmp_path / STATUS_FILE).exists()


def test_a_child_that_keeps_dying_stops_everything_and_says_why(tmp_path):
    harness = Harness(
        tmp_path,
        {"worker": CRASHER, "web": SLEEPER},
        backoff_first_s=0.01,
        crash_loop_restarts=3,
        crash_loop_window_s=60,
    )
    harness.thread.start()
    harness.thread.join(timeout=30)
    assert isinstance(harness.error, CrashLoop)
    assert "worker stopped 4 times within 60 s (last: exit code 3)" in str(harness.error)
    web = next(child for child in harness.supervisor.children if child.name == "web")
    assert web.process is not None and web.process.poll() is not None


def test_a_status_file_of_a_supervisor_that_is_gone_is_ignored(tmp_path):
    (tmp_path / STATUS_FILE).write_text(json.dumps({"pid": 2**22 + 12345, "children": {}}))
    assert status_read(tmp_path) is None


@pytest.mark.django_db
def test_health_reports_the_supervised_processes_and_a_restarting_one_degrades_it(
    tmp_path, settings
):
    from analytics.selectors.health import system_health

    settings.DATA_DIR = tmp_path
    status = {
        "pid": os.getpid(),
        "children": {
            "web": {"pid": 1, "running": True, "restarts": 0, "last_exit": None},
            "worker": {
                "pid": None,
                "running": False,
                "restarts": 2,
                "last_exit": {"reason": "killed by SIGKILL", "at": time.time()},
            },
        },
    }
    (tmp_path / STATUS_FILE).write_text(json.dumps(status))
    report = system_health()
    processes = report["components"]["processes"]
    assert not processes["ok"]
    assert processes["detail"] == "1 of 2 running, 2 restarts; restarting: worker"
    assert processes["children"]["worker"]["last_exit"]["reason"] == "killed by SIGKILL"
    assert report["status"] in ("degraded", "down")
