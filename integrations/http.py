"""The one outbound HTTP client: every request the project sends goes through ``http_request``.

Only http/https; the host is resolved once and every address must be public unless
``settings.OUTBOUND_ALLOWED_HOSTS`` allows it; the connection goes to the address that was checked
(no second lookup, so DNS rebinding cannot swap it) with Host, SNI and certificate check on the
original name; redirects are followed by hand, each hop checked again; bodies are streamed under a
size cap and a total deadline. Errors say whether a retry can help.
"""

from __future__ import annotations

import ipaddress
import json as jsonlib
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, NamedTuple
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit

import requests
from django.conf import settings
from opentelemetry.trace import SpanKind
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from core.tracing import headers_inject, span, span_failed, span_set, tracing_enabled

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CREDENTIAL_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization")
_KINDS = ("loopback", "link_local", "unspecified", "multicast", "private", "reserved")
_HOST_NAME = re.compile(r"[a-z0-9._-]+")
_CHUNK_BYTES = 16 * 1024


class OutboundError(Exception):
    """An outbound request failed; ``retryable`` says whether trying again later can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class OutboundRefused(OutboundError):
    """Refused before connecting (scheme, host, address or redirect target); never retryable."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class _Headers(dict[str, str]):
    """Response headers: names stored lower-case, looked up case-insensitively."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class OutboundResponse:
    """The final response, whatever its status; ``url`` is the last hop's URL."""

    status_code: int
    headers: dict[str, str]
    content: bytes
    url: str
    elapsed_ms: int

    @property
    def text(self) -> str:
        """The body decoded with the declared charset (UTF-8 when none or unknown)."""
        message = Message()
        message["content-type"] = next(
            (value for name, value in self.headers.items() if name.lower() == "content-type"), ""
        )
        try:
            return self.content.decode(message.get_content_charset() or "utf-8", "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        return jsonlib.loads(self.content)


def response_body(response: OutboundResponse) -> Any:
    """The JSON body when there is one, else the text."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def status_retryable(status_code: int) -> bool:
    """Whether an HTTP status says "try again later": 429 and every 5xx."""
    return status_code == 429 or status_code >= 500


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # as written: lower-case ASCII; IPv6 without brackets
    port: int
    path: str
    query: str
    auth: tuple[str, str] | None

    @property
    def origin(self) -> str:
        """scheme://host:port: all of a URL that error messages may show."""
        return f"{self.scheme}://{_bracket(self.host)}:{self.port}"

    @property
    def host_header(self) -> str:
        default = self.port == (443 if self.scheme == "https" else 80)
        return _bracket(self.host) + ("" if default else f":{self.port}")

    def pinned_url(self, address: str) -> str:
        netloc = f"{_bracket(address)}:{self.port}"
        return urlunsplit((self.scheme, netloc, self.path or "/", self.query, ""))


class _Hop(NamedTuple):
    method: str
    url: str
    headers: CaseInsensitiveDict[str]
    json: Any
    data: bytes | str | None


class _Redirect(NamedTuple):
    status_code: int
    location: str


@dataclass(frozen=True)
class _Call:
    resolver: Resolver
    timeout_s: float
    max_bytes: int
    follow_redirects: bool
    started: float = field(default_factory=time.monotonic)

    def remaining_s(self, target: _Target) -> float:
        """Seconds left of the whole call's deadline; raises the timeout error once it passed."""
        left = self.started + self.timeout_s - time.monotonic()
        if left <= 0:
            raise _timed_out(self.timeout_s, target)
        return left


class _PinnedTLSAdapter(HTTPAdapter):
    """Connects to the vetted IP in the URL; SNI and the certificate check use the host name."""

    def __init__(self, server_hostname: str) -> None:
        self._server_hostname = server_hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **pool_kwargs: Any) -> None:
        super().init_poolmanager(*args, server_hostname=self._server_hostname, **pool_kwargs)


@dataclass(frozen=True)
class OutboundMock:
    """A canned answer for the requests a sealed block makes: those whose URL starts with
    ``url`` (and, when given, whose method is ``method``)."""

    url: str
    method: str = ""
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def matches(self, method: str, url: str) -> bool:
        return (not self.method or self.method.upper() == method) and url.startswith(self.url)

    def response(self, url: str) -> OutboundResponse:
        content = self.body if isinstance(self.body, str) else jsonlib.dumps(self.body or {})
        kind = "text/plain" if isinstance(self.body, str) else "application/json"
        headers = {"Content-Type": kind, **self.headers}
        return OutboundResponse(self.status, _Headers(headers), content.encode(), url, 0)


