"""``telegram``: sends through a Telegram bot connection to its ``config.chat_id``."""

from alerts.channels.base import PlatformChannel


class TelegramChannel(PlatformChannel):
    name = "telegram"
    platforms = ("telegram",)
