"""The only list of alert channels. Each names its class by dotted path, so the model's choices
come from here without importing the channels (and what they import)."""

from functools import cache
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from alerts.channels.base import Channel

CHANNELS: dict[str, str] = {
    "slack": "alerts.channels.slack.SlackChannel",
    "telegram": "alerts.channels.telegram.TelegramChannel",
    "email": "alerts.channels.email.EmailChannel",
    "webhook": "alerts.channels.webhook.WebhookChannel",
    "in_app": "alerts.channels.in_app.InAppChannel",
    "apprise": "alerts.channels.apprise.AppriseChannel",
}

_LABELS = {"in_app": "In-app", "email": "Email"}


class UnknownChannel(LookupError):
    pass


def channel_choices() -> list[tuple[str, str]]:
    return [(name, _LABELS.get(name, name.capitalize())) for name in CHANNELS]


@cache
def channel_get(name: str) -> "Channel":
    """Return the channel called ``name``; raises UnknownChannel."""
    try:
        path = CHANNELS[name]
    except KeyError:
        known = ", ".join(CHANNELS)
        raise UnknownChannel(f"Unknown channel '{name}'. Known: {known}.") from None
    channel: Channel = import_string(path)()
    return channel
