"""Marketers' templates: Jinja2 in a sandbox, bounded in time and in size.

Email subjects, HTML and text parts and SMS texts are Jinja2 templates written by
marketers. They render here, for one contact at a time, in an
`ImmutableSandboxedEnvironment` hardened further:

- no Python internals: any attribute or key starting with `_` is refused (at save
  time when written literally, at render time otherwise), and so are the sandbox's
  unsafe attributes; the error never shows the object;
- no file or network access: there is no loader, and `include`, `import` and
  `extends` are refused at save time;
- bounded time: every loop iteration, call, attribute access, operator and filter
  checks a deadline (`MAX_SECONDS` of the thread's CPU time, so a busy process does
  not fail renders; ten times that in wall-clock time at most), so nested loops are
  cut too;
- bounded size: `range` is limited to `MAX_RANGE` items, operators that multiply
  (`*`, `**`, `%` formatting, `str.format` widths, `center`, `join`, `replace`, ...)
  are checked before they allocate, every value a template builds is limited to
  `MAX_VALUE_SIZE` (an estimate of its printed size) and the output to
  `MAX_OUTPUT_CHARS`.

Any refusal or failure is a `TemplateError` carrying the template line when known.

Missing data renders empty: `contact.attributes.missing.deep` and `None` print as
nothing, and calling a method on a missing value gives a missing value. Arithmetic
and ordering comparisons on a missing value still fail (the send should not go out
with a wrong number).

`default` is marketer-friendly (a deliberate difference from stock Jinja, whose
`default` only replaces undefined values): `{{ contact.first_name | default('ami') }}`
gives 'ami' when the value is missing, None, or a blank string;
`default(x, true)` gives x for any falsy value (0, empty list, False, ...).

Callers pass the variables `contact` (dict), `event` (the trigger event's properties),
`scenario` ({"id", "name"}) and `unsubscribe_url` (str); `template_variables` builds
that mapping. Use `autoescape=True` for the HTML part and `False` for subjects, text
parts and SMS.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import math
import operator
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MappingView, Sequence, Set
from html.parser import HTMLParser
from typing import Any, cast

from jinja2 import nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.runtime import ChainableUndefined, Undefined, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, pass_eval_context
from jinja2.visitor import NodeTransformer

MAX_SOURCE_CHARS = 512 * 1024
MAX_OUTPUT_CHARS = 512 * 1024
MAX_VALUE_SIZE = 1024 * 1024
MAX_RANGE = 100_000
MAX_INT_BITS = 10_000
MAX_FORMAT_WIDTH = 1_000
MAX_SECONDS = 0.2
CACHE_SIZE = 128

_TEMPLATE_FILENAME = "<template>"
_LOOP_GUARD = "_parcours_loop"
_CONCAT_GUARD = "_parcours_concat"


class TemplateError(ValueError):
    """A template that cannot be saved or rendered. `line` is 1-based, None if unknown."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message}


# --------------------------------------------------------------------------- limits


class _Refused(Exception):
    """A limit or a policy refusal hit while checking or rendering."""


class _Budget:
    """The time a render may take: CPU time of the rendering thread (so that other
    threads holding the GIL do not count), with a wall-clock backstop ten times longer."""

    __slots__ = ("cpu_deadline", "seconds", "ticks", "wall_deadline")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ticks = 0
        self.cpu_deadline = time.thread_time() + seconds
        self.wall_deadline = time.monotonic() + max(10 * seconds, 1.0)


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "parcours_template_budget", default=None
)


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.ticks += 1
    if budget.ticks % 16:  # reading the clocks costs more than most steps
        return
    if time.thread_time() > budget.cpu_deadline or time.monotonic() > budget.wall_deadline:
        raise _Refused(f"rendering took longer than {round(budget.seconds * 1000)} ms")


def _too_large(what: str = "a value") -> _Refused:
    return _Refused(f"{what} is too large (limit {MAX_VALUE_SIZE} characters)")


