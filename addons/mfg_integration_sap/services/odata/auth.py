"""Credentials for SAP: Basic (on-premise communication user) or OAuth 2.0 client credentials."""

import base64
import threading
import time

import requests

from .errors import AuthenticationFailed, ConnectionFailed, ODataTimeout, classify_response

# A token is renewed this many seconds before SAP says it expires: a request that starts with
# a token must not reach SAP after it has run out.
EXPIRY_MARGIN_S = 60


class BasicAuth:
    """HTTP Basic with a communication user."""

    def __init__(self, username, password):
        self.username = username
        self.password = password

    def authorization(self, session):
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def refresh_after_401(self, session):
        """Basic credentials cannot get better by asking again."""
        return False


class OAuthClientCredentials:
    """OAuth 2.0 client credentials: a token fetched from ``token_url``, cached until
    ``EXPIRY_MARGIN_S`` before its expiry, then fetched again; ``clock`` is injectable."""

    def __init__(
        self,
        token_url,
        client_id,
        client_secret,
        *,
        scope=None,
        timeout=(5.0, 30.0),
        clock=time.monotonic,
        expiry_margin_s=EXPIRY_MARGIN_S,
    ):
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.timeout = timeout
        self.clock = clock
        self.expiry_margin_s = expiry_margin_s
        self._token = None
        self._valid_until = 0.0
        self._lock = threading.Lock()

    def authorization(self, session):
        with self._lock:
            if self._token is None or self.clock() >= self._valid_until:
                self._fetch(session)
            return f"Bearer {self._token}"

    def refresh_after_401(self, session):
        """A 401 with a cached token: SAP may have revoked it early; fetch one new token."""
        with self._lock:
            self._token = None
        return True

    def _fetch(self, session):
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        started = self.clock()
        try:
            response = session.post(
                self.token_url,
                data=data,
                auth=(self.client_id, self.client_secret),
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.Timeout as error:
            raise ODataTimeout(f"OAuth token request timed out: {error}") from error
        except requests.ConnectionError as error:
            raise ConnectionFailed(f"OAuth token request failed: {error}") from error
        if response.status_code in (400, 401):
            raise AuthenticationFailed(
                f"the OAuth token URL refused the client credentials (HTTP {response.status_code})",
                status=response.status_code,
            )
        if response.status_code >= 300:
            raise classify_response(response.status_code, response.headers, response.text)
        payload = response.json()
        self._token = payload["access_token"]
        lifetime = float(payload.get("expires_in") or 0)
        self._valid_until = started + lifetime - self.expiry_margin_s
