"""Connect the demo's partner systems to the partner emulator (mfg-edge partners), or not.

Usage: python setup/partners_demo_setup.py URL DATABASE KEYS_DIR WEBHOOK_BASE [--off]

For the supplier portal, the CMMS, the WMS and the CRM of the demo: an API key each
(KEYS_DIR/<code>.key, reused while Odoo accepts it), a Standard Webhooks signing secret
(KEYS_DIR/<code>.secret, made once), and Odoo's outbound events of their flows delivered
by webhook to WEBHOOK_BASE/<code>/events. With --off, the systems whose endpoint is
WEBHOOK_BASE lose it again, so nothing waits for an emulator that does not run.
As the demo admin (admin / admin). Prints nothing secret; exit code 2 with one sentence.
"""

import base64
import os
import secrets
import sys
import xmlrpc.client

from edge_demo_key import admin_call, ensure_key, write_secret_file

# System code -> the outbound contracts the emulator answers for it.
SYSTEMS = {
    "supplier_portal": ["procurement.goods.received"],
    "plant1_cmms": ["maintenance.request.created"],
    "dc_wms": ["wms.delivery.released"],
    "cloud_crm": ["crm.order.acknowledged", "crm.delivery.status"],
}


def connect(url, database, keys_dir, base):
    call = admin_call(url, database)
    for code, contract_codes in SYSTEMS.items():
        print(ensure_key(url, database, os.path.join(keys_dir, f"{code}.key"), code))
        secret_file = os.path.join(keys_dir, f"{code}.secret")
        try:
            with open(secret_file, encoding="utf-8") as stream:
                secret = stream.read().strip()
        except OSError:
            secret = ""
        if not secret:
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
            write_secret_file(secret_file, secret)
        contracts = call(
            "mfg.integration.contract",
            "search",
            [
                ("code", "in", contract_codes),
                ("direction", "=", "outbound"),
                ("state", "=", "active"),
            ],
        )
        system = call("mfg.integration.system", "search", [("code", "=", code)])
        if not system:
            raise SystemExit(
                f"The demo system '{code}' is missing: was the database created with demo data?"
            )
        call(
            "mfg.integration.system",
            "write",
            system,
            {
                "outbound_adapter": "webhook",
                "outbound_url": f"{base}/{code}/events",
                "signing_secret": secret,
                "allowed_contract_ids": [(4, contract) for contract in contracts],
            },
        )
        print(f"{code}: Odoo delivers {', '.join(contract_codes)} to {base}/{code}/events")


def disconnect(url, database, base):
    call = admin_call(url, database)
    systems = call(
        "mfg.integration.system",
        "search",
        [("code", "in", list(SYSTEMS)), ("outbound_url", "=like", f"{base}/%")],
    )
    if systems:
        call(
            "mfg.integration.system",
            "write",
            systems,
            {"outbound_adapter": False, "outbound_url": False},
        )
        print(f"partner systems: {len(systems)} no longer deliver to {base}")


def main():
    arguments = [argument for argument in sys.argv[1:] if argument != "--off"]
    if len(arguments) != 4:
        raise SystemExit(__doc__)
    url, database, keys_dir, base = (
        arguments[0].rstrip("/"),
        arguments[1],
        arguments[2],
        arguments[3],
    )
    try:
        if "--off" in sys.argv:
            disconnect(url, database, base.rstrip("/"))
        else:
            connect(url, database, keys_dir, base.rstrip("/"))
    except (xmlrpc.client.Error, OSError) as error:
        print(f"Could not connect the demo partner systems: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
