"""What the JS/TS analyser checks at each call: sinks, any `query`/`execute`/`raw` method given
request data, and same-file helpers whose parameter reaches a sink."""

from __future__ import annotations

from tree_sitter import Node

from buildrunner.security.findings import Finding
from buildrunner.security.sql.javascript_context import JsContext, JsFunction
from buildrunner.security.sql.javascript_nodes import callee_name, text_of, unwrap
from buildrunner.security.sql.javascript_values import JsEvaluator, JsScope, JsValue
from buildrunner.security.sql.report import construction, sql_finding
from buildrunner.security.sql.sinks import (
    JS_QUERY_METHOD,
    JS_SINKS,
    Sink,
    index_sinks,
    looks_like_sql,
)

SINKS = index_sinks(JS_SINKS)
QUERY_METHOD_SINK = Sink("(query method)", "query method", "high", "strong")
_QUERY_PROPERTIES = ("sql", "text", "query")


class JsSinkChecks:
    """Mixed into the analyser: the checks that report (or, in a summary pass, only record)."""

    path: str
    findings: list[Finding]
    context: JsContext
    functions: list[JsFunction | None]
    seen: set[tuple[int, int]]

    def check_call(self, call: Node, scope: JsScope) -> None:
        function = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        if function is None or arguments is None or arguments.type != "arguments":
            return
        args = [child for child in arguments.named_children if child.type != "comment"]
        helper = self.context.function(call)
        if helper is not None:
            self._helper_call(call, function, helper, args, scope)
            return
        name = callee_name(function)
        sink = SINKS.get(name) if function.type == "member_expression" else None
        if sink is not None and len(args) > sink.arg_index:
            query = unwrap(args[sink.arg_index])
            if query.type == "object":
                query = _property(query, _QUERY_PROPERTIES) or query
            value = JsEvaluator(scope).value(query)
            self._note_sink_parameter(value, sink, _label(function))
            if self._reportable(sink, value):
                self._report(call, function, sink, value)
            return
        if args and JS_QUERY_METHOD.search(name):  # `runQuery(...)`, `repo.rawQuery(...)`
            value = JsEvaluator(scope).value(unwrap(args[0]))
            self._note_sink_parameter(value, QUERY_METHOD_SINK, _label(function), weak=True)
            if value.is_built and value.source:
                self._report(call, function, QUERY_METHOD_SINK, value)

    def _reportable(self, sink: Sink, value: JsValue) -> bool:
        if value.is_built:
            if sink.strength == "strong" or looks_like_sql(value.text, sink.shape):
                return True
            # request data built into the argument of `query`/`execute`/`raw`: whatever it reads like
            return value.source and bool(JS_QUERY_METHOD.search(sink.name))
        return value.source and bool(value.tainted) and sink.strength == "strong"

    def _note_sink_parameter(
        self, value: JsValue, sink: Sink, label: str, weak: bool = False
    ) -> None:
        """A parameter of the current function handed unchanged to a sink: its callers' concern."""
        current = self.functions[-1] if self.functions else None
        if current is None or value.is_built or len(value.tainted) != 1:
            return
        owner = self.context.owner(value.tainted[0])
        if owner is not None and owner[0] is current:
            current.sink_params.setdefault(owner[1], (sink, label))

    def _helper_call(
        self, call: Node, function: Node, helper: JsFunction, args: list[Node], scope: JsScope
    ) -> None:
        evaluator = JsEvaluator(scope)
        for index, (sink, label) in helper.sink_params.items():
            if index >= len(args):
                continue
            value = evaluator.value(unwrap(args[index]))
            through = f"{helper.name}() -> {label}"
            self._note_sink_parameter(value, sink, through)
            reportable = (
                self._reportable(sink, value)
                if sink is not QUERY_METHOD_SINK
                else value.is_built and value.source
            )
            if reportable:
                self._report(call, function, sink, value, through)
                return

    def _report(
        self, call: Node, function: Node, sink: Sink, value: JsValue, label: str | None = None
    ) -> None:
        if self.context.collecting:
            return
        key = (call.start_byte, call.end_byte)
        if key in self.seen:
            return
        self.seen.add(key)
        how = value.how or ("request" if value.source else "concat")
        self.findings.append(
            sql_finding(
                path=self.path,
                language="js",
                line=call.start_point.row + 1,
                column=call.start_point.column + 1,
                end_line=call.end_point.row + 1,
                how=how,
                construction=construction("js", how),
                expressions=[" ".join(text_of(item).split()) for item in value.tainted],
                label=label or _label(function),
                sink=sink,
                advice="use placeholders or a tagged sql template",
            )
        )


def _label(function: Node) -> str:
    label = " ".join(text_of(function).split())
    return label if len(label) <= 60 else "..." + label[-57:]


def _property(obj: Node, keys: tuple[str, ...]) -> Node | None:
    for pair in obj.named_children:
        if pair.type == "pair":
            key = pair.child_by_field_name("key")
            if key is not None and text_of(key).strip("'\"") in keys:
                return pair.child_by_field_name("value")
        elif pair.type == "shorthand_property_identifier" and text_of(pair) in keys:
            return pair
    return None
