"""Workflows as code: definitions exported to and imported from JSON or YAML documents.

A document is ``{"version": 1, "workflows": [{name, description, workflow_type, trigger, actions,
schedule, max_concurrency, overlap_policy, is_active}, …]}``. Connections are referenced by name,
never by id and never with their secrets: an action param ``connection`` holding an id is
exported as ``{"name": "Team Slack"}``, and each id in a ``connections`` list likewise; an import
resolves the names back to the ids of the connections of the database it runs against. Webhook
tokens and signing secrets are never exported, nor a schedule's pause (``schedule_paused_until``
is the operator's, not the definition's). An import upserts by workflow name.
"""
