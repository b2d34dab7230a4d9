from orchestration.patterns.base import Pattern


class SequentialPattern(Pattern):
    """One call after another in dependency order (list order for ties); later calls template
    earlier results as ``calls.<id>``. The first failure stops the run."""

    name = "sequential"
    label = "Sequential"