@dataclass
class OutboundSeal:
    """What a sealed block may answer (``mocks``) and the requests it was asked (``calls``)."""

    mocks: list[OutboundMock]
    calls: list[str] = field(default_factory=list)

    def answer(self, method: str, url: str) -> OutboundResponse:
        parts = urlsplit(url)
        # The host as written (no userinfo), and the path: never the query, which may hold keys.
        said = f"{method} {parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"
        self.calls.append(said)
        for mock in self.mocks:
            if mock.matches(method, url):
                return mock.response(url)
        raise OutboundRefused(f"not mocked in this workflow test: {said}")


_sealed: ContextVar[OutboundSeal | None] = ContextVar("outbound_sealed", default=None)


@contextmanager
def outbound_sealed(mocks: list[OutboundMock]) -> Iterator[OutboundSeal]:
    """Nothing leaves the process inside this block (this context: this thread, and threads
    started with a copy of it): http_request answers from ``mocks`` — a request none matches is
    refused — and any other TCP connection is refused at connect time. Platforms that do their
    own network I/O (mail, Apprise) say they sent without sending (``outbound_is_sealed``)."""
    _connect_hook_install()
    seal = OutboundSeal(list(mocks))
    token = _sealed.set(seal)
    try:
        yield seal
    finally:
        _sealed.reset(token)


def outbound_is_sealed() -> bool:
    return _sealed.get() is not None


def http_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    data: bytes | str | None = None,
    timeout_s: float = 30.0,
    idempotency_key: str | None = None,
    max_bytes: int | None = None,
    follow_redirects: bool = True,
    resolver: Resolver | None = None,
) -> OutboundResponse:
    """Send a request through the SSRF guard; return the final response (error statuses too).

    ``timeout_s`` bounds connecting, each read and the whole call. Raises OutboundRefused when a
    hop is refused; OutboundError with retryable=True for timeouts and connection failures and
    retryable=False for oversized bodies, too many redirects and TLS certificate failures.
    """
    method = method.upper()
    seal = _sealed.get()
    if seal is not None:
        return seal.answer(method, _with_params(url, params))
    limit = max_bytes or settings.OUTBOUND_MAX_RESPONSE_BYTES
    call = _Call(resolver or _getaddrinfo, timeout_s, limit, follow_redirects)
    with span(method, kind=SpanKind.CLIENT, attributes=_span_attributes(method, url)):
        sent = _headers(headers, idempotency_key)
        headers_inject(sent)
        hop = _Hop(method, _with_params(url, params), sent, json, data)
        for _ in range(settings.OUTBOUND_MAX_REDIRECTS + 1):
            result = _perform(hop, call)
            if isinstance(result, OutboundResponse):
                span_set(http__response__status_code=result.status_code)
                if result.status_code >= 400:
                    span_failed(str(result.status_code))
                return result
            hop = _next_hop(hop, result)
        most = settings.OUTBOUND_MAX_REDIRECTS
        raise OutboundError(
            f"too many redirects (over {most}) from {_parse(url).origin}", retryable=False
        )


def _span_attributes(method: str, url: str) -> dict[str, Any]:
    """What a client span tells of a call: the method and the origin, never the path or query
    (a Slack webhook's path and a Telegram bot's are secrets)."""
    if not tracing_enabled():
        return {}
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.scheme": parts.scheme.lower(),
        "server.address": parts.hostname or "",
    }
    if port:
        attributes["server.port"] = port
    return attributes


def check_url(url: str, *, resolver: Resolver | None = None) -> list[str]:
    """Return the addresses ``url`` may connect to, all vetted; http_request uses the first.

    Raises OutboundRefused for a scheme other than http/https, a missing or malformed host, or any
    address that is neither public nor allowed by OUTBOUND_ALLOWED_HOSTS; OutboundError when the
    host does not resolve (retryable only when DNS said "try again").
    """
    return _vet(_parse(url), resolver or _getaddrinfo)


def check_host(host: str, port: int, *, resolver: Resolver | None = None) -> list[str]:
    """Return the vetted addresses of ``host`` for a protocol other than HTTP (SMTP), by the same
    rules as check_url; connect to one of them, not to the name. Raises as check_url does."""
    target = _Target("tcp", _ascii_host(host.strip().strip("[]").lower()), port, "", "", None)
    return _vet(target, resolver or _getaddrinfo)


@dataclass
class ConnectGuard:
    """What sockets_guarded vets against: the names the library resolved inside the block (by
    address), and the refusals it made (a library may swallow the exception and report only that
    it failed)."""

    host: str
    resolved: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


