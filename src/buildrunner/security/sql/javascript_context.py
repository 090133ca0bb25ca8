"""Same-file helpers and request data for the JS/TS analyser.

A summary per named function (`function run(sql) {...}`, `const run = (sql) => ...`) says which
parameters it hands unchanged to a sink and what it returns in terms of its parameters, so a query
built in a route handler is followed into `runQuery(sql)`, and `orderClause("price")` is known to
be constant. Parameters are recognised by their byte range, which is stable across passes.

Request data: `req.query`, `req.params`, `req.body` (Express), `ctx.query`, `ctx.request.body`
(Koa), and a Lambda handler's `event` parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from buildrunner.security.sql.javascript_nodes import FUNCTION_TYPES, parameter_nodes, text_of
from buildrunner.security.sql.sinks import JS_REQUEST_DATA, Sink
from buildrunner.security.sql.taint import Value, merge
from buildrunner.security.sql.taint import substitute as substitute_parameters

JsValue = Value[Node]
Key = tuple[int, int]  # (start byte, end byte) of a parameter or function node


@dataclass
class JsFunction:
    """One named function of the file and what the analysis learned about it."""

    name: str
    key: Key
    params: list[str]
    param_keys: list[Key]
    sink_params: dict[int, tuple[Sink, str]] = field(default_factory=dict)
    returns: JsValue | None = None


@dataclass
class JsContext:
    """Per-file state shared by every scope of one analysis."""

    functions: dict[str, JsFunction] = field(default_factory=dict)
    by_key: dict[Key, JsFunction] = field(default_factory=dict)
    param_owner: dict[Key, tuple[JsFunction, int]] = field(default_factory=dict)
    collecting: bool = False

    def function(self, call: Node) -> JsFunction | None:
        callee = call.child_by_field_name("function")
        if callee is None or callee.type != "identifier":
            return None
        return self.functions.get(text_of(callee))

    def owner(self, node: Node) -> tuple[JsFunction, int] | None:
        return self.param_owner.get((node.start_byte, node.end_byte))


def collect_functions(root: Node, context: JsContext) -> bool:
    """Index named functions; True when the file calls one of them."""
    counts: dict[str, int] = {}
    stack = [root]
    calls: list[Node] = []
    while stack:
        node = stack.pop()
        if node.type == "call_expression":
            calls.append(node)
        named = _named_function(node)
        if named is not None:
            name, function = named
            counts[name] = counts.get(name, 0) + 1
            params = parameter_nodes(function)
            info = JsFunction(
                name,
                (function.start_byte, function.end_byte),
                [text_of(p) for p in params],
                [(p.start_byte, p.end_byte) for p in params],
            )
            context.functions[name] = info
        stack.extend(node.named_children)
    for name, count in counts.items():
        if count > 1:
            del context.functions[name]
    for info in context.functions.values():
        context.by_key[info.key] = info
        for index, key in enumerate(info.param_keys):
            context.param_owner[key] = (info, index)
    return any(context.function(call) is not None for call in calls)


def _named_function(node: Node) -> tuple[str, Node] | None:
    if node.type in ("function_declaration", "generator_function_declaration"):
        name = node.child_by_field_name("name")
        return (text_of(name), node) if name is not None else None
    if node.type == "variable_declarator":
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        if (
            name is not None
            and value is not None
            and name.type == "identifier"
            and (value.type in FUNCTION_TYPES)
        ):
            return text_of(name), value
    return None


def event_parameters(function: Node, name: str) -> set[str]:
    """`event` of a Lambda handler: `(event, context)`, `(event: APIGatewayProxyEvent)`, or a
    function whose name says it is a handler."""
    params = parameter_nodes(function)
    if not params or text_of(params[0]) != "event":
        return set()
    second = text_of(params[1]) if len(params) > 1 else ""
    annotation = params[0].next_named_sibling
    typed = (
        annotation is not None
        and annotation.type == "type_annotation"
        and text_of(annotation).rstrip().endswith("Event")
    )
    if second in ("context", "ctx", "_context") or typed or "handler" in name.lower():
        return {"event"}
    return set()


def declared_name(function: Node) -> str:
    """The name a function is known by: its own, its variable's, or `exports.handler`'s."""
    own = function.child_by_field_name("name")
    if own is not None:
        return text_of(own)
    parent = function.parent
    if parent is not None and parent.type == "variable_declarator":
        name = parent.child_by_field_name("name")
        return text_of(name) if name is not None else ""
    if parent is not None and parent.type in ("assignment_expression", "pair"):
        target = parent.child_by_field_name("left") or parent.child_by_field_name("key")
        return text_of(target) if target is not None else ""
    return ""


def is_request_data(node: Node) -> bool:
    """`req.query.id`, `req.body`, `request.params.x`, `ctx.request.body.name`, `ctx.query.q`."""
    chain: list[str] = []
    while node.type in ("member_expression", "subscript_expression"):
        if node.type == "member_expression":
            prop = node.child_by_field_name("property")
            chain.append(text_of(prop) if prop is not None else "")
        obj = node.child_by_field_name("object")
        if obj is None:
            return False
        node = obj
    if node.type != "identifier" or not chain:
        return False
    chain.reverse()
    allowed = JS_REQUEST_DATA.get(text_of(node))
    if allowed is None:
        return False
    if chain[0] == "request" and len(chain) > 1:  # ctx.request.body
        chain = chain[1:]
    return chain[0] in allowed


def substitute(
    value: JsValue, arguments: dict[int, JsValue], info: JsFunction, context: JsContext
) -> JsValue:
    """`value` (in terms of `info`'s parameters) as seen at a call with these arguments."""

    def parameter_index(node: Node) -> int | None:
        owner = context.owner(node)
        return owner[1] if owner is not None and owner[0] is info else None

    return substitute_parameters(value, arguments, parameter_index)


def either(first: JsValue | None, second: JsValue) -> JsValue:
    return second if first is None else merge([first, second])
