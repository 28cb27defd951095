"""The OData V2 client against a scripted HTTP server on 127.0.0.1: no database needed.

Runs with the addon's other tests (pytest-odoo) and alone:
``.venv/bin/python -m pytest addons/mfg_integration_sap/tests/test_odata_client.py -p no:odoo``.
"""

import base64
import socket
import time
import unittest
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from ..services.odata.auth import BasicAuth, OAuthClientCredentials
from ..services.odata.batch import ChangeSet, Operation, build_batch, parse_batch_response
from ..services.odata.client import ODataClient
from ..services.odata.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    CsrfTokenRejected,
    ODataTimeout,
    PreconditionRequired,
    RateLimited,
    SapBusinessError,
    SapTechnicalError,
    StaleETag,
    classify_response,
    parse_error_body,
)
from ..services.odata.metadata import decimal_properties, key_properties
from ..services.odata.values import delta_filter, format_sap_date, parse_entity, parse_sap_date
from .odata_fake_server import FakeSap, Reply, json_reply, sap_error

SERVICE = "/sap/opu/odata/sap/API_PRODUCTION_ORDER_2_SRV"
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ORDER = {
    "__metadata": {
        "uri": "A_ProductionOrder_2('1000001')",
        "type": "API_PRODUCTION_ORDER_2_SRV.A_ProductionOrder_2Type",
        "etag": "W/\"datetimeoffset'2026-11-23T08%3A15%3A02Z'\"",
    },
    "ManufacturingOrder": "1000001",
    "Material": "FG-100",
    "TotalQuantity": "25.000",
    "MfgOrderPlannedStartDate": "/Date(1700000000000)/",
    "to_ProductionOrderOperation": {"__deferred": {"uri": "A_ProductionOrder_2('1000001')/ops"}},
}


