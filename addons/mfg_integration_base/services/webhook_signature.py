"""Standard Webhooks signatures (https://www.standardwebhooks.com/): v1, HMAC-SHA256.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the header carries
space-separated ``v1,<base64>`` signatures so a secret can be rotated.
"""

import base64
import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300


def _secret_bytes(secret):
    # Standard Webhooks secrets are "whsec_<base64>"; plain text secrets are used as is.
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_") :])
    return secret.encode()


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
