"""Screenshots of the running demo for the README, taken with headless Chromium.

    .venv/bin/python setup/screenshots.py --url http://127.0.0.1:8069 --db mfg_demo

Logs in (admin/admin by default), then drives Chromium through the DevTools protocol
(websocket-client, already in the Odoo virtualenv for the browser tests): the session
cookie is set, each page is opened and, once Odoo has drawn it, saved as a PNG under docs/.
"""

import argparse
import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

REPO = Path(__file__).resolve().parents[1]
# (file, path after the base URL, CSS selector that tells the page is drawn, and optionally
# what to click before the shot: here, unfold the first problem a planner can fix at once)
PAGES = [
    (
        "exception-queue.png",
        "/odoo/action-mfg_integration_base.action_mfg_integration_exception",
        ".o_list_view .o_group_header",
        ".o_group_header:has(button[name=action_create_mapping]) .o_group_name",
    ),
    (
        "exception-form.png",
        "/odoo/action-mfg_integration_base.action_mfg_integration_exception/{exception}",
        ".o_form_view .o_field_widget[name=name]",
    ),
    (
        "overview.png",
        "/odoo/action-mfg_integration_base.action_mfg_integration_overview",
        ".o_kanban_record",
    ),
    # an order the MES ran: its form (MES reference, the Integration button), then its
    # integration timeline (released to the MES, started, consumed, completed, ...)
    (
        "mo-form.png",
        "/odoo/action-mrp.mrp_production_action/{production}",
        ".o_form_view .o_field_widget[name=mes_order_ref]",
    ),
    (
        "mo-integration-events.png",
        "/odoo/action-mrp.mrp_production_action/{production}",
        ".o_form_view button[name=action_view_integration_events]",
        "button[name=action_view_integration_events]",
    ),
    # quality staff: the held lots, and a hold's form (quarantine, delivery to each system)
    (
        "quality-holds.png",
        "/odoo/action-mfg_integration_quality.action_mfg_quality_hold",
        ".o_list_view .o_data_row",
    ),
    (
        "quality-hold-form.png",
        "/odoo/action-mfg_integration_quality.action_mfg_quality_hold/{hold}",
        ".o_form_view .o_field_widget[name=delivery_summary]",
    ),
    (
        "quality-ncr-kanban.png",
        "/odoo/action-mfg_integration_quality.action_mfg_quality_ncr",
        ".o_kanban_record",
    ),
]


def login(url, db, user, password):
    body = json.dumps(
        {"jsonrpc": "2.0", "params": {"db": db, "login": user, "password": password}}
    ).encode()
    request = urllib.request.Request(
        f"{url}/web/session/authenticate", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        cookie = response.headers.get("Set-Cookie", "")
        answer = json.loads(response.read())
    if answer.get("error") or "session_id=" not in cookie:
        raise SystemExit(f"Login as {user} failed: {answer.get('error')}")
    return cookie.split("session_id=")[1].split(";")[0]


def search_first(url, session, model, domain, order="id"):
    """The id of the first record of ``model`` matching ``domain``, or None."""
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "params": {
                "model": model,
                "method": "search",
                "args": [domain],
                "kwargs": {"limit": 1, "order": order},
            },
        }
    ).encode()
    request = urllib.request.Request(
        f"{url}/web/dataset/call_kw",
        body,
        {"Content-Type": "application/json", "Cookie": f"session_id={session}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        ids = json.loads(response.read()).get("result") or []
    return ids[0] if ids else None


def first_open_exception(url, session):
    found = search_first(
        url,
        session,
        "mfg.integration.exception",
        [["state", "=", "open"], ["reason_code", "=", "mapping_missing"]],
    )
    if not found:
        raise SystemExit("The demo has no open missing-mapping exception to show yet.")
    return found


def order_the_mes_ran(url, session):
    """The latest order the MES completed in two steps (an order done with its backorder)."""
    found = search_first(
        url,
        session,
        "mrp.production",
        [["mes_order_ref", "!=", False], ["backorder_sequence", "=", 1], ["state", "=", "done"]],
        order="id desc",
    )
    if not found:
        raise SystemExit("The demo's MES has not completed an order yet: wait a minute.")
    return found


def held_lot(url, session):
    """The first hold in force (the quality demo holds one lot)."""
    found = search_first(url, session, "mfg.quality.hold", [["state", "=", "held"]])
    if not found:
        raise SystemExit("The demo has no lot on hold: is mfg_integration_quality installed?")
    return found


# what each page's {placeholder} is filled with (looked up only for the pages taken)
RECORD_FINDERS = {
    "exception": first_open_exception,
    "production": order_the_mes_ran,
    "hold": held_lot,
}


class Browser:
    def __init__(self, width, height):
        binary = next(
            (
                shutil.which(b)
                for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)
            ),
            None,
        )
        if not binary:
            raise SystemExit("No Chromium found: ./setup/run.sh install installs it.")
        self.profile = tempfile.mkdtemp(prefix="mfg-shots-")
        self.process = subprocess.Popen(  # noqa: S603 (the browser found on the PATH)
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        endpoint = None
        while endpoint is None:
            line = self.process.stderr.readline()
            if not line:
                raise SystemExit("Chromium stopped before it opened its DevTools port.")
            if "DevTools listening on " in line:
                endpoint = line.split("DevTools listening on ")[1].strip()
        port = endpoint.split(":")[2].split("/")[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10) as response:
            page = next(t for t in json.loads(response.read()) if t["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for(self, selector, timeout=30):
        deadline = time.time() + timeout
        expression = f"!!document.querySelector({json.dumps(selector)})"
        while time.time() < deadline:
            found = self.call("Runtime.evaluate", expression=expression)
            if found.get("result", {}).get("value"):
                time.sleep(1.0)  # let the last requests and animations settle
                return
            time.sleep(0.3)
        raise SystemExit(f"The page never showed {selector!r}.")

    def click(self, selector):
        self.call(
            "Runtime.evaluate", expression=f"document.querySelector({json.dumps(selector)}).click()"
        )
        time.sleep(1.5)

    def close(self):
        self.socket.close()
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--db", default="mfg_demo")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--out", default=str(REPO / "docs"))
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument(
        "--only", help="comma-separated file names of the pages to take (default: all)"
    )
    args = parser.parse_args()

    pages = [page for page in PAGES if not args.only or page[0] in args.only.split(",")]
    session = login(args.url, args.db, args.user, args.password)
    records = {
        name: finder(args.url, session)
        for name, finder in RECORD_FINDERS.items()
        if any("{" + name + "}" in page[1] for page in pages)
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    browser = Browser(args.width, args.height)
    try:
        host = args.url.split("//")[1].split(":")[0].split("/")[0]
        browser.call("Network.setCookie", name="session_id", value=session, domain=host, path="/")
        for name, path, ready, *click in pages:
            target = path.format(**records)
            browser.call("Page.navigate", url=args.url + target)
            browser.wait_for(ready)
            if click:
                browser.click(click[0])
            shot = browser.call("Page.captureScreenshot", format="png")
            (out / name).write_bytes(base64.b64decode(shot["data"]))
            print(f"{out / name}")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
