"""What the Python analyser checks at each call and `return`: sinks, same-file helpers whose
parameter reaches a sink, Django expressions' `as_sql`, and SQL built here to be run elsewhere
(returned, or passed to a function this file does not define: reported at lower severity, as
bandit does).
"""

from __future__ import annotations

import ast

from buildrunner.security.findings import Finding
from buildrunner.security.sql.python_context import CallRecord, FunctionInfo, PyContext
from buildrunner.security.sql.python_values import Evaluator, PyValue
from buildrunner.security.sql.report import construction, sql_finding
from buildrunner.security.sql.sinks import (
    PASSED_ON_IGNORED,
    PYTHON_DB_MODULES,
    PYTHON_RETURN_SINKS,
    PYTHON_SINKS,
    PYTHON_STRONG_WHEN_IMPORTED,
    Sink,
    index_sinks,
    is_sql_statement,
    looks_like_sql,
)

SINKS = index_sinks(PYTHON_SINKS)
ELSEWHERE = Sink("(run elsewhere)", "built SQL", "medium", "strong")
_QUERY_KEYWORDS = ("sql", "query", "statement", "operation", "stmt")
_QUERY_OBJECTS = frozenset({"query", "dbsession", "session", "db_session"})


class SinkChecks:
    """Mixed into the analyser: the checks that report (or, in a summary pass, only record)."""

    path: str
    findings: list[Finding]
    context: PyContext
    seen: set[tuple[int, int]]
    functions: list[FunctionInfo | None]  # the function being analysed, innermost last
    return_sinks: list[Sink | None]
    returned: list[PyValue | None]  # what the function being analysed returns (so far)

    # calls
    def check_call(self, call: ast.Call, ev: Evaluator) -> None:
        func = call.func
        if isinstance(func, ast.Attribute):
            name, style = func.attr, "method"
        elif isinstance(func, ast.Name):
            name, style = func.id, "function"
        else:
            return
        helper = self.context.function(call)
        if helper is not None:
            self._helper_call(call, helper, ev)
            return
        sink = SINKS.get(name)
        if sink is not None and sink.call_style in (style, "any") and not _excluded(func, sink):
            self._sink_call(call, sink, ev, _label(func))
            return
        if not self.context.collecting:
            self._passed_on(call, name, ev)

    def _sink_call(self, call: ast.Call, sink: Sink, ev: Evaluator, label: str) -> None:
        strong = self.strong(sink) or (sink.shape == "fragment" and _on_query_object(call))
        for argument in _query_arguments(call, sink):
            value = ev.value(argument)
            self._note_sink_parameter(value, sink, label, strong)
            if self.reportable(sink, value, strong):
                self.report(call, sink, value, label)
                return

    def reportable(self, sink: Sink, value: PyValue, strong: bool) -> bool:
        """Does `value`, given to `sink` as the query, make a finding?"""
        if value.is_built:
            if strong or (value.source and sink.shape == "fragment"):
                return True
            return looks_like_sql(value.text, sink.shape)
        if value.source and value.tainted:  # request data handed over as the query itself
            if sink.shape == "fragment":
                return strong
            return strong or bool(self.context.imported & PYTHON_DB_MODULES)
        return False

    def strong(self, sink: Sink) -> bool:
        if sink.strength == "strong":
            return True
        modules = PYTHON_STRONG_WHEN_IMPORTED.get(sink.name, ())
        return any(module in self.context.imported for module in modules)

    def _note_sink_parameter(self, value: PyValue, sink: Sink, label: str, strong: bool) -> None:
        """A parameter of the current function handed unchanged to a sink: its callers' concern."""
        current = self.functions[-1] if self.functions else None
        if current is None or value.is_built or len(value.tainted) != 1:
            return
        owner = self.context.marker_owner.get(id(value.tainted[0]))
        if owner is not None and owner[0] is current:
            kept = Sink(
                sink.name,
                sink.family,
                sink.severity,
                "strong" if strong else sink.strength,
                shape=sink.shape,
            )
            current.sink_params.setdefault(owner[1], (kept, label))

    def _helper_call(self, call: ast.Call, helper: FunctionInfo, ev: Evaluator) -> None:
        mapped = self.context.arguments(helper, call)
        if self.context.collecting:
            helper.call_count += 1
        if mapped is None:
            if self.context.collecting:
                helper.escapes = True  # *args/**kwargs at a call site: the mapping is unknown
            return
        values = {index: ev.value(argument) for index, argument in mapped.items()}
        if self.context.collecting:
            for index, value in values.items():
                helper.call_values.setdefault(index, []).append(self._call_record(value))
        for index, (sink, label) in helper.sink_params.items():
            argument_value = values.get(index)
            if argument_value is None:
                continue
            value = argument_value
            through = f"{helper.name}() -> {label}"
            self._note_sink_parameter(value, sink, through, sink.strength == "strong")
            if self.reportable(sink, value, sink.strength == "strong"):
                self.report(call, sink, value, through)
                return

    def _call_record(self, value: PyValue) -> CallRecord:
        """Safe, unsafe, or as safe as the current function's parameters it is made of."""
        if value.is_safe:
            return True
        current = self.functions[-1] if self.functions else None
        depends: set[tuple[str, int]] = set()
        for item in value.tainted:
            owner = self.context.marker_owner.get(id(item))
            if current is None or owner is None or owner[0] is not current:
                return False
            depends.add((current.name, owner[1]))
        return frozenset(depends)

    def _passed_on(self, call: ast.Call, name: str, ev: Evaluator) -> None:
        if (
            name in PASSED_ON_IGNORED
            or name.endswith(("Error", "Exception", "Warning"))
            or (name.startswith("assert"))
        ):
            return
        for argument in [*call.args, *(keyword.value for keyword in call.keywords)]:
            if isinstance(argument, ast.Constant | ast.Lambda):
                continue
            value = ev.value(argument)
            if value.is_built and is_sql_statement(value.text):
                label = _label(call.func)
                self.report(
                    call,
                    ELSEWHERE,
                    value,
                    label,
                    reaches=f"is passed to {label}() to be run elsewhere",
                    flow="passed-on",
                )
                return

    # returns
    def check_return(self, node: ast.Return, ev: Evaluator) -> None:
        assert node.value is not None
        value = ev.value(node.value)
        if self.returned and self.context.collecting:
            previous = self.returned[-1]
            self.returned[-1] = value if previous is None else _either(previous, value)
        sink = self.return_sinks[-1] if self.return_sinks else None
        query = value.elements[0] if value.elements else value
        if self.context.collecting or not query.is_built:
            return
        if sink is not None:
            self.report(node, sink, query, sink.name, flow="returned")
        elif is_sql_statement(query.text):
            self.report(
                node,
                ELSEWHERE,
                query,
                "return",
                reaches="is returned, to be run elsewhere",
                flow="returned",
            )

    def report(
        self,
        node: ast.Call | ast.Return,
        sink: Sink,
        value: PyValue,
        label: str,
        *,
        reaches: str | None = None,
        flow: str | None = None,
    ) -> None:
        if self.context.collecting:
            return
        key = (node.lineno, node.col_offset)
        if key in self.seen:
            return
        self.seen.add(key)
        how = value.how or ("request" if value.source else "concat")
        self.findings.append(
            sql_finding(
                path=self.path,
                language="python",
                line=node.lineno,
                column=node.col_offset + 1,
                end_line=node.end_lineno or node.lineno,
                how=how,
                construction=construction("python", how),
                expressions=[source_text(item) for item in value.tainted],
                label=label,
                sink=sink,
                advice="pass values as query parameters",
                reaches=reaches,
                flow=flow,
            )
        )


