"""A GitHub contents API on a local pytest-httpserver, answering with GitHub's documented shapes.

- ``GET /repos/{o}/{r}/contents/{path}`` → 200 ``{"type": "file", "encoding": "base64", "content",
  "sha", ...}`` or 404 ``{"message": "Not Found"}``.
- ``PUT`` the same → 201 (created) / 200 (updated) ``{"content": {..., "sha"}, "commit": {"sha",
  "html_url", ...}}``; a stale ``sha`` → 409 ``"<path> does not match <sha>"``; no ``sha`` for an
  existing file → 422 ``"Invalid request.\\n\\n\\"sha\\" wasn't supplied."``.
- ``GET /repos/{o}/{r}/commits?path=`` → 200 ``[{"sha", "html_url", ...}]`` newest first.
"""

import base64
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug import Request, Response

CONTENTS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/contents/(?P<path>.+)$")
COMMITS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/commits$")


def _json(body: Any, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


@dataclass
class GitHubStub:
    repo: str = "o/r"
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path → (blob sha, bytes)
    commits: list[dict[str, Any]] = field(default_factory=list)  # newest last
    puts: list[dict[str, Any]] = field(default_factory=list)
    # Runs before a PUT is answered, e.g. to commit "someone else's" change first (a race).
    before_put: Callable[["GitHubStub"], None] | None = None

    def install(self, httpserver: Any) -> "GitHubStub":
        httpserver.expect_request(re.compile(r"^/repos/.*")).respond_with_handler(self.handle)
        return self

    def commit(self, path: str, content: bytes, message: str = "change") -> dict[str, Any]:
        blob = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
        sha = hashlib.sha1(f"{len(self.commits)}{path}{blob}".encode()).hexdigest()
        commit = {
            "sha": sha,
            "html_url": f"https://github.com/{self.repo}/commit/{sha}",
            "message": message,
            "path": path,
        }
        self.files[path] = (blob, content)
        self.commits.append(commit)
        return commit

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != "Bearer t":
            return _json({"message": "Bad credentials", "status": "401"}, 401)
        if match := COMMITS.match(request.path):
            path = request.args.get("path")
            found = [c for c in reversed(self.commits) if c["path"] == path]
            return _json(found[: int(request.args.get("per_page", 30))], 200)
        match = CONTENTS.match(request.path)
        if match is None or match["repo"] != self.repo:
            return _json({"message": "Not Found"}, 404)
        path = match["path"]
        if request.method == "GET":
            return self._get(path)
        if request.method == "PUT":
            return self._put(path, request.get_json())
        return _json({"message": "Not Found"}, 404)

    def _get(self, path: str) -> Response:
        if path not in self.files:
            return _json({"message": "Not Found"}, 404)
        sha, content = self.files[path]
        encoded = base64.encodebytes(content).decode()  # GitHub wraps base64 at 60 characters
        body = {"type": "file", "encoding": "base64", "path": path, "sha": sha, "content": encoded}
        return _json(body, 200)

    def _put(self, path: str, body: dict[str, Any]) -> Response:
        self.puts.append(body)
        if self.before_put is not None:
            hook, self.before_put = self.before_put, None
            hook(self)
        existing = self.files.get(path)
        if existing is not None and "sha" not in body:
            return _json({"message": 'Invalid request.\n\n"sha" wasn\'t supplied.'}, 422)
        if existing is not None and body["sha"] != existing[0]:
            return _json({"message": f"{path} does not match {body['sha']}"}, 409)
        commit = self.commit(path, base64.b64decode(body["content"]), body["message"])
        answer = {
            "content": {"name": path.rsplit("/", 1)[-1], "path": path, "sha": self.files[path][0]},
            "commit": {"sha": commit["sha"], "html_url": commit["html_url"]},
        }
        return _json(answer, 200 if existing else 201)
