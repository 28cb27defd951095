"""REST API of the integration layer: /mfg/v1/...

Every answer is JSON. Failures of a whole request answer
``{"error": {"code": ..., "message": ...}}`` with the status listed in docs/architecture.md
("API answers"); event batches answer one result per event. No input, however malformed, is answered
with a 500: that would make a sender retry something that can never succeed.
"""

import functools
import json
import logging
import re

from odoo import http
from odoo.http import request

from ..services import webhook_signature
from ..services.openapi import ContractDoc, build_openapi

_logger = logging.getLogger(__name__)

# Hard ceiling before the system (and its own cap) is known: nobody unauthenticated
# makes Odoo read more than this.
ABSOLUTE_BODY_LIMIT = 16 * 1024 * 1024
BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)
# What POST /mfg/v1/events reads, by media type: our JSON body (one event or {"events": [...]})
# and the CloudEvents HTTP binding's structured (one event) and batched (an array) modes.
EVENT_MEDIA_TYPES = {
    "application/json": "json",
    "application/cloudevents+json": "structured",
    "application/cloudevents-batch+json": "batched",
}
UNSUPPORTED_MEDIA_TYPE = (
    'Send the events as application/json (one event or {"events": [...]}), '
    "application/cloudevents+json (one event) or application/cloudevents-batch+json "
    "(a JSON array of events), in UTF-8."
)


class ApiError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def api_route(path, methods=("GET",), authenticated=True, readonly=True):
    """A /mfg/v1 JSON endpoint: plain HTTP (not JSON-RPC), no session, no CSRF token.

    With ``authenticated``, the Bearer key is checked first and the endpoint receives the
    caller's ``system``; every ApiError becomes its JSON error answer.
    """

    def decorate(method):
        @functools.wraps(method)
        def endpoint(self, *args, **kwargs):
            try:
                if authenticated:
                    kwargs["system"] = self._authenticate()
                return method(self, *args, **kwargs)
            except ApiError as error:
                return _error(error)

        return http.route(
            path,
            type="http",
            auth="none",
            methods=list(methods),
            csrf=False,
            save_session=False,
            readonly=readonly,
        )(endpoint)

    return decorate


