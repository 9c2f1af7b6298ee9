"""Look at the ``fxiaoke`` connection form in the real Airflow 3 UI, with headless Chromium.

Starts ``airflow api-server`` on loopback (login-free simple auth manager, this project's
AIRFLOW_HOME), opens Admin > Connections > Add Connection, picks "Fxiaoke (ShareCRM)", and saves one PNG
with the standard fields (OpenAPI Host / App ID / App Secret) next to the extra fields (Permanent
Code...): every extra of the extras table must be in the form, under its label. Then it saves the
form and checks what Airflow stored. Exit status 1 when a label is missing.
A manual tool (see the comment block of ``scripts/ui_check.sh``): run it with that script, which
installs Chromium and the Playwright driver first.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fxiaoke_provider.connection.extras import EXTRA_FIELDS
from fxiaoke_provider.get_provider_info import get_provider_info
from tests.api_server import api_server, request_json
from tests.support import ROOT

STANDARD_LABELS = ("OpenAPI Host", "App ID", "App Secret")
#: The connection type as the form's type picker names it.
(CONN_TYPE,) = get_provider_info()["connection-types"]
TYPE_NAME = CONN_TYPE["hook-name"]
#: Every extra the parser reads, by the label the form shows (one table for both).
EXTRA_LABELS = {key: spec.label for key, spec in EXTRA_FIELDS.items()}
CHROMIUM_FLAGS = [
    "--no-sandbox",  # runs as root in containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONN_ID = "fxiaoke_ui_check"
UI_TIMEOUT_MS = 30_000


def _side_by_side(page: Any, shots: list[bytes], out: Path) -> None:
    """One PNG of several screenshots, laid out by the browser itself (no imaging library needed)."""
    images = "".join(f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}">' for png in shots)
    page.set_content(
        "<html><body style='margin:0;background:#e2e8f0'>"
        "<div style='display:inline-flex;gap:16px;align-items:flex-start;padding:16px'>"
        f"{images}</div></body></html>"
    )
    page.locator("div").first.screenshot(path=str(out))


def check_form(base_url: str, chromium: str, out: Path) -> list[str]:
    """Drive the Add Connection dialog; return the problems found (empty: all good)."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ui-check-profile-") as profile, sync_playwright() as driver:
        browser = driver.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1000, "height": 1600},
        )
        browser.set_default_timeout(UI_TIMEOUT_MS)
        page = browser.new_page()
        page.goto(base_url + "/connections", wait_until="networkidle")
        page.get_by_role("button", name="Add Connection").click()
        dialog = page.get_by_role("dialog")
        dialog.locator("input[name=connection_id]").fill(CONN_ID)
        conn_type = dialog.locator("input[aria-autocomplete=list]")
        conn_type.click()
        conn_type.fill(TYPE_NAME)
        page.get_by_role("option", name=TYPE_NAME, exact=True).click()

        dialog.get_by_text("App Secret", exact=True).wait_for()
        standard_text = dialog.inner_text()
        problems += [
            f"standard field {label!r} not shown" for label in STANDARD_LABELS if label not in standard_text
        ]
        problems += [
            f"default label {label!r} still shown"
            for label in ("Login", "Password", "Port", "Schema")
            if f"\n{label}\n" in f"\n{standard_text}\n"
        ]
        standard_png = dialog.screenshot()

        dialog.get_by_role("button", name="Extra Fields", exact=True).click()
        dialog.get_by_text("Permanent Code", exact=True).wait_for()
        extra_lines = {line.strip().rstrip("*").strip() for line in dialog.inner_text().splitlines()}
        problems += [
            f"extra {key!r} ({label!r}) not in the form"
            for key, label in EXTRA_LABELS.items()
            if label not in extra_lines
        ]
        shown = sum(label in extra_lines for label in EXTRA_LABELS.values())
        print(f"extras in the form: {shown} of {len(EXTRA_LABELS)}")
        extra_pngs = [dialog.screenshot()]
        # The dialog scrolls: the last extras get a screenshot of their own, scrolled into view.
        last = dialog.get_by_text(list(EXTRA_LABELS.values())[-1], exact=True)
        if not last.is_visible() or last.bounding_box()["y"] > page.viewport_size["height"]:
            last.scroll_into_view_if_needed()
            extra_pngs.append(dialog.screenshot())
        out.parent.mkdir(parents=True, exist_ok=True)
        canvas = browser.new_page()
        canvas.set_viewport_size({"width": 3000, "height": 1600})
        _side_by_side(canvas, [standard_png, *extra_pngs], out)

        # fill and save, then read back what Airflow stored
        dialog.locator("input[name=element_permanent_code]").fill("ui-check-permanent-code")
        dialog.locator("input[name=element_user_id]").fill("1000")
        dialog.get_by_role("button", name="Standard Fields", exact=True).click()
        dialog.locator("input[name=login]").fill("FSAID_ui_check")
        dialog.locator("input[name=password]").fill("ui-check-secret")
        dialog.get_by_role("button", name="Save").click()
        dialog.wait_for(state="hidden")
        browser.close()

    stored = request_json(f"{base_url}/api/v2/connections/{CONN_ID}")
    request_json(f"{base_url}/api/v2/connections/{CONN_ID}", method="DELETE")
    extra = json.loads(stored.get("extra") or "{}")
    if stored["conn_type"] != "fxiaoke" or stored["login"] != "FSAID_ui_check":
        problems.append(f"stored connection has type {stored['conn_type']!r}, login {stored['login']!r}")
    if extra.get("permanent_code") != "ui-check-permanent-code" or extra.get("user_id") != "1000":
        problems.append(f"stored extra lacks the form's values: {sorted(extra)}")
    if "***" in json.dumps(extra):
        problems.append("a masked '***' default was stored in extra")
    shown = {key: ("<set>" if key == "permanent_code" else value) for key, value in sorted(extra.items())}
    print(f"stored extra: {json.dumps(shown)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "connection-form.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    started = time.monotonic()
    home = Path(os.environ.get("AIRFLOW_HOME") or ROOT / ".airflow-home" / "ui-check")
    if not home.resolve().is_relative_to(ROOT):
        raise SystemExit(f"AIRFLOW_HOME must be inside the project; got {home}")
    home.mkdir(parents=True, exist_ok=True)
    with api_server(home, home / "ui-check-api-server.log") as base_url:
        server_ready = time.monotonic()
        problems = check_form(base_url, args.chromium, args.out)
    print(f"api-server ready in {server_ready - started:.0f}s; whole check {time.monotonic() - started:.0f}s")
    print(f"screenshot: {args.out}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