def _weigh(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """Estimate the printed size of a value, refusing as soon as it exceeds `limit`.

    The walk stops early, so its cost is bounded by `limit` whatever the value."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item) + 2
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            bits = item.bit_length()
            if bits > MAX_INT_BITS:
                raise _Refused(f"a number is too large (limit {MAX_INT_BITS} bits)")
            total += bits // 3 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, Undefined):
            pass
        elif isinstance(item, Namespace):
            total += 13
            stack.append(item._Namespace__attrs)
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            if total > limit:
                raise _too_large()
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (Sequence, Set, MappingView)) and not isinstance(item, _BoundedRange):
            total += 2 + 2 * len(item)
            if total > limit:
                raise _too_large()
            stack.extend(cast(Iterable[Any], item))
        else:
            total += 32
        if total > limit:
            raise _too_large()
    return total


def _check_result(value: Any) -> Any:
    _weigh(value)
    return value


_PRINTF_SPEC = re.compile(r"%%|%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def _check_width(digits: str | None) -> None:
    if digits is None:
        return
    if digits == "*":
        raise _Refused("'*' widths are not allowed in format strings")
    if len(digits) > 6 or int(digits) > MAX_FORMAT_WIDTH:
        raise _Refused(f"format widths and precisions are limited to {MAX_FORMAT_WIDTH}")


def _check_printf(fmt: str | bytes) -> None:
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else str(fmt)
    for match in _PRINTF_SPEC.finditer(text):
        _check_width(match.group(1))
        _check_width(match.group(2))


def _check_format_string(fmt: str) -> None:
    for _literal, _field, spec, _conversion in string.Formatter().parse(str(fmt)):
        if not spec:
            continue
        if "{" in spec:
            raise _Refused("nested fields in a format specification are not allowed")
        for digits in _DIGITS.findall(spec):
            _check_width(digits)


def _check_mul(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int):
            if count > 0 and _weigh(seq) * count > MAX_VALUE_SIZE:
                raise _too_large("the result of '*'")
            return
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _Refused(f"a number is too large (limit {MAX_INT_BITS} bits)")


def _check_pow(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        if math.log2(abs(left)) * right > MAX_INT_BITS:
            raise _Refused(f"a number is too large (limit {MAX_INT_BITS} bits)")


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}


def _safe_binop(op: str, left: Any, right: Any) -> Any:
    _tick()
    if op == "*":
        _check_mul(left, right)
    elif op == "**":
        _check_pow(left, right)
    elif op == "%" and isinstance(left, (str, bytes)):
        _check_printf(left)
        _weigh(right)
    return _check_result(_BINOPS[op](left, right))


def _replace_size(s: Any, old: Any, new: Any, count: Any = None) -> None:
    if not isinstance(s, (str, bytes)) or not isinstance(old, (str, bytes)) or not isinstance(new, (str, bytes)):
        return
    try:
        hits = s.count(old)  # type: ignore[arg-type]  # str with bytes raises TypeError, caught below
    except TypeError:
        return
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(s) + hits * (len(new) - len(old)) > MAX_VALUE_SIZE:
        raise _too_large("the result of 'replace'")


def _bounded_strings(items: Any, separator_size: int) -> list[Any]:
    """Turn items into strings for a join, refusing before the result gets too large."""
    out: list[Any] = []
    total = 0
    for item in items:
        _tick()
        if not isinstance(item, str) and not hasattr(item, "__html__"):
            _weigh(item)
            item = str(item)
        total += len(str(item)) + separator_size
        if total > MAX_VALUE_SIZE:
            raise _too_large("the result of 'join'")
        out.append(item)
    return out


def _check_method_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Pre-check the builtin methods that can allocate much more than their inputs."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", None)
    if isinstance(owner, (str, bytes)):
        if name in ("center", "ljust", "rjust", "zfill"):
            width = args[0] if args else kwargs.get("width")
            if isinstance(width, int) and width > MAX_VALUE_SIZE:
                raise _too_large(f"the result of {name!r}")
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            if isinstance(tabsize, int) and len(owner) + tabs * tabsize > MAX_VALUE_SIZE:
                raise _too_large("the result of 'expandtabs'")
        elif name == "replace" and len(args) >= 2:
            _replace_size(owner, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count"))
        elif name == "join" and len(args) == 1 and isinstance(owner, str):
            return (_bounded_strings(args[0], len(owner)),)
    elif isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        if isinstance(length, int) and length > 1024:
            raise _too_large("the result of 'to_bytes'")
    return args


# --------------------------------------------------------------------- globals, filters


class _BoundedRange:
    """`range` for templates: at most MAX_RANGE items, and iteration checks the deadline."""

    __slots__ = ("_range",)

    def __init__(self, *args: int) -> None:
        rng = range(*args)
        if len(rng) > MAX_RANGE:
            raise _Refused(f"range() is limited to {MAX_RANGE} items")
        self._range = rng

    def __len__(self) -> int:
        return len(self._range)

    def __iter__(self) -> Iterator[int]:
        for item in self._range:
            _tick()
            yield item

    def __contains__(self, item: object) -> bool:
        return item in self._range

    def __getitem__(self, index: Any) -> Any:
        value = self._range[index]
        if isinstance(value, range):
            return _BoundedRange(value.start, value.stop, value.step)
        return value

    def __repr__(self) -> str:
        return repr(self._range)


def _guard_loop(value: Any) -> Iterator[Any]:
    """Wrapped around every `{% for %}` iterable: each iteration checks the deadline."""
    _tick()
    iterator = iter(value)

    def guarded() -> Iterator[Any]:
        for item in iterator:
            _tick()
            yield item

    return guarded()


@pass_eval_context
def _guard_concat(eval_ctx: Any, parts: list[Any]) -> str:
    """Replaces the `~` operator: checks the size of the operands before joining them."""
    _tick()
    total = 0
    for part in parts:
        total += _weigh(part)
        if total > MAX_VALUE_SIZE:
            raise _too_large("the result of '~'")
    return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


def _is_blank(value: Any) -> bool:
    return isinstance(value, Undefined) or value is None or (isinstance(value, str) and not value.strip())


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """`default`: missing, None and blank strings take the default; with boolean=True,
    every falsy value does."""
    if _is_blank(value) or (boolean and not value):
        return default_value
    return value


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    _weigh(value)
    return value


# Pre-checks of filters that can allocate much more than their inputs. Each receives
# the bound arguments (by parameter name) and may replace some.


def _pre_center(a: dict[str, Any]) -> None:
    width = a.get("width", 80)
    if isinstance(width, int) and width > MAX_VALUE_SIZE:
        raise _too_large("the result of 'center'")


def _pre_indent(a: dict[str, Any]) -> None:
    width = a.get("width", 4)
    text = str(a.get("s", ""))
    size = width if isinstance(width, int) else len(str(width))
    if len(text) + (text.count("\n") + 1) * max(size, 0) > MAX_VALUE_SIZE:
        raise _too_large("the result of 'indent'")


def _pre_wordwrap(a: dict[str, Any]) -> None:
    text = str(a.get("s", ""))
    width = a.get("width", 79)
    wrap = a.get("wrapstring") or "\n"
    lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
    if len(text) + lines * len(str(wrap)) > MAX_VALUE_SIZE:
        raise _too_large("the result of 'wordwrap'")


def _pre_replace(a: dict[str, Any]) -> None:
    _replace_size(str(a.get("s", "")), a.get("old"), a.get("new"), a.get("count"))


def _pre_join(a: dict[str, Any]) -> None:
    if a.get("attribute") is None:
        a["value"] = _bounded_strings(a.get("value", ()), len(str(a.get("d", ""))))


def _pre_format(a: dict[str, Any]) -> None:
    value = a.get("value")
    if isinstance(value, str):
        _check_printf(value)


def _pre_tojson(a: dict[str, Any]) -> None:
    indent = a.get("indent")
    if indent is not None and (len(str(indent)) > 2 or (isinstance(indent, int) and indent > 16)):
        raise _Refused("tojson indent is limited to 16")


def _pre_batch_slice(a: dict[str, Any]) -> None:
    for key in ("linecount", "slices"):
        count = a.get(key)
        if isinstance(count, int) and count > MAX_RANGE:
            raise _Refused(f"{key} is limited to {MAX_RANGE}")


_FILTER_PRECHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "wordwrap": _pre_wordwrap,
    "replace": _pre_replace,
    "join": _pre_join,
    "format": _pre_format,
    "tojson": _pre_tojson,
    "batch": _pre_batch_slice,
    "slice": _pre_batch_slice,
}


def _guard_filter(name: str, func: Callable[..., Any], *, is_filter: bool = True) -> Callable[..., Any]:
    """Wrap a filter or a test: deadline, size of the inputs, pre-check, size of the result."""
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    precheck = _FILTER_PRECHECKS.get(name) if is_filter else None
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):  # pragma: no cover - every builtin filter has one
        signature = None

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        for arg in args[skip:]:
            _weigh(arg)
        for arg in kwargs.values():
            _weigh(arg)
        if precheck is not None and signature is not None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            precheck(bound.arguments)
            args, kwargs = tuple(bound.args), dict(bound.kwargs)
        return _check_result(func(*args, **kwargs))

    guarded.parcours_precheck = (signature, precheck)  # type: ignore[attr-defined]
    return guarded


# --------------------------------------------------------------------------- environment


class _Missing(ChainableUndefined):
    """Missing data: prints empty, chains through attributes, items and calls."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> _Missing:  # type: ignore[override]  # jinja2 raises here
        return self


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(_BINOPS)

    @staticmethod
    def concat(parts: Any) -> str:
        """Joins macro bodies, `{% set %}` blocks, `caller()`...: size-checked first."""
        parts = list(parts)
        if sum(len(part) for part in parts) > MAX_VALUE_SIZE:
            raise _too_large("a block")
        return "".join(parts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return _safe_binop(operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(f"access to {attribute!r} is not allowed")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt = value.__self__

        @functools.wraps(wrapper)
        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format_string(fmt)
            return wrapper(*args, **kwargs)

        return checked

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        for arg in args:
            _weigh(arg)
        for arg in kwargs.values():
            _weigh(arg)
        args = _check_method_call(obj, args, kwargs)
        return _check_result(super().call(context, obj, *args, **kwargs))


def _make_environment(autoescape: bool) -> _Environment:
    env = _Environment(
        autoescape=autoescape,
        undefined=_Missing,
        finalize=_finalize,
        optimized=False,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=0,
    )
    env.globals.pop("lipsum", None)
    env.globals["range"] = _BoundedRange
    env.filters["default"] = env.filters["d"] = _default
    for name, func in list(env.filters.items()):
        env.filters[name] = _guard_filter(name, func)
    for name, func in list(env.tests.items()):
        env.tests[name] = _guard_filter(name, cast(Callable[..., Any], func), is_filter=False)
    env.filters[_LOOP_GUARD] = _guard_loop
    env.filters[_CONCAT_GUARD] = _guard_concat
    return env


_ENVIRONMENTS = {True: _make_environment(True), False: _make_environment(False)}


# ------------------------------------------------------------------------ static checks


class _NotConstant(Exception):
    pass


class _StaticChecker:
    """Refuses at save time what can be refused without data."""

    def __init__(self, env: _Environment) -> None:
        self.env = env
        self.constants: dict[int, Any] = {}

    def fail(self, node: nodes.Node, message: str) -> TemplateError:
        return TemplateError(message, getattr(node, "lineno", None))

    def run(self, tree: nodes.Template) -> None:
        for node in tree.find_all(nodes.Node):
            self.visit(node)

    def visit(self, node: nodes.Node) -> None:
        if isinstance(node, (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            raise self.fail(node, "templates cannot include, import or extend other templates")
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise self.fail(node, f"access to {node.attr!r} is not allowed")
        if isinstance(node, nodes.Getitem):
            key = node.arg
            if isinstance(key, nodes.Const) and isinstance(key.value, str) and key.value.startswith("_"):
                raise self.fail(node, f"access to {key.value!r} is not allowed")
        if isinstance(node, (nodes.Filter, nodes.Test)):
            self.check_filter(node)
        if isinstance(node, nodes.BinExpr):
            self.constant_or_none(node)
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "range":
            self.check_range(node)

    def check_filter(self, node: nodes.Filter | nodes.Test) -> None:
        kind = "filter" if isinstance(node, nodes.Filter) else "test"
        table = self.env.filters if kind == "filter" else self.env.tests
        if node.name.startswith("_") or node.name not in table:
            raise self.fail(node, f"unknown {kind} {node.name!r}")
        if kind == "filter" and node.name == "attr" and node.args:
            first = node.args[0]
            if isinstance(first, nodes.Const) and isinstance(first.value, str) and first.value.startswith("_"):
                raise self.fail(node, f"access to {first.value!r} is not allowed")
        signature, precheck = getattr(table[node.name], "parcours_precheck", (None, None))
        if precheck is None or signature is None or node.node is None or node.dyn_args or node.dyn_kwargs:
            return
        try:
            value = self.constant(node.node)
            args = [self.constant(arg) for arg in node.args]
            kwargs = {str(kw.key): self.constant(kw.value) for kw in node.kwargs}
        except _NotConstant:
            return
        lead = [None] if getattr(table[node.name], "jinja_pass_arg", None) is not None else []
        try:
            bound = signature.bind(*lead, value, *args, **kwargs)
        except TypeError as exc:
            raise self.fail(node, f"{node.name}: {exc}") from None
        bound.apply_defaults()
        try:
            precheck(dict(bound.arguments))
        except _Refused as exc:
            raise self.fail(node, str(exc)) from None

    def check_range(self, node: nodes.Call) -> None:
        if node.kwargs or node.dyn_args or node.dyn_kwargs:
            return
        try:
            args = [self.constant(arg) for arg in node.args]
        except _NotConstant:
            return
        if all(isinstance(arg, int) for arg in args) and 1 <= len(args) <= 3:
            try:
                size = len(range(*args))
            except (ValueError, OverflowError) as exc:
                raise self.fail(node, f"range(): {exc}") from None
            if size > MAX_RANGE:
                raise self.fail(node, f"range() is limited to {MAX_RANGE} items")

    def constant_or_none(self, node: nodes.Expr) -> Any:
        try:
            return self.constant(node)
        except _NotConstant:
            return None

    def constant(self, node: nodes.Node) -> Any:
        """Evaluate a constant expression with the render-time guards, or _NotConstant."""
        key = id(node)
        if key in self.constants:
            value = self.constants[key]
            if value is _NotConstant:
                raise _NotConstant
            return value
        try:
            value = self._evaluate(node)
        except _NotConstant:
            self.constants[key] = _NotConstant
            raise
        except _Refused as exc:
            raise self.fail(node, str(exc)) from None
        except RecursionError:
            raise self.fail(node, "expression too deeply nested") from None
        except Exception as exc:
            raise self.fail(node, f"{type(exc).__name__}: {exc}") from None
        self.constants[key] = value
        return value

    def _evaluate(self, node: nodes.Node) -> Any:
        if isinstance(node, nodes.Const):
            return node.value
        if isinstance(node, nodes.BinExpr):
            return _safe_binop(node.operator, self.constant(node.left), self.constant(node.right))
        if isinstance(node, nodes.List):
            return [self.constant(item) for item in node.items]
        if isinstance(node, nodes.Tuple):
            return tuple(self.constant(item) for item in node.items)
        if isinstance(node, nodes.Neg):
            return -self.constant(node.node)
        if isinstance(node, nodes.Pos):
            return +self.constant(node.node)
        raise _NotConstant


class _Guards(NodeTransformer):
    """Rewrites the tree: loop iterables and `~` go through the guard filters."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _LOOP_GUARD, [], [], None, None, lineno=node.iter.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        operands = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(operands, _CONCAT_GUARD, [], [], None, None, lineno=node.lineno)


def _template(source: str, autoescape: bool) -> Any:
    if not isinstance(source, str):
        raise TemplateError("a template must be a string")
    return _compile(source, bool(autoescape))


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile(source: str, autoescape: bool) -> Any:
    """Check and compile a template; the result is cached by source."""
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateError(f"the template is too long (limit {MAX_SOURCE_CHARS} characters)")
    env = _ENVIRONMENTS[autoescape]
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "syntax error", exc.lineno) from None
    except RecursionError:
        raise TemplateError("the template is too deeply nested") from None
    try:
        _StaticChecker(env).run(tree)
        tree = _Guards().visit(tree)
        tree.set_environment(env)
        code = env.compile(tree)
        return env.template_class.from_code(env, code, env.make_globals(None), None)
    except TemplateError:
        raise
    except TemplateSyntaxError as exc:  # includes unknown filters or tests found by the compiler
        raise TemplateError(exc.message or "syntax error", exc.lineno) from None
    except RecursionError:
        raise TemplateError("the template is too deeply nested") from None
    except Exception as exc:  # pragma: no cover - a compiler failure not foreseen above
        raise TemplateError(f"the template cannot be compiled: {type(exc).__name__}") from None


# ----------------------------------------------------------------------------- public API


def check(source: str) -> None:
    """Check a template at save time: syntax, known filters and tests, no include,
    no access to `_` attributes, no constant expression over the limits.

    Raises TemplateError with the line number and message."""
    _template(source, False)


def template_variables(
    *,
    contact: Mapping[str, Any],
    event: Mapping[str, Any] | None = None,
    scenario: Mapping[str, Any] | None = None,
    unsubscribe_url: str = "",
) -> dict[str, Any]:
    """The variables a template sees."""
    return {
        "contact": contact,
        "event": event or {},
        "scenario": scenario or {},
        "unsubscribe_url": unsubscribe_url,
    }


def _runtime_line(exc: BaseException) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _runtime_message(exc: BaseException) -> str:
    if isinstance(exc, (_Refused, SecurityError)):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "too much recursion"
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, JinjaTemplateError):
        message = exc.message or type(exc).__name__
    else:
        message = f"{type(exc).__name__}: {exc}"
    return message if len(message) <= 300 else message[:297] + "..."


def render(
    source: str,
    variables: Mapping[str, Any],
    *,
    autoescape: bool,
    max_seconds: float = MAX_SECONDS,
    max_output: int = MAX_OUTPUT_CHARS,
) -> str:
    """Render a template for one contact. Raises TemplateError on any failure or limit."""
    template = _template(source, autoescape)
    token = _BUDGET.set(_Budget(max_seconds))
    try:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(dict(variables)):
            size += len(chunk)
            if size > max_output:
                raise _Refused(f"the output is too large (limit {max_output} characters)")
            _tick()
            parts.append(chunk)
        return "".join(parts)
    except TemplateError:
        raise
    except Exception as exc:
        raise TemplateError(_runtime_message(exc), _runtime_line(exc)) from None
    finally:
        _BUDGET.reset(token)


# --------------------------------------------------------------------------- html_to_text


_BLOCK_TAGS = frozenset(
    "address article aside blockquote center dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody thead tfoot tr ul".split()
)
_PARAGRAPH_TAGS = frozenset("p h1 h2 h3 h4 h5 h6 blockquote table ul ol pre".split())
_SKIPPED_TAGS = frozenset("script style head title noscript template svg".split())
_VOID_TAGS = frozenset("area base br col embed hr img input link meta source track wbr".split())
_NEWLINE = "\x00n"  # markers that survive whitespace collapsing
_BLANK = "\x00p"
_LINE_BREAK = "\x00b"  # <br>: never merged with its neighbours


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.links: list[tuple[str | None, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            if tag not in _VOID_TAGS:
                self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag == "br":
            self.out.append(_LINE_BREAK)
        elif tag == "hr":
            self.out.append(_BLANK + "---" + _BLANK)
        elif tag in _BLOCK_TAGS:
            self.out.append(_BLANK if tag in _PARAGRAPH_TAGS else _NEWLINE)
            if tag == "li":
                self.out.append("- ")
            elif tag == "pre":
                self.pre_depth += 1
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.out)))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self.out.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self.skip_depth = max(self.skip_depth - 1, 0)
            return
        if self.skip_depth:
            return
        if tag == "a" and self.links:
            href, start = self.links.pop()
            self.close_link(href, start)
        elif tag in _BLOCK_TAGS:
            self.out.append(_BLANK if tag in _PARAGRAPH_TAGS else _NEWLINE)
            if tag == "pre":
                self.pre_depth = max(self.pre_depth - 1, 0)

    def close_link(self, href: str | None, start: int) -> None:
        href = (href or "").strip()
        if not href or href.startswith("#") or href.lower().startswith(("javascript:", "data:")):
            return
        label = _collapse("".join(self.out[start:])).strip()
        shown = href[len("mailto:"):] if href.lower().startswith("mailto:") else href
        if not label:
            self.out.append(shown)
        elif label not in (href, shown):
            self.out.append(f" ({shown})")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        data = data.replace("\x00", "")
        if self.pre_depth:
            self.out.append(data.replace("\r\n", "\n").replace("\n", _NEWLINE))
        else:
            self.out.append(data)

    def close(self) -> None:
        super().close()
        while self.links:
            href, start = self.links.pop()
            self.close_link(href, start)


_WHITESPACE = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_BREAKS = re.compile(r" ?(?:(?:\x00n|\x00p) ?)+")


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text)


# The rest of a tag up to its '>' (quoted values may hold '>'); possessive, so that a
# failed match costs one linear scan.
_TAG_REST = re.compile(r"""[^"'>]*+(?:(?:"[^"]*+"|'[^']*+')[^"'>]*+)*+>""")


def _complete_tags_only(source: str) -> str:
    """Linear pre-pass for html.parser, which is quadratic (or fails) on some broken
    markup: comments, declarations and processing instructions are dropped, a '<' that
    does not open a tag becomes '&lt;', and an unclosed construct swallows the rest of
    the document (as in browsers)."""
    out: list[str] = []
    position = 0
    while True:
        lt = source.find("<", position)
        if lt < 0:
            out.append(source[position:])
            break
        out.append(source[position:lt])
        if source.startswith("<!--", lt):
            end = source.find("-->", lt + 4)
            if end < 0:
                break
            position = end + 3
            continue
        following = source[lt + 1 : lt + 3]
        if following[:1] in ("!", "?"):
            end = source.find(">", lt + 2)
            if end < 0:
                break
            position = end + 1
            continue
        name_start = following[1:] if following[:1] == "/" else following[:1]
        if name_start.isascii() and name_start.isalpha():
            rest = _TAG_REST.match(source, lt + 1)
            if rest is None:
                break
            out.append(source[lt : rest.end()])
            position = rest.end()
            continue
        out.append("&lt;")
        position = lt + 1
    return "".join(out)


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: paragraphs and <br> become line breaks, links
    `text (url)`, list items `- item`, entities decoded, scripts, styles and head dropped.
    Linear in the size of the HTML, whatever the markup."""
    parser = _TextExtractor()
    try:
        parser.feed(_complete_tags_only(html))
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup: keep what it read
        pass
    text = _collapse("".join(parser.out))
    # A run of break markers is one break: a blank line if any of them asks for one.
    text = _BREAKS.sub(lambda m: "\n\n" if _BLANK in m.group(0) else "\n", text)
    text = text.replace(_LINE_BREAK, "\n")
    text = "\n".join(line.strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
