"""Legacy file exchange: CSV files out with acknowledgements read back, CSV import in."""

import base64
import csv
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

from freezegun import freeze_time

from odoo.tools import config

from .common import IntegrationCase
from .test_outbound import OutboundCase


class FileCase(OutboundCase):
    def setUp(self):
        super().setUp()
        self.root = Path(tempfile.mkdtemp(prefix="mfg_files_"))
        self.addCleanup(shutil.rmtree, self.root, True)
        patcher = patch.dict(config.options, {"mfg_file_exchange_root": str(self.root)})
        patcher.start()
        self.addCleanup(patcher.stop)
        self.system.write({"outbound_adapter": "csv_file", "outbound_batch_size": 50})
        self.contract.batch_delivery = True
        self.folder = self.root / self.system.code

    def outbox(self):
        return sorted((self.folder / "outbox").glob("*.csv"))

    def read_csv(self, path):
        with open(path, encoding="utf-8", newline="") as handle:
            return list(csv.reader(handle))


class TestCsvOut(FileCase):
    def test_events_are_written_atomically_in_order_with_the_contract_s_columns(self):
        self.env["mfg.integration.file.column"].create(
            [
                {"contract_id": self.contract.id, "header": "ITEM", "pointer": "/widget"},
                {"contract_id": self.contract.id, "header": "QTY", "pointer": "/qty"},
            ]
        )
        events = self.emit("W-1") | self.emit("W-2") | self.emit("W-3", subject="SO-2")
        self.dispatch()
        self.assertEqual(set(events.mapped("state")), {"done"})
        files = self.outbox()
        rows = [self.read_csv(path) for path in files]
        self.assertEqual({tuple(file_rows[0]) for file_rows in rows}, {("event_id", "ITEM", "QTY")})
        body = [row for file_rows in rows for row in file_rows[1:]]
        self.assertEqual(sorted(row[1] for row in body), ["W-1", "W-2", "W-3"])
        self.assertEqual({row[0] for row in body}, set(events.mapped("event_uid")))
        self.assertEqual(
            [row[1] for row in body if row[1] != "W-3"], ["W-1", "W-2"], "files in event order"
        )
        self.assertFalse(list((self.folder / ".tmp").glob("*")), "no half-written file left")
        # a later file sorts after the earlier ones: the reader keeps the order
        self.emit("W-4")
        self.dispatch()
        self.assertEqual(self.outbox()[: len(files)], files)
        self.assertEqual(self.read_csv(self.outbox()[-1])[1][1], "W-4")

    def test_acknowledgements_confirm_or_turn_into_exceptions(self):
        good = self.emit("W-1")
        self.dispatch()
        (self.folder / "done").mkdir()
        first = self.outbox()[0]
        os.replace(first, self.folder / "done" / first.name)
        bad = self.emit("W-2", subject="SO-9")
        self.dispatch()
        second = self.outbox()[0]
        rows = self.read_csv(second)
        rows[0].append("error")
        rows[1].append("item W-2 unknown in the legacy planning system")
        (self.folder / "error").mkdir()
        with open(self.folder / "error" / second.name, "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows)
        second.unlink()
        acknowledged, refused = self.env[
            "mfg.integration.system"
        ]._cron_read_file_acknowledgements()
        self.assertEqual((acknowledged, refused), (1, 1))
        self.assertTrue(good.acknowledged_at)
        self.assertEqual(bad.state, "failed")
        self.assertEqual(bad.exception_id.error_class, "business_rule")
        self.assertIn("item W-2 unknown", bad.exception_id.name)
        self.assertTrue((self.folder / "archive" / "error" / second.name).exists())
        # read once: a second pass finds nothing new
        self.assertEqual(
            self.env["mfg.integration.system"]._cron_read_file_acknowledgements(), (0, 0)
        )

    def test_the_folder_comes_from_the_server_not_the_database(self):
        self.system.outbound_url = "/etc"
        self.emit("W-1")
        self.dispatch()
        self.assertEqual(len(self.outbox()), 1)
        self.assertFalse(Path("/etc", self.system.code).exists())


class TestCsvImport(IntegrationCase):
    def wizard(self, text, name="plan.csv"):
        return self.env["mfg.integration.csv.import.wizard"].create(
            {
                "system_id": self.system.id,
                "contract_id": self.contract.id,
                "file": base64.b64encode(text.encode()),
                "file_name": name,
            }
        )

    def test_rows_become_events_once_with_bad_rows_named_by_line(self):
        text = "widget,qty,subject\nW-1,2,WO-1\nW-2,3.5,WO-2\nW-3,-1,WO-3\n"
        wizard = self.wizard(text)
        wizard.action_import()
        self.assertIn("2 accepted, 0 already imported, 1 refused", wizard.result)
        self.assertIn("line 4", wizard.result)
        self.assertIn("/data/qty", wizard.result)
        events = self.Event.search(
            [
                ("system_id", "=", self.system.id),
                ("event_uid", "like", "plan.csv:%"),
                ("state", "!=", "rejected"),
            ],
            order="id",
        )
        self.assertEqual(
            events.mapped("payload"), [{"widget": "W-1", "qty": 2}, {"widget": "W-2", "qty": 3.5}]
        )
        self.assertEqual(events.mapped("subject"), ["WO-1", "WO-2"])
        # imported again later: rows without a time keep the time they were stored with
        with freeze_time(datetime.now(UTC) + timedelta(minutes=5)):
            again = self.wizard(text)
            again.action_import()
        self.assertIn("0 accepted, 2 already imported, 1 refused", again.result)
        self.assertIn("CSV import of plan.csv", self.system.message_ids[0].body)
