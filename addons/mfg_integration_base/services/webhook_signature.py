"""Standard Webhooks signatures (https://www.standardwebhooks.com/): v1, HMAC-SHA256.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the header carries
space-separated ``v1,<base64>`` signatures so a secret can be rotated.

Secrets are ``whsec_<base64 of random bytes>``, the form the official Standard Webhooks
libraries read. Plain-text secrets stored before that rule still sign (their UTF-8 bytes are
the key), but new ones are refused: a receiver using an official library cannot verify them.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import time

TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
# The specification's range for a secret's random bytes; we generate the middle of it.
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
GENERATED_SECRET_BYTES = 32


def _secret_bytes(secret):
    # Standard Webhooks secrets are "whsec_<base64>"; legacy plain text secrets are used as is.
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode()


def generate_secret():
    """A new ``whsec_`` secret of GENERATED_SECRET_BYTES random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_SECRET_BYTES)).decode()


def secret_kind(secret):
    """``none``, ``standard`` (whsec_) or ``plain`` (legacy, not verifiable by the official
    libraries): what the system form shows about a stored secret."""
    if not secret:
        return "none"
    return "standard" if secret.startswith(SECRET_PREFIX) else "plain"


def secret_problem(secret):
    """None when ``secret`` is a valid Standard Webhooks secret, else a sentence saying why not."""
    if not secret.startswith(SECRET_PREFIX):
        return (
            "The signing secret must be in Standard Webhooks form, 'whsec_' followed by the "
            "base64 of 24 to 64 random bytes: a plain-text secret cannot be verified by the "
            "official Standard Webhooks libraries. Use 'Generate Signing Secret', or paste the "
            "whsec_ secret the receiving system gave you."
        )
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return "The part of the signing secret after 'whsec_' is not valid base64."
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        return (
            f"The signing secret holds {len(key)} bytes; Standard Webhooks secrets hold "
            f"{SECRET_MIN_BYTES} to {SECRET_MAX_BYTES}."
        )
    return None


def sign(secret, message_id, timestamp, body):
    """The ``webhook-signature`` header value for ``body`` (bytes)."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret, message_id, body, now=None):
    timestamp = str(int(now if now is not None else time.time()))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def verify(secret, message_id, timestamp, body, signature_header, now=None):
    """None when valid, else a sentence saying what is wrong."""
    if not secret:
        return "This system requires signatures but has no signing secret configured."
    if not (message_id and timestamp and signature_header):
        return "The webhook-id, webhook-timestamp and webhook-signature headers are required."
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "webhook-timestamp must be Unix seconds."
    now = now if now is not None else time.time()
    if abs(now - sent_at) > TOLERANCE_SECONDS:
        return f"webhook-timestamp is more than {TOLERANCE_SECONDS} s away from Odoo's clock."
    expected = sign(secret, message_id, timestamp, body)
    for candidate in signature_header.split():
        if hmac.compare_digest(candidate, expected):
            return None
    return "No signature in webhook-signature matches the body."
