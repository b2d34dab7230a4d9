"""Django's EMAIL_* settings from one ``EMAIL_URL``, read by config/settings.py.

``smtp://user:password@host:587`` (STARTTLS unless ``?tls=false``), ``smtps://…:465`` (TLS from
the first byte), ``console://`` (print mail to the log) or ``locmem://`` (keep it in memory).
"""

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}
_FALSE = {"0", "false", "no", "off"}


def email_url_settings(url: str) -> dict[str, Any]:
    """The EMAIL_* settings ``url`` stands for; raises ImproperlyConfigured when malformed."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _BACKENDS:
        known = ", ".join(f"{name}://" for name in _BACKENDS)
        raise ImproperlyConfigured(f"EMAIL_URL must start with one of {known}")
    result: dict[str, Any] = {"EMAIL_BACKEND": _BACKENDS[scheme]}
    if scheme not in ("smtp", "smtps"):
        return result
    if not parts.hostname:
        raise ImproperlyConfigured("EMAIL_URL needs a host, e.g. smtp://user:pass@mail.example.com")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("EMAIL_URL has a malformed port") from None
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    implicit_tls = scheme == "smtps"
    result.update(
        EMAIL_HOST=parts.hostname,
        EMAIL_PORT=port or (465 if implicit_tls else 587),
        EMAIL_HOST_USER=unquote(parts.username or ""),
        EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
        EMAIL_USE_SSL=implicit_tls,
        EMAIL_USE_TLS=not implicit_tls and query.get("tls", "true").lower() not in _FALSE,
    )
    return result