class SapServerCase(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.fake = FakeSap()
        self.addCleanup(self.fake.close)

    def client(self, **kwargs):
        kwargs.setdefault("sap_client", "100")
        kwargs.setdefault("timeout", (2.0, 5.0))
        kwargs.setdefault("now", lambda: NOW)
        return ODataClient(self.fake.url + SERVICE, **kwargs)

    def sent(self, method=None, path_end=""):
        return [
            request
            for request in self.fake.requests
            if (method is None or request.method == method) and request.path.endswith(path_end)
        ]


class CsrfServer:
    """SAP's CSRF choreography: a token per session cookie, expired on demand."""

    def __init__(self, always_expired=False):
        self.tokens = {}  # session cookie -> valid token
        self.fetches = 0
        self.always_expired = always_expired

    def __call__(self, request):
        cookie = request.header("cookie") or ""
        if request.method == "GET" and request.header("x-csrf-token") == "Fetch":
            self.fetches += 1
            session = cookie.partition("SAP_SESSIONID_100=")[2] or f"s{self.fetches}"
            token = f"token-{self.fetches}"
            self.tokens[session] = token
            return json_reply(
                {"d": {"EntitySets": ["A_ProductionOrder_2"]}},
                **{"X-CSRF-Token": token, "Set-Cookie": f"SAP_SESSIONID_100={session}; Path=/"},
            )
        if request.method == "GET":
            return json_reply({"d": ORDER})
        session = cookie.partition("SAP_SESSIONID_100=")[2]
        valid = self.tokens.get(session)
        if self.always_expired or valid is None or request.header("x-csrf-token") != valid:
            return Reply(403, "CSRF token validation failed", {"X-CSRF-Token": "Required"})
        return json_reply({"d": dict(ORDER, ManufacturingOrder="1000002")}, 201)

    def expire(self):
        self.tokens.clear()


class TestCsrfAndCookies(SapServerCase):
    def test_token_fetched_once_and_sent_with_the_session_cookie(self):
        server = CsrfServer()
        self.fake.handle = server
        client = self.client()
        created = client.create("A_ProductionOrder_2", {"Material": "FG-100"})
        client.create("A_ProductionOrder_2", {"Material": "FG-200"})
        self.assertEqual(created["ManufacturingOrder"], "1000002")
        self.assertEqual(server.fetches, 1)
        fetch, first, second = self.fake.requests
        self.assertEqual((fetch.method, fetch.path), ("GET", SERVICE + "/"))
        for write in (first, second):
            self.assertEqual(write.header("x-csrf-token"), "token-1")
            self.assertEqual(write.header("cookie"), "SAP_SESSIONID_100=s1")
        self.assertEqual(first.body, b'{"Material":"FG-100"}')

    def test_expired_token_is_fetched_again_once_and_the_write_retried(self):
        server = CsrfServer()
        self.fake.handle = server
        client = self.client()
        client.create("A_ProductionOrder_2", {"Material": "FG-100"})
        server.expire()
        client.create("A_ProductionOrder_2", {"Material": "FG-200"})
        writes = self.sent("POST")
        self.assertEqual([w.header("x-csrf-token") for w in writes], ["token-1"] * 2 + ["token-2"])
        self.assertEqual(server.fetches, 2)
        self.assertEqual(client.csrf_token, "token-2")

    def test_a_token_refused_again_raises_after_exactly_one_refetch(self):
        server = CsrfServer(always_expired=True)
        self.fake.handle = server
        with self.assertRaises(CsrfTokenRejected) as caught:
            self.client().create("A_ProductionOrder_2", {"Material": "FG-100"})
        self.assertIsInstance(caught.exception, SapTechnicalError)
        self.assertEqual(server.fetches, 2)
        self.assertEqual(len(self.sent("POST")), 2)

    def test_reads_need_no_token(self):
        self.fake.handle = lambda request: json_reply({"d": ORDER})
        self.client().read_entity("A_ProductionOrder_2('1000001')")
        self.assertEqual(len(self.fake.requests), 1)
        self.assertIsNone(self.fake.requests[0].header("x-csrf-token"))


class TestETags(SapServerCase):
    def setUp(self):
        super().setUp()
        self.etag = 'W/"2"'

        def handle(request):
            if request.method == "GET":
                token = {"X-CSRF-Token": "t"} if request.header("x-csrf-token") else {}
                return json_reply({"d": ORDER}, ETag=self.etag, **token)
            if request.header("if-match") is None:
                return sap_error(428, "/IWBEP/CM_MGW_RT/020", "Precondition required: If-Match")
            if request.header("if-match") != self.etag:
                return sap_error(412, "/IWBEP/CM_MGW_RT/022", "Entity was changed meanwhile")
            self.etag = 'W/"3"'
            return Reply(204, b"", {"ETag": self.etag})

        self.fake.handle = handle

    def test_read_gives_the_etag_and_update_sends_it_in_if_match(self):
        client = self.client()
        order = client.read_entity("A_ProductionOrder_2('1000001')")
        self.assertEqual(order.etag, ORDER["__metadata"]["etag"])
        new_etag = client.update("A_ProductionOrder_2('1000001')", {"Material": "X"}, etag='W/"2"')
        self.assertEqual(new_etag, 'W/"3"')
        self.assertEqual(self.sent("PATCH")[0].header("if-match"), 'W/"2"')

    def test_function_import_sends_literals_if_match_and_token(self):
        result = self.client().call_function(
            "ReleaseOrder", {"ManufacturingOrder": "O'1"}, etag='W/"2"'
        )
        self.assertIsNone(result)
        (call,) = self.sent("POST")
        self.assertEqual(call.path, SERVICE + "/ReleaseOrder")
        expected = {"ManufacturingOrder": "'O''1'", "$format": "json", "sap-client": "100"}
        self.assertEqual(call.query, expected)
        self.assertEqual((call.header("if-match"), call.header("x-csrf-token")), ('W/"2"', "t"))

    def test_stale_etag_raises_stale_etag(self):
        with self.assertRaises(StaleETag) as caught:
            self.client().update("A_ProductionOrder_2('1000001')", {"Material": "X"}, etag='W/"1"')
        self.assertEqual(caught.exception.status, 412)
        self.assertEqual(caught.exception.code, "/IWBEP/CM_MGW_RT/022")
        self.assertEqual(len(self.sent("PATCH")), 1)

    def test_missing_etag_raises_precondition_required(self):
        with self.assertRaises(PreconditionRequired) as caught:
            self.client().update("A_ProductionOrder_2('1000001')", {"Material": "X"}, etag=None)
        self.assertEqual(caught.exception.status, 428)
        self.assertIsInstance(caught.exception, SapBusinessError)


class TestBatch(SapServerCase):
    ITEMS = (
        ChangeSet(
            (
                Operation(
                    "POST", "ProdnOrdConf2", {"OrderID": "1", "Qty": Decimal("5.000")}, {}, "c1"
                ),
                Operation("PATCH", "A_ProductionOrder_2('1')", {"X": "Y"}, {"If-Match": 'W/"1"'}),
            )
        ),
        Operation("GET", "A_ProductionOrder_2('1')"),
    )

    def test_request_body_is_multipart_with_a_changeset_and_content_ids(self):
        body, content_type = build_batch(
            self.ITEMS, batch_boundary="batch_B", changeset_boundaries=["changeset_C"]
        )
        self.assertEqual(content_type, "multipart/mixed; boundary=batch_B")
        expected = (
            "--batch_B\r\n"
            "Content-Type: multipart/mixed; boundary=changeset_C\r\n"
            "\r\n"
            "--changeset_C\r\n"
            "Content-Type: application/http\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            "Content-ID: c1\r\n"
            "\r\n"
            "POST ProdnOrdConf2 HTTP/1.1\r\n"
            "Accept: application/json\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 29\r\n"
            "\r\n"
            '{"OrderID":"1","Qty":"5.000"}\r\n'
            "--changeset_C\r\n"
            "Content-Type: application/http\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            "Content-ID: 2\r\n"
            "\r\n"
            "PATCH A_ProductionOrder_2('1') HTTP/1.1\r\n"
            "Accept: application/json\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 9\r\n"
            'If-Match: W/"1"\r\n'
            "\r\n"
            '{"X":"Y"}\r\n'
            "--changeset_C--\r\n"
            "\r\n"
            "--batch_B\r\n"
            "Content-Type: application/http\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            "\r\n"
            "GET A_ProductionOrder_2('1') HTTP/1.1\r\n"
            "Accept: application/json\r\n"
            "\r\n"
            "\r\n"
            "--batch_B--\r\n"
        )
        self.assertEqual(body, expected)

    def test_writes_outside_a_changeset_are_refused(self):
        with self.assertRaises(ValueError):
            build_batch([Operation("POST", "ProdnOrdConf2", {})])
        with self.assertRaises(ValueError):
            build_batch([ChangeSet((Operation("GET", "A_ProductionOrder_2"),))])

    def test_response_gives_per_part_statuses_and_a_failed_changeset_fails_whole(self):
        items = [
            ChangeSet(
                (Operation("POST", "ProdnOrdConf2", {}, {}, "a1"), Operation("POST", "X", {}))
            ),
            ChangeSet(
                (Operation("POST", "ProdnOrdConf2", {}), Operation("POST", "ProdnOrdConf2", {}))
            ),
            ChangeSet(
                (Operation("POST", "ProdnOrdConf2", {}), Operation("POST", "ProdnOrdConf2", {}))
            ),
            Operation("GET", "A_ProductionOrder_2('1')"),
        ]
        results = parse_batch_response(
            BATCH_RESPONSE, "multipart/mixed; boundary=batchresp_1", items
        )
        applied, rolled_back, locked, read = results
        self.assertTrue(applied.ok)
        self.assertEqual(
            [(p.content_id, p.status) for p in applied.parts], [("a1", 201), ("2", 204)]
        )
        self.assertEqual(applied.parts[0].json()["d"]["ConfirmationCount"], "7")
        # SAP answers a rolled-back changeset with one error part: every operation failed
        self.assertFalse(rolled_back.ok)
        self.assertEqual([p.status for p in rolled_back.parts], [400, 400])
        self.assertIsInstance(rolled_back.error, SapBusinessError)
        self.assertEqual(rolled_back.error.code, "M7/053")
        self.assertIn("period", str(rolled_back.error))
        # one failed operation inside the changeset: the 201 before it was rolled back too
        self.assertFalse(locked.ok)
        self.assertEqual([p.status for p in locked.parts], [201, 423])
        self.assertEqual([p.ok for p in locked.parts], [False, False])
        self.assertEqual(locked.error.code, "CO/473")
        self.assertTrue(read.ok)
        self.assertEqual(read.status, 200)

    def test_batch_over_http_carries_token_cookie_and_sap_client(self):
        def handle(request):
            if request.method == "GET":
                return Reply(200, b"", {"X-CSRF-Token": "t1", "Set-Cookie": "S=1; Path=/"})
            return Reply(
                202, BATCH_RESPONSE, {"Content-Type": "multipart/mixed; boundary=batchresp_1"}
            )

        self.fake.handle = handle
        items = [
            ChangeSet(
                (Operation("POST", "ProdnOrdConf2", {}, {}, "a1"), Operation("POST", "X", {}))
            ),
            ChangeSet((Operation("POST", "ProdnOrdConf2", {}),)),
            ChangeSet(
                (Operation("POST", "ProdnOrdConf2", {}), Operation("POST", "ProdnOrdConf2", {}))
            ),
            Operation("GET", "A_ProductionOrder_2('1')"),
        ]
        results = self.client().batch(items, batch_boundary="batch_X")
        self.assertEqual([result.ok for result in results], [True, False, False, True])
        (post,) = self.sent("POST")
        self.assertEqual(post.path, SERVICE + "/$batch")
        self.assertEqual(post.query, {"sap-client": "100"})
        self.assertEqual(post.header("content-type"), "multipart/mixed; boundary=batch_X")
        self.assertEqual((post.header("x-csrf-token"), post.header("cookie")), ("t1", "S=1"))
        self.assertTrue(post.text.startswith("--batch_X\r\nContent-Type: multipart/mixed;"))


def _part(http, content_id=None):
    header = f"Content-ID: {content_id}\r\n" if content_id else ""
    return (
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        f"{header}\r\n{http}\r\n"
    )


ERROR_PERIOD = (
    '{"error":{"code":"M7/053","message":{"lang":"en","value":"Posting only possible in '
    'periods 2026/11 and 2026/10 in company code 1010"},"innererror":{"errordetails":[]}}}'
)
ERROR_LOCKED = (
    '{"error":{"code":"CO/473","message":{"lang":"en","value":"Order 1000001 is locked by '
    'user PLANNER1"}}}'
)
BATCH_RESPONSE = (
    "--batchresp_1\r\nContent-Type: multipart/mixed; boundary=changesetresp_1\r\n\r\n"
    "--changesetresp_1\r\n"
    + _part(
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n"
        '{"d":{"ConfirmationCount":"7"}}',
        "a1",
    )
    + "--changesetresp_1\r\n"
    + _part("HTTP/1.1 204 No Content\r\n\r\n", "2")
    + "--changesetresp_1--\r\n\r\n"
    "--batchresp_1\r\n"
    + _part(f"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\r\n{ERROR_PERIOD}")
    + "--batchresp_1\r\nContent-Type: multipart/mixed; boundary=changesetresp_2\r\n\r\n"
    "--changesetresp_2\r\n"
    + _part('HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n\r\n{"d":{}}', "1")
    + "--changesetresp_2\r\n"
    + _part(f"HTTP/1.1 423 Locked\r\nContent-Type: application/json\r\n\r\n{ERROR_LOCKED}", "2")
    + "--changesetresp_2--\r\n\r\n"
    "--batchresp_1\r\n"
    + _part('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"d":{"Material":"FG"}}')
    + "--batchresp_1--\r\n"
)


class TestPagingFilterSapClient(SapServerCase):
    def test_pages_followed_through_next_links_with_sap_client_kept(self):
        pages = {
            None: ([1, 2, 3], f"{self.fake.url}{SERVICE}/A_ProductionOrder_2?$skiptoken=3"),
            "3": ([4, 5, 6], "A_ProductionOrder_2?$skiptoken=6&sap-client=100"),
            "6": ([7], None),
        }

        def handle(request):
            numbers, next_link = pages[request.query.get("$skiptoken")]
            document = {"results": [dict(ORDER, ManufacturingOrder=str(n)) for n in numbers]}
            if next_link:
                document["__next"] = next_link
            return json_reply({"d": document})

        self.fake.handle = handle
        since = datetime(2026, 11, 23, 9, 15, 2, 700000, tzinfo=timezone(timedelta(hours=1)))
        orders = list(
            self.client().iter_entities(
                "A_ProductionOrder_2",
                filter=delta_filter(since),
                select=["ManufacturingOrder", "TotalQuantity"],
                decimal_fields={"TotalQuantity"},
            )
        )
        self.assertEqual([o["ManufacturingOrder"] for o in orders], [str(n) for n in range(1, 8)])
        self.assertEqual(orders[0]["TotalQuantity"], Decimal("25.000"))
        first, second, third = self.fake.requests
        # spaces as %20 (not +), OData's $ ' : , kept readable as in SAP's own examples
        self.assertEqual(
            first.raw_query,
            "$filter=LastChangeDateTime%20gt%20datetimeoffset'2026-11-23T08:15:02Z'"
            "&$select=ManufacturingOrder,TotalQuantity&$format=json&sap-client=100",
        )
        self.assertEqual(first.query["$filter"], delta_filter(since))
        for request in (second, third):
            self.assertEqual(request.query["sap-client"], "100")
            self.assertEqual(request.path, SERVICE + "/A_ProductionOrder_2")
        self.assertEqual(third.query["$skiptoken"], "6")

    def test_delta_filter_formats(self):
        since = datetime(2026, 11, 23, 8, 15, 2, tzinfo=UTC)
        self.assertEqual(
            delta_filter(since), "LastChangeDateTime gt datetimeoffset'2026-11-23T08:15:02Z'"
        )
        self.assertEqual(
            delta_filter(since, as_timestamp_string=True), "LastChangeDateTime gt '20261123081502'"
        )
        with self.assertRaises(ValueError):
            delta_filter(datetime(2026, 11, 23, 8, 15, 2))

    def test_next_link_to_another_host_is_refused(self):
        self.fake.handle = lambda request: json_reply(
            {"d": {"results": [], "__next": "https://elsewhere.example/x?$skiptoken=1"}}
        )
        with self.assertRaises(ValueError):
            list(self.client().iter_entities("A_ProductionOrder_2"))

    def test_sap_client_on_every_request(self):
        server = CsrfServer()
        self.fake.handle = server
        client = self.client(sap_client="200")
        client.create("A_ProductionOrder_2", {"Material": "FG-100"})
        client.get_json("A_ProductionOrder_2('1')")
        self.assertEqual(len(self.fake.requests), 3)
        self.assertEqual({r.query.get("sap-client") for r in self.fake.requests}, {"200"})


class FakeClock:
    def __init__(self):
        self.seconds = 1000.0

    def __call__(self):
        return self.seconds


class TestAuth(SapServerCase):
    def test_basic_credentials_sent_and_a_401_is_not_retried(self):
        self.fake.handle = lambda request: sap_error(401, "", "Logon failed")
        with self.assertRaises(AuthenticationFailed):
            self.client(auth=BasicAuth("COMM_USER", "s3cret")).get_json("A_ProductionOrder_2")
        (request,) = self.fake.requests
        expected = "Basic " + base64.b64encode(b"COMM_USER:s3cret").decode()
        self.assertEqual(request.header("authorization"), expected)

    def oauth_server(self, reject_tokens=()):
        issued = []

        def handle(request):
            if request.path == "/oauth/token":
                self.assertEqual(request.text, "grant_type=client_credentials")
                expected = "Basic " + base64.b64encode(b"client:secret").decode()
                self.assertEqual(request.header("authorization"), expected)
                issued.append(f"access-{len(issued) + 1}")
                return json_reply({"access_token": issued[-1], "expires_in": 3600})
            token = request.header("authorization").removeprefix("Bearer ")
            if token not in issued or token in reject_tokens:
                return Reply(401, "")
            return json_reply({"d": {"results": []}})

        self.fake.handle = handle
        return issued

    def test_token_cached_until_shortly_before_expiry_then_refreshed(self):
        issued = self.oauth_server()
        clock = FakeClock()
        auth = OAuthClientCredentials(
            self.fake.url + "/oauth/token", "client", "secret", clock=clock
        )
        client = self.client(auth=auth)
        client.get_json("A_ProductionOrder_2")
        clock.seconds += 3600 - 61
        client.get_json("A_ProductionOrder_2")
        self.assertEqual(issued, ["access-1"])
        clock.seconds += 1  # within the 60 s margin: renewed before SAP would refuse it
        client.get_json("A_ProductionOrder_2")
        self.assertEqual(issued, ["access-1", "access-2"])
        reads = [r.header("authorization") for r in self.sent("GET", "A_ProductionOrder_2")]
        self.assertEqual(reads, ["Bearer access-1"] * 2 + ["Bearer access-2"])

    def test_a_401_with_a_cached_token_refreshes_it_once(self):
        issued = self.oauth_server(reject_tokens={"access-1"})
        auth = OAuthClientCredentials(
            self.fake.url + "/oauth/token", "client", "secret", clock=FakeClock()
        )
        self.client(auth=auth).get_json("A_ProductionOrder_2")
        self.assertEqual(issued, ["access-1", "access-2"])
        self.assertEqual(len(self.sent("GET", "A_ProductionOrder_2")), 2)

    def test_a_401_after_the_refresh_raises(self):
        issued = self.oauth_server(reject_tokens={"access-1", "access-2", "access-3"})
        auth = OAuthClientCredentials(
            self.fake.url + "/oauth/token", "client", "secret", clock=FakeClock()
        )
        with self.assertRaises(AuthenticationFailed):
            self.client(auth=auth).get_json("A_ProductionOrder_2")
        self.assertEqual(issued, ["access-1", "access-2"])


class TestTransportFailures(SapServerCase):
    def test_read_timeout_is_a_technical_error_raised_quickly(self):
        self.fake.handle = lambda request: Reply(200, b"{}", delay_s=2.0)
        started = time.monotonic()
        with self.assertRaises(ODataTimeout) as caught:
            self.client(timeout=(1.0, 0.3)).get_json("A_ProductionOrder_2")
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertIsInstance(caught.exception, SapTechnicalError)
        self.assertFalse(caught.exception.maybe_applied)

    def test_connection_dropped_after_a_write_was_sent_may_have_applied_it(self):
        def handle(request):
            if request.method == "GET":
                return Reply(200, b"", {"X-CSRF-Token": "t"})
            return Reply(drop=True)

        self.fake.handle = handle
        with self.assertRaises(ConnectionFailed) as caught:
            self.client().create("ProdnOrdConf2", {"OrderID": "1"})
        self.assertTrue(caught.exception.maybe_applied)

    def test_refused_connection_applied_nothing(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        client = ODataClient(f"http://127.0.0.1:{port}{SERVICE}", timeout=(1.0, 1.0))
        with self.assertRaises(ConnectionFailed) as caught:
            client.create("ProdnOrdConf2", {"OrderID": "1"})
        self.assertFalse(caught.exception.maybe_applied)


class TestErrorClassification(unittest.TestCase):
    def test_json_envelope_with_a_message_is_a_business_error(self):
        body = (
            '{"error":{"code":"CO/473","message":{"lang":"en","value":"Order 1000001 is locked"},'
            '"innererror":{"errordetails":[{"code":"CO/473","message":"Order 1000001 is locked",'
            '"severity":"error","target":""}]}}}'
        )
        error = classify_response(400, {"Content-Type": "application/json"}, body)
        self.assertIsInstance(error, SapBusinessError)
        self.assertEqual(
            (error.status, error.code, str(error)), (400, "CO/473", "Order 1000001 is locked")
        )
        self.assertEqual(error.sap.lang, "en")
        self.assertEqual(error.sap.details[0].severity, "error")

    def test_xml_envelope(self):
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">'
            '<code>M3/305</code><message xml:lang="en">Material FG-999 unknown</message>'
            "<innererror><errordetails><errordetail><code>M3/305</code>"
            "<message>Material FG-999 unknown</message><severity>error</severity>"
            "</errordetail></errordetails></innererror></error>"
        )
        error = classify_response(400, {"Content-Type": "application/xml"}, body)
        self.assertIsInstance(error, SapBusinessError)
        self.assertEqual(
            (error.code, str(error), error.sap.lang), ("M3/305", "Material FG-999 unknown", "en")
        )
        self.assertEqual(error.sap.details[0].code, "M3/305")
        self.assertIsNone(parse_error_body("<html>Bad gateway</html>", "text/html"))

    def test_server_errors_are_technical(self):
        for status in (500, 502, 503, 504, 408):
            error = classify_response(status, {}, "<html>down</html>")
            self.assertIsInstance(error, SapTechnicalError, status)
            self.assertNotIsInstance(error, SapBusinessError)

    def test_retry_after_in_seconds_and_as_http_date(self):
        error = classify_response(503, {"Retry-After": "120"}, "")
        self.assertEqual(error.retry_after, 120.0)
        error = classify_response(
            429, {"Retry-After": "Mon, 23 Nov 2026 08:00:30 GMT"}, "", now=NOW
        )
        self.assertIsInstance(error, RateLimited)
        self.assertEqual(error.retry_after, 30.0)
        self.assertIsNone(classify_response(429, {}, "").retry_after)

    def test_retry_after_reaches_the_caller_over_http(self):
        fake = FakeSap()
        self.addCleanup(fake.close)
        fake.handle = lambda request: sap_error(
            429, "", "Too many requests", **{"Retry-After": "7"}
        )
        client = ODataClient(fake.url + SERVICE, sap_client="100")
        with self.assertRaises(RateLimited) as caught:
            client.get_json("A_ProductionOrder_2")
        self.assertEqual(caught.exception.retry_after, 7.0)


class TestValues(unittest.TestCase):
    def test_dates_with_and_without_offset(self):
        self.assertEqual(
            parse_sap_date("/Date(1700000000000)/"), datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
        )
        with_offset = parse_sap_date("/Date(1700000000000+0060)/")
        self.assertEqual(with_offset.utcoffset(), timedelta(hours=1))
        self.assertEqual(with_offset.replace(tzinfo=None), datetime(2023, 11, 14, 22, 13, 20))
        west = parse_sap_date("/Date(1700000000000-0300)/")
        self.assertEqual(west.utcoffset(), timedelta(hours=-5))
        self.assertEqual(parse_sap_date("/Date(-86400000)/"), datetime(1969, 12, 31, tzinfo=UTC))
        self.assertEqual(
            format_sap_date(parse_sap_date("/Date(1700000000000)/")), "/Date(1700000000000)/"
        )
        with self.assertRaises(ValueError):
            parse_sap_date("2023-11-14")

    def test_entity_quantities_dates_metadata_and_expanded_items(self):
        raw = dict(
            ORDER,
            to_ProductionOrderComponent={
                "results": [{"__metadata": {"etag": "c1"}, "RequiredQuantity": "2.500"}]
            },
        )
        entity = parse_entity(raw, {"TotalQuantity", "RequiredQuantity"})
        self.assertEqual(entity["TotalQuantity"], Decimal("25.000"))
        self.assertEqual(str(entity["TotalQuantity"]), "25.000")
        self.assertEqual(
            entity["MfgOrderPlannedStartDate"], datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
        )
        self.assertEqual(entity.uri, "A_ProductionOrder_2('1000001')")
        self.assertNotIn("__metadata", entity.values)
        self.assertEqual(entity.deferred, ("to_ProductionOrderOperation",))
        (component,) = entity["to_ProductionOrderComponent"]
        self.assertEqual((component.etag, component["RequiredQuantity"]), ("c1", Decimal("2.500")))
        with self.assertRaises(TypeError):
            parse_entity({"TotalQuantity": 25.0}, {"TotalQuantity"})


METADATA = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"
 xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
 xmlns:sap="http://www.sap.com/Protocols/SAPData">
 <edmx:DataServices m:DataServiceVersion="2.0">
  <Schema Namespace="API_PRODUCTION_ORDER_2_SRV" xml:lang="en"
   xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
   <EntityType Name="A_ProductionOrder_2Type" sap:content-version="1">
    <Key><PropertyRef Name="ManufacturingOrder"/></Key>
    <Property Name="ManufacturingOrder" Type="Edm.String" Nullable="false" MaxLength="12"/>
    <Property Name="Material" Type="Edm.String" MaxLength="40"/>
    <Property Name="TotalQuantity" Type="Edm.Decimal" Precision="13" Scale="3"/>
    <Property Name="LastChangeDateTime" Type="Edm.DateTimeOffset" Precision="7"/>
   </EntityType>
   <EntityContainer Name="API_PRODUCTION_ORDER_2_SRV_Entities" m:IsDefaultEntityContainer="true">
    <EntitySet Name="A_ProductionOrder_2"
     EntityType="API_PRODUCTION_ORDER_2_SRV.A_ProductionOrder_2Type"/>
   </EntityContainer>
  </Schema>
 </edmx:DataServices>
</edmx:Edmx>"""


class TestMetadata(SapServerCase):
    def test_metadata_read_with_pyodata_gives_keys_and_decimal_fields(self):
        self.fake.handle = lambda request: Reply(200, METADATA, {"Content-Type": "application/xml"})
        schema = self.client().metadata()
        (request,) = self.fake.requests
        self.assertEqual(request.path, SERVICE + "/$metadata")
        self.assertEqual(request.query, {"sap-client": "100"})
        self.assertEqual(key_properties(schema, "A_ProductionOrder_2"), ("ManufacturingOrder",))
        self.assertEqual(decimal_properties(schema, "A_ProductionOrder_2"), {"TotalQuantity"})
