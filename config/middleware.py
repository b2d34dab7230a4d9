"""Middleware that must run before any view reads the request, and headers every response gets."""

import io
from collections.abc import Callable, Iterator

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from opentelemetry.trace import SpanKind

from core.parsing import InputRefused, json_loads, text_storable
from core.security import content_security_policy
from core.tracing import context_from_headers, span, span_failed, span_set, tracing_enabled

_TRACE_HEADERS = {"traceparent": "HTTP_TRACEPARENT", "tracestate": "HTTP_TRACESTATE"}


class TracingMiddleware:
    """With tracing on, a server span around each request, in the caller's trace when the
    request carries a ``traceparent`` (a trigger's span, and every run it starts, then belong to
    the caller's trace)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not tracing_enabled():
            return self.get_response(request)
        carrier = {
            name: request.META[key] for name, key in _TRACE_HEADERS.items() if key in request.META
        }
        method = request.method or "GET"
        attributes = {"http.request.method": method}
        # The route's pattern, never the path: a webhook's path holds its token.
        with (
            context_from_headers(carrier),
            span(method, kind=SpanKind.SERVER, attributes=attributes) as current,
        ):
            response = self.get_response(request)
            route = request.resolver_match.route if request.resolver_match else ""
            if current is not None and route:
                current.update_name(f"{method} {route}")
                span_set(http__route=route)
            span_set(http__response__status_code=response.status_code)
            if response.status_code >= 500:
                span_failed(str(response.status_code))
        return response


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
    """Every response carries the site's Content-Security-Policy (``core.security``): scripts
    from this site only, never inline. A view that sets its own header (a page meant to be
    embedded elsewhere) keeps it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = content_security_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class StorableTextMiddleware:
    """Answer 400 to input no view should see (config/parsing.py says why each is refused): a NUL
    character or an unpaired surrogate in the path, the query string, a header, a form field or
    a JSON body; JSON nested deeper than INPUT_MAX_DEPTH, or holding NaN or Infinity; a form
    field holding such JSON; a form body that cannot be read.

    Refused here once, before any parser or view runs, with a JSON message, instead of as a
    RecursionError or a database error (a 500 on PostgreSQL) wherever such a value would be
    parsed, saved or searched for. Runs after RequestBodyLimitMiddleware, so the body it reads
    is bounded.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = self._problem(request)
        if problem:
            return JsonResponse({"detail": problem}, status=400)
        return self.get_response(request)

    def _problem(self, request: HttpRequest) -> str:
        if _field_count(request.META.get("QUERY_STRING", "")) > settings.REQUEST_MAX_FIELDS:
            return f"The query string has more than {settings.REQUEST_MAX_FIELDS} fields."
        texts = [request.path, *(item for pair in request.GET.lists() for item in _flat(pair))]
        if not all(text_storable(text) for text in texts):
            return "The URL holds a NUL character or an unpaired surrogate."
        headers = (value for name, value in request.META.items() if name.startswith("HTTP_"))
        if not all(text_storable(value) for value in headers if isinstance(value, str)):
            return "A header holds a NUL character or an unpaired surrogate."
        content_type = request.content_type or ""
        body = request.body  # read once here: a form parsed below leaves it readable
        if content_type in FORM_TYPES:
            return _form_problem(request)
        if b"\x00" in body:
            return "The body holds a NUL character."
        if not body.strip() or "json" not in content_type:
            return ""
        try:
            json_loads(body)
        except InputRefused as exc:
            return f"The body is refused: {exc}"
        except ValueError:
            return ""  # malformed JSON: the view answers that, in its own words
        return ""


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _field_count(encoded: str | bytes) -> int:
    """How many fields Django's QueryDict would read from ``encoded`` (as parse_qsl counts)."""
    if not encoded:
        return 0
    return 1 + (encoded.count("&") if isinstance(encoded, str) else encoded.count(b"&"))


def _form_problem(request: HttpRequest) -> str:
    if request.content_type == FORM_TYPES[0] and _field_count(request.body) > (
        settings.REQUEST_MAX_FIELDS
    ):
        return f"The form has more than {settings.REQUEST_MAX_FIELDS} fields."
    try:
        fields = [item for pair in request.POST.lists() for item in _flat(pair)]
    except (MultiPartParserError, SuspiciousOperation) as exc:
        return f"The form body cannot be read: {exc}"
    if not all(text_storable(text) for text in fields):
        return "A form field holds a NUL character or an unpaired surrogate."
    # A field holding JSON (the dashboard's and the admin's JSON textareas) is read here as the
    # API reads a body: too deep, or an escaped NUL (\u0000) that would reach a jsonb column.
    for text in fields:
        if text.lstrip()[:1] not in ("[", "{"):
            continue
        try:
            json_loads(text)
        except InputRefused as exc:
            return f"A form field is refused: {exc}"
        except ValueError:
            continue  # not JSON after all: the form judges it
    return ""


def _flat(pair: tuple[str, list[str]]) -> Iterator[str]:
    key, values = pair
    yield key
    yield from values
