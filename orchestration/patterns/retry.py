"""An orchestration's retry strategy: how often one call is tried, and how long to wait between."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows.retry import backoff_s

BACKOFFS = ("fixed", "exponential")
DEFAULT_RETRY_ON: tuple[int | str, ...] = (429, 500, 502, 503, 504, "timeout")
# A run is one task on one worker, which sleeps between attempts: waits stay short.
MAX_ATTEMPTS = 10
MAX_DELAY_S = 60.0
TIMEOUT = "timeout"


@dataclass(frozen=True)
class RetryStrategy:
    max_attempts: int = 1
    backoff: str = "exponential"
    delay_s: float = 1.0
    retry_on: tuple[int | str, ...] = DEFAULT_RETRY_ON

    @classmethod
    def from_dict(cls, strategy: Mapping[str, Any] | None) -> "RetryStrategy":
        """Build from a validated ``retry_strategy``; missing keys take the defaults."""
        strategy = strategy or {}
        return cls(
            max_attempts=int(strategy.get("max_attempts", 1)),
            backoff=str(strategy.get("backoff", "exponential")),
            delay_s=float(strategy.get("delay_s", 1.0)),
            retry_on=tuple(strategy.get("retry_on", DEFAULT_RETRY_ON)),
        )

    def retries(self, reason: int | str) -> bool:
        """Whether a status code (or ``"timeout"``) is one this strategy tries again."""
        return reason in self.retry_on

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), at most a minute."""
        return backoff_s(
            attempt, delay_s=self.delay_s, max_delay_s=MAX_DELAY_S, backoff=self.backoff
        )
