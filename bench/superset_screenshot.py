"""Open a Superset dashboard in headless Chromium, record every chart query it sends, screenshot it.

    SUPERSET_PASSWORD=... python bench/superset_screenshot.py BASE_URL SLUG USER OUT.png CHARTS

Run by bench/superset_check.py with the interpreter of Superset's own virtualenv (Playwright is
installed there; the browser is Debian's ``chromium``, no browser download). It logs in through
the login form, opens ``BASE_URL/superset/dashboard/SLUG/``, and waits until the dashboard has
answered the ``/api/v1/chart/data`` queries of CHARTS distinct charts (the queries the page
itself builds from each chart's saved parameters), then takes a full-page screenshot. It prints
one JSON object: per chart id, the HTTP status, the rows of each result and any error text.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from playwright.sync_api import Response, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TIMEOUT_S = 180.0
#: Charts animate in (ECharts): give them this long after the last answer before the picture.
SETTLE_S = 3.0


def chart_answer(response: Response) -> tuple[int, dict[str, Any]] | None:
    """(chart id, what it returned) of one chart-data response, None for other responses."""
    if "/api/v1/chart/data" not in response.url or response.request.method != "POST":
        return None
    body = json.loads(response.request.post_data or "{}")
    chart_id = body.get("form_data", {}).get("slice_id")
    if chart_id is None:
        return None
    try:
        results = response.json().get("result", [])
    except Exception as exc:  # an HTML error page, say
        return int(chart_id), {"status": response.status, "rows": [], "errors": [str(exc)]}
    return int(chart_id), {
        "status": response.status,
        "rows": [r.get("rowcount", len(r.get("data") or [])) for r in results],
        "errors": [r["error"] for r in results if r.get("error")]
        + ([response.json().get("message", "")] if response.status != 200 else []),
    }


def main() -> None:
    base_url, slug, user, out, expected = sys.argv[1:6]
    password = os.environ["SUPERSET_PASSWORD"]
    answers: dict[int, dict[str, Any]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        page.goto(f"{base_url}/login/")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)

        def record(response: Response) -> None:
            answer = chart_answer(response)
            if answer is not None:
                answers[answer[0]] = answer[1]

        page.on("response", record)
        page.goto(f"{base_url}/superset/dashboard/{slug}/")
        deadline = time.monotonic() + TIMEOUT_S
        while len(answers) < int(expected) and time.monotonic() < deadline:
            page.wait_for_timeout(500)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(SETTLE_S * 1000)
        page.screenshot(path=out, full_page=True)
        browser.close()
    print(json.dumps({"charts": {str(k): v for k, v in sorted(answers.items())}}))


if __name__ == "__main__":
    main()
