"""``extract``: named JMESPath expressions read from a response body — by ``api_call`` steps and
by orchestration calls, checked and evaluated the same way."""

from collections.abc import Mapping
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError


def extract_errors(extract: Mapping[str, str]) -> list[str]:
    """One message per expression that does not compile."""
    errors = []
    for name, expression in extract.items():
        try:
            jmespath.compile(expression)
        except JMESPathError as exc:
            errors.append(f"{name}: invalid JMESPath: {exc}")
    return errors


def extract_values(extract: Mapping[str, str], body: Any) -> dict[str, Any]:
    """Each name's value in ``body``; raises JMESPathError when an expression fails on it."""
    return {name: jmespath.search(expression, body) for name, expression in extract.items()}