def _json(body, status=200, headers=None):
    response = request.make_json_response(
        body, status=status, headers=list((headers or {}).items())
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(error):
    return _json(
        {"error": {"code": error.code, "message": error.message}},
        status=error.status,
        headers=error.headers,
    )


class MfgIntegrationApi(http.Controller):
    # -- authentication ---------------------------------------------------------------

    def _authenticate(self):
        """The system whose technical user owns the Bearer key, or ApiError 401/403."""
        if request.env is None or not request.db:
            raise ApiError(503, "no_database", "No Odoo database is selected for this host.")
        header = request.httprequest.headers.get("Authorization", "")
        match = BEARER.match(header)
        if not match:
            raise ApiError(
                401,
                "unauthenticated",
                "Send the system's API key as 'Authorization: Bearer <key>'.",
                {"WWW-Authenticate": 'Bearer realm="mfg"'},
            )
        env = request.env(su=True)
        key_id, uid = env["mfg.integration.system"]._match_api_key(match.group(1))
        if not uid:
            raise ApiError(
                401,
                "invalid_api_key",
                "The API key is unknown, expired or revoked.",
                {"WWW-Authenticate": 'Bearer realm="mfg", error="invalid_token"'},
            )
        user = env["res.users"].browse(uid)
        system = env["mfg.integration.system"].search([("user_id", "=", uid)], limit=1)
        if not system or not user.has_group("mfg_integration_base.group_mfg_integration_service"):
            raise ApiError(
                403,
                "not_an_integration_user",
                "This key does not belong to the technical user of an external system.",
            )
        refusal = system._api_key_refusal(key_id)
        if refusal:
            raise ApiError(
                401,
                "api_key_expired",
                refusal,
                {"WWW-Authenticate": 'Bearer realm="mfg", error="invalid_token"'},
            )
        if not system.active:
            raise ApiError(403, "system_archived", f"System '{system.code}' is archived.")
        refusal = system._environment_refusal()
        if refusal:
            raise ApiError(403, "environment_mismatch", refusal)
        system._note_api_key_use(key_id)
        request.update_env(user=uid)
        return system

    def _read_json_body(self, system):
        """The raw body, its parsed JSON and the mode its media type says (EVENT_MEDIA_TYPES)."""
        mode = self._content_mode()
        length = request.httprequest.content_length
        cap = min(system.max_payload_bytes, ABSOLUTE_BODY_LIMIT)
        if length is not None and length > cap:
            raise ApiError(
                413,
                "payload_too_large",
                f"The body has {length} bytes; this system may send at most {cap} per request.",
            )
        raw = request.httprequest.get_data(cache=True)
        if len(raw) > cap:
            raise ApiError(
                413,
                "payload_too_large",
                f"The body has {len(raw)} bytes; this system may send at most {cap} per request.",
            )
        if system.require_signature:
            self._check_signature(system, raw)
        try:
            return raw, json.loads(raw, parse_constant=_refuse_non_json_number), mode
        except (UnicodeDecodeError, ValueError) as error:
            raise ApiError(400, "malformed_json", f"The body is not valid JSON: {error}") from None

    def _content_mode(self):
        httprequest = request.httprequest
        if "ce-specversion" in httprequest.headers:
            raise ApiError(
                415,
                "unsupported_media_type",
                "The CloudEvents binary content mode (ce-* headers) is not accepted: send the "
                "structured mode, application/cloudevents+json.",
            )
        mode = EVENT_MEDIA_TYPES.get((httprequest.mimetype or "").lower())
        charset = httprequest.mimetype_params.get("charset", "utf-8").lower()
        if mode is None or charset not in ("utf-8", "utf8"):
            raise ApiError(415, "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE)
        return mode

    def _check_signature(self, system, raw):
        headers = request.httprequest.headers
        problem = webhook_signature.verify(
            system.sudo().signing_secret or "",
            headers.get("webhook-id", ""),
            headers.get("webhook-timestamp", ""),
            raw,
            headers.get("webhook-signature", ""),
        )
        if problem:
            raise ApiError(401, "invalid_signature", problem)

    # -- events -----------------------------------------------------------------------

    @api_route("/mfg/v1/events", methods=("POST",), readonly=False)
    def post_events(self, system, **_params):
        Event = request.env["mfg.integration.event"].sudo()
        try:
            _raw, body, mode = self._read_json_body(system)
            envelopes, batch = self._envelopes(body, mode, system)
        except ApiError as error:
            # a person must be able to see what the plant sent, even when it was refused whole
            Event._log_refused_request(
                system, self._body_preview(system), error.code, error.message
            )
            return _error(error)
        wait = (
            request.env["mfg.integration.rate.window"]
            .sudo()
            ._consume(system.id, system.rate_limit_per_minute, len(envelopes))
        )
        if wait < 0:
            raise ApiError(
                413,
                "batch_over_rate_limit",
                f"{len(envelopes)} events exceed this system's limit of "
                f"{system.rate_limit_per_minute} per minute; send smaller batches.",
            )
        if wait:
            raise ApiError(
                429,
                "rate_limited",
                f"System '{system.code}' sent more than {system.rate_limit_per_minute} "
                f"events this minute; retry in {wait} s.",
                {"Retry-After": str(wait)},
            )
        results = Event._ingest(system, envelopes)
        return self._answer(results, batch)

    def _body_preview(self, system):
        length = request.httprequest.content_length or 0
        if length > min(system.max_payload_bytes, ABSOLUTE_BODY_LIMIT):
            return f"(a body of {length} bytes, over the cap, was not read)"
        return request.httprequest.get_data(cache=True).decode("utf-8", "replace")

    def _envelopes(self, body, mode, system):
        """The events of the body and whether it was a batch (answered without merging)."""
        if mode == "batched":
            if not isinstance(body, list):
                raise ApiError(
                    400,
                    "malformed_batch",
                    "application/cloudevents-batch+json carries a JSON array of events.",
                )
            return self._batch(body, system), True
        wrapped = isinstance(body, dict) and "events" in body and "specversion" not in body
        if mode == "json" and wrapped:
            if not isinstance(body["events"], list):
                raise ApiError(400, "malformed_batch", "'events' must be a list of events.")
            return self._batch(body["events"], system), True
        if isinstance(body, dict):
            return [body], False
        if mode == "structured":
            raise ApiError(
                400,
                "malformed_body",
                "application/cloudevents+json carries one event, a JSON object; send a batch "
                "as application/cloudevents-batch+json.",
            )
        raise ApiError(
            400,
            "malformed_body",
            'Send one event (a JSON object) or a batch {"events": [...]}.',
        )

    def _batch(self, events, system):
        if not events:
            raise ApiError(400, "empty_batch", "The batch has no events.")
        if len(events) > system.max_batch_events:
            raise ApiError(
                413,
                "batch_too_large",
                f"The batch has {len(events)} events; this system may send at most "
                f"{system.max_batch_events} per request.",
            )
        return events

    def _answer(self, results, batch):
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for index, result in enumerate(results):
            result["index"] = index
            counts[result["status"]] += 1
            if result["status"] == "rejected":
                result["error"].pop("forbidden", None)
        # A single event of a contract the system may not send is a scope error (403). In a
        # batch each event gets its own answer, so a sender dead-letters those and goes on.
        forbidden_only = (
            not batch
            and counts["rejected"] == 1
            and results[0]["error"]["code"] == "contract_not_allowed"
        )
        if forbidden_only:
            status = 403
        elif counts["rejected"] == len(results):
            status = 422
        elif counts["rejected"]:
            status = 207
        elif counts["accepted"]:
            status = 202
        else:
            status = 200
        body = dict(counts, results=results)
        if not batch:
            body.update(results[0])
        return _json(body, status=status)

    @api_route("/mfg/v1/events/<string:event_id>")
    def get_event(self, event_id, system, source=None, **_params):
        domain = [
            ("system_id", "=", system.id),
            ("event_uid", "=", event_id),
            ("direction", "=", "inbound"),
        ]
        if source:
            domain.append(("source", "=", source))
        events = request.env["mfg.integration.event"].sudo().search(domain, order="id desc")
        accepted = events.filtered(lambda e: e.state != "rejected")
        event = accepted[:1] or events[:1]
        if not event:
            return _error(ApiError(404, "not_found", "No event with this id from this system."))
        if len(accepted) > 1 and not source:
            return _error(
                ApiError(409, "ambiguous", "Several sources used this id; add ?source=<source>.")
            )
        exception = event.exception_id
        return _json(
            {
                "id": event.event_uid,
                "source": event.source or None,
                "type": event.event_type or None,
                "subject": event.subject or None,
                "state": event.state,
                "attempts": event.attempts,
                "received_at": _iso(event.received_at),
                "processed_at": _iso(event.processed_at),
                "error": {
                    "code": event.error_code,
                    "pointer": event.error_pointer or None,
                    "message": (event.error or "").split("\n\n")[0],
                }
                if event.error_code
                else None,
                "exception": {
                    "reason_code": exception.reason_code or None,
                    "message": exception.name or "",
                    "state": exception.state,
                }
                if exception
                else None,
            }
        )

    # -- contracts ----------------------------------------------------------------------

    @api_route("/mfg/v1/contracts")
    def list_contracts(self, system, **_params):
        contracts = self._visible_contracts()
        return _json(
            {
                "contracts": [
                    {
                        "type": contract.code,
                        "version": contract.version,
                        "name": contract.name,
                        "direction": contract.direction,
                        "state": contract.state,
                        "dataschema": contract.dataschema,
                        "sunset_date": (
                            contract.sunset_date.isoformat() if contract.sunset_date else None
                        ),
                        "allowed": system._allows(contract),
                    }
                    for contract in contracts
                ]
            }
        )

    @api_route("/mfg/v1/contracts/<string:contract_type>/<string:version>")
    def get_contract(self, contract_type, version, system, **_params):
        contract = self._visible_contracts().filtered(
            lambda c: c.code == contract_type and c.version == version
        )
        if not contract:
            return _error(ApiError(404, "not_found", f"No contract {contract_type} {version}."))
        return _json(
            {
                "type": contract.code,
                "version": contract.version,
                "name": contract.name,
                "description": contract.description or "",
                "direction": contract.direction,
                "state": contract.state,
                "dataschema": contract.dataschema,
                "isa95_object": contract.isa95_object or None,
                "schema": json.loads(contract.schema),
                "example": json.loads(contract.example) if contract.example else None,
            }
        )

    def _visible_contracts(self):
        return (
            request.env["mfg.integration.contract"]
            .sudo()
            .search([("state", "in", ("active", "deprecated"))])
        )

    @api_route("/mfg/v1/openapi.json")
    def openapi(self, system, **_params):
        contracts = self._visible_contracts()
        described = {
            direction: [
                ContractDoc(
                    code=contract.code,
                    version=contract.version,
                    name=contract.name,
                    dataschema=contract.dataschema,
                    schema=json.loads(contract.schema),
                    batch_delivery=contract.batch_delivery,
                )
                for contract in contracts
                if contract.direction == direction
            ]
            for direction in ("inbound", "outbound")
        }
        document = build_openapi(
            described["inbound"],
            described["outbound"],
            request.httprequest.host_url.rstrip("/"),
        )
        return _json(document)

    @api_route("/mfg/v1/edge/config")
    def edge_config(self, system, **_params):
        """The rules admins keep in Odoo for this (edge) system; 304 when unchanged."""
        document = request.env["mfg.integration.edge.rule"].sudo()._config_document(system)
        quoted = f'"{document["etag"]}"'
        if request.httprequest.headers.get("If-None-Match") in (document["etag"], quoted):
            return request.make_response("", status=304, headers=[("ETag", quoted)])
        response = _json(document)
        response.headers["ETag"] = quoted
        return response

    @api_route("/mfg/v1/health", authenticated=False)
    def health(self, **_params):
        """Up or down, nothing else: no authentication, so no data."""
        try:
            request.env.cr.execute("SELECT 1")
        except Exception:
            return _json({"status": "down"}, status=503)
        return _json({"status": "up"})


def _refuse_non_json_number(name):
    # Python's json accepts NaN and Infinity; JSON (and PostgreSQL's jsonb) do not.
    raise ValueError(f"{name} is not a JSON number")


def _iso(value):
    return value.isoformat() + "Z" if value else None
