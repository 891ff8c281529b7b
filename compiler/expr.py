"""Charter's expression language: one small, safe language for rules, slices, guardrails and business metrics.

It is parsed with Python's `ast` and never evaluated with `eval`.

    tenure_months < 6 and contract == 'monthly'
    weather in ['rain', 'snow']
    5 * fn + 1 * fp
    not is_null(email) and length(lower(email)) > 3

Allowed: column names, literals (numbers, strings, `true`/`false`/`null`), `+ - * / // % **`,
comparisons (chained too), `and`/`or`/`not`, `in`/`not in` a list of literals, and the calls in
`FUNCTIONS`. Everything else (attributes, subscripts, lambdas, comprehensions, keyword
arguments, f-strings) is rejected with the offset of the offending part. `check` infers a type
for every node against a column -> type map, so unknown columns and type mistakes are found
when specs are validated, not when data is processed.

`lag(x, n)` and `diff(x, n)` read the row `n` rows before (`WINDOW_FUNCTIONS`): only a data
rule, which sees the whole table in order, may use them (`check(..., windows=True)`); a slice,
guardrail or metric sees one row or one count at a time.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

MAX_NODES = 400
MAX_DEPTH = 40

# name -> (argument types, result type); "any" matches anything, "same" returns the first argument's type.
FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "abs": (("number",), "number"),
    "log": (("number",), "number"),
    "exp": (("number",), "number"),
    "sqrt": (("number",), "number"),
    "round": (("number", "number?"), "number"),
    "min": (("number", "number", "number*"), "number"),
    "max": (("number", "number", "number*"), "number"),
    "lower": (("string",), "string"),
    "upper": (("string",), "string"),
    "length": (("string",), "number"),
    "is_null": (("any",), "boolean"),
    "not_null": (("any",), "boolean"),
    "coalesce": (("any", "any", "any*"), "same"),
    "lag": (("any", "number?"), "same"),
    "diff": (("number", "number?"), "number"),
}
# Functions of other rows: their first argument is a column, their second a literal count of rows.
WINDOW_FUNCTIONS = frozenset({"lag", "diff"})
MAX_LAG = 10_000
_CONSTANT_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in an expression: `offset` is 0-based into the expression text."""

    kind: str  # "syntax" | "column" | "type"
    message: str
    offset: int
    name: str | None = None  # the unknown column, for "did you mean"


class _Fail(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


def parse(text: str) -> ast.Expression | Problem:
    """Parse and check the shape of an expression; returns the tree or the first problem."""
    if "\n" in text.strip() or "\r" in text:
        return Problem("syntax", "an expression fits on one line", 0)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        msg = (exc.msg or "invalid syntax").lower()
        msg = msg if msg.startswith("invalid syntax") else f"invalid syntax: {msg}"
        return Problem("syntax", msg, max(0, (exc.offset or 1) - 1))
    except (ValueError, RecursionError, MemoryError):
        return Problem("syntax", "the expression is too complex or holds invalid characters", 0)
    try:
        _shape(tree.body, 0, [0])
    except _Fail as fail:
        return fail.problem
    return tree


def _shape(node: ast.AST, depth: int, count: list[int]) -> None:
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_NODES:
        raise _Fail(Problem("syntax", "the expression is too deeply nested or too long", 0))
    at = getattr(node, "col_offset", 0)
    if isinstance(node, ast.BoolOp | ast.Compare | ast.Name):
        pass
    elif isinstance(node, ast.BinOp):
        if not isinstance(node.op, _ARITH):
            raise _Fail(Problem("syntax", "only `+ - * / // % **` are allowed as operators", at))
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
            raise _Fail(Problem("syntax", "only `not`, `-` and `+` are allowed before a value", at))
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, bool | int | float | str | type(None)):
            raise _Fail(Problem("syntax", "only numbers, strings, true, false and null are literals", at))
    elif isinstance(node, ast.List | ast.Tuple):
        if not all(isinstance(e, ast.Constant) or _negative_number(e) for e in node.elts):
            raise _Fail(Problem("syntax", "a list may hold only literals", at))
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _Fail(Problem("syntax", "only plain function calls such as `lower(x)` are allowed", at))
        if node.func.id not in FUNCTIONS:
            raise _Fail(Problem("syntax", f"`{node.func.id}` is not a known function", at, name=node.func.id))
        if node.keywords:
            raise _Fail(Problem("syntax", "functions take no keyword arguments", at))
    else:
        raise _Fail(Problem("syntax", f"{_describe(node)} is not allowed in an expression", at))
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if not isinstance(op, _COMPARE):
                raise _Fail(Problem("syntax", "use `==`, `!=`, `<`, `<=`, `>`, `>=`, `in` or `not in`", at))
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn) and not isinstance(right, ast.List | ast.Tuple):
                raise _Fail(Problem("syntax", "`in` needs a list of literals, like `x in ['a', 'b']`", at))
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.expr_context | ast.boolop | ast.operator | ast.unaryop | ast.cmpop):
            _shape(child, depth + 1, count)


