"""Concept expressions: ``smile``, ``-smile``, ``smile+0.5*thick-slant``, ``3->8``.

Grammar (spaces are ignored)::

    expression := [sign] term (sign term)*
    term       := [number '*'] ref ['*' number]
    ref        := name ['->' name]
    name       := word | 'quoted name' | "quoted name"

A word is letters, digits, ``_``, ``.``, ``:`` and ``=``; any other name (one
with spaces or a hyphen) is written in quotes. ``a->b`` is the class concept
from class ``a`` to class ``b``; a class name alone means "towards it" from
whatever class an image is in now.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ConceptError

MAX_NAME = 64
_WORD = r"\w[\w.:=]*"
_PLAIN_NAME = re.compile(_WORD)
_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<word>\d+\.?\d*[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?|" + _WORD + r")"
    r"|'(?P<squote>[^']*)'"
    r'|"(?P<dquote>[^"]*)"'
    r"|(?P<arrow>->)"
    r"|(?P<op>[+\-*])"
    r")"
)
_FLOAT = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Ref:
    """A concept name, or the class transition ``source -> name``."""

    name: str
    source: str | None = None

    def __str__(self) -> str:
        return self.name if self.source is None else f"{quote(self.source)}->{quote(self.name)}"


@dataclass(frozen=True)
class Term:
    coef: float
    ref: Ref


def quote(name: str) -> str:
    """A name as it must be written in an expression."""
    return name if _PLAIN_NAME.fullmatch(name) else f"'{name}'"


def check_name(name: str, what: str = "concept name") -> str:
    """Names stored in a library: printable, no quotes or slashes, at most 64 characters."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise ConceptError(f"{what} {name!r} is empty or has surrounding spaces")
    if len(name) > MAX_NAME:
        raise ConceptError(f"{what} {name!r} is longer than {MAX_NAME} characters")
    if any(c in name for c in "'\"/\\") or not name.isprintable() or name.startswith("."):
        raise ConceptError(f"{what} {name!r} may not contain quotes or slashes, nor start with '.'")
    return name


def parse_expression(expr: str) -> list[Term]:
    """Parse an expression into terms; a malformed one is a one-line ConceptError."""
    if not isinstance(expr, str) or not expr.strip():
        raise ConceptError("empty concept expression")
    tokens = _tokenize(expr)
    terms: list[Term] = []
    pos = 0

    def bad(msg: str) -> ConceptError:
        if expr.rstrip().endswith("-") and pos >= len(tokens):
            # An unquoted 3->8 reaches here as "3-": the shell took ">8" as a
            # redirection (and made a file named 8).
            example = f"{expr.rstrip()}>B"
            msg += (f"; quote the expression ({example!r} with its target B): unquoted, the "
                    "shell reads '>' as writing to a file")  # fmt: skip
        return ConceptError(f"bad concept expression {expr!r}: {msg}")

    def peek(kind: str | None = None, value: str | None = None) -> bool:
        if pos >= len(tokens):
            return False
        k, v = tokens[pos]
        if kind == "name":
            return k in ("word", "quoted")
        return (kind is None or k == kind) and (value is None or v == value)

    while pos < len(tokens):
        sign = 1.0
        if peek("op", "+") or peek("op", "-"):
            sign = -1.0 if tokens[pos][1] == "-" else 1.0
            pos += 1
        elif terms:
            raise bad(f"expected + or - before {tokens[pos][1]!r}")
        coef = 1.0
        # A leading number followed by '*' is a coefficient (so "3*8" is 3 times class 8).
        if (
            peek("word")
            and _FLOAT.fullmatch(tokens[pos][1])
            and pos + 1 < len(tokens)
            and tokens[pos + 1] == ("op", "*")
        ):
            coef = float(tokens[pos][1])
            pos += 2
        if not peek("name"):
            got = repr(tokens[pos][1]) if pos < len(tokens) else "the end"
            raise bad(f"expected a concept name, got {got}")
        name = tokens[pos][1]
        pos += 1
        ref = Ref(name)
        if peek("arrow"):
            pos += 1
            if not peek("name"):
                raise bad(f"'->' after {name!r} needs a target class")
            ref = Ref(tokens[pos][1], source=name)
            pos += 1
        if peek("op", "*"):
            pos += 1
            if not (peek("word") and _FLOAT.fullmatch(tokens[pos][1])):
                raise bad("only a number may multiply a concept")
            coef *= float(tokens[pos][1])
            pos += 1
        terms.append(Term(sign * coef, ref))
    return terms


def _tokenize(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    end = len(expr.rstrip())
    while pos < end:
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise ConceptError(
                f"bad concept expression {expr!r}: unexpected {expr[pos:].strip()[:1]!r} "
                f"at position {pos + len(expr[pos:]) - len(expr[pos:].lstrip())}"
            )
        pos = m.end()
        kind = m.lastgroup
        if kind == "word":
            out.append(("word", m.group("word")))
        elif kind in ("squote", "dquote"):
            value = m.group(kind)
            if not value:
                raise ConceptError(f"bad concept expression {expr!r}: empty quoted name")
            out.append(("quoted", value))
        else:
            out.append((kind or "op", m.group(kind or "op")))
    return out


def split_amount(text: str, known: Iterable[str] = ()) -> tuple[str, float | None]:
    """``EXPR=AMOUNT`` -> (EXPR, AMOUNT); anything else -> (text, None).

    The one parser of the ``=AMOUNT`` suffix. Names may contain ``=`` themselves,
    so a whole name in ``known`` wins, and a tail that is not a number is part of
    the expression (the expression parser then names the problem). EXPR comes
    back stripped and may be empty; the amount is not range-checked here.
    """
    text = str(text)
    if "=" not in text or text.strip() in set(known):
        return text, None
    expr, _, tail = text.rpartition("=")
    try:
        value = float(tail)
    except ValueError:
        return text, None
    return expr.strip(), value


def format_expression(terms: Iterable[Term]) -> str:
    parts = []
    for t in terms:
        sign = "-" if t.coef < 0 else "+"
        mag = abs(t.coef)
        body = str(t.ref) if mag == 1 else f"{mag:g}*{t.ref}"
        parts.append((sign, body))
    text = "".join(f"{s}{b}" for s, b in parts)
    return text[1:] if text.startswith("+") else text


def close_names(name: str, known: Iterable[str]) -> list[str]:
    """Up to three known names close to ``name`` (``smiel`` -> ``smile``; a class
    ``3`` is not close to ``pc3``: a match must share most of both names)."""
    return difflib.get_close_matches(name, sorted(set(known)), n=3, cutoff=0.6)


def unknown_name_error(name: str, known: Iterable[str], what: str = "concept") -> ConceptError:
    """One line: the unknown name and the closest known ones."""
    known = sorted(set(known))
    if not known:
        return ConceptError(f"unknown {what} {name!r}: the library holds no concepts yet")
    close = close_names(name, known)
    if close:
        return ConceptError(f"unknown {what} {name!r}; closest: {', '.join(close)}")
    shown = ", ".join(known[:10]) + (f" (+{len(known) - 10} more)" if len(known) > 10 else "")
    return ConceptError(f"unknown {what} {name!r}; known: {shown}")
