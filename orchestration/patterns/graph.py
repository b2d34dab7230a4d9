"""The dependency graph of an orchestration's calls: ``{call_id: [ids it waits for]}``."""

from collections.abc import Mapping, Sequence


def cycle_find(call_ids: Sequence[str], dependencies: Mapping[str, Sequence[str]]) -> list[str]:
    """Return one cycle as a closed path (``["a", "b", "a"]``), or ``[]`` when there is none.

    Calls are explored in list order, so the same graph always reports the same cycle.
    """
    done: set[str] = set()
    for start in call_ids:
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, next_index = stack.pop()
            if next_index == 0:
                path.append(node)
                on_path.add(node)
            edges = list(dependencies.get(node, ()))
            if next_index < len(edges):
                stack.append((node, next_index + 1))
                child = edges[next_index]
                if child in on_path:
                    return [*path[path.index(child) :], child]
                if child not in done:
                    stack.append((child, 0))
                continue
            path.pop()
            on_path.discard(node)
            done.add(node)
    return []
