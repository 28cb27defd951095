"""Confirmations posted exactly once against the SAP emulator with its faults on: timeouts
after the write, 503s with Retry-After, CSRF token expiries and connections dropped before
and after SAP applied the write. Delivered through the base's delivery loop
(services/outbound_delivery.py) as the dispatcher does, rounds repeated until every event is
delivered, waiting what each failure asked. No database."""

import logging
import time
import unittest
import uuid

from odoo.addons.mfg_integration_base.services.adapters import Message
from odoo.addons.mfg_integration_base.services.outbound_delivery import deliver_in_order

from ..adapters.sap_odata import SapODataAdapter
from ..services import sap_messages
from ..services.sap_settings import SapSettings
from .sap_emulator_process import PASSWORD, SAP_CLIENT, USER, EmulatorProcess

_logger = logging.getLogger(__name__)

READ_TIMEOUT_S = 1.0
# each kind of fault surely (the next N) and at random on top (a share, seeded)
FAULTS = {
    "seed": 7,
    "timeout_count": 2,
    "rate_timeout": 0.02,
    "timeout_ms": 1500,  # longer than the read timeout: SAP applied it, Odoo saw no answer
    "burst_count": 2,
    "burst_status": 503,
    "rate_503": 0.03,
    "retry_after_s": 1,
    "csrf_expire_every": 7,
    "drop_after_count": 2,
    "rate_drop_after": 0.02,
    "drop_before_count": 1,
    "rate_drop_before": 0.02,
}
# the dispatcher's delivery lanes (parallel connections) and events per request
LANES = 4
BATCH_SIZE = 50
# whole-run bound: the test fails rather than loops when delivery never completes
RUN_LIMIT_S = 45


class TestSapExactlyOnce(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator = EmulatorProcess(orders=120)
        cls.addClassCleanup(cls.emulator.stop)

    def settings(self, batch_enabled):
        return SapSettings(
            system_code="sap_emulator",
            url=self.emulator.service_root,
            read_timeout=READ_TIMEOUT_S,
            connect_timeout=2.0,
            sap_client=SAP_CLIENT,
            username=USER,
            password=PASSWORD,
            batch_enabled=batch_enabled,
        )

    def released_orders(self, count):
        """(order, its last operation, the operation's unit) of ``count`` released orders."""
        client = self.settings(True).client("API_PRODUCTION_ORDER_2_SRV")
        orders = []
        for order in client.iter_entities(
            "A_ProductionOrder_2",
            filter="OrderIsReleased eq true and OrderIsLocked eq false",
            expand="to_ProductionOrderOperation",
            orderby="ManufacturingOrder",
        ):
            operations = sorted(
                order["to_ProductionOrderOperation"],
                key=lambda op: op["ManufacturingOrderOperation"],
            )
            if operations:
                last = operations[-1]
                orders.append(
                    (order["ManufacturingOrder"], last["ManufacturingOrderOperation"],
                     last["OperationUnit"])
                )  # fmt: skip
            if len(orders) == count:
                break
        client.session.close()
        self.assertEqual(len(orders), count, "the emulator's seed has too few released orders")
        return orders

    def confirmations(self, orders, per_order):
        messages = []
        for number, operation, unit in orders:
            for _n in range(per_order):
                envelope = {
                    "id": str(uuid.uuid4()),
                    "type": sap_messages.CONFIRMATION_CONTRACT,
                    "data": {
                        "OrderID": number,
                        "OrderOperation": operation,
                        "ConfirmationYieldQuantity": "1",
                        "ConfirmationUnit": unit,
                        "FinalConfirmationType": "",
                    },
                }
                messages.append(Message(len(messages) + 1, envelope, number, None, True))
        return messages

    def deliver_all(self, adapter, messages, batch_size):
        """Rounds of the dispatcher's delivery until all are delivered; (rounds, waited s)."""
        pending = list(messages)
        started = time.monotonic()
        rounds = waited = 0
        while pending:
            self.assertLess(time.monotonic() - started, RUN_LIMIT_S, f"{len(pending)} left")
            rounds += 1
            outcomes = deliver_in_order(adapter, pending, lanes=LANES, batch_size=batch_size)
            refused = [o.summary for o in outcomes.values() if o.status == "business"]
            self.assertFalse(refused, refused[:3])
            pending = [
                m for m in pending
                if m.event_id not in outcomes or outcomes[m.event_id].status != "delivered"
            ]  # fmt: skip
            waits = [o.retry_after or 0.0 for o in outcomes.values() if o.status == "technical"]
            if waits:
                # as the dispatcher does: not before SAP's Retry-After (or the lost write's end)
                time.sleep(max(waits))
                waited += max(waits)
        return rounds, waited

    def check_exactly_once(self, before, messages):
        after = self.emulator.state()
        self.assertEqual(
            after["active_confirmations"] - before["active_confirmations"], len(messages)
        )
        self.assertEqual(after["external_keys"] - before["external_keys"], len(messages))
        self.assertEqual(after["external_keys_confirmed_twice"], 0)
        # every event's own key is in SAP once
        client = self.settings(True).client(sap_messages.CONFIRMATION_SERVICE)
        for message in messages[:: max(1, len(messages) // 25)]:
            guid = sap_messages.confirmation_guid(message.cloudevent_id)
            rows = list(
                client.iter_entities(
                    "ProdnOrdConf2", filter=f"ExternalSystemConfirmation eq '{guid}'"
                )
            )
            self.assertEqual(len(rows), 1, guid)
            self.assertEqual(rows[0]["OrderID"], message.envelope["data"]["OrderID"])
        client.session.close()
        return after

    def run_with_faults(self, messages, batch_enabled, batch_size):
        before = self.emulator.state()
        self.emulator.set_faults(**FAULTS)
        adapter = SapODataAdapter(self.settings(batch_enabled))
        try:
            rounds, waited = self.deliver_all(adapter, messages, batch_size)
            injected = self.emulator.state()["faults_injected"]
        finally:
            adapter.close()
            self.emulator.clear_faults()
        self.check_exactly_once(before, messages)
        # the run met the faults it is about (else it proves nothing)
        for fault in ("timeout", "drop_after", "drop_before", "http_503"):
            self.assertGreater(injected.get(fault, 0), 0, injected)
        self.assertGreater(rounds, 1)
        _logger.info(
            "%s confirmations exactly once in %s rounds (%.1f s waited), faults: %s",
            len(messages), rounds, waited, injected,
        )  # fmt: skip
        return rounds, waited

    def test_500_confirmations_through_batch_under_faults_exactly_once(self):
        messages = self.confirmations(self.released_orders(100), per_order=5)
        self.assertEqual(len(messages), 500)
        self.run_with_faults(messages, batch_enabled=True, batch_size=BATCH_SIZE)

    def test_confirmations_one_request_each_under_faults_exactly_once(self):
        messages = self.confirmations(self.released_orders(20)[10:], per_order=6)
        self.run_with_faults(messages, batch_enabled=False, batch_size=1)
