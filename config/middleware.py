"""Middleware that must run before any view reads the request, and headers every response gets."""

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from config.security import content_security_policy


def _too_large() -> JsonResponse:
    return JsonResponse(
        {"detail": f"Request body exceeds {settings.REQUEST_BODY_MAX_BYTES} bytes."}, status=413
    )


class RequestBodyLimitMiddleware:
    """Answer 413 to a request whose body is larger than REQUEST_BODY_MAX_BYTES.

    A declared Content-Length is judged before anything is read. A chunked body (no length) is
    read here up to one byte past the limit, when the server hands it over de-chunked and
    terminated (``wsgi.input_terminated``, as gunicorn does): over the limit → 413, else the view
    gets it as if its length had been sent (Django alone would read such a body as empty). A server
    that cannot terminate the stream gets 411: nothing is read that could never end.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length must be an integer."}, status=400)
        if length > settings.REQUEST_BODY_MAX_BYTES:
            return _too_large()
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not length:
            refused = self._read_chunked(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _read_chunked(self, request: HttpRequest) -> HttpResponse | None:
        if not request.META.get("wsgi.input_terminated"):
            return JsonResponse(
                {"detail": "Send a Content-Length: this server cannot read chunked bodies."},
                status=411,
            )
        limit = settings.REQUEST_BODY_MAX_BYTES
        body = request.META["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            return _too_large()
        # What WSGIRequest builds from a declared length, built from the length we now know.
        request._stream = io.BytesIO(body)
        request.META["CONTENT_LENGTH"] = str(len(body))
        return None


class ContentSecurityPolicyMiddleware:
    """Every response carries the site's Content-Security-Policy (``config.security``): scripts
    from this site only, never inline. A view that sets its own header (a page meant to be
    embedded elsewhere) keeps it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = content_security_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _storable(text: str) -> bool:
    """No NUL character and no unpaired UTF-16 surrogate: what PostgreSQL text and jsonb take."""
    if "\x00" in text:
        return False
    try:
        text.encode()  # an unpaired surrogate has no UTF-8 form
    except UnicodeEncodeError:
        return False
    return True


def _not_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class StorableTextMiddleware:
    """Answer 400 to text the database cannot store: a NUL character or an unpaired surrogate in
    the path, the query string or the body, and NaN or Infinity in a JSON body.

    Refused here once, with a clear reason, instead of as a database error (a 500 on PostgreSQL)
    wherever such a value would be saved or searched for: JSON fields, trigger payloads, filters.
    Runs after RequestBodyLimitMiddleware, so the body it reads is bounded.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = self._problem(request)
        if problem:
            return JsonResponse({"detail": problem}, status=400)
        return self.get_response(request)

    def _problem(self, request: HttpRequest) -> str:
        texts = [request.path, *(item for pair in request.GET.lists() for item in _flat(pair))]
        if not all(_storable(text) for text in texts):
            return "The URL holds a NUL character or an unpaired surrogate."
        content_type = request.content_type or ""
        if content_type.startswith("multipart/"):
            return ""
        body = request.body
        if b"\x00" in body:
            return "The body holds a NUL character."
        if not body.strip() or "json" not in content_type:
            return ""
        try:
            data = json.loads(body, parse_constant=_not_json_constant)
        except ValueError as exc:
            if "is not JSON" in str(exc):
                return f"The body is not valid JSON: {exc}."
            return ""  # malformed JSON: the view answers that, in its own words
        if not all(_storable(text) for text in _strings(data)):
            return "The body holds a NUL character (\\u0000) or an unpaired surrogate."
        return ""


def _flat(pair: tuple[str, list[str]]) -> Iterator[str]:
    key, values = pair
    yield key
    yield from values
