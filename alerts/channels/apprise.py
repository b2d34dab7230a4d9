"""``apprise``: any service Apprise knows, through an apprise connection's ``credentials.url``.
Apprise is an optional extra; without it, deliveries fail with a message saying how to install."""

from alerts.channels.base import PlatformChannel


class AppriseChannel(PlatformChannel):
    name = "apprise"
    platforms = ("apprise",)
