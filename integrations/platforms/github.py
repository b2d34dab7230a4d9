"""GitHub: ``credentials.token``, ``config.repo`` (owner/name). Verified, never sent to.

``GET /user`` proves the token (fine-grained tokens need no permission for it), so with a repo the
check also reads ``GET /repos/{repo}`` and requires ``permissions.push``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.http import OutboundResponse
from integrations.platforms.base import Errors, Platform, VerifyResult, snippet
from integrations.ratelimits.throttle import connection_request

if TYPE_CHECKING:
    from integrations.models import IntegrationConnection

TIMEOUT_S = 10.0
API_VERSION = "2022-11-28"
REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def github_headers(connection: IntegrationConnection) -> dict[str, str]:
    """The headers every GitHub REST call of this connection carries."""
    return {
        "Authorization": f"Bearer {connection.credentials.get('token', '')}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
    }


class GitHub(Platform):
    name = "github"
    label = "GitHub"
    api_root = "https://api.github.com"
    config_keys = frozenset({"repo"})
    key_hints = {"repository": "repo"}

    def check_fields(
        self, errors: Errors, credentials: Mapping[str, Any], webhook_url: str,
        config: Mapping[str, Any],
    ) -> None:  # fmt: skip
        errors.require(credentials, "credentials", "token")
        repo = config.get("repo")
        if repo not in (None, "") and not (isinstance(repo, str) and REPO.fullmatch(repo)):
            errors.add("config.repo", "Must be owner/name.")

    def check(self, connection: IntegrationConnection) -> VerifyResult:
        response = self._get(connection, "/user")
        if response.status_code != 200:
            return VerifyResult(False, f"GET /user: {_error_detail(response)}")
        login = _json(response).get("login", "?")
        repo = (connection.config or {}).get("repo")
        if not repo:
            return VerifyResult(True, f"authenticated as {login}")
        response = self._get(connection, f"/repos/{repo}")
        if response.status_code != 200:
            return VerifyResult(False, f"{login}: GET /repos/{repo}: {_error_detail(response)}")
        if not (_json(response).get("permissions") or {}).get("push"):
            return VerifyResult(False, f"{login} cannot push to {repo}")
        return VerifyResult(True, f"authenticated as {login}, can push to {repo}")

    def _get(self, connection: IntegrationConnection, path: str) -> OutboundResponse:
        url = f"{connection.api_base(self.api_root)}{path}"
        headers = github_headers(connection)
        return connection_request(connection, "GET", url, headers=headers, timeout_s=TIMEOUT_S)


def _json(response: OutboundResponse) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_detail(response: OutboundResponse) -> str:
    reason = _json(response).get("message") or snippet(response) or "no reason given"
    return f"GitHub answered {response.status_code}: {reason}"
