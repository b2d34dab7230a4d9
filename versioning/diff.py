"""Line diffs between two content snapshots."""

import difflib
from collections.abc import Mapping
from typing import Any

# The order fields appear in the text that is diffed: metadata first, then the body.
_HEADER_FIELDS = ("title", "slug", "status", "excerpt", "meta_description")


def snapshot_text(snapshot: Mapping[str, Any] | None) -> list[str]:
    """A snapshot as lines: one ``field: value`` line per metadata field, a blank line, the body.

    The body is split on every newline, so each trailing newline is a line of its own and a
    change that only adds or removes one shows in the diff (``splitlines`` would hide it).
    An empty or missing snapshot is no lines, so version 1 diffs as all added.
    """
    if not snapshot:
        return []
    lines = [f"{name}: {snapshot.get(name, '')}" for name in _HEADER_FIELDS]
    lines.append("")
    content = str(snapshot.get("content", ""))
    lines.extend(content.split("\n") if content else [])
    return lines


def snapshot_diff(
    previous: Mapping[str, Any] | None,
    current: Mapping[str, Any],
    *,
    from_label: str,
    to_label: str,
) -> dict[str, Any]:
    """Return ``{"unified", "added", "removed"}`` for ``previous`` → ``current``."""
    unified = list(
        difflib.unified_diff(
            snapshot_text(previous),
            snapshot_text(current),
            fromfile=from_label,
            tofile=to_label,
            lineterm="",
        )
    )
    # Lines after the two file headers; "+++"/"---" inside the body are real changes.
    body = unified[2:]
    return {
        "unified": "\n".join(unified),
        "added": sum(1 for line in body if line.startswith("+")),
        "removed": sum(1 for line in body if line.startswith("-")),
    }
