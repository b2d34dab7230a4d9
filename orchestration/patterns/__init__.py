"""Orchestration patterns: one small class per kind, in the only list of kinds.

Model choices derive from ``PATTERNS``; adding a pattern is one module and one line here.
"""

from orchestration.patterns.base import Pattern
from orchestration.patterns.conditional import ConditionalPattern
from orchestration.patterns.parallel import ParallelPattern
from orchestration.patterns.pipeline import PipelinePattern
from orchestration.patterns.sequential import SequentialPattern

PATTERNS: dict[str, type[Pattern]] = {
    pattern.name: pattern
    for pattern in (SequentialPattern, ParallelPattern, ConditionalPattern, PipelinePattern)
}
PATTERN_CHOICES = [(name, pattern.label) for name, pattern in PATTERNS.items()]


def pattern_get(name: str) -> Pattern:
    """The pattern called ``name``; raises KeyError for an unknown one."""
    return PATTERNS[name]()
