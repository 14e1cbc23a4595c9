"""The web pages of `ctmirror serve` in real headless Chromium (Debian's, through Selenium),
over a mirror synced from the synthetic corpus with every derived stage: what the pages show
is checked against SQL on the warehouse, and the browser may neither log an error nor ask any
host but the server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ctmirror.serve.server import ApiServer, run_in_thread
from ctmirror.serve.warehouse_source import WarehouseSource
from ctmirror.serve.web import web_pages
from tests.conftest import duckdb_url

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--window-size=1400,1000")


@pytest.fixture(scope="module")
def mirror(synced_mirror: Path) -> Path:
    return synced_mirror


@pytest.fixture(scope="module")
def server(mirror: Path) -> Iterator[ApiServer]:
    served = ApiServer(WarehouseSource(duckdb_url(mirror), mirror), ("127.0.0.1", 0),
                       pages=web_pages(duckdb_url(mirror), mirror))
    with run_in_thread(served, "web"):
        yield served


@pytest.fixture(scope="module")
def sql(warehouse_sql: Callable[..., list[dict[str, Any]]]) -> Callable[..., list[dict[str, Any]]]:
    return warehouse_sql


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"no Chromium at {CHROMIUM} with {CHROMEDRIVER}")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the page")
        time.sleep(0.1)


def _check_clean(browser: Any, base_url: str) -> None:
    """No console error, and no request to any host but the server."""
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    assert urls, "the network log is empty"
    assert [u for u in urls if not u.startswith(base_url + "/")
            and not u.startswith(("data:", "blob:"))] == []


def test_search_facets_count_what_sql_says(browser: Any, server: ApiServer,
                                           sql: Callable[..., list[dict[str, Any]]]) -> None:
    browser.get(server.base_url + "/")
    total = int(browser.find_element("id", "total").text)
    assert total == sql("SELECT count(*) AS n FROM cells")[0]["n"]
    species = sql("SELECT species, count(*) AS n FROM cells GROUP BY species ORDER BY n")[0]
    box = browser.find_element(
        "css selector", f"input[name=species][value='{species['species']}']")
    box.click()
    _wait(lambda: "species=" in browser.current_url)
    _wait(lambda: browser.find_element("id", "total").text == str(species["n"]))
    shown = {e.get_attribute("data-value"): int(e.text) for e in browser.find_elements(
        "css selector", "fieldset[data-facet=dendrite_type] .count")}
    want = {r["dendrite_type"] or "": r["n"] for r in sql(
        "SELECT dendrite_type, count(*) AS n FROM cells WHERE species = :s GROUP BY 1",
        s=species["species"])}
    assert shown == want
    rows = browser.find_elements("css selector", "table.cells tbody tr")
    assert len(rows) == min(species["n"], 50)
    _check_clean(browser, server.base_url)


def test_cell_page_shows_sweeps_spikes_fi_and_glif(
        browser: Any, server: ApiServer, sql: Callable[..., list[dict[str, Any]]]) -> None:
    (cell,) = sql("""
        SELECT c.specimen_id, c.ephys_definitions FROM cells c
        WHERE c.has_nwb AND c.glif_model_count > 0 ORDER BY c.specimen_id LIMIT 1""")
    specimen = cell["specimen_id"]
    (sweep,) = sql("""
        SELECT sweep_number FROM sweep_summary WHERE specimen_id = :s
          AND stimulus_name = 'Long Square' AND num_spikes > 0
        ORDER BY sweep_number LIMIT 1""", s=specimen)
    browser.get(f"{server.base_url}/cells/{specimen}")
    _wait(lambda: browser.execute_script("return window.ctm && window.ctm.done"))
    assert len(browser.find_elements("css selector", "#sweeps tbody tr")) == sql(
        "SELECT count(*) AS n FROM sweep_summary WHERE specimen_id = :s", s=specimen)[0]["n"]
    drawn = browser.execute_script(
        "const d = document.getElementById('sweep');"
        "return {sweep: Number(d.dataset.sweep), response: d.data[1].x.length,"
        " spikes: d.data[2].x, stimulus: d.data[0].y.length};")
    assert drawn["sweep"] == sweep["sweep_number"]
    assert drawn["response"] > 1000 and drawn["stimulus"] > 1000
    spikes = sql("""
        SELECT peak_t FROM ephys_spikes WHERE specimen_id = :s AND sweep_number = :n
          AND definitions = :d ORDER BY spike_number""",
                 s=specimen, n=sweep["sweep_number"], d=cell["ephys_definitions"])
    assert len(spikes) > 0
    assert drawn["spikes"] == pytest.approx([r["peak_t"] for r in spikes])

    fi = browser.execute_script(
        "const d = document.getElementById('fi').data;"
        "return {x: d[0].x, published: d[0].y, recomputed: d[1].y};")
    rows = sql("""SELECT stimulus_amplitude_pa, spike_rate_hz, spike_rate_hz_recomputed
                  FROM fi_curves WHERE specimen_id = :s ORDER BY 1""", s=specimen)
    assert len(rows) > 2
    assert fi["x"] == pytest.approx([r["stimulus_amplitude_pa"] for r in rows])
    assert fi["published"] == pytest.approx([r["spike_rate_hz"] for r in rows])
    assert fi["recomputed"] == pytest.approx([r["spike_rate_hz_recomputed"] for r in rows])

    glif = browser.execute_script(
        "const d = document.getElementById('glif');"
        "return {model: d.dataset.model, traces: d.data.map(t => t.y.length),"
        " names: d.data.map(t => t.name)};")
    assert int(glif["model"]) in {r["neuronal_model_id"] for r in sql(
        "SELECT neuronal_model_id FROM glif_models WHERE specimen_id = :s", s=specimen)}
    assert len(glif["traces"]) == 2 and min(glif["traces"]) > 1000
    assert glif["names"][0].startswith("recorded")

    # zoom on the first spike: the window comes back at full resolution
    t = spikes[0]["peak_t"]
    before = browser.execute_script("return document.getElementById('sweep').dataset.window")
    browser.execute_script(
        f"Plotly.relayout('sweep', {{'xaxis.range': [{t - 0.002}, {t + 0.002}]}});")
    _wait(lambda: browser.execute_script(
        "return document.getElementById('sweep').dataset.window") != before)
    window = browser.execute_script(
        "const d = document.getElementById('sweep');"
        "return {window: d.dataset.window, x: d.data[1].x};")
    first, last = (int(v) for v in window["window"].split("-"))
    assert 0 < last - first < 5000
    assert len(window["x"]) == last - first  # every sample of the window
    _check_clean(browser, server.base_url)


def test_morphology_and_overview(browser: Any, server: ApiServer,
                                 sql: Callable[..., list[dict[str, Any]]]) -> None:
    (cell,) = sql("""SELECT specimen_id, neuron_reconstruction_id FROM cells
                     WHERE neuron_reconstruction_id IS NOT NULL ORDER BY specimen_id LIMIT 1""")
    browser.get(f"{server.base_url}/cells/{cell['specimen_id']}")
    _wait(lambda: browser.execute_script("return window.ctm && window.ctm.done"))
    names = browser.execute_script(
        "return document.getElementById('morphology').data.map(t => t.name);")
    nodes = sql("""SELECT count(*) AS n FROM reconstruction_nodes
                   WHERE neuron_reconstruction_id = :r""", r=cell["neuron_reconstruction_id"])
    assert nodes[0]["n"] > 10
    assert "soma" in names and len(names) >= 6  # xy, xz, zy of each compartment
    image = browser.find_element("css selector", "#morphology .main-svg")
    assert image.size["width"] > 300 and image.size["height"] > 300
    # the cell's mirrored projection images, each decoded by the browser (they load lazily)
    (images,) = sql("""SELECT count(*) AS n FROM mirror_files WHERE specimen_id = :s
                       AND source = 'projection_image' AND removed_at IS NULL""",
                    s=cell["specimen_id"])
    assert images["n"] > 0
    browser.execute_script("document.querySelector('.images').scrollIntoView();")
    sizes = _wait(lambda: browser.execute_script("""
        const shown = [...document.querySelectorAll('.images img')];
        return shown.every(i => i.complete && i.naturalWidth > 0)
            && shown.map(i => [i.naturalWidth, i.naturalHeight]);"""))
    assert len(sizes) == images["n"]
    assert all(width > 0 and height > 0 for width, height in sizes)
    browser.get(f"{server.base_url}/overview")
    _wait(lambda: browser.execute_script(
        "return document.querySelectorAll('#histograms .main-svg').length > 0"))
    _check_clean(browser, server.base_url)
