"""PDAL's expressions (``filters.expression``, a writer's ``where``) over a point cloud.

The grammar PDAL documents for them: comparisons (``==``, ``!=``, ``<``, ``<=``, ``>``,
``>=``) of arithmetic (``+``, ``-``, ``*``, ``/``, unary minus, parentheses) over dimensions and
numbers, joined by ``&&`` and ``||`` and negated by ``!``: ``Classification == 2 && Z > 100``,
``!(ReturnNumber == NumberOfReturns)``. Parsed once into a tree (every problem named with its
place in the text before any point is read), evaluated on whole numpy arrays.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from dronekit_plzen.errors import BadInputError
from dronekit_plzen.i18n import _

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[<>!()+\-*/]))"
)
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")
#: the deepest nesting of parentheses, ``!`` and unary minus read (each level is a few frames
#: of the recursive descent: 3,000 parentheses exhausted Python's stack)
MAX_NESTING = 100
_BINARY = ("&&", "||", *_COMPARE, "+", "-", "*", "/")


@dataclass(frozen=True)
class Node:
    """``op`` with its ``args`` (``num``: a number, ``dim``: a dimension's name)."""

    op: str
    args: tuple[Any, ...]


def _shown(text: str, most: int = 60) -> str:
    """The expression as a message quotes it: a long one cut (a line, not a screenful)."""
    return text if len(text) <= most else text[: most - 1] + "…"


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise BadInputError(
                _("expression {e!r}: cannot read {t!r} at character {p}").format(
                    e=_shown(text), t=text[pos:].strip()[:10], p=pos + 1
                )
            )
        kind = m.lastgroup or "op"
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def nest(self) -> None:
        """One level deeper (a parenthesis, ``!`` or unary minus), refused past MAX_NESTING."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(_("nested more than {n} levels deep").format(n=MAX_NESTING))

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str, int]:
        if self.i >= len(self.toks):
            raise BadInputError(
                _("expression {e!r}: it ends too early").format(e=_shown(self.text))
            )
        self.i += 1
        return self.toks[self.i - 1]

    def fail(self, what: str) -> BadInputError:
        at = self.toks[self.i][2] + 1 if self.i < len(self.toks) else len(self.text) + 1
        return BadInputError(
            _("expression {e!r}: {w} at character {p}").format(e=_shown(self.text), w=what, p=at)
        )

    def parse(self) -> Node:
        node = self.or_()
        if self.i != len(self.toks):
            raise self.fail(_("unexpected {t!r}").format(t=self.peek()))
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.peek() == "||":
            self.take()
            node = Node("||", (node, self.and_()))
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.peek() == "&&":
            self.take()
            node = Node("&&", (node, self.not_()))
        return node

    def not_(self) -> Node:
        if self.peek() == "!":
            self.take()
            self.nest()
            node = Node("!", (self.not_(),))
            self.depth -= 1
            return node
        return self.compare()

    def compare(self) -> Node:
        node = self.sum_()
        if self.peek() in _COMPARE:
            op = self.take()[1]
            node = Node(op, (node, self.sum_()))
        return node

    def sum_(self) -> Node:
        node = self.prod()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            node = Node(op, (node, self.prod()))
        return node

    def prod(self) -> Node:
        node = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            node = Node(op, (node, self.unary()))
        return node

    def unary(self) -> Node:
        if self.peek() == "-":
            self.take()
            self.nest()
            node = Node("neg", (self.unary(),))
            self.depth -= 1
            return node
        if self.i >= len(self.toks):
            raise self.fail(_("a value is missing"))
        kind, text, _pos = self.toks[self.i]
        if kind == "num":
            self.take()
            return Node("num", (float(text),))
        if kind == "name":
            self.take()
            return Node("dim", (text,))
        if text == "(":
            self.take()
            self.nest()
            node = self.or_()
            if self.peek() != ")":
                raise self.fail(_("a ')' is missing"))
            self.take()
            self.depth -= 1
            return node
        raise self.fail(_("a value is missing before {t!r}").format(t=text))


def _is_test(node: Node) -> bool:
    return node.op in (*_COMPARE, "&&", "||", "!")


def _check(root: Node, text: str) -> None:
    """True/false where a test is wanted (&&, ||, !, the whole), numbers elsewhere (an explicit
    stack: a chain of a thousand ``||`` is a tree a thousand deep)."""
    todo = [(root, True)]
    while todo:
        node, want_test = todo.pop()
        if want_test != _is_test(node):
            raise BadInputError(
                _(
                    "expression {e!r}: a comparison is needed where a number stands, or the "
                    "other way round (Classification == 2 && Z > 100)"
                ).format(e=_shown(text))
            )
        if node.op not in ("num", "dim"):
            todo.extend((a, node.op in ("&&", "||", "!")) for a in node.args)


@functools.lru_cache(maxsize=64)
def parse(text: str) -> Node:
    """The expression's tree; a :class:`BadInputError` names what is wrong and where. Kept for
    the text (a streamed writer's ``where`` is read for every chunk)."""
    if not isinstance(text, str) or not text.strip():
        raise BadInputError(_("the expression is empty"))
    node = _Parser(text).parse()
    _check(node, text)
    return node


def dimensions(node: Node) -> set[str]:
    """The dimension names the expression reads."""
    out: set[str] = set()
    todo = [node]
    while todo:
        n = todo.pop()
        if n.op == "dim":
            out.add(n.args[0])
        elif n.op != "num":
            todo.extend(n.args)
    return out


def evaluate(node: Node, cloud: Any) -> np.ndarray:
    """The expression over every point (a bool array for a test). A chain of binary operators
    (``a || b || c …``, a tree as deep as it is long) is walked down its left side in a loop;
    the parser caps the rest of the nesting."""
    from lidar import filters

    op, args = node.op, node.args
    if op == "num":
        return np.full(len(cloud), args[0])
    if op == "dim":
        return np.asarray(filters.dimension(cloud, args[0]), dtype=np.float64)
    if op == "neg":
        return -evaluate(args[0], cloud)
    if op == "!":
        return ~evaluate(args[0], cloud)
    spine = [node]
    while spine[-1].args[0].op in _BINARY:
        spine.append(spine[-1].args[0])
    acc = evaluate(spine[-1].args[0], cloud)
    for n in reversed(spine):
        acc = _apply(n.op, acc, evaluate(n.args[1], cloud))
    return acc


def _apply(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        result = {
            "&&": lambda: a & b,
            "||": lambda: a | b,
            "==": lambda: a == b,
            "!=": lambda: a != b,
            "<": lambda: a < b,
            "<=": lambda: a <= b,
            ">": lambda: a > b,
            ">=": lambda: a >= b,
            "+": lambda: a + b,
            "-": lambda: a - b,
            "*": lambda: a * b,
            "/": lambda: a / b,
        }[op]()
    return np.asarray(result)
