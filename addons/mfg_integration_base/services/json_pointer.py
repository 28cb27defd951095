"""JSON Pointer (RFC 6901) reading and writing, and a structural diff of two JSON documents.

Used by "Edit payload and retry": a bulk correction sets one value at a pointer in many
payloads, and every correction is logged as the list of pointers that changed.
"""

import json

_MISSING = object()


class PointerError(ValueError):
    """The pointer does not name a place in the document."""


def parse(pointer):
    """The reference tokens of ``pointer`` ('' is the whole document)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PointerError(f"A JSON pointer starts with '/': {pointer!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def get_value(document, pointer, default=None):
    """The value at ``pointer`` in ``document``, or ``default`` when there is none."""
    node = document
    for token in parse(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return default
    return node


def escape(token):
    return str(token).replace("~", "~0").replace("/", "~1")


def set_value(document, pointer, value):
    """A copy of ``document`` with ``value`` at ``pointer`` (the last token may be new)."""
    tokens = parse(pointer)
    if not tokens:
        return value
    result = json.loads(json.dumps(document))
    parent = result
    for token in tokens[:-1]:
        parent = _child(parent, token, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            index = _index(last, parent, pointer, allow_end=True)
            if index == len(parent):
                parent.append(value)
            else:
                parent[index] = value
    else:
        raise PointerError(f"{pointer} goes inside a {type(parent).__name__}, not an object")
    return result


def _child(node, token, pointer):
    if isinstance(node, dict):
        if token not in node:
            raise PointerError(f"{pointer}: the document has no member {token!r}")
        return node[token]
    if isinstance(node, list):
        return node[_index(token, node, pointer)]
    raise PointerError(f"{pointer} goes inside a {type(node).__name__}, not an object")


def _index(part, node, pointer, allow_end=False):
    if not part.isdigit() or (len(part) > 1 and part.startswith("0")):
        raise PointerError(f"{pointer}: {part!r} is not an array index")
    index = int(part)
    if index > len(node) or (index == len(node) and not allow_end):
        raise PointerError(f"{pointer}: index {index} is past the end of the array")
    return index


def diff(old, new, pointer=""):
    """[(pointer, old, new)] of every leaf that differs, values rendered as JSON text
    ('(absent)' for a member only one side has)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(set(old) | set(new), key=str):
            changes += diff(
                old.get(key, _MISSING), new.get(key, _MISSING), f"{pointer}/{escape(key)}"
            )
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        changes = []
        for index, (left, right) in enumerate(zip(old, new, strict=True)):
            changes += diff(left, right, f"{pointer}/{index}")
        return changes
    if old is not _MISSING and new is not _MISSING and old == new and type(old) is type(new):
        return []
    return [(pointer or "/", _shown(old), _shown(new))]


def _shown(value):
    return "(absent)" if value is _MISSING else json.dumps(value, ensure_ascii=False)
