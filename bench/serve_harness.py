"""``manage.py serve`` on the embedded default (SQLite + the embedded broker) in a fresh data
directory, driven over its HTTP API as a user would: shared by the embedded benchmarks."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API = "/api/workflow-orchestration"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    """One ``manage.py serve`` in its own data directory, stopped by ``stop``."""

    def __init__(self, **env: str) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
        self.port = free_port()
        self.env = {**os.environ, "DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1", **env}
        for name in ("DATABASE_URL", "CELERY_BROKER_URL", "HOST", "PORT"):
            self.env.pop(name, None)
        self.log_path = self.data_dir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""

    def start(self, timeout_s: float = 180) -> "Serve":
        command = [sys.executable, "manage.py", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited:\n{self.log_text()[-3000:]}")
            try:
                if self.request("GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError(f"serve not healthy in {timeout_s} s:\n{self.log_text()[-3000:]}")
        self.token = self._staff_token()
        return self

    def _staff_token(self) -> str:
        output = subprocess.run(
            [sys.executable, "manage.py", "create_staff_user", "bench", "--with-token"],
            cwd=ROOT, env=self.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return output.stdout.strip().splitlines()[-1]

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            payload = json.dumps(body) if body is not None else None
            connection.request(method, f"{API}{path}", body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data else None
        finally:
            connection.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def received(self, task: str) -> int:
        """Messages of ``task`` the worker received so far (Celery logs each one)."""
        return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] received", self.log_text()))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def transform_workflow(
    serve: Serve, name: str, value: str = "{{ trigger.n }}", **fields: Any
) -> int:
    """A 3-step ``transform`` workflow (no I/O) that copies ``value`` (a template), created over
    the API; returns its id."""
    actions = [
        {"id": f"t{i}", "type": "transform", "params": {"values": {"n": value}}} for i in range(3)
    ]
    status, body = serve.request("POST", "/workflows", {"name": name, "actions": actions, **fields})
    if status != 201:
        raise RuntimeError(f"workflow not created: {status} {body}")
    return int(body["id"])


def count(serve: Serve, workflow_id: int, status: str) -> int:
    code, body = serve.request(
        "GET", f"/executions?workflow={workflow_id}&status={status}&page_size=1"
    )
    if code != 200:
        raise RuntimeError(f"executions list answered {code}: {body}")
    return int(body["count"])
