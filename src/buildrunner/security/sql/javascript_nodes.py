"""Reading tree-sitter nodes of JavaScript/TypeScript: text, callee names, parameters, patterns.

The lowest layer of the JS/TS analyser: the evaluator, the summaries and the analyser use it.
"""

from __future__ import annotations

from tree_sitter import Node

FUNCTION_TYPES = frozenset(
    {
        "function_declaration",
        "function_expression",
        "arrow_function",
        "method_definition",
        "generator_function_declaration",
        "generator_function",
        "function",
    }
)
# Wrappers that do not change the value (TypeScript casts, parentheses, await).
_TRANSPARENT = frozenset(
    {
        "parenthesized_expression",
        "as_expression",
        "satisfies_expression",
        "non_null_expression",
        "await_expression",
        "type_assertion",
    }
)


def text_of(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def callee_name(function: Node) -> str:
    """`db.query` -> `query`, `escape` -> `escape`."""
    if function.type == "member_expression":
        prop = function.child_by_field_name("property")
        return text_of(prop) if prop is not None else ""
    return text_of(function)


def unwrap(node: Node) -> Node:
    while node.type in _TRANSPARENT and node.named_child_count:
        inner = (
            node.named_children[-1] if node.type == "await_expression" else node.named_children[0]
        )
        node = inner
    return node


def parameter_names(function: Node) -> list[str]:
    """Names of a function's parameters, in order (destructured ones flattened)."""
    return [text_of(node) for node in parameter_nodes(function)]


def parameter_nodes(function: Node) -> list[Node]:
    """Identifier nodes of a function's parameters, in order (destructured ones flattened)."""
    params = function.child_by_field_name("parameters") or function.child_by_field_name("parameter")
    if params is None:
        return []
    if params.type == "identifier":
        return [params]
    nodes: list[Node] = []
    for child in params.named_children:
        pattern = child.child_by_field_name("pattern") or child
        if pattern.type == "assignment_pattern":
            pattern = pattern.child_by_field_name("left") or pattern
        nodes.extend(pattern_nodes(pattern))
    return nodes


def pattern_names(pattern: Node) -> list[str]:
    """Identifiers bound by a destructuring pattern."""
    return [text_of(node) for node in pattern_nodes(pattern)]


def pattern_nodes(pattern: Node) -> list[Node]:
    """Identifier nodes bound by a (possibly destructuring) pattern."""
    if pattern.type in ("identifier", "shorthand_property_identifier_pattern"):
        return [pattern]
    nodes: list[Node] = []
    for child in pattern.named_children:
        if child.type == "pair_pattern":
            value = child.child_by_field_name("value")
            if value is not None:
                nodes.extend(pattern_nodes(value))
        elif child.type == "assignment_pattern":
            left = child.child_by_field_name("left")
            if left is not None:
                nodes.extend(pattern_nodes(left))
        elif child.type not in ("property_identifier", "type_annotation"):
            nodes.extend(pattern_nodes(child))
    return nodes
