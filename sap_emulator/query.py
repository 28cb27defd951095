"""``$filter`` and ``$orderby`` of OData V2 on the emulator's entities.

``$filter``: comparisons ``eq ne gt ge lt le`` of a property with a literal, ``and``, ``or``,
``not`` and parentheses, plus ``substringof('x',Field)``, ``startswith(Field,'x')`` and
``endswith(Field,'x')`` — what SAP Gateway's generic filter offers on these APIs.
"""

import re

from .values import BadValue, coerce_literal, literal_value, typed

TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<comma>,)"
    r"|(?P<literal>(?:datetimeoffset|datetime|guid)?'(?:[^']|'')*'|-?\d+(?:\.\d+)?[mMdDfFlL]?)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_/]*))"
)
COMPARISONS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}
STRING_FUNCTIONS = {
    "substringof": lambda needle, hay: needle in hay,
    "startswith": lambda hay, prefix: hay.startswith(prefix),
    "endswith": lambda hay, suffix: hay.endswith(suffix),
}


class QueryError(ValueError):
    """A query option the emulator (like SAP) cannot read: answered 400."""


def _tokens(text):
    position, tokens = 0, []
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise QueryError(f"cannot read $filter at {text[position:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text, entity_set):
        self.tokens = _tokens(text)
        self.position = 0
        self.entity_set = entity_set

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        token = self.peek()
        if token[0] is None or (kind and token[0] != kind) or (value and token[1] != value):
            raise QueryError(f"$filter: expected {value or kind}, found {token[1]!r}")
        self.position += 1
        return token

    def parse(self):
        predicate = self.disjunction()
        if self.peek()[0] is not None:
            raise QueryError(f"$filter: unexpected {self.peek()[1]!r}")
        return predicate

    def disjunction(self):
        terms = [self.conjunction()]
        while self.peek() == ("word", "or"):
            self.take()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda row: any(term(row) for term in terms))

    def conjunction(self):
        terms = [self.negation()]
        while self.peek() == ("word", "and"):
            self.take()
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else (lambda row: all(term(row) for term in terms))

    def negation(self):
        if self.peek() == ("word", "not"):
            self.take()
            inner = self.negation()
            return lambda row: not inner(row)
        return self.comparison()

    def comparison(self):
        kind, value = self.peek()
        if kind == "open":
            self.take()
            inner = self.disjunction()
            self.take("close")
            return inner
        if kind == "word" and value in STRING_FUNCTIONS:
            return self.string_function()
        prop = self.property()
        operator = self.take("word")[1]
        if operator not in COMPARISONS:
            raise QueryError(f"$filter: unknown operator {operator!r}")
        literal = self.literal(prop.edm)
        compare = COMPARISONS[operator]
        return lambda row: compare(typed(prop.edm, row.get(prop.name)), literal)

    def string_function(self):
        name = self.take("word")[1]
        self.take("open")
        if name == "substringof":
            needle = self.literal("Edm.String")
            self.take("comma")
            prop = self.property()
        else:
            prop = self.property()
            self.take("comma")
            needle = self.literal("Edm.String")
        self.take("close")
        expected = True
        if self.peek() == ("word", "eq"):
            self.take()
            expected = self.literal("Edm.Boolean")
        function = STRING_FUNCTIONS[name]

        def check(row):
            value = row.get(prop.name) or ""
            hay_first = name != "substringof"
            found = function(value, needle) if hay_first else function(needle, value)
            return found == expected

        return check

    def property(self):
        name = self.take("word")[1]
        prop = self.entity_set.prop(name)
        if prop is None:
            raise QueryError(f"$filter: {self.entity_set.name} has no property {name!r}")
        return prop

    def literal(self, edm):
        kind, value = self.peek()
        if kind == "literal" or (kind == "word" and value in ("true", "false", "null")):
            self.take()
            try:
                return coerce_literal(edm, literal_value(value))
            except BadValue as error:
                raise QueryError(f"$filter: {error}") from error
        raise QueryError(f"$filter: expected a literal, found {value!r}")


SIMPLE_EQUALITY = re.compile(
    r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s+eq\s+'(?P<value>(?:[^']|'')*)'\s*$"
)


def simple_equality(text, entity_set):
    """(property, value) when ``$filter`` is one ``StringField eq 'value'`` (answered from an
    index: the lookups by idempotency key), else None."""
    match = SIMPLE_EQUALITY.match(text or "")
    if not match:
        return None
    prop = entity_set.prop(match["name"])
    if prop is None or prop.edm != "Edm.String":
        return None
    return prop.name, match["value"].replace("''", "'")


def compile_filter(text, entity_set):
    """A predicate on wire rows, or None for no ``$filter``."""
    if not text:
        return None
    return _Parser(text, entity_set).parse()


def sort_rows(rows, orderby, entity_set):
    """Rows sorted by ``$orderby`` (``Field [asc|desc], ...``); stable, None first."""
    if not orderby:
        return rows
    for clause in reversed([part.strip() for part in orderby.split(",") if part.strip()]):
        name, _, direction = clause.partition(" ")
        prop = entity_set.prop(name)
        if prop is None:
            raise QueryError(f"$orderby: {entity_set.name} has no property {name!r}")
        descending = direction.strip().lower() == "desc"

        def sort_key(row, prop=prop):
            value = typed(prop.edm, row.get(prop.name))
            return (value is not None, value if value is not None else 0)

        rows = sorted(rows, key=sort_key, reverse=descending)
    return rows