@contextmanager
def sockets_guarded(host: str) -> Iterator[ConnectGuard]:
    """Vet every TCP connection opened inside this block at connect time, by the rules of
    check_url: for code that does its own network I/O (Apprise, and the libraries under it).

    The address checked is the one the socket is actually connecting to, after whatever
    resolution the library did, so DNS rebinding and a second lookup cannot swap it. As for
    http_request, an address is allowed when it is public, when an IP or CIDR entry of
    OUTBOUND_ALLOWED_HOSTS holds it, or when it came from resolving a host name the list names
    (the name the library looked up, not ``host``, which only labels messages: a mailto:// URL
    names one host and sends through another). A refused connect raises OutboundRefused inside the
    library and is kept in the guard's ``refused``. The guard follows the context: threads
    started with a copy of it (Apprise's worker pool) are guarded too; other threads are not.
    """
    _connect_hook_install()
    guard = ConnectGuard(_ascii_host(host.strip().strip("[]").lower()) if host else "")
    token = _connect_guard.set(guard)
    try:
        yield guard
    finally:
        _connect_guard.reset(token)


_connect_guard: ContextVar[ConnectGuard | None] = ContextVar("outbound_guard", default=None)
_connect_hook_lock = threading.Lock()


def _connect_vetted(sock: socket.socket, address: Any) -> None:
    if _sealed.get() is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        raise OutboundRefused("no network connection is opened in a workflow test")
    guard = _connect_guard.get()
    if guard is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    names, networks = _allow_list()
    ip = str(address[0]).split("%")[0]  # an IPv6 scope id is not part of the address
    name = guard.resolved.get(ip, "")
    if name and name in names:
        return
    try:
        _check_address(name or ip, ip, networks)
    except OutboundRefused as exc:
        guard.refused.append(exc.message)
        raise


def _connect_hook_install() -> None:
    """Wrap socket.socket.connect and socket.getaddrinfo once per process; the wrappers only act
    inside sockets_guarded (a context variable), so other code pays one lookup per call."""
    with _connect_hook_lock:
        if not getattr(socket.getaddrinfo, "_outbound_guard", False):
            socket.getaddrinfo = _getaddrinfo_recorded(socket.getaddrinfo)
        if getattr(socket.socket.connect, "_outbound_guard", False):
            return
        original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

        def connect(self: socket.socket, address: Any) -> None:
            _connect_vetted(self, address)
            return original_connect(self, address)

        def connect_ex(self: socket.socket, address: Any) -> int:
            _connect_vetted(self, address)
            return original_connect_ex(self, address)

        connect._outbound_guard = True  # type: ignore[attr-defined]
        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]


def _getaddrinfo_recorded(original: Callable[..., Any]) -> Callable[..., Any]:
    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        infos = original(host, port, *args, **kwargs)
        guard = _connect_guard.get()
        if guard is not None and isinstance(host, str | bytes):
            name = (host.decode() if isinstance(host, bytes) else host).strip("[]").lower()
            if _as_ip(name) is not None:
                return infos  # an address, not a name: nothing to learn
            for info in infos:
                guard.resolved.setdefault(str(info[4][0]), name)
        return infos

    getaddrinfo._outbound_guard = True  # type: ignore[attr-defined]
    return getaddrinfo


def _perform(hop: _Hop, call: _Call) -> OutboundResponse | _Redirect:
    target = _parse(hop.url)
    address = _vet(target, call.resolver)[0]
    headers = CaseInsensitiveDict(hop.headers)
    headers["Host"] = target.host_header
    timeout = call.remaining_s(target)
    with requests.Session() as session:
        session.trust_env = False  # no proxies, netrc or CA bundle from the environment
        session.mount("https://", _PinnedTLSAdapter(target.host))
        try:
            with session.request(
                hop.method, target.pinned_url(address), headers=headers, json=hop.json,
                data=hop.data, auth=target.auth, timeout=(timeout, timeout),
                allow_redirects=False, stream=True,
            ) as response:  # fmt: skip
                location = response.headers.get("Location")
                if location and call.follow_redirects and response.is_redirect:
                    return _Redirect(response.status_code, location)
                content = _read_body(response, call, target)
        except requests.RequestException as exc:
            raise _failure(exc, target, call.timeout_s) from exc
    elapsed_ms = int((time.monotonic() - call.started) * 1000)
    headers_out = _Headers((name.lower(), value) for name, value in response.headers.items())
    return OutboundResponse(response.status_code, headers_out, content, hop.url, elapsed_ms)


def _read_body(response: requests.Response, call: _Call, target: _Target) -> bytes:
    too_large = f"response larger than {call.max_bytes} bytes from {target.origin}"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > call.max_bytes:
        raise OutboundError(too_large, retryable=False)
    body = bytearray()
    for chunk in response.iter_content(_CHUNK_BYTES):  # decoded: a gzip bomb meets the cap too
        body += chunk
        if len(body) > call.max_bytes:
            raise OutboundError(too_large, retryable=False)
        call.remaining_s(target)
    return bytes(body)


