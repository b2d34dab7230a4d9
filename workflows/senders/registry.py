"""The only list of webhook senders, by the name a workflow gives in ``trigger.sender``. Each
names its class by dotted path, like the action registry."""

from functools import cache

from django.utils.module_loading import import_string

from workflows.senders.base import Sender

DEFAULT_SENDER = "generic"
SENDERS: dict[str, str] = {
    "generic": "workflows.senders.generic.GenericSender",
    "github": "workflows.senders.github.GitHubSender",
    "gitlab": "workflows.senders.gitlab.GitLabSender",
    "stripe": "workflows.senders.stripe.StripeSender",
    "slack": "workflows.senders.slack.SlackSender",
    "ghost": "workflows.senders.ghost.GhostSender",
}


class UnknownSender(LookupError):
    pass


@cache
def sender_get(name: str) -> Sender:
    """The sender called ``name``; raises UnknownSender, naming the known ones."""
    try:
        path = SENDERS[name]
    except KeyError:
        known = ", ".join(sorted(SENDERS))
        raise UnknownSender(f"Unknown sender {name!r}. Known: {known}.") from None
    sender: Sender = import_string(path)()
    return sender
