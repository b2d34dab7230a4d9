"""Rate limit strings: ``<count>/<unit>`` with unit s, m or h ("5/s", "60/m", "1000/h")."""

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_COUNT = 10_000
UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_RATE = re.compile(r"(\d+)\s*/\s*([a-z]+)")


@dataclass(frozen=True)
class Rate:
    count: int
    period_s: float

    def __str__(self) -> str:
        unit = {1: "s", 60: "m", 3600: "h"}[int(self.period_s)]
        return f"{self.count}/{unit}"


@lru_cache(maxsize=256)
def rate_parse(text: str | None) -> Rate | None:
    """The rate ``text`` states; None for none ("" or None). Raises ValueError saying why."""
    if text is None or not text.strip():
        return None
    match = _RATE.fullmatch(text.strip().lower())
    if match is None or match.group(2) not in UNITS:
        raise ValueError('A rate is "<count>/<unit>" with unit s, m or h, e.g. "5/s" or "60/m".')
    count = int(match.group(1))
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"The count must be from 1 to {MAX_COUNT}.")
    return Rate(count=count, period_s=float(UNITS[match.group(2)]))
