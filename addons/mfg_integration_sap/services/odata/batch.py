"""OData V2 ``$batch``: the multipart/mixed request with changesets, and its answer per part.

A changeset is atomic in SAP: when one of its operations fails, SAP rolls the changeset back
and answers the whole changeset with that one error; the parse reports every operation of the
changeset as failed with it.
"""

import json
import uuid
from dataclasses import dataclass, field

from .errors import ODataError, classify_response
from .values import encode_json

CRLF = "\r\n"


@dataclass(frozen=True)
class Operation:
    """One request inside a batch: ``path`` is relative to the service root."""

    method: str
    path: str
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    content_id: str | None = None


@dataclass(frozen=True)
class ChangeSet:
    """Writes applied all or nothing."""

    operations: tuple


@dataclass
class PartResult:
    """The answer to one operation."""

    content_id: str | None
    status: int
    headers: dict
    body: str
    error: ODataError | None = None

    @property
    def ok(self):
        return self.error is None and 200 <= self.status < 300

    def json(self):
        return json.loads(self.body) if self.body.strip() else None


@dataclass
class ChangeSetResult:
    """The answers to one changeset; ``error`` is set when SAP rolled it back."""

    parts: list
    error: ODataError | None = None

    @property
    def ok(self):
        return self.error is None


def new_boundary(prefix):
    return f"{prefix}_{uuid.uuid4()}"


def build_batch(items, *, batch_boundary=None, changeset_boundaries=None):
    """(body, content type) of a ``$batch`` request.

    ``items``: ChangeSets (writes) and Operations (reads, GET only outside a changeset).
    Operations of a changeset without a ``content_id`` get their position (1, 2, ...) as one.
    """
    batch_boundary = batch_boundary or new_boundary("batch")
    changeset_boundaries = list(changeset_boundaries or ())
    lines = []
    for item in items:
        lines.append(f"--{batch_boundary}")
        if isinstance(item, ChangeSet):
            boundary = changeset_boundaries.pop(0) if changeset_boundaries else None
            boundary = boundary or new_boundary("changeset")
            lines += [f"Content-Type: multipart/mixed; boundary={boundary}", ""]
            for position, operation in enumerate(item.operations, start=1):
                if operation.method == "GET":
                    raise ValueError("a changeset holds writes only; send reads outside it")
                lines.append(f"--{boundary}")
                lines += _operation_lines(operation, operation.content_id or str(position))
            lines += [f"--{boundary}--", ""]
        else:
            if item.method != "GET":
                raise ValueError("a write in a batch goes inside a changeset")
            lines += _operation_lines(item, item.content_id)
    lines.append(f"--{batch_boundary}--")
    lines.append("")
    return CRLF.join(lines), f"multipart/mixed; boundary={batch_boundary}"


def _operation_lines(operation, content_id):
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"{operation.method} {operation.path} HTTP/1.1", "Accept: application/json"]
    body = None
    if operation.body is not None:
        body = encode_json(operation.body)
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body.encode('utf-8'))}")
    lines += [f"{name}: {value}" for name, value in operation.headers.items()]
    lines.append("")
    lines.append(body or "")
    return lines


def parse_batch_response(body, content_type, items, *, now=None):
    """One result per item of the request, in order: a ChangeSetResult for a ChangeSet,
    a PartResult for a read."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    parts = _split_multipart(body, _boundary_of(content_type))
    if len(parts) != len(items):
        raise ValueError(f"the $batch answer has {len(parts)} parts for {len(items)} requests")
    results = []
    for item, (headers, content) in zip(items, parts, strict=True):
        part_type = headers.get("content-type", "")
        if isinstance(item, ChangeSet):
            results.append(_changeset_result(item, part_type, headers, content, now))
        elif part_type.startswith("multipart/mixed"):
            raise ValueError("a read was answered with a changeset")
        else:
            results.append(_http_result(headers.get("content-id") or item.content_id, content, now))
    return results


def _changeset_result(changeset, part_type, headers, content, now):
    if not part_type.startswith("multipart/mixed"):
        # SAP answers a rolled-back changeset with one response in its place
        failed = _http_result(headers.get("content-id"), content, now)
        error = failed.error or classify_response(failed.status, failed.headers, failed.body)
        parts = [
            PartResult(op.content_id or str(n), failed.status, failed.headers, failed.body, error)
            for n, op in enumerate(changeset.operations, start=1)
        ]
        return ChangeSetResult(parts=parts, error=error)
    inner = _split_multipart(content, _boundary_of(part_type))
    parts = [_http_result(part.get("content-id"), text, now) for part, text in inner]
    failed = next((part for part in parts if not part.ok), None)
    if failed is None:
        return ChangeSetResult(parts=parts)
    for part in parts:
        if part.error is None:
            # a changeset is atomic: the operations that answered 2xx were rolled back too
            part.error = failed.error
    return ChangeSetResult(parts=parts, error=failed.error)


def _http_result(content_id, content, now):
    head, _, body = content.partition(CRLF + CRLF) if CRLF in content else content.partition("\n\n")
    lines = head.replace(CRLF, "\n").split("\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = _parse_headers(lines[1:])
    error = classify_response(status, headers, body, now=now) if status >= 400 else None
    return PartResult(content_id, status, headers, body.strip(CRLF), error)


def _boundary_of(content_type):
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    raise ValueError(f"no boundary in {content_type!r}")


def _parse_headers(lines):
    headers = CaseInsensitiveHeaders()
    for line in lines:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
    return headers


def _split_multipart(text, boundary):
    """[(MIME headers, content)] of each part between ``--boundary`` lines."""
    text = text.replace(CRLF, "\n")
    delimiter = f"--{boundary}"
    chunks = ("\n" + text).split("\n" + delimiter)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith("--"):
            break
        head, _, content = chunk.partition("\n")[2].partition("\n\n")
        parts.append((_parse_headers(head.split("\n")), content.replace("\n", CRLF)))
    return parts


class CaseInsensitiveHeaders(dict):
    """Header names compared without case, as HTTP wants."""

    # pylint: disable-next=missing-return  # dict.__setitem__ returns nothing to pass on
    def __setitem__(self, name, value):
        super().__setitem__(name.lower(), value)

    def __getitem__(self, name):
        return super().__getitem__(name.lower())

    def get(self, name, default=None):
        return super().get(name.lower(), default)

    def __contains__(self, name):
        return super().__contains__(name.lower())
