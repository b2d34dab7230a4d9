"""Absolute links to this site: in API answers, alert messages and shared posts.

A link names the server as the client reached it: SITE_URL when it is set (the operator knows
best, e.g. behind a proxy that rewrites the host); else, while serving a request, the request's
own scheme and host (``build_absolute_uri``: the host must pass ALLOWED_HOSTS, and the scheme is
the one PROXY_COUNT's proxies report); else — work done outside a request, such as alert
messages built by workers — SITE_URL_FALLBACK, ``http://HOST:PORT`` as ``manage.py serve`` listens
(serve exports SITE_URL to the processes it starts when the user did not set it).
"""

from django.conf import settings
from django.http import HttpRequest


def site_url(request: HttpRequest | None = None) -> str:
    """The site's root URL, without a trailing slash."""
    if settings.SITE_URL:
        return str(settings.SITE_URL)
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return str(settings.SITE_URL_FALLBACK)


def absolute_url(path: str, request: HttpRequest | None = None) -> str:
    """``path`` (starting with "/") as an absolute URL of this site."""
    return f"{site_url(request)}{path}"
