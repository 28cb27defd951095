from odoo.tests import BaseCase

from ..services import json_pointer
from ..services.humanize import age


class TestJsonPointer(BaseCase):
    def test_set_value_at_a_pointer_in_a_copy(self):
        document = {"lines": [{"qty": 1}], "a/b": {"~x": 0}}
        changed = json_pointer.set_value(document, "/lines/0/qty", 5)
        self.assertEqual(changed["lines"][0]["qty"], 5)
        self.assertEqual(document["lines"][0]["qty"], 1, "the original is untouched")
        self.assertEqual(json_pointer.set_value(document, "/a~1b/~0x", 1)["a/b"]["~x"], 1)
        self.assertEqual(json_pointer.set_value(document, "/lines/-", 2)["lines"][-1], 2)
        self.assertEqual(json_pointer.set_value(document, "/new", True)["new"], True)

    def test_bad_pointers_say_where(self):
        for pointer in ("lines", "/missing/qty", "/lines/7/qty", "/lines/01", "/lines/0/qty/x"):
            with self.subTest(pointer=pointer), self.assertRaises(json_pointer.PointerError):
                json_pointer.set_value({"lines": [{"qty": 1}]}, pointer, 0)

    def test_diff_lists_changed_leaves(self):
        old = {"machine": "M2", "qty": 1, "tags": ["a", "b"], "gone": None}
        new = {"machine": "M-2", "qty": 1.0, "tags": ["a", "c"], "added": {"x": 1}}
        self.assertEqual(
            json_pointer.diff(old, new),
            [
                ("/added", "(absent)", '{"x": 1}'),
                ("/gone", "null", "(absent)"),
                ("/machine", '"M2"', '"M-2"'),
                ("/qty", "1", "1.0"),
                ("/tags/1", '"b"', '"c"'),
            ],
        )


class TestHumanize(BaseCase):
    def test_ages(self):
        self.assertEqual(
            [age(s) for s in (-3, 45, 150, 7260, 90000, 200000)],
            ["0 s", "45 s", "2 min", "2 h 01", "25 h 00", "2 d 7 h"],
        )
