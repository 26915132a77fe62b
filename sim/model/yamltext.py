"""YAML as scenario and grid files are read: safe, strict and bounded.

On top of ``yaml.safe_load``: a key given twice in a mapping is an error naming the key and its lines;
aliases may not expand to more than ``MAX_NODES`` nodes (an "alias bomb" stays small as text and
explodes as data) nor refer to themselves; nesting deeper than ``MAX_DEPTH`` levels is an error. Every
problem is a :class:`~sim.errors.ScenarioError` of one line naming the file and the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.errors import ScenarioError

MAX_NODES = 200_000  # nodes of the document once its aliases are expanded
MAX_DEPTH = 64  # levels of nesting (a scenario needs about eight)
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping, and stops reading nesting deeper than
    MAX_DEPTH at once (PyYAML's scanner slows down quadratically with the depth of ``[[[…``)."""

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise _Bounded(f"line {self.get_mark().line + 1}: nested deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(token_class)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_DEPTH:
            raise _Bounded(f"line {self.get_mark().line + 1}: nested deeper than {MAX_DEPTH} levels")
        return super().add_indent(column)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE or not isinstance(key_node, ScalarNode):
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _Duplicate(f"line {line}: key {key!r} given twice (first on line {seen[key]})")
            seen[key] = line
        return super().construct_mapping(node, deep)


class _Duplicate(Exception):
    pass


def _check(root: Node) -> None:
    """Expanded size and depth of a node graph, without expanding it: each node's size once (memoised),
    a node reached again while under itself is a recursive alias."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    stack: list[tuple[Node, bool, int]] = [(root, False, 1)]
    active: set[int] = set()
    while stack:
        node, done, depth = stack.pop()
        key = id(node)
        if depth > MAX_DEPTH:
            raise _Bounded(f"line {node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
        children = ([n for pair in node.value for n in pair] if isinstance(node, MappingNode)
                    else list(node.value) if isinstance(node, SequenceNode) else [])
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            depths[key] = 1 + max((depths[id(child)] for child in children), default=0)
            if sizes[key] > MAX_NODES:
                raise _Bounded(f"line {node.start_mark.line + 1}: aliases expand to more than {MAX_NODES:,} values")
            if depth + depths[key] - 1 > MAX_DEPTH:
                raise _Bounded(f"line {node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
            continue
        if key in sizes:
            if depth + depths[key] - 1 > MAX_DEPTH:
                raise _Bounded(f"line {node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
            continue
        if key in active:
            raise _Bounded(f"line {node.start_mark.line + 1}: an alias refers to a value that contains it")
        active.add(key)
        stack.append((node, True, depth))
        stack.extend((child, False, depth + 1) for child in children if id(child) not in sizes)


class _Bounded(Exception):
    pass


def parse(text: str, source: str) -> Any:
    """The YAML document in ``text`` (``source`` names it in errors), checked as the module says."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # a character YAML does not allow
        raise ScenarioError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "not valid YAML"
        raise ScenarioError(f"{source}: not valid YAML: {where}{problem}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None
    except (_Duplicate, _Bounded) as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{source}: nested too deeply (more than {MAX_DEPTH} levels)") from None
    finally:
        loader.dispose()


def read(path: Path, what: str = "file") -> Any:
    """The YAML document in the file at ``path`` (``what`` it is, for errors)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start]:#x})") from None
    return parse(text, str(path))
