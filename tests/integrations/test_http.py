"""The outbound HTTP client: SSRF guard, address pinning, redirects, size cap, timeouts.

No test reaches beyond the machine: the autouse ``connections`` guard records every TCP connect
the client makes and fails any to a non-loopback address as if it were unreachable.
"""

import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3.util.connection
from pytest_httpserver import HTTPServer
from werkzeug import Response

from integrations.http import (
    OutboundError,
    OutboundRefused,
    OutboundResponse,
    Resolver,
    check_url,
    http_request,
)

PUBLIC_IP = "93.184.216.34"  # public, so allowed; the connect guard makes it "unreachable"
LINK_LOCAL_MESSAGE = (
    "refused: 169.254.169.254 is a link-local address (not allowed for outbound requests;"
    " allow it with OUTBOUND_ALLOWED_HOSTS)"
)


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every (address, port) the client connects to; non-loopback ones fail as unreachable."""
    real_create_connection = urllib3.util.connection.create_connection
    seen: list[tuple[str, int]] = []

    def guarded(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        seen.append(address)
        if not ipaddress.ip_address(address[0]).is_loopback:  # a host name fails here too
            raise ConnectionRefusedError(f"test guard: {address[0]} is off this machine")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", guarded)
    return seen


@pytest.fixture(autouse=True)
def nothing_allowed(settings) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = []


@pytest.fixture
def allow_loopback(settings) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that queues connections but never accepts or answers them."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield sock


def assert_untouched(listener: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        listener.accept()


def port_of(sock: socket.socket) -> int:
    return sock.getsockname()[1]


def stub_url(httpserver: HTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{httpserver.port}{path}"


def resolving(answers: dict[str, list[str]]) -> Resolver:
    return lambda host, port: answers[host]


# --- Allowed requests --------------------------------------------------------------------------


def test_it_gets_json_from_an_allowed_stub(httpserver: HTTPServer, allow_loopback, settings):
    httpserver.expect_request(
        "/items", query_string="page=2", headers={"User-Agent": settings.OUTBOUND_USER_AGENT}
    ).respond_with_json({"items": [1, 2]})

    response = http_request("GET", stub_url(httpserver, "/items"), params={"page": 2})

    assert response.status_code == 200
    assert response.json() == {"items": [1, 2]}
    assert response.url == stub_url(httpserver, "/items?page=2")
    assert response.headers["Content-Type"] == "application/json"


def test_it_posts_json_with_the_idempotency_key_the_stub_sees(
    httpserver: HTTPServer, allow_loopback
):
    httpserver.expect_request(
        "/hooks", method="POST", json={"text": "hi"}, headers={"Idempotency-Key": "run-7-step-2"}
    ).respond_with_json({"ok": True}, status=201)

    response = http_request(
        "POST", stub_url(httpserver, "/hooks"), json={"text": "hi"}, idempotency_key="run-7-step-2"
    )

    assert (response.status_code, response.json()) == (201, {"ok": True})


def test_it_returns_an_error_status_instead_of_raising(httpserver: HTTPServer, allow_loopback):
    httpserver.expect_request("/broken").respond_with_data("oops", status=500)

    response = http_request("GET", stub_url(httpserver, "/broken"))

    assert (response.status_code, response.text) == (500, "oops")


def test_it_allows_a_host_name_on_the_allow_list_and_sends_it_as_the_host_header(
    httpserver: HTTPServer, settings
):
    settings.OUTBOUND_ALLOWED_HOSTS = ["Hook.Example"]
    httpserver.expect_request(
        "/ping", headers={"Host": f"hook.example:{httpserver.port}"}
    ).respond_with_data("pong")

    response = http_request(
        "GET",
        f"http://HOOK.example:{httpserver.port}/ping",
        resolver=resolving({"hook.example": ["127.0.0.1"]}),
    )

    assert response.text == "pong"


def test_it_allows_addresses_inside_an_allowed_cidr(httpserver: HTTPServer, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.0/8"]
    httpserver.expect_request("/ok").respond_with_data("ok")

    assert http_request("GET", stub_url(httpserver, "/ok")).text == "ok"


def test_an_allowed_cidr_does_not_allow_the_other_addresses_of_a_name(settings, connections):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.0/8"]

    with pytest.raises(OutboundRefused, match=r"resolves to 10\.0\.0\.1, which is a private"):
        http_request(
            "GET",
            "http://mixed.example/",
            resolver=resolving({"mixed.example": ["127.0.0.1", "10.0.0.1"]}),
        )
    assert connections == []


def test_an_allowed_host_name_does_not_allow_other_names(settings, connections):
    settings.OUTBOUND_ALLOWED_HOSTS = ["hook.example"]

    with pytest.raises(OutboundRefused):
        http_request(
            "GET", "http://other.example/", resolver=resolving({"other.example": ["127.0.0.1"]})
        )
    assert connections == []


def test_check_url_returns_the_vetted_addresses():
    resolver = resolving({"api.example": [PUBLIC_IP, "2606:2800:220:1::1"]})

    assert check_url("https://api.example/x", resolver=resolver) == [
        PUBLIC_IP,
        "2606:2800:220:1::1",
    ]


# --- Refusals ----------------------------------------------------------------------------------

REFUSED_HOSTS = [
    "127.0.0.1",
    "localhost",
    "localhost.",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "2130706433",
    "0177.0.0.1",
    "0.0.0.0",
    "169.254.169.254",
    "10.0.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "[fd00::1]",
    "[fe80::1]",
    "224.0.0.1",
    "internal.example",
    "rebind.example",
]
INTERNAL_ANSWERS = {"internal.example": ["fd00::1"], "rebind.example": [PUBLIC_IP, "127.0.0.1"]}


def resolver_for(host: str) -> Resolver | None:
    """Made-up names get canned answers; literals go to the real (local, numeric) resolver."""
    return resolving(INTERNAL_ANSWERS) if host in INTERNAL_ANSWERS else None


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_it_refuses_an_address_that_is_not_public(host, listener, connections):
    url = f"http://{host}:{port_of(listener)}/latest/meta-data/"

    with pytest.raises(OutboundRefused) as refused:
        http_request("GET", url, resolver=resolver_for(host))

    assert refused.value.retryable is False
    assert "not allowed for outbound requests" in refused.value.message
    assert connections == []
    assert_untouched(listener)


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_check_url_refuses_an_address_that_is_not_public(host):
    with pytest.raises(OutboundRefused):
        check_url(f"https://{host}/", resolver=resolver_for(host))


def test_it_explains_a_refusal_clearly():
    with pytest.raises(OutboundRefused) as refused:
        http_request("GET", "http://169.254.169.254/latest/meta-data/")

    assert refused.value.message == LINK_LOCAL_MESSAGE


@pytest.mark.parametrize(
    ("host", "explanation"),
    [
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 is a loopback address"),
        ("[::ffff:169.254.169.254]", "::ffff:169.254.169.254 is a link-local address"),
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),
        ("10.0.0.1", "10.0.0.1 is a private address"),
        ("[fd00::1]", "fd00::1 is a private address"),
        ("224.0.0.1", "224.0.0.1 is a multicast address"),
        ("100.64.0.1", "100.64.0.1 is a non-public address"),
        ("localhost.", "localhost. resolves to 127.0.0.1, which is a loopback address"),
    ],
)
def test_it_names_the_kind_of_address_it_refuses(host, explanation):
    with pytest.raises(OutboundRefused, match=re.escape(f"refused: {explanation} (not allowed")):
        check_url(f"http://{host}/")


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("file:///etc/passwd", "file"),
        ("gopher://127.0.0.1:70/_GET", "gopher"),
        ("ftp://example.com/", "ftp"),
        ("//example.com/", ""),
    ],
)
def test_it_refuses_schemes_other_than_http_and_https(url, scheme, allow_loopback, connections):
    with pytest.raises(OutboundRefused) as refused:
        http_request("GET", url)

    assert refused.value.message == (
        f"refused: scheme '{scheme}' is not allowed; use http or https"
    )
    assert connections == []


@pytest.mark.parametrize("url", ["http:///etc/passwd", "https://:443/", "http://a b/"])
def test_it_refuses_a_url_without_a_usable_host(url):
    with pytest.raises(OutboundRefused):
        http_request("GET", url)


# --- Address pinning and TLS -------------------------------------------------------------------


def test_it_connects_to_the_address_it_checked_when_dns_rebinds(listener, connections):
    answers = iter([[PUBLIC_IP], ["127.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    with pytest.raises(OutboundError) as failed:
        http_request("GET", f"http://rebind.example:{port_of(listener)}/", resolver=rebinding)

    assert connections == [(PUBLIC_IP, port_of(listener))]
    assert calls == ["rebind.example"]
    assert failed.value.retryable is True
    assert_untouched(listener)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for hook.example only (no IP address in it)."""
    assert shutil.which("openssl"), "openssl is needed to make a test certificate"
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=hook.example", "-keyout", str(key),
         "-out", str(cert), "-addext", "subjectAltName=DNS:hook.example"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(certificate, settings) -> Iterator[tuple[HTTPServer, list[str]]]:
    """An https stub for hook.example on 127.0.0.1, with the SNI names it was sent."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["hook.example"]
    server_names: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    context.sni_callback = lambda _sock, name, _context: server_names.append(name)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    yield server, server_names
    server.stop()


def tls_url(server: HTTPServer) -> str:
    return f"https://hook.example:{server.port}/secure"


HOOK_RESOLVER = resolving({"hook.example": ["127.0.0.1"]})


def test_it_verifies_the_certificate_against_the_host_name_it_sends_as_sni(tls_server):
    server, server_names = tls_server

    with pytest.raises(OutboundError) as failed:  # the self-signed certificate is not trusted
        http_request("GET", tls_url(server), resolver=HOOK_RESOLVER)

    assert server_names == ["hook.example"]
    assert failed.value.retryable is False
    assert "certificate" in failed.value.message


def test_it_completes_https_to_the_pinned_address_when_the_certificate_names_the_host(
    tls_server, certificate, monkeypatch
):
    server, _ = tls_server
    server.expect_request(
        "/secure", headers={"Host": f"hook.example:{server.port}"}
    ).respond_with_data("ok")
    monkeypatch.setattr("requests.adapters.DEFAULT_CA_BUNDLE_PATH", str(certificate[0]))

    response = http_request("GET", tls_url(server), resolver=HOOK_RESOLVER)

    assert response.text == "ok"


def test_it_ignores_proxy_settings_from_the_environment(
    httpserver: HTTPServer, allow_loopback, monkeypatch, connections
):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://10.9.9.9:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    httpserver.expect_request("/direct").respond_with_data("direct")

    assert http_request("GET", stub_url(httpserver, "/direct")).text == "direct"
    assert connections == [("127.0.0.1", httpserver.port)]


# --- Redirects ---------------------------------------------------------------------------------


def redirect(location: str, status: int = 302) -> Response:
    return Response(status=status, headers={"Location": location})


def test_it_follows_a_relative_redirect_to_an_allowed_address(
    httpserver: HTTPServer, allow_loopback
):
    httpserver.expect_request("/old").respond_with_response(redirect("/new"))
    httpserver.expect_request("/new").respond_with_data("moved here")

    response = http_request("GET", stub_url(httpserver, "/old"))

    assert (response.text, response.url) == ("moved here", stub_url(httpserver, "/new"))


def test_it_refuses_a_redirect_to_a_link_local_address(
    httpserver: HTTPServer, allow_loopback, connections
):
    httpserver.expect_request("/go").respond_with_response(
        redirect("http://169.254.169.254/latest/meta-data/")
    )

    with pytest.raises(OutboundRefused) as refused:
        http_request("GET", stub_url(httpserver, "/go"))

    assert refused.value.message == LINK_LOCAL_MESSAGE
    assert connections == [("127.0.0.1", httpserver.port)]


def test_it_refuses_a_redirect_to_a_file_url(httpserver: HTTPServer, allow_loopback):
    httpserver.expect_request("/go").respond_with_response(redirect("file:///etc/passwd"))

    with pytest.raises(OutboundRefused, match="scheme 'file' is not allowed"):
        http_request("GET", stub_url(httpserver, "/go"))


def test_an_allowed_host_name_does_not_allow_a_redirect_to_its_address(
    httpserver: HTTPServer, settings, connections
):
    settings.OUTBOUND_ALLOWED_HOSTS = ["hook.example"]
    httpserver.expect_request("/go").respond_with_response(
        redirect(f"http://127.0.0.1:{httpserver.port}/admin")
    )

    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 is a loopback address"):
        http_request("GET", f"http://hook.example:{httpserver.port}/go", resolver=HOOK_RESOLVER)
    assert len(httpserver.log) == 1


def test_it_stops_after_too_many_redirects(httpserver: HTTPServer, allow_loopback, settings):
    httpserver.expect_request("/loop").respond_with_response(redirect("/loop"))

    with pytest.raises(OutboundError, match="too many redirects") as failed:
        http_request("GET", stub_url(httpserver, "/loop"))

    assert failed.value.retryable is False
    assert len(httpserver.log) == settings.OUTBOUND_MAX_REDIRECTS + 1


def test_it_turns_a_post_into_a_get_after_a_303(httpserver: HTTPServer, allow_loopback):
    httpserver.expect_request("/submit", method="POST").respond_with_response(
        redirect("/result", 303)
    )
    httpserver.expect_request("/result", method="GET").respond_with_data("done")

    response = http_request("POST", stub_url(httpserver, "/submit"), json={"a": 1})

    assert response.text == "done"
    assert httpserver.log[1][0].get_data() == b""


def test_it_keeps_the_method_and_body_across_a_307(httpserver: HTTPServer, allow_loopback):
    httpserver.expect_request("/submit", method="POST").respond_with_response(
        redirect("/again", 307)
    )
    httpserver.expect_request("/again", method="POST", json={"a": 1}).respond_with_data("kept")

    assert http_request("POST", stub_url(httpserver, "/submit"), json={"a": 1}).text == "kept"


def test_it_drops_the_authorization_header_when_redirected_to_another_host(
    httpserver: HTTPServer, settings
):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1", "hook.example"]
    httpserver.expect_request("/start").respond_with_response(
        redirect(f"http://hook.example:{httpserver.port}/landing")
    )
    httpserver.expect_request("/landing").respond_with_data("landed")

    http_request(
        "GET",
        stub_url(httpserver, "/start"),
        headers={"Authorization": "Bearer s3cret"},
        resolver=HOOK_RESOLVER,
    )

    first, second = (request for request, _ in httpserver.log)
    assert first.headers["Authorization"] == "Bearer s3cret"
    assert "Authorization" not in second.headers


def test_it_returns_a_redirect_as_is_when_told_not_to_follow(
    httpserver: HTTPServer, allow_loopback
):
    httpserver.expect_request("/old").respond_with_response(redirect("/new", 301))

    response = http_request("GET", stub_url(httpserver, "/old"), follow_redirects=False)

    assert (response.status_code, response.headers["location"]) == (301, "/new")


# --- Size cap, timeouts, connection failures ---------------------------------------------------


def test_it_refuses_a_response_declared_larger_than_the_cap(httpserver: HTTPServer, allow_loopback):
    httpserver.expect_request("/big").respond_with_data(b"x" * 2000)

    with pytest.raises(OutboundError, match="response larger than 1000 bytes") as failed:
        http_request("GET", stub_url(httpserver, "/big"), max_bytes=1000)

    assert failed.value.retryable is False


def test_it_stops_reading_a_streamed_response_at_the_cap(
    httpserver: HTTPServer, allow_loopback, settings
):
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 50_000
    endless = (b"y" * 10_000 for _ in range(1_000))  # chunked, no Content-Length
    httpserver.expect_request("/stream").respond_with_response(Response(endless))

    with pytest.raises(OutboundError, match="response larger than 50000 bytes"):
        http_request("GET", stub_url(httpserver, "/stream"))


def test_it_reports_a_timeout_as_retryable(listener, allow_loopback):
    url = f"http://127.0.0.1:{port_of(listener)}/slow"

    with pytest.raises(OutboundError) as failed:
        http_request("GET", url, timeout_s=0.2)

    assert failed.value.retryable is True
    assert (
        failed.value.message
        == f"timed out after 0.2s talking to http://127.0.0.1:{port_of(listener)}"
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return port_of(sock)


def test_it_reports_a_refused_connection_as_retryable(allow_loopback):
    port = closed_port()

    with pytest.raises(OutboundError) as failed:
        http_request("GET", f"http://127.0.0.1:{port}/")

    assert failed.value.retryable is True
    assert failed.value.message == f"connection refused by http://127.0.0.1:{port}"


def test_its_error_messages_leave_out_credentials_path_and_query(allow_loopback):
    url = f"http://admin:hunter2@127.0.0.1:{closed_port()}/bot123:TOKEN/send?key=abc"

    with pytest.raises(OutboundError) as failed:
        http_request("GET", url)

    for secret in ("hunter2", "admin", "TOKEN", "abc"):
        assert secret not in str(failed.value)


@pytest.mark.parametrize(
    ("errno", "retryable"), [(socket.EAI_AGAIN, True), (socket.EAI_NONAME, False)]
)
def test_a_dns_failure_is_retryable_only_when_dns_says_try_again(errno, retryable):
    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(errno, "dns says no")

    with pytest.raises(OutboundError, match=r"could not resolve nowhere\.example") as failed:
        http_request("GET", "http://nowhere.example/", resolver=failing)

    assert failed.value.retryable is retryable
    assert not isinstance(failed.value, OutboundRefused)


# --- The response object -----------------------------------------------------------------------


def test_a_response_decodes_text_with_the_declared_charset():
    response = OutboundResponse(
        200, {"Content-Type": "text/plain; charset=latin-1"}, "café".encode("latin-1"), "u", 1
    )

    assert response.text == "café"


def test_a_response_raises_value_error_for_a_body_that_is_not_json():
    with pytest.raises(ValueError):
        OutboundResponse(200, {}, b"<html>", "u", 1).json()
