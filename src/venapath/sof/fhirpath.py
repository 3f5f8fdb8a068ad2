"""Tokenizer and parser for the FHIRPath subset that ViewDefinitions use.

The parser only builds a typed tree; it never evaluates anything. Evaluation happens in the
database engine, after `compile.py` has turned the tree into SQL, so the whole grammar is kept
small and explicit: anything outside the subset fails here, at definition time, rather than
producing a silently different result at screening time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal as TypingLiteral

__all__ = [
    "Binary",
    "Call",
    "EmptySet",
    "Expr",
    "FhirPathSyntaxError",
    "Identifier",
    "Indexer",
    "Literal",
    "LiteralType",
    "Member",
    "This",
    "Unary",
    "Variable",
    "parse",
]

LiteralType = TypingLiteral["string", "integer", "decimal", "boolean", "date", "dateTime", "time"]


class FhirPathSyntaxError(ValueError):
    """The expression is not valid FHIRPath, or uses syntax outside the supported subset."""


@dataclass(frozen=True)
class Literal:
    value: str | int | Decimal | bool
    type: LiteralType


@dataclass(frozen=True)
class EmptySet:
    """The `{}` literal: an empty collection."""


@dataclass(frozen=True)
class This:
    """`$this`, or the implicit focus of a bare identifier or function call."""


@dataclass(frozen=True)
class Variable:
    """An environment variable: `%name` (constants, `%rowIndex`, `%resource`) or `$index`."""

    name: str


@dataclass(frozen=True)
class Identifier:
    """A bare identifier at the head of a path, navigated from the current focus."""

    name: str


@dataclass(frozen=True)
class Member:
    base: Expr
    name: str


@dataclass(frozen=True)
class Call:
    """A function invocation; `base` is `This()` when the call starts a path."""

    base: Expr
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Indexer:
    base: Expr
    index: Expr


@dataclass(frozen=True)
class Unary:
    op: TypingLiteral["+", "-"]
    operand: Expr


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


Expr = Literal | EmptySet | This | Variable | Identifier | Member | Call | Indexer | Unary | Binary

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<datetime>@\d{4}(?:-\d{2}(?:-\d{2})?)?
        (?:T(?:\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
  | (?P<time>@T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<delimited>`(?:[^`\\]|\\.)*`)
  | (?P<variable>%(?:[A-Za-z_][A-Za-z0-9_]*|`(?:[^`\\]|\\.)*`|'(?:[^'\\]|\\.)*'))
  | (?P<special>\$(?:this|index|total))
  | (?P<identifier>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|!~|[-+*/&|=~<>.,()\[\]{}])
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {
    "'": "'",
    '"': '"',
    "`": "`",
    "\\": "\\",
    "/": "/",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


def _unescape(body: str, expression: str, pos: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            raise FhirPathSyntaxError(f"bad escape '\\{nxt}' at {pos} in {expression!r}")
    return "".join(out)


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if match is None:
            raise FhirPathSyntaxError(
                f"unexpected character {expression[pos]!r} at {pos} in {expression!r}"
            )
        kind = match.lastgroup
        assert kind is not None
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("eof", "", len(expression)))
    return tokens


# Binary operators by precedence, loosest first (FHIRPath §"Operator precedence").
_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"implies"}),
    frozenset({"or", "xor"}),
    frozenset({"and"}),
    frozenset({"in", "contains"}),
    frozenset({"=", "~", "!=", "!~"}),
    frozenset({"<", ">", "<=", ">="}),
    frozenset({"|"}),
    frozenset({"is", "as"}),
    frozenset({"+", "-", "&"}),
    frozenset({"*", "/", "div", "mod"}),
)
_WORD_OPERATORS = frozenset(
    {"implies", "or", "xor", "and", "in", "contains", "is", "as", "div", "mod"}
)


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.i = 0

    def _peek(self) -> _Token:
        return self.tokens[self.i]

    def _next(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def _fail(self, message: str, token: _Token | None = None) -> FhirPathSyntaxError:
        token = token or self._peek()
        where = "end of expression" if token.kind == "eof" else f"{token.text!r} at {token.pos}"
        return FhirPathSyntaxError(f"{message} ({where} in {self.expression!r})")

    def _expect(self, text: str) -> None:
        token = self._next()
        if token.kind != "op" or token.text != text:
            raise self._fail(f"expected {text!r}", token)

    def _is_binary_operator(self, token: _Token, level: frozenset[str]) -> bool:
        if token.kind == "op":
            return token.text in level
        return token.kind == "identifier" and token.text in level and token.text in _WORD_OPERATORS

    def parse(self) -> Expr:
        if self._peek().kind == "eof":
            raise self._fail("empty expression")
        expr = self._binary(0)
        if self._peek().kind != "eof":
            raise self._fail("unexpected token")
        return expr

    def _binary(self, level: int) -> Expr:
        if level == len(_LEVELS):
            return self._unary()
        left = self._binary(level + 1)
        while self._is_binary_operator(self._peek(), _LEVELS[level]):
            op = self._next().text
            if op in ("is", "as"):
                right: Expr = Identifier(self._type_specifier())
            else:
                right = self._binary(level + 1)
            left = Binary(op, left, right)
        return left

    def _type_specifier(self) -> str:
        parts = [self._identifier_text()]
        while self._peek().text == "." and self.tokens[self.i + 1].kind in (
            "identifier",
            "delimited",
        ):
            self._next()
            parts.append(self._identifier_text())
        return ".".join(parts)

    def _identifier_text(self) -> str:
        token = self._next()
        if token.kind == "identifier":
            return token.text
        if token.kind == "delimited":
            return _unescape(token.text[1:-1], self.expression, token.pos)
        raise self._fail("expected an identifier", token)

    def _unary(self) -> Expr:
        token = self._peek()
        if token.kind == "op" and token.text in ("+", "-"):
            self._next()
            operand = self._unary()
            return Unary("-" if token.text == "-" else "+", operand)
        return self._postfix()

    def _postfix(self) -> Expr:
        expr = self._term()
        while True:
            token = self._peek()
            if token.kind == "op" and token.text == ".":
                self._next()
                expr = self._invocation(expr)
            elif token.kind == "op" and token.text == "[":
                self._next()
                index = self._binary(0)
                self._expect("]")
                expr = Indexer(expr, index)
            else:
                return expr

    def _invocation(self, base: Expr) -> Expr:
        token = self._peek()
        if token.kind == "special" and token.text == "$this":
            # `a.$this` is legal FHIRPath and means `a`.
            self._next()
            return base
        name = self._identifier_text()
        nxt = self._peek()
        if nxt.kind == "op" and nxt.text == "(":
            return Call(base, name, self._arguments())
        return Member(base, name)

    def _arguments(self) -> tuple[Expr, ...]:
        self._expect("(")
        args: list[Expr] = []
        if not (self._peek().kind == "op" and self._peek().text == ")"):
            args.append(self._binary(0))
            while self._peek().kind == "op" and self._peek().text == ",":
                self._next()
                args.append(self._binary(0))
        self._expect(")")
        return tuple(args)

    def _term(self) -> Expr:
        token = self._next()
        kind, text = token.kind, token.text
        if kind == "number":
            if "." in text:
                return Literal(Decimal(text), "decimal")
            return Literal(int(text), "integer")
        if kind == "string":
            return Literal(_unescape(text[1:-1], self.expression, token.pos), "string")
        if kind == "datetime":
            body = text[1:]
            return Literal(body, "dateTime" if "T" in body else "date")
        if kind == "time":
            return Literal(text[2:], "time")
        if kind == "variable":
            name = text[1:]
            if name[:1] in ("`", "'"):
                name = _unescape(name[1:-1], self.expression, token.pos)
            return Variable(name)
        if kind == "special":
            if text == "$this":
                return This()
            return Variable(text)
        if kind in ("identifier", "delimited"):
            if kind == "identifier" and text in ("true", "false"):
                return Literal(text == "true", "boolean")
            self.i -= 1
            name = self._identifier_text()
            nxt = self._peek()
            if nxt.kind == "op" and nxt.text == "(":
                return Call(This(), name, self._arguments())
            return Identifier(name)
        if kind == "op" and text == "(":
            inner = self._binary(0)
            self._expect(")")
            return inner
        if kind == "op" and text == "{":
            self._expect("}")
            return EmptySet()
        raise self._fail("unexpected token", token)


def parse(expression: str) -> Expr:
    """Parse one FHIRPath expression; raises `FhirPathSyntaxError` naming the bad token."""
    if not isinstance(expression, str):
        raise FhirPathSyntaxError(f"expected a FHIRPath string, got {type(expression).__name__}")
    return _Parser(expression).parse()
