"""``webhook``: POSTs the message as JSON to a webhook, n8n or Zapier connection.

The body is signed ``X-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` with the
connection's ``credentials.signing_secret`` (when set), the same scheme our inbound webhooks
check, so a receiver can verify the message came from us and is fresh.
"""

from alerts.channels.base import PlatformChannel


class WebhookChannel(PlatformChannel):
    name = "webhook"
    platforms = ("webhook", "n8n", "zapier")
