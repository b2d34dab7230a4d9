"""Reading delivery bodies the ways senders send them: JSON, or a form whose fields may carry
JSON. Nothing here is trusted: a body that does not read is a DeliveryInvalid."""

from typing import Any
from urllib.parse import parse_qsl

from core.parsing import InputRefused, json_loads
from workflows.senders.base import DeliveryInvalid, Headers

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def content_type(headers: Headers) -> str:
    """The media type alone, lower case without parameters such as ``; charset=utf-8``."""
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def first_header(headers: Headers, names: tuple[str, ...]) -> str | None:
    """The value of the first of ``names`` that is present and not empty."""
    return next((headers[name] for name in names if headers.get(name)), None)


def json_value(raw: bytes | str, *, what: str = "The body") -> Any:
    try:
        return json_loads(raw)
    except InputRefused as exc:
        raise DeliveryInvalid(f"{what}: {exc}") from None
    except ValueError:
        raise DeliveryInvalid(f"{what} is not valid JSON.") from None


def json_object(raw: bytes | str, *, what: str = "The body") -> dict[str, Any]:
    data = json_value(raw, what=what)
    if not isinstance(data, dict):
        raise DeliveryInvalid(f"{what} is JSON but not an object.")
    return data


def form_fields(body: bytes) -> dict[str, str]:
    """The fields of a form body; a field sent twice keeps its last value."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise DeliveryInvalid("The form body is not UTF-8.") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def text(value: Any) -> str | None:
    """A non-empty string read from a body, or None: an event name or an id is never a number
    or an object. (Its length is the service's to check.)"""
    return value if isinstance(value, str) and value else None