def _negative_number(node: ast.AST) -> bool:
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)


def _describe(node: ast.AST) -> str:
    names = {ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Lambda: "a lambda",
             ast.IfExp: "a conditional expression", ast.JoinedStr: "an f-string", ast.Dict: "a mapping",
             ast.Set: "a set", ast.Starred: "unpacking", ast.NamedExpr: "assignment", ast.Await: "await"}  # fmt: skip
    for kind, name in names.items():
        if isinstance(node, kind):
            return name
    if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        return "a comprehension"
    return type(node).__name__


def check(text: str, columns: dict[str, str], want: str = "boolean", windows: bool = False) -> list[Problem]:
    """Parse `text` and type it against `columns` (name -> number|string|boolean|datetime|any).

    Returns every unknown column and the first type problem; `want` is the type the whole
    expression must have ("boolean" for rules, slices and guardrails, "number" for metrics).
    `windows` allows `lag` and `diff`, which read other rows.

    Memoised: the answer depends on `columns` only through the names the expression holds, so
    it is keyed by those names' types. A large tree checks the same hundred texts against a
    thousand column maps; each text is parsed once, each distinct case typed once.
    """
    tree = _parsed(text)
    if isinstance(tree, Problem):
        return list(_check(text, (), want, windows))
    seen = tuple((n, columns[n]) for n in _names_in(text) if n in columns)
    return list(_check(text, seen, want, windows))


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> ast.Expression | Problem:
    """`parse`, once per text: the tree is shared, so only readers may see it (check, names)."""
    return parse(text)


@functools.lru_cache(maxsize=4096)
def _names_in(text: str) -> tuple[str, ...]:
    """Every `Name` of a parsed expression (function names too), sorted: what `check` may look up."""
    tree = _parsed(text)
    assert not isinstance(tree, Problem)
    return tuple(sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}))


@functools.lru_cache(maxsize=16384)
def _check(text: str, seen: tuple[tuple[str, str], ...], want: str, windows: bool) -> tuple[Problem, ...]:
    return tuple(_check_now(text, dict(seen), want, windows))


def _check_now(text: str, columns: dict[str, str], want: str, windows: bool) -> list[Problem]:
    tree = _parsed(text)
    lead = len(text) - len(text.lstrip())
    if isinstance(tree, Problem):
        return [Problem(tree.kind, tree.message, tree.offset + lead, tree.name)]
    problems: list[Problem] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in columns and node.id not in _CONSTANT_NAMES:
            if not _is_function_name(tree, node):
                problems.append(Problem("column", f"unknown column `{node.id}`", lead + node.col_offset, node.id))
    if problems:
        return problems
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.func.id in WINDOW_FUNCTIONS:  # type: ignore[attr-defined]
            problem = _window_call(node, windows)
            if problem is not None:
                return [Problem(problem.kind, problem.message, lead + problem.offset, problem.name)]
    try:
        got = _type(tree.body, columns)
    except _Fail as fail:
        return [Problem(fail.problem.kind, fail.problem.message, lead + fail.problem.offset, fail.problem.name)]
    if want != "any" and got not in (want, "any"):
        return [Problem("type", f"the expression gives a {got}, but a {want} is needed", lead)]
    return []


