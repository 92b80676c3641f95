"""YAML parsing with line numbers: map a pydantic error location to a study-file line.

``yaml.safe_load`` gives the data; ``yaml.compose`` gives the node tree of the same text,
whose ``start_mark`` holds the 0-based line of every key and value.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from microtrial.errors import StudyError

MAX_VALUES = 100_000  # keys, values and items after expanding aliases; real study files have < 1,000


def expanded_size(node: yaml.Node | None) -> int:
    """Number of nodes the document has once every alias is expanded.

    Aliases make the node graph a DAG whose expansion can be exponential in the file size
    (a few hundred bytes of nested anchors expand to billions of values); counting with a
    per-node memo is linear in the number of distinct nodes and stops early once past
    :data:`MAX_VALUES`.
    """
    memo: dict[int, int] = {}

    def count(n: yaml.Node) -> int:
        key = id(n)
        if key in memo:
            return memo[key]
        total = 1
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                total += count(k) + count(v)
                if total > MAX_VALUES:
                    break
        elif isinstance(n, yaml.SequenceNode):
            for item in n.value:
                total += count(item)
                if total > MAX_VALUES:
                    break
        memo[key] = total
        return total

    return count(node) if node is not None else 0


def parse_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Read the study file; return ``(data, root node)``. Errors become a StudyError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StudyError(path, [f"{path}: no such file"]) from exc
    except IsADirectoryError as exc:
        raise StudyError(path, [f"{path}: is a folder, expected a study YAML file"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyError(path, [f"{path}: cannot read: {exc}"]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        size = expanded_size(node)
        if size > MAX_VALUES:
            raise StudyError(path, [f"{path}: YAML aliases expand to more than {MAX_VALUES:,} values "
                                    f"(an alias bomb?); a study file needs far fewer"])
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise StudyError(path, [f"{path}: {where}not valid YAML: {problem}"]) from exc
    except RecursionError as exc:
        raise StudyError(path, [f"{path}: not a usable study file: nested too deeply"]) from exc
    if data is None:
        raise StudyError(path, [f"{path}: the study file is empty"])
    if not isinstance(data, dict):
        raise StudyError(path, [f"{path}: line 1: expected a mapping of keys (name:, metadata:, ...)"])
    return data, node


def line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """1-based line of the deepest existing element of ``loc`` (a key's line for mappings).

    For a location that does not exist (a missing key) this is the line of its closest
    existing parent, which is where the user has to add it.
    """
    if node is None:
        return None
    line = None
    current: yaml.Node | None = node
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            found = None
            for key_node, value_node in current.value:
                if key_node.value == str(part):
                    found = (key_node, value_node)
                    break
            if found is None:
                return line
            line = found[0].start_mark.line + 1
            current = found[1]
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(current.value):
                return line
            current = current.value[part]
            line = current.start_mark.line + 1
        else:
            return line
    return line


def duplicate_keys(node: yaml.Node | None) -> list[tuple[int, tuple[str | int, ...], str]]:
    """``(line, parent location, key)`` for every key repeated within one mapping.

    ``yaml.safe_load`` silently keeps the last of repeated keys; a study file with two
    ``options:`` blocks is almost certainly a mistake, so it is reported.
    """
    found: list[tuple[int, tuple[str | int, ...], str]] = []
    visited: set[int] = set()

    def walk(n: yaml.Node, loc: tuple[str | int, ...]) -> None:
        if id(n) in visited:  # an aliased node: its keys were checked where it was defined
            return
        visited.add(id(n))
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in n.value:
                key = str(key_node.value)
                if key in seen:
                    found.append((key_node.start_mark.line + 1, loc, key))
                seen.add(key)
                walk(value_node, (*loc, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*loc, i))

    if node is not None:
        walk(node, ())
    return found
