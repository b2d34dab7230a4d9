"""Retry policy of a step: how many attempts, and how long to wait before the next one. The
backoff itself (``backoff_s``) is the one every retrying part of the product uses: steps, alert
deliveries and orchestration calls."""

from dataclasses import dataclass
from typing import Any


def backoff_s(
    attempt: int, *, delay_s: float, max_delay_s: float, backoff: str = "exponential"
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): ``delay_s`` each time
    (``fixed``) or doubling from it (``exponential``), never more than ``max_delay_s``."""
    if backoff == "fixed":
        return float(min(delay_s, max_delay_s))
    return float(min(delay_s * 2 ** (attempt - 1), max_delay_s))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 1
    backoff: str = "exponential"
    delay_s: float = 1.0
    max_delay_s: float = 300.0

    @classmethod
    def from_action(cls, action: dict[str, Any]) -> "RetryPolicy":
        retry = action.get("retry") or {}
        return cls(
            max_attempts=int(retry.get("max_attempts", 1)),
            backoff=str(retry.get("backoff", "exponential")),
            delay_s=float(retry.get("delay_s", 1.0)),
            max_delay_s=float(retry.get("max_delay_s", 300.0)),
        )

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return backoff_s(
            attempt, delay_s=self.delay_s, max_delay_s=self.max_delay_s, backoff=self.backoff
        )
