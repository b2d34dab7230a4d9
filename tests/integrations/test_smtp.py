"""SMTP verify and send against a local aiosmtpd server with AUTH (and STARTTLS)."""

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integrations.platforms import smtp as smtp_platform
from integrations.platforms.base import Message
from integrations.platforms.registry import platform_get
from integrations.services import connection_verify
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

USER, PASSWORD = "mailer", "smtp-password-8c2e"


@dataclass
class Inbox:
    messages: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox


def serve(**smtp_parameters) -> tuple[Controller, SmtpServer]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticate, **smtp_parameters
    )
    controller.start()
    return controller, SmtpServer(port, inbox)


@pytest.fixture
def tls_server(tmp_path, monkeypatch, allow_loopback) -> Iterator[SmtpServer]:
    """STARTTLS with a certificate our client is made to trust; AUTH only after STARTTLS."""
    cert, key = self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    monkeypatch.setattr(
        smtp_platform, "tls_context", lambda: ssl.create_default_context(cafile=str(cert))
    )
    controller, server = serve(tls_context=server_context, auth_require_tls=True)
    yield server
    controller.stop()


@pytest.fixture
def plain_server(allow_loopback) -> Iterator[SmtpServer]:
    """No STARTTLS offered; AUTH in clear text."""
    controller, server = serve(auth_require_tls=False)
    yield server
    controller.stop()


def smtp_connection(server: SmtpServer, password: str = PASSWORD, **config):
    return ConnectionFactory(
        platform="smtp",
        webhook_url="",
        credentials={"password": password},
        config={"host": "127.0.0.1", "port": server.port, "username": USER,
                "from_email": "wfo@example.com", **config},
    )  # fmt: skip


def test_smtp_with_starttls_and_the_right_password_is_verified(tls_server):
    outcome = connection_verify(connection=smtp_connection(tls_server))
    assert outcome["is_verified"] is True, outcome["detail"]
    assert outcome["detail"] == f"127.0.0.1:{tls_server.port} accepted {USER} (NOOP 250)"


def test_smtp_with_a_wrong_password_is_not_verified(tls_server):
    outcome = connection_verify(connection=smtp_connection(tls_server, password="wrong-pass"))
    assert outcome["is_verified"] is False
    assert outcome["detail"].startswith("authentication failed (535")


def test_smtp_requiring_tls_is_not_verified_when_the_server_offers_no_starttls(plain_server):
    outcome = connection_verify(connection=smtp_connection(plain_server))
    assert outcome["is_verified"] is False
    assert "does not offer STARTTLS" in outcome["detail"]


def test_smtp_without_tls_logs_in_in_clear_text_when_allowed(plain_server):
    outcome = connection_verify(connection=smtp_connection(plain_server, use_tls=False))
    assert outcome["is_verified"] is True, outcome["detail"]


def test_an_untrusted_certificate_is_not_verified(tls_server, monkeypatch):
    monkeypatch.setattr(smtp_platform, "tls_context", ssl.create_default_context)
    outcome = connection_verify(connection=smtp_connection(tls_server))
    assert outcome["is_verified"] is False
    assert "certificate" in outcome["detail"].lower()


def test_smtp_send_delivers_an_email_to_the_recipients(tls_server):
    connection = smtp_connection(tls_server, recipients=["ops@example.com"])
    result = platform_get("smtp").send(
        connection, Message("Step fetch failed", title="Workflow failed", url="http://x/1")
    )
    assert result.ok, result.detail
    [email] = tls_server.inbox.messages
    assert b"Subject: Workflow failed" in email
    assert b"To: ops@example.com" in email
    assert b"Step fetch failed" in email


def test_an_smtp_host_on_a_private_address_is_refused_without_connecting(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    connection = ConnectionFactory(
        platform="smtp", webhook_url="", config={"host": "127.0.0.1", "port": 2525}
    )
    outcome = connection_verify(connection=connection)
    assert outcome["is_verified"] is False
    assert outcome["detail"].startswith("refused: 127.0.0.1 is a loopback address")
