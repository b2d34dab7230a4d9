"""HMAC signatures for webhooks, outbound and inbound.

Our format, Stripe's: ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
The timestamp is signed, so a captured request cannot be replayed outside the tolerance; several
``v1`` values may be sent while a secret is rotated. GitHub's ``X-Hub-Signature-256: sha256=<hex>``
signs the body alone.
"""

import hashlib
import hmac
import re
from collections.abc import Iterable

SIGNATURE_HEADER = "X-Signature"
GITHUB_SIGNATURE_HEADER = "X-Hub-Signature-256"
DEFAULT_TOLERANCE_S = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, f'{timestamp}.'.encode() + body)}"


def signature_verify(
    header: str,
    body: bytes,
    secrets: Iterable[str],
    *,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """True when ``header`` carries a timestamp within ``tolerance_s`` of ``now`` (either way) and
    a ``v1`` signature of exactly these bytes under any of ``secrets``. Never raises."""
    timestamp, signatures = _parse(header)
    if timestamp is None or not signatures or abs(now - timestamp) > tolerance_s:
        return False
    signed = f"{timestamp}.".encode() + body
    expected = [_digest(secret, signed) for secret in secrets if secret]
    # Compare every pair, so the time taken does not tell which one matched.
    matches = [hmac.compare_digest(a, b) for a in expected for b in signatures]
    return any(matches)


def github_signature_verify(header: str, body: bytes, secrets: Iterable[str]) -> bool:
    """True when ``header`` is ``sha256=<hex>`` of ``body`` under any of ``secrets``. Never
    raises: a malformed header (non-ASCII, not hex) is simply not a match."""
    scheme, _, given = (header or "").strip().partition("=")
    if scheme != "sha256" or not _HEX_DIGEST.fullmatch(given):
        return False
    matches = [
        hmac.compare_digest(_digest(secret, body), given.lower()) for secret in secrets if secret
    ]
    return any(matches)


def _digest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int | None, list[str]]:
    """The timestamp and the ``v1`` signatures of an ``X-Signature`` value. Only ASCII digits
    make a timestamp and only hex digests a signature: ``str.isdigit`` takes "¹" and
    ``compare_digest`` raises on non-ASCII text, so anything else is ignored here."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif name == "v1" and _HEX_DIGEST.fullmatch(value):
            signatures.append(value.lower())
    return timestamp, signatures