def _next_hop(hop: _Hop, redirect: _Redirect) -> _Hop:
    url = urljoin(hop.url, redirect.location)
    headers = CaseInsensitiveDict(hop.headers)
    if urlsplit(url)[:2] != urlsplit(hop.url)[:2]:  # credentials stay with their origin
        for name in _CREDENTIAL_HEADERS:
            headers.pop(name, None)
    see_other = redirect.status_code == 303 and hop.method != "HEAD"
    if see_other or (redirect.status_code in (301, 302) and hop.method == "POST"):
        headers.pop("Content-Type", None)
        headers.pop("Content-Length", None)
        return _Hop("GET", url, headers, None, None)
    return hop._replace(url=url, headers=headers)


def _parse(url: str) -> _Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused("refused: malformed URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise OutboundRefused(f"refused: scheme '{scheme}' is not allowed; use http or https")
    auth = (unquote(parts.username), unquote(parts.password or "")) if parts.username else None
    port = port or (443 if scheme == "https" else 80)
    return _Target(scheme, _ascii_host(parts.hostname), port, parts.path, parts.query, auth)


def _ascii_host(hostname: str | None) -> str:
    if not hostname:
        raise OutboundRefused("refused: the URL has no host")
    if _as_ip(hostname) is not None:
        return hostname
    try:
        host = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        host = ""
    if not _HOST_NAME.fullmatch(host):
        raise OutboundRefused("refused: malformed host name in the URL")
    return host


def _vet(target: _Target, resolver: Resolver) -> list[str]:
    names, networks = _allow_list()
    addresses = _resolve(target, resolver)
    if target.host not in names:  # an allowed name allows whatever it resolves to
        for address in addresses:
            _check_address(target.host, address, networks)
    return addresses


def _resolve(target: _Target, resolver: Resolver) -> list[str]:
    if _as_ip(target.host) is not None:
        return [target.host]
    name = target.host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return ["127.0.0.1", "::1"]  # RFC 6761: loopback, whatever DNS says (or does not)
    try:
        addresses = list(resolver(target.host, target.port))
    except socket.gaierror as exc:
        again = exc.errno == socket.EAI_AGAIN
        raise OutboundError(f"could not resolve {target.host}", retryable=again) from exc
    if not addresses:
        raise OutboundError(f"could not resolve {target.host}: no address", retryable=False)
    return addresses


def _getaddrinfo(host: str, port: int) -> list[str]:
    """Every A and AAAA address of ``host``, in the system resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _check_address(host: str, address: str, networks: list[IPNetwork]) -> None:
    ip = _as_ip(address)
    if ip is None:
        raise OutboundRefused(f"refused: {host} resolved to {address!r}, not an IP address")
    # Judge ::ffff:127.0.0.1 as 127.0.0.1: CPython before gh-122792 misjudges mapped addresses.
    plain = (ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None) or ip
    if any(candidate in network for candidate in (ip, plain) for network in networks):
        return
    if plain.is_global and not plain.is_multicast:
        return
    kind = next((k for k in _KINDS if getattr(plain, f"is_{k}")), "non_public").replace("_", "-")
    article = "an" if kind[0] in "aeiou" else "a"
    subject = address if host == address else f"{host} resolves to {address}, which"
    raise OutboundRefused(
        f"refused: {subject} is {article} {kind} address (not allowed for outbound requests;"
        " allow it with OUTBOUND_ALLOWED_HOSTS)"
    )


def _allow_list() -> tuple[set[str], list[IPNetwork]]:
    """OUTBOUND_ALLOWED_HOSTS, read on every call: host names and IP networks."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in settings.OUTBOUND_ALLOWED_HOSTS:
        entry = raw.strip().lower()
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


def _failure(exc: requests.RequestException, target: _Target, timeout_s: float) -> OutboundError:
    """Translate a requests error; never quote it, as it holds the full URL."""
    causes = list(_causes(exc))
    if any(isinstance(cause, requests.Timeout | TimeoutError) for cause in causes):
        return _timed_out(timeout_s, target)
    if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes):
        return OutboundError(f"TLS certificate of {target.origin} not valid", retryable=False)
    for kind, what in ((ConnectionRefusedError, "refused"), (ConnectionResetError, "reset")):
        if any(isinstance(cause, kind) for cause in causes):
            return OutboundError(f"connection {what} by {target.origin}", retryable=True)
    retryable = isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError)
    what = type(exc).__name__
    return OutboundError(f"request to {target.origin} failed ({what})", retryable=retryable)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and the chain it wraps (urllib3 and socket errors under requests' own)."""
    current: BaseException | None = exc
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


def _timed_out(timeout_s: float, target: _Target) -> OutboundError:
    message = f"timed out after {timeout_s:g}s talking to {target.origin}"
    return OutboundError(message, retryable=True)


def _headers(
    given: Mapping[str, str] | None, idempotency_key: str | None
) -> CaseInsensitiveDict[str]:
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(given or {})
    headers["User-Agent"] = settings.OUTBOUND_USER_AGENT
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def _with_params(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    extra = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def _as_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
