"""``Authorization: Bearer <token>`` authentication against hashed, revocable API tokens.

Failed bearer tokens are counted per client address (``AuthFailureThrottle``): past
API_AUTH_FAILURE_RATE, every bearer request from that address is answered 429 with Retry-After
before any token is looked up, so tokens cannot be guessed at speed.
"""

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from workflows.models import ApiToken
from workflows.services.tokens import api_token_touch, token_digest


class AuthFailureThrottle(SimpleRateThrottle):
    """Failed bearer authentications per client address, in a sliding window.

    Unlike DRF's throttles it counts only what ``record`` is told (failures), and ``wait`` reads
    without counting. The rate is read on every use, so it follows the setting.
    """

    scope = "auth_failure"

    def get_rate(self) -> str:
        return str(settings.API_AUTH_FAILURE_RATE)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def _window(self) -> tuple[int, int]:
        """(failures allowed, in so many seconds), from API_AUTH_FAILURE_RATE."""
        count, seconds = self.parse_rate(self.get_rate())
        return count or 0, seconds or 60

    def _history(self, request: Request, seconds: int) -> tuple[str, list[float]]:
        """The cache key and the failures still inside the window, newest first."""
        key = self.get_cache_key(request, None)
        since = self.timer() - seconds
        return key, [moment for moment in self.cache.get(key, []) if moment > since]

    def wait_s(self, request: Request) -> float | None:
        """Seconds until this address may try again, or None when it may now."""
        count, seconds = self._window()
        _, history = self._history(request, seconds)
        if len(history) < count:
            return None
        return max(history[-1] + seconds - self.timer(), 1.0)

    def record(self, request: Request) -> None:
        count, seconds = self._window()
        key, history = self._history(request, seconds)
        self.cache.set(key, [self.timer(), *history][:count], seconds)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        throttle = AuthFailureThrottle()
        wait_s = throttle.wait_s(request)
        if wait_s is not None:
            raise exceptions.Throttled(wait_s, "Too many failed authentications from here.")
        try:
            return self._token_user(header)
        except exceptions.AuthenticationFailed:
            throttle.record(request)
            raise

    def _token_user(self, header: list[bytes]) -> tuple[Any, ApiToken]:
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: use 'Bearer <token>'."
            )
        try:
            raw = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = ApiToken.objects.select_related("user").filter(key_digest=token_digest(raw)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Token revoked.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive.")
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema (and the docs' Authorize button) how bearer tokens are sent."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API token."}
