"""SAP benchmark: confirmations per second through our ``$batch`` path against one request per
confirmation, side by side in one run, against the SAP emulator with a fixed latency.

    .venv/bin/python tests/bench/bench_sap.py [--latency-ms 20] [--batched 2000] [--single 200]
        [--per-batch 100] [--port 8216] [--client-only]

The emulator runs as its own process (``python -m sap_emulator``, state in memory) on
127.0.0.1:``--port`` with ``--latency-ms`` added to every request, as a network and SAP's
own processing would. Both paths post ``ProdnOrdConf2`` confirmations for released orders
(their last operation), each with its own ``ExternalSystemConfirmation``:

* through the SAP adapter of mfg_integration_sap (``adapters/sap_odata.py``) when this
  checkout has it, exactly as the outbox calls it (``deliver`` of a batch of messages),
  with the system's ``$batch`` switch on, then off. Each event is looked up by its key
  first (exactly once): batched, one ``$batch`` of lookups and one ``$batch`` of
  ``--per-batch`` changesets per round; one by one, a GET and a POST per event.
* through the OData client alone (``--client-only``, or when the adapter is absent): a
  ``$batch`` of ``--per-batch`` changesets against one POST per confirmation.

Each path's rate is confirmations created per second of wall time (CSRF fetch included).
After the run the emulator must hold every confirmation exactly once, or the benchmark fails.
The load average is printed: on a shared machine the figures move with it.
"""

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "sap"))

from sap_harness import CONFIRMATIONS, ORDERS, ODataClient  # noqa: E402
from sap_odata.batch import ChangeSet, Operation  # noqa: E402

USER = "MFG_BENCH_USER"
CONFIRMATION_CONTRACT = "sap.confirmation.posted"


def load_average():
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


class EmulatorProcess:
    """``python -m sap_emulator`` on a port, stopped at the end."""

    def __init__(self, port, latency_ms, orders, workdir):
        self.url = f"http://127.0.0.1:{port}"
        self.password_file = workdir / "bench_sap_password"
        self.password = uuid.uuid4().hex
        self.password_file.write_text(self.password)
        self.password_file.chmod(0o600)
        command = [sys.executable, "-m", "sap_emulator", "--port", str(port)]
        command += ["--latency-ms", str(latency_ms), "--orders", str(orders)]
        command += ["--user", USER, "--password-file", str(self.password_file)]
        command += ["--log-level", "WARNING"]
        self.process = subprocess.Popen(command, cwd=REPO)
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.url}/__emulator__/state", timeout=2)
                return
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the emulator did not start on port {port}") from None
                time.sleep(0.2)

    def state(self):
        return requests.get(f"{self.url}/__emulator__/state", timeout=10).json()

    def service(self, name):
        return f"{self.url}/sap/opu/odata/sap/{name}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=15)
        self.password_file.unlink(missing_ok=True)


def released_orders(emulator):
    """[(order, its last operation, unit)] of the released orders."""
    from sap_odata.auth import BasicAuth

    client = ODataClient(
        emulator.service(ORDERS), auth=BasicAuth(USER, emulator.password), sap_client="100"
    )
    found = []
    for order in client.iter_entities(
        "A_ProductionOrder_2",
        filter="OrderIsReleased eq true",
        expand="to_ProductionOrderOperation",
    ):
        last = order["to_ProductionOrderOperation"][-1]["ManufacturingOrderOperation"]
        found.append((order["ManufacturingOrder"], last, order["ProductionUnit"]))
    return found


def confirmation_data(order):
    number, operation, unit = order
    return {
        "OrderID": number,
        "OrderOperation": operation,
        "ConfirmationYieldQuantity": "1",
        "ConfirmationUnit": unit,
    }


def load_adapter():
    """The adapter module of mfg_integration_sap and the base's Message, or None."""
    if not (REPO / "addons" / "mfg_integration_sap" / "adapters" / "sap_odata.py").exists():
        return None
    import odoo
    from odoo.tools import config

    odoo_src = os.environ.get("ODOO_SRC", "/opt/odoo/18.0")
    config.parse_config([f"--addons-path={REPO / 'addons'},{odoo_src}/addons", "--log-level=warn"])
    odoo.modules.module.initialize_sys_path()
    from odoo.addons.mfg_integration_base.services.adapters import Message
    from odoo.addons.mfg_integration_sap.adapters.sap_odata import SapODataAdapter
    from odoo.addons.mfg_integration_sap.services.sap_settings import SapSettings

    return SapODataAdapter, SapSettings, Message