def _either(first: PyValue, second: PyValue) -> PyValue:
    """Two `return`s: element-wise when both return tuples of one length."""
    from buildrunner.security.sql.taint import merge, tuple_of

    if first.elements and second.elements and len(first.elements) == len(second.elements):
        return tuple_of(
            [merge([a, b]) for a, b in zip(first.elements, second.elements, strict=True)]
        )
    return merge([first, second])


def _excluded(func: ast.expr, sink: Sink) -> bool:
    if not sink.not_receivers or not isinstance(func, ast.Attribute):
        return False
    receiver = func.value
    name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
    return name in sink.not_receivers


def _on_query_object(call: ast.Call) -> bool:
    """`session.query(User).filter(...)`, `request.dbsession.query(...)`: a SQLAlchemy query."""
    node: ast.expr = call.func
    while True:
        if isinstance(node, ast.Attribute):
            if node.attr in _QUERY_OBJECTS and node is not call.func:
                return True
            node = node.value
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "query":
                return True
            node = func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return isinstance(node, ast.Name) and node.id in _QUERY_OBJECTS


def _query_arguments(call: ast.Call, sink: Sink) -> list[ast.expr]:
    arguments: list[ast.expr] = []
    if len(call.args) > sink.arg_index and not isinstance(call.args[sink.arg_index], ast.Starred):
        arguments.append(call.args[sink.arg_index])
    for keyword in call.keywords:
        if keyword.arg in _QUERY_KEYWORDS or keyword.arg in sink.keywords:
            arguments.append(keyword.value)
    return arguments


def _label(func: ast.expr) -> str:
    text = source_text(func)
    return text if len(text) <= 60 else "..." + text[-57:]


def source_text(node: ast.expr) -> str:
    try:
        return " ".join(ast.unparse(node).split())
    except Exception:  # unparse of synthetic nodes; never fail a scan over a label
        return type(node).__name__


__all__ = ["PYTHON_RETURN_SINKS", "SinkChecks", "source_text"]
