"""``slack``: posts through a Slack connection (incoming webhook, or the Web API and a channel)."""

from alerts.channels.base import PlatformChannel


class SlackChannel(PlatformChannel):
    name = "slack"
    platforms = ("slack",)