class AdapterPath:
    name = "the SAP adapter (adapters/sap_odata.py, deliver() as the outbox calls it)"

    def __init__(self, emulator, adapter, batched):
        adapter_class, settings_class, self.message_class = adapter
        settings = settings_class(
            system_code="bench_sap",
            url=f"{emulator.url}/sap/opu/odata/sap/",
            sap_client="100",
            username=USER,
            password=emulator.password,
            batch_enabled=batched,
        )
        self.adapter = adapter_class(settings)

    def post(self, orders):
        messages = []
        for number, order in enumerate(orders):
            envelope = {
                "id": str(uuid.uuid4()),
                "type": CONFIRMATION_CONTRACT,
                "data": confirmation_data(order),
            }
            messages.append(self.message_class(number + 1, envelope, order[0], None, True))
        outcomes = self.adapter.deliver(messages)
        failed = [outcome for outcome in outcomes if outcome.status != "delivered"]
        if failed:
            raise SystemExit(f"the adapter did not deliver {len(failed)} events: {failed[0]}")
        return len(outcomes)

    def close(self):
        self.adapter.close()


class ClientPath:
    name = "the OData client (services/odata/client.py)"

    def __init__(self, emulator, batched):
        from sap_odata.auth import BasicAuth

        self.batched = batched
        self.client = ODataClient(
            emulator.service(CONFIRMATIONS),
            auth=BasicAuth(USER, emulator.password),
            sap_client="100",
        )

    def body(self, order):
        return {**confirmation_data(order), "ExternalSystemConfirmation": uuid.uuid4().hex.upper()}

    def post(self, orders):
        if not self.batched:
            for order in orders:
                self.client.create("ProdnOrdConf2", self.body(order))
            return len(orders)
        changesets = [
            ChangeSet((Operation("POST", "ProdnOrdConf2", self.body(order), content_id="1"),))
            for order in orders
        ]
        results = self.client.batch(changesets)
        failed = [result for result in results if not result.ok]
        if failed:
            raise SystemExit(f"SAP refused {len(failed)} confirmations: {failed[0].error}")
        return len(results)

    def close(self):
        self.client.session.close()


def run(path, orders, count, per_request):
    """(confirmations created, seconds) posting ``count`` in calls of ``per_request``."""
    created = 0
    started = time.perf_counter()
    while created < count:
        chunk = [
            orders[(created + n) % len(orders)] for n in range(min(per_request, count - created))
        ]
        created += path.post(chunk)
    return created, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--batched", type=int, default=2000, help="confirmations via $batch")
    parser.add_argument("--single", type=int, default=200, help="confirmations one by one")
    parser.add_argument("--per-batch", type=int, default=100, help="confirmations per $batch")
    parser.add_argument("--port", type=int, default=8216)
    parser.add_argument(
        "--client-only", action="store_true", help="bench the client, not the adapter"
    )
    args = parser.parse_args()
    workdir = REPO / "run"
    workdir.mkdir(exist_ok=True)
    # enough released orders that one $batch holds one event per order (the adapter sends one
    # event per subject in a $batch: a subject's events stay in order)
    emulator = EmulatorProcess(args.port, args.latency_ms, max(200, args.per_batch * 2), workdir)
    try:
        orders = released_orders(emulator)
        adapter = None if args.client_only else load_adapter()
        if adapter:
            batched_path = AdapterPath(emulator, adapter, batched=True)
            single_path = AdapterPath(emulator, adapter, batched=False)
            single_chunk = args.per_batch  # the outbox hands the adapter the same batches
        else:
            batched_path, single_path = ClientPath(emulator, True), ClientPath(emulator, False)
            single_chunk = 1
        print(f"SAP confirmations against the emulator ({args.latency_ms} ms latency per request)")
        print(f"through {batched_path.name}; {load_average()}")
        before = emulator.state()["active_confirmations"]
        batched, batched_s = run(batched_path, orders, args.batched, args.per_batch)
        single, single_s = run(single_path, orders, args.single, single_chunk)
        batched_path.close()
        single_path.close()
        batched_rate, single_rate = batched / batched_s, single / single_s
        print(
            f"  $batch ({args.per_batch} per request, one changeset each): "
            f"{batched} in {batched_s:.2f} s = {batched_rate:.1f} confirmations/s"
        )
        print(
            f"  one request per confirmation:                 "
            f"{single} in {single_s:.2f} s = {single_rate:.1f} confirmations/s"
        )
        ratio = batched_rate / single_rate
        print(f"  ratio: {ratio:.1f}x (goal: at least 10x); {load_average()}")
        state = emulator.state()
        created = state["active_confirmations"] - before
        if created != batched + single or state["external_keys_confirmed_twice"]:
            raise SystemExit(
                f"SAP holds {created} new confirmations for {batched + single} posted"
                f" ({state['external_keys_confirmed_twice']} keys twice)"
            )
        print(f"  SAP holds each of the {created} confirmations exactly once")
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
