"""Webhook senders: how each service that posts to a workflow's webhook URL signs its deliveries
and shapes its bodies. ``registry`` is the only list of them."""
