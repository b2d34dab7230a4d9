from django.conf import settings

from orchestration.patterns.base import Pattern


class ParallelPattern(Pattern):
    """Every call whose dependencies are done runs at once, on a pool of
    ``ORCHESTRATION_POOL_SIZE`` threads: wall time is the longest dependency chain, not the sum."""

    name = "parallel"
    label = "Parallel"

    def pool_size(self) -> int:
        return int(settings.ORCHESTRATION_POOL_SIZE)
