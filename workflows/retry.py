"""Retry policy of a step: how many attempts, and how long to wait before the next one."""

from dataclasses import dataclass
from typing import Any


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
        if self.backoff == "fixed":
            return min(self.delay_s, self.max_delay_s)
        return min(self.delay_s * 2 ** (attempt - 1), self.max_delay_s)