def _window_call(node: ast.Call, allowed: bool) -> Problem | None:
    name, at = node.func.id, node.col_offset  # type: ignore[attr-defined]  # _shape: plain names only
    if not allowed:
        return Problem("syntax", f"`{name}` reads other rows: only a ValidationSuite's `expression` rule may use it",
                       at)
    first = node.args[0] if node.args else None
    if not isinstance(first, ast.Name) or first.id in _CONSTANT_NAMES:
        return Problem("syntax", f"`{name}` takes a column as its first argument, such as `{name}(amount)`",
                       getattr(first, "col_offset", at))
    if len(node.args) == 2:
        count = node.args[1]
        if not (isinstance(count, ast.Constant) and type(count.value) is int and 1 <= count.value <= MAX_LAG):
            return Problem("syntax", f"`{name}`'s second argument is a whole number of rows from 1 to {MAX_LAG}",
                           getattr(count, "col_offset", at))
    return None


def _is_function_name(tree: ast.AST, name: ast.Name) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name for n in ast.walk(tree))


def names(text: str) -> set[str]:
    """The column names an expression reads (empty when it does not parse)."""
    tree = _parsed(text)
    if isinstance(tree, Problem):
        return set()
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls
            and n.id not in _CONSTANT_NAMES}  # fmt: skip


def _literal_type(value: object) -> str:
    if value is None:
        return "any"
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "string"


def _type(node: ast.AST, columns: dict[str, str]) -> str:  # noqa: C901 - one case per node type
    at = getattr(node, "col_offset", 0)
    if isinstance(node, ast.Constant):
        return _literal_type(node.value)
    if isinstance(node, ast.Name):
        if node.id in _CONSTANT_NAMES:
            return _literal_type(_CONSTANT_NAMES[node.id])
        return columns[node.id]
    if isinstance(node, ast.UnaryOp):
        inner = _type(node.operand, columns)
        want = "boolean" if isinstance(node.op, ast.Not) else "number"
        _expect(inner, want, node.operand, "`not` needs a boolean" if want == "boolean" else "`-` needs a number")
        return want
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _expect(_type(v, columns), "boolean", v, "`and`/`or` combine booleans")
        return "boolean"
    if isinstance(node, ast.BinOp):
        left, right = _type(node.left, columns), _type(node.right, columns)
        if isinstance(node.op, ast.Add) and left == right == "string":
            return "string"
        _expect(left, "number", node.left, "arithmetic needs numbers")
        _expect(right, "number", node.right, "arithmetic needs numbers")
        return "number"
    if isinstance(node, ast.Compare):
        left = _type(node.left, columns)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                for e in right_node.elts:  # type: ignore[attr-defined]  # _shape: `in` takes a list or tuple
                    _comparable(left, _type(e, columns), e, op)
                continue
            right = _type(right_node, columns)
            _comparable(left, right, right_node, op)
            left = right
        return "boolean"
    if isinstance(node, ast.Call):
        name = node.func.id  # type: ignore[attr-defined]  # _shape allows plain names as functions only
        params, result = FUNCTIONS[name]
        required = [p for p in params if not p.endswith(("?", "*"))]
        variadic = any(p.endswith("*") for p in params)
        if len(node.args) < len(required) or (not variadic and len(node.args) > len(params)):
            raise _Fail(Problem("type", f"`{name}` takes {_arity(params)} argument(s), got {len(node.args)}", at))
        types = []
        for i, arg in enumerate(node.args):
            spec = params[min(i, len(params) - 1)].rstrip("?*")
            got = _type(arg, columns)
            if spec != "any":
                _expect(got, spec, arg, f"`{name}` needs a {spec}")
            types.append(got)
        return types[0] if result == "same" else result
    raise _Fail(Problem("syntax", f"{_describe(node)} is not allowed in an expression", at))


def _arity(params: tuple[str, ...]) -> str:
    required = sum(not p.endswith(("?", "*")) for p in params)
    if any(p.endswith("*") for p in params):
        return f"at least {required}"
    return str(required) if required == len(params) else f"{required} to {len(params)}"


def _expect(got: str, want: str, node: ast.AST, why: str) -> None:
    if got not in (want, "any"):
        raise _Fail(Problem("type", f"{why}, but this is a {got}", getattr(node, "col_offset", 0)))


def _comparable(left: str, right: str, node: ast.AST, op: ast.cmpop) -> None:
    if "any" in (left, right) or left == right:
        return
    raise _Fail(Problem("type", f"cannot compare a {left} with a {right}", getattr(node, "col_offset", 0)))
