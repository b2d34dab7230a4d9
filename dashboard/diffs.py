"""Diff rows for display: the side-by-side table and the classified lines of a unified diff, as
the diff partial (``dashboard/partials/diff.html``) shows them. The diffs themselves come from
``versioning.selectors.version_compare`` (article versions) and
``workflows.revisions.workflow_revision_diff`` (workflow revisions)."""

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class SideBySideRow:
    kind: str  # equal, replace, delete, insert
    old_number: int | None
    old_text: str | None
    new_number: int | None
    new_text: str | None


@dataclass(frozen=True)
class UnifiedLine:
    kind: str  # header, hunk, add, remove, context
    text: str


def side_by_side(old_lines: list[str], new_lines: list[str]) -> list[SideBySideRow]:
    """One row per line pair: equal lines side by side, changed lines facing each other, an
    added or removed line across from an empty cell."""
    rows: list[SideBySideRow] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for offset in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + offset, j1 + offset
            rows.append(
                SideBySideRow(
                    kind=tag,
                    old_number=i + 1 if i < i2 else None,
                    old_text=old_lines[i] if i < i2 else None,
                    new_number=j + 1 if j < j2 else None,
                    new_text=new_lines[j] if j < j2 else None,
                )
            )
    return rows


def unified_lines(unified: str) -> list[UnifiedLine]:
    lines = unified.splitlines()
    classified = []
    for index, line in enumerate(lines):
        if index < 2 and line.startswith(("---", "+++")):
            kind = "header"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "remove"
        else:
            kind = "context"
        classified.append(UnifiedLine(kind=kind, text=line))
    return classified


@dataclass(frozen=True)
class DiffView:
    """Everything the diff partial shows: what is compared ("version 2", "revision 3"), the
    counts, the side-by-side rows and the unified lines."""

    old_label: str
    new_label: str
    added: int
    removed: int
    rows: list[SideBySideRow]
    unified: list[UnifiedLine]


def diff_view(
    *, old_label: str, new_label: str, old_lines: list[str], new_lines: list[str], unified: str
) -> DiffView:
    """The display of a diff from ``old_lines`` to ``new_lines`` (``unified`` is its unified
    text); lines added and removed are counted from the unified diff."""
    lines = unified_lines(unified)
    return DiffView(
        old_label=old_label,
        new_label=new_label,
        added=sum(line.kind == "add" for line in lines),
        removed=sum(line.kind == "remove" for line in lines),
        rows=side_by_side(old_lines, new_lines),
        unified=lines,
    )
