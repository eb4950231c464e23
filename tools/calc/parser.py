"""A safe parser for arithmetic expressions: text in, a small syntax tree out.

Nothing is ever passed to ``eval``: the tokenizer accepts only numbers, names,
operators and parentheses, and the recursive-descent parser builds frozen nodes that
``arithmetic.py`` evaluates. Precedence, lowest first::

    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "/" | "//" | "%") unary)*
    unary    := ("+" | "-") unary | power
    power    := atom (("^" | "**") unary)?          right-associative; -2^2 is -4
    atom     := number | name | name "(" args ")" | "(" sum ")"

Numbers may use ``_`` between digits and an exponent (``1.5e3``); ``×`` and ``÷`` are
read as ``*`` and ``/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ExpressionSyntaxError

__all__ = ["BinaryOp", "Call", "Name", "Node", "Number", "UnaryOp", "parse"]

MAX_DEPTH = 100

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>\*\*|//|[-+*/%^(),×÷])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, kw_only=True)
class Number:
    text: str
    position: int


@dataclass(frozen=True, kw_only=True)
class Name:
    name: str
    position: int


@dataclass(frozen=True, kw_only=True)
class UnaryOp:
    op: str
    operand: Node
    position: int


@dataclass(frozen=True, kw_only=True)
class BinaryOp:
    op: str
    left: Node
    right: Node
    position: int


@dataclass(frozen=True, kw_only=True)
class Call:
    name: str
    args: tuple[Node, ...]
    position: int


Node = Number | Name | UnaryOp | BinaryOp | Call


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ExpressionSyntaxError(f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            value = {"×": "*", "÷": "/"}.get(match.group(), match.group())
            tokens.append(_Token(kind, value, position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def take(self, *ops: str) -> _Token | None:
        token = self.current
        if token.kind == "op" and token.text in ops:
            self.index += 1
            return token
        return None

    def expect(self, op: str) -> None:
        if self.take(op) is None:
            found = f"{self.current.text!r}" if self.current.kind != "end" else "the end"
            raise ExpressionSyntaxError(f"expected {op!r} but found {found}", self.current.position)

    def nest(self, position: int) -> None:
        """Count one level of nesting; deep nesting is refused before recursion gets deep."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionSyntaxError(f"expression nested deeper than {MAX_DEPTH} levels", position)

    def sum(self) -> Node:
        self.nest(self.current.position)
        node = self.product()
        while (token := self.take("+", "-")) is not None:
            node = BinaryOp(op=token.text, left=node, right=self.product(), position=token.position)
        self.depth -= 1
        return node

    def product(self) -> Node:
        node = self.unary()
        while (token := self.take("*", "/", "//", "%")) is not None:
            node = BinaryOp(op=token.text, left=node, right=self.unary(), position=token.position)
        return node

    def unary(self) -> Node:
        token = self.take("+", "-")
        if token is not None:
            self.nest(token.position)
            node = UnaryOp(op=token.text, operand=self.unary(), position=token.position)
            self.depth -= 1
            return node
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        token = self.take("^", "**")
        if token is None:
            return base
        self.nest(token.position)
        node = BinaryOp(op="^", left=base, right=self.unary(), position=token.position)
        self.depth -= 1
        return node

    def atom(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.index += 1
            return Number(text=token.text.replace("_", ""), position=token.position)
        if token.kind == "name":
            self.index += 1
            if self.take("(") is None:
                return Name(name=token.text, position=token.position)
            args: list[Node] = []
            if self.take(")") is None:
                args.append(self.sum())
                while self.take(",") is not None:
                    args.append(self.sum())
                self.expect(")")
            return Call(name=token.text, args=tuple(args), position=token.position)
        if self.take("(") is not None:
            node = self.sum()
            self.expect(")")
            return node
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        raise ExpressionSyntaxError(f"expected a number, a name or '(' but found {found}", token.position)


def parse(text: str) -> Node:
    """Parse ``text`` into a syntax tree, or raise ExpressionSyntaxError with the position."""
    parser = _Parser(text)
    if parser.current.kind == "end":
        raise ExpressionSyntaxError("the expression is empty", 0)
    node = parser.sum()
    if parser.current.kind != "end":
        raise ExpressionSyntaxError(f"unexpected {parser.current.text!r}", parser.current.position)
    return node
