from odoo.tests import tagged

from .machine_common import MachineCase, at


@tagged("post_install", "-at_install")
class TestMachineCounters(MachineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.equipment.write({"counter_name": "cycles", "counter_interval": 1000})

    def sample(self, value, seconds_ago, counter="cycles", machine="M1"):
        data = {"machine": machine, "counter": counter, "value": value}
        return self.send("machine.counter.sampled", data, seconds_ago, subject=f"machine/{machine}")

    def test_a_counter_past_the_interval_opens_one_preventive_request_per_crossing(self):
        self.sample(5000, 700)  # the first sample Odoo sees is where counting starts
        self.sample(5400, 600)
        self.sample(5900, 500)
        self.assertFalse(self.requests("preventive"))
        self.assertEqual(self.equipment.counter_since_request, 900)
        event = self.sample(6100, 400)  # 1100 cycles since the first sample
        request = self.requests("preventive")
        self.assertEqual(len(request), 1)
        self.assertEqual(event.result_res_id, request.id)
        self.assertEqual(
            request.name, "Preventive maintenance of Press 1 frame: cycles reached 6100"
        )
        self.assertEqual(self.equipment.counter_since_request, 0)
        self.sample(6200, 300)  # further samples of the same crossing open nothing
        self.sample(6500, 200)
        self.assertEqual(len(self.requests("preventive")), 1)
        self.sample(7150, 100)  # 1050 since the request: the next crossing
        self.assertEqual(len(self.requests("preventive")), 2)
        self.assertEqual(
            (self.equipment.counter_last_value, self.equipment.counter_last_sampled_at),
            (7150, at(100)),
        )
        self.assertFalse(self.requests("corrective"))

    def test_a_late_older_sample_is_ignored_and_a_reset_counts_from_zero(self):
        self.sample(5000, 700)
        self.sample(5800, 500)
        self.sample(5200, 600)  # older than the last one seen: arrived late, not a reset
        self.assertEqual(
            (self.equipment.counter_last_value, self.equipment.counter_since_request), (5800, 800)
        )
        self.sample(150, 400)  # the PLC reset its counter: 150 counted since
        self.assertEqual(self.equipment.counter_since_request, 950)
        self.assertFalse(self.requests("preventive"))
        self.sample(300, 300)
        self.assertEqual(len(self.requests("preventive")), 1)

    def test_other_counters_open_no_request_and_good_counts_are_kept_for_oee(self):
        self.sample(10, 700, counter="good")
        self.sample(90000, 600, counter="temperature")
        self.sample(20000, 500, counter="good")
        self.assertFalse(self.requests("preventive"))
        samples = self.env["mfg.workcenter.counter.sample"].search(
            [("workcenter_id", "=", self.workcenter.id)], order="sampled_at"
        )
        self.assertEqual(
            [(s.counter, s.value, s.sampled_at) for s in samples],
            [("good", 10, at(700)), ("good", 20000, at(500))],
        )

    def test_without_an_interval_the_counter_opens_nothing(self):
        self.equipment.counter_interval = 0
        self.sample(0, 700)
        self.sample(50000, 600)
        self.assertFalse(self.requests("preventive"))

    def test_an_unmapped_machine_is_a_planners_exception(self):
        event = self.sample(5, 100, machine="M9")
        self.assertEqual(event.state, "failed")
        self.assertEqual(
            event.exception_id.name, "Work center code 'M9' from Line 1 gateway has no mapping"
        )

    def test_samples_past_the_retention_are_purged(self):
        Sample = self.env["mfg.workcenter.counter.sample"]
        self.sample(10, 40 * 86400, counter="good")
        self.sample(20, 100, counter="good")
        self.assertEqual(Sample._cron_purge(), 1)
        self.assertEqual(
            Sample.search([("workcenter_id", "=", self.workcenter.id)]).mapped("value"), [20]
        )
