"""``$batch`` on the emulator's side: the multipart/mixed request read into operations and
changesets, and SAP's answer written (202 outside; a failed changeset answered by its one error)."""

import uuid
from dataclasses import dataclass, field
from http import HTTPStatus

CRLF = "\r\n"


class BatchError(ValueError):
    """A ``$batch`` body that cannot be read: answered 400."""


@dataclass
class BatchOperation:
    method: str
    path: str  # relative to the service root, with its query
    headers: dict
    body: bytes
    content_id: str | None = None


@dataclass
class BatchChangeSet:
    operations: list = field(default_factory=list)


def boundary_of(content_type):
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    raise BatchError("the $batch request has no multipart boundary")


def _headers(lines):
    headers = {}
    for line in lines:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return headers


def _parts(text, boundary):
    """[(MIME headers, content)] of a multipart body."""
    text = text.replace(CRLF, "\n")
    chunks = ("\n" + text).split("\n--" + boundary)
    if len(chunks) < 2:
        raise BatchError(f"no part delimited by --{boundary}")
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith("--"):
            return parts
        head, _, content = chunk.partition("\n")[2].partition("\n\n")
        parts.append((_headers(head.split("\n")), content))
    raise BatchError(f"the multipart body does not end with --{boundary}--")


def _operation(mime_headers, content):
    request, _, body = content.partition("\n\n")
    lines = request.strip("\n").split("\n")
    try:
        method, path, _version = lines[0].split(" ", 2)
    except ValueError as error:
        raise BatchError(f"not an HTTP request line: {lines[0]!r}") from error
    return BatchOperation(
        method=method.upper(),
        path=path,
        headers=_headers(lines[1:]),
        body=body.rstrip("\n").encode("utf-8"),
        content_id=mime_headers.get("content-id"),
    )


def parse_batch(body, content_type):
    """The items of a ``$batch`` request: BatchChangeSet and BatchOperation (reads)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    items = []
    for mime_headers, content in _parts(text, boundary_of(content_type)):
        part_type = mime_headers.get("content-type", "")
        if part_type.startswith("multipart/mixed"):
            changeset = BatchChangeSet()
            for inner_headers, inner in _parts(content, boundary_of(part_type)):
                operation = _operation(inner_headers, inner)
                if operation.method == "GET":
                    raise BatchError("a changeset holds no GET")
                changeset.operations.append(operation)
            items.append(changeset)
        elif part_type.startswith("application/http"):
            operation = _operation(mime_headers, content)
            if operation.method != "GET":
                raise BatchError("a write outside a changeset")
            items.append(operation)
        else:
            raise BatchError(f"a $batch part of type {part_type!r}")
    return items


def _http_lines(response, content_id):
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    reason = HTTPStatus(response.status).phrase
    body = response.body.decode("utf-8") if isinstance(response.body, bytes) else response.body
    lines += ["", f"HTTP/1.1 {response.status} {reason}"]
    headers = {**response.headers}
    if body:
        headers["Content-Length"] = str(len(body.encode("utf-8")))
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += ["", body or ""]
    return lines


def build_response(results):
    """(body, content type) of the answer; ``results``: per item, a list of (operation,
    response) for a changeset that succeeded, one (operation, error response) for a changeset
    rolled back, or (operation, response) for a read."""
    boundary = f"batch_{uuid.uuid4()}"
    lines = []
    for kind, answer in results:
        lines.append(f"--{boundary}")
        if kind == "changeset":
            inner = f"changeset_{uuid.uuid4()}"
            lines += [f"Content-Type: multipart/mixed; boundary={inner}", ""]
            for operation, response in answer:
                lines.append(f"--{inner}")
                lines += _http_lines(response, operation.content_id)
            lines += [f"--{inner}--", ""]
        else:
            operation, response = answer
            lines += _http_lines(response, operation.content_id)
    lines += [f"--{boundary}--", ""]
    return CRLF.join(lines).encode("utf-8"), f"multipart/mixed; boundary={boundary}"
