"""Security settings that take more than a line: what production refuses to start with, and the
content security policy every page is served with.

Read by ``config.settings`` while settings load, so nothing here may import Django settings.
"""

import re

from django.core.exceptions import ImproperlyConfigured

# The embedded default's key: good enough on one laptop, refused in production.
DEFAULT_SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"  # noqa: S105
# What Django's deploy check (security.W009) asks of a key: long and not repetitive.
SECRET_KEY_MIN_CHARS = 50
SECRET_KEY_MIN_UNIQUE_CHARS = 5

# Scripts only from this site, never inline (no 'unsafe-inline', no 'unsafe-eval'): an injected
# <script> or onclick= does not run. Inline *styles* are allowed: the admin's change list and the
# API docs page carry a small <style> block, and style injection cannot run code.
CSP_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(**overrides: str) -> str:
    """The header value: CSP_DIRECTIVES with ``overrides`` (``frame_ancestors="https://cms.example"``
    for a page meant to be embedded). A view that sets its own header keeps it."""
    directives = {**CSP_DIRECTIVES, **{k.replace("_", "-"): v for k, v in overrides.items()}}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


# What DRF's throttles read: a count, a slash, and a period they know by its first letter.
_RATE = re.compile(r"[1-9]\d*/(s|sec|second|m|min|minute|h|hour|d|day)")


def rate_check(name: str, value: str) -> str:
    """``value`` when it is a rate like ``20/minute``; else ImproperlyConfigured naming ``name``
    (a malformed rate would otherwise fail every request that meets the throttle)."""
    if not _RATE.fullmatch(value.strip()):
        raise ImproperlyConfigured(f"{name} must be a rate like 20/minute, got {value!r}")
    return value.strip()


def production_check(*, debug: bool, secret_key: str) -> None:
    """Raise ImproperlyConfigured naming every setting production must not run with."""
    problems = []
    if debug:
        problems.append("DEBUG must be off (debug pages show settings and source code)")
    if secret_key == DEFAULT_SECRET_KEY:
        problems.append("SECRET_KEY must be set (the development default is public)")
    elif (
        len(secret_key) < SECRET_KEY_MIN_CHARS or len(set(secret_key)) < SECRET_KEY_MIN_UNIQUE_CHARS
    ):
        problems.append(
            f"SECRET_KEY must be at least {SECRET_KEY_MIN_CHARS} random characters (make one"
            " with: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    if problems:
        raise ImproperlyConfigured("DJANGO_ENV=production refuses to start: " + "; ".join(problems))
