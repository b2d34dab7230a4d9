"""A basic accessibility check run in the page: one h1 and no skipped heading levels, a label
for every form control, a name for every link and button, and WCAG AA text contrast (4.5:1, or
3:1 for large text) against the background actually behind the text."""

from pathlib import Path
from typing import Any

CHECK = (Path(__file__).parent / "a11y_check.js").read_text()


def accessibility_problems(page: Any) -> list[str]:
    return list(page.evaluate(CHECK))
