import io
import os
import re

from odoo.modules.module import get_manifest, get_module_path
from odoo.tests.common import TransactionCase
from odoo.tools.translate import trans_export

# The project's addons: every installed module whose name starts so.
ADDON_PREFIX = "mfg_integration_"
# Header lines of a .pot that change with every export, whatever the terms.
VOLATILE_HEADER = re.compile(r'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"$', re.MULTILINE)
README_FRAGMENTS = ("DESCRIPTION.md", "USAGE.md", "CONFIGURE.md", "HISTORY.md")


class TestPackaging(TransactionCase):
    """What OCA packaging asks of each addon: current .pot, readme fragments, manifest keys."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.addons = (
            cls.env["ir.module.module"]
            .search([("name", "=like", f"{ADDON_PREFIX}%"), ("state", "=", "installed")])
            .mapped("name")
        )

    def test_the_four_addons_are_checked(self):
        self.assertGreaterEqual(
            set(self.addons),
            {
                "mfg_integration_base",
                "mfg_integration_mes",
                "mfg_integration_sap",
                "mfg_integration_quality",
            },
        )

    def test_pot_files_are_current(self):
        for addon in self.addons:
            with self.subTest(addon=addon):
                path = os.path.join(get_module_path(addon), "i18n", f"{addon}.pot")
                self.assertTrue(os.path.isfile(path), f"{path} is missing")
                with open(path, encoding="utf-8") as committed_file:
                    committed = committed_file.read()
                buffer = io.BytesIO()
                # a file whose terms babel cannot extract (an expression it cannot evaluate
                # among a _() call's arguments) is only logged, and its terms go missing
                with self.assertNoLogs("odoo.tools.translate", level="ERROR"):
                    trans_export(None, [addon], buffer, "po", self.env.cr)
                generated = buffer.getvalue().decode("utf-8")
                self.assertIn("msgid", generated)
                self.assertEqual(
                    VOLATILE_HEADER.sub("", generated),
                    VOLATILE_HEADER.sub("", committed),
                    f"{path} is out of date: regenerate it with odoo -c <conf> -d <db> "
                    f"--i18n-export={path} --modules={addon} --stop-after-init "
                    "(on a database with the four addons installed, without demo data)",
                )

    def test_readme_fragments_exist(self):
        for addon in self.addons:
            readme = os.path.join(get_module_path(addon), "readme")
            for fragment in README_FRAGMENTS:
                with self.subTest(addon=addon, fragment=fragment):
                    path = os.path.join(readme, fragment)
                    self.assertTrue(os.path.isfile(path), f"{path} is missing")
                    with open(path, encoding="utf-8") as readme_file:
                        self.assertGreater(len(readme_file.read().strip()), 80)

    def test_manifests_name_maintainers_status_and_existing_images(self):
        for addon in self.addons:
            with self.subTest(addon=addon):
                manifest = get_manifest(addon)
                self.assertEqual(manifest["license"], "LGPL-3")
                self.assertEqual(manifest["maintainers"], ["mfg-integration"])
                self.assertIn(manifest["development_status"], ("Alpha", "Beta"))
                self.assertTrue(manifest["images"])
                for image in manifest["images"]:
                    path = os.path.join(get_module_path(addon), image)
                    self.assertTrue(os.path.isfile(path), f"{addon}: {image} does not exist")
