"""Give the demo edge agent a working API key for the demo gateway system (plant1_gw).

Usage: python setup/edge_demo_key.py URL DATABASE KEY_FILE

Reuses the key in KEY_FILE when Odoo still accepts it; otherwise generates a new one through
the system's "Generate API Key" action (as the demo admin) and writes it to KEY_FILE with
mode 0600. Prints nothing secret. Exit code 2 with one sentence when it cannot.
"""

import json
import os
import sys
import urllib.error
import urllib.request
import xmlrpc.client

SYSTEM_CODE = "plant1_gw"


def key_works(url, key):
    request = urllib.request.Request(
        f"{url}/mfg/v1/contracts", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status == 200 and "contracts" in json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False


def admin_call(url, database):
    """A function calling Odoo's ORM over XML-RPC as the demo admin (admin / admin)."""
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
    uid = common.authenticate(database, "admin", "admin", {})
    if not uid:
        raise SystemExit(
            "The demo admin login (admin / admin) was refused: is this the demo database?"
        )
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args, **kwargs):
        return models.execute_kw(database, uid, "admin", model, method, list(args), kwargs)

    return call


def generate_key(url, database, system_code=SYSTEM_CODE):
    call = admin_call(url, database)
    systems = call("mfg.integration.system", "search", [("code", "=", system_code)])
    if not systems:
        raise SystemExit(
            f"The demo system '{system_code}' is missing: was the database created with demo data?"
        )
    action = call("mfg.integration.system", "action_generate_api_key", systems)
    key = call(action["res_model"], "read", [action["res_id"]], fields=["api_key"])[0]["api_key"]
    call(
        action["res_model"], "action_done", [action["res_id"]]
    )  # the clear key leaves the database
    return key


def write_secret_file(path, text):
    """Write ``text`` to ``path`` with mode 0600 (created so, never readable by others)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text + "\n")
    os.chmod(path, 0o600)


def ensure_key(url, database, key_file, system_code=SYSTEM_CODE):
    """Reuse the key in ``key_file`` when Odoo still accepts it, else make a new one there.
    Returns a sentence for the log (nothing secret)."""
    try:
        with open(key_file, encoding="utf-8") as stream:
            current = stream.read().strip()
    except OSError:
        current = ""
    if current and key_works(url, current):
        return f"{system_code} key: reusing {key_file}"
    key = generate_key(url, database, system_code)
    write_secret_file(key_file, key)
    return f"{system_code} key: new key written to {key_file} (mode 0600)"


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    url, database, key_file = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"{url} is not an http(s) address.")
    try:
        print(ensure_key(url, database, key_file).replace(SYSTEM_CODE, "edge agent", 1))
    except (xmlrpc.client.Error, OSError) as error:
        print(f"Could not create the demo edge agent's API key: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
