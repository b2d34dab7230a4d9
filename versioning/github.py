"""Committing one file through the GitHub contents API (also GitHub Enterprise, Gitea, a stub).

``GET /repos/{repo}/contents/{path}`` gives the file's blob sha and content; ``PUT`` the same
path creates (201) or updates (200, with that sha) it and answers
``{"content": {..., "sha"}, "commit": {"sha", "html_url", ...}}``. A stale sha is answered 409:
the sha is fetched again once and the PUT repeated. Content equal to what the branch already holds
is not committed again; the file's latest commit is reported instead, so a retried step is a no-op.
"""

import base64
import binascii
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from integrations.http import OutboundError, OutboundResponse
from integrations.models import IntegrationConnection
from integrations.platforms.github import github_headers
from integrations.ratelimits.throttle import connection_request

API_ROOT = "https://api.github.com"
_ERROR_CHARS = 300


class GitHubError(Exception):
    """GitHub refused or could not be reached; ``retryable`` when a later try can succeed."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class RemoteFile:
    sha: str
    content: bytes | None  # None when GitHub did not inline it (files over 1 MB)


@dataclass(frozen=True)
class CommitResult:
    commit_sha: str
    html_url: str
    created: bool
    unchanged: bool


def _json(response: OutboundResponse) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _failure(response: OutboundResponse, what: str) -> GitHubError:
    """GitHub's own message, and whether a later try can succeed (rate limits, 5xx, races)."""
    body = _json(response)
    # GitHub's documented error field only: a step error is read by plain users, and a body
    # that is not GitHub's JSON (a proxy's page) may quote anything.
    reason = body.get("message") if isinstance(body, dict) else None
    reason = str(reason)[:_ERROR_CHARS] if reason else "no error message"
    status = response.status_code
    rate_limited = status == 429 or (
        status == 403 and response.headers.get("x-ratelimit-remaining") == "0"
    )
    retryable = rate_limited or status >= 500 or status == 409
    return GitHubError(f"GitHub {what}: HTTP {status}: {reason}", retryable=retryable)


class ContentsClient:
    """The contents API of one repository, through the outbound client. Every request carries
    the step's idempotency key; all of them together stay within ``timeout_s``."""

    def __init__(
        self,
        connection: IntegrationConnection,
        repo: str,
        *,
        idempotency_key: str,
        timeout_s: float,
    ) -> None:
        self.connection = connection
        self.base = f"{connection.api_base(API_ROOT)}/repos/{repo}"
        self.headers = github_headers(connection)
        self.idempotency_key = idempotency_key
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s

    def _request(
        self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None
    ) -> OutboundResponse:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise GitHubError(f"GitHub did not finish within {self.timeout_s:g}s", retryable=True)
        try:
            return connection_request(
                self.connection,
                method,
                f"{self.base}{path}",
                headers=self.headers,
                params=query,
                json=body,
                timeout_s=left,
                idempotency_key=self.idempotency_key,
            )
        except OutboundError as exc:
            raise GitHubError(exc.message, retryable=exc.retryable) from None

    def file_get(self, path: str, branch: str) -> RemoteFile | None:
        """The file on ``branch`` (default branch when empty), or None when it does not exist."""
        response = self._request("GET", f"/contents/{quote(path)}", query={"ref": branch or None})
        if response.status_code == 404:
            return None
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            if isinstance(body, list):
                raise GitHubError(f"'{path}' is a directory in the repository.")
            raise _failure(response, f"GET {path}")
        content = None
        if body.get("encoding") == "base64":
            try:
                content = base64.b64decode(body.get("content") or "")
            except (binascii.Error, ValueError):
                content = None
        return RemoteFile(sha=str(body.get("sha", "")), content=content)

    def file_put(
        self, path: str, *, content: bytes, message: str, sha: str | None, branch: str
    ) -> OutboundResponse:
        body: dict[str, Any] = {"message": message, "content": base64.b64encode(content).decode()}
        if sha:
            body["sha"] = sha
        if branch:
            body["branch"] = branch
        return self._request("PUT", f"/contents/{quote(path)}", body=body)

    def last_commit(self, path: str, branch: str) -> tuple[str, str]:
        """(sha, html_url) of the latest commit touching ``path``; empty strings if unknown."""
        query = {"path": path, "sha": branch or None, "per_page": 1}
        response = self._request("GET", "/commits", query=query)
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, list) or not body:
            return "", ""
        first = body[0] if isinstance(body[0], dict) else {}
        return str(first.get("sha", "")), str(first.get("html_url", ""))


def _committed(response: OutboundResponse, path: str) -> CommitResult:
    if response.status_code not in (200, 201):
        raise _failure(response, f"PUT {path}")
    body = _json(response)
    commit = body.get("commit") if isinstance(body, dict) else None
    if not isinstance(commit, dict) or not commit.get("sha"):
        raise GitHubError(f"GitHub PUT {path}: the answer holds no commit sha.", retryable=True)
    return CommitResult(
        commit_sha=str(commit["sha"]),
        html_url=str(commit.get("html_url", "")),
        created=response.status_code == 201,
        unchanged=False,
    )


def _already_there(
    client: ContentsClient, current: RemoteFile | None, wanted: bytes, path: str, branch: str
) -> CommitResult | None:
    if current is None or current.content != wanted:
        return None
    sha, html_url = client.last_commit(path, branch)
    return CommitResult(sha, html_url, created=False, unchanged=True)


def contents_commit(
    client: ContentsClient, *, path: str, content: str, message: str, branch: str
) -> CommitResult:
    """Create or update ``path`` with ``content``; skip when the branch already has it."""
    wanted = content.encode()

    def attempt() -> CommitResult | OutboundResponse:
        current = client.file_get(path, branch)
        unchanged = _already_there(client, current, wanted, path, branch)
        if unchanged is not None:
            return unchanged
        sha = current.sha if current else None
        return client.file_put(path, content=wanted, message=message, sha=sha, branch=branch)

    result = attempt()
    # 409: the file moved on between our GET and PUT; learn its new sha once and try again.
    if isinstance(result, OutboundResponse) and result.status_code == 409:
        result = attempt()
    return result if isinstance(result, CommitResult) else _committed(result, path)
