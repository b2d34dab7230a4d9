"""The only list of platforms. Each names its class by dotted path; model choices derive from it."""

from functools import cache

from django.utils.module_loading import import_string

from integrations.platforms.base import Platform

PLATFORMS: dict[str, str] = {
    "slack": "integrations.platforms.slack.Slack",
    "telegram": "integrations.platforms.telegram.Telegram",
    "github": "integrations.platforms.github.GitHub",
    "n8n": "integrations.platforms.webhooks.N8n",
    "zapier": "integrations.platforms.webhooks.Zapier",
    "webhook": "integrations.platforms.webhooks.Webhook",
    "smtp": "integrations.platforms.smtp.Smtp",
    "apprise": "integrations.platforms.apprise.Apprise",
}


class UnknownPlatform(LookupError):
    pass


@cache
def platform_get(name: str) -> Platform:
    """The platform class instance for ``name``; raises UnknownPlatform."""
    try:
        path = PLATFORMS[name]
    except KeyError:
        known = ", ".join(PLATFORMS)
        raise UnknownPlatform(f"Unknown platform '{name}'. Known: {known}.") from None
    platform: Platform = import_string(path)()
    return platform


def platform_choices() -> list[tuple[str, str]]:
    return [(name, platform_get(name).label) for name in PLATFORMS]
