"""Screenshots of the web pages of `ctmirror serve`, as PNGs.

    python bench/web_screenshots.py --mirror DIR --out DIR

``DIR`` is a synced mirror (``bench/web_mirror.py``). Writes ``search.png`` (the cell search
with a facet ticked), ``sweep_zoom.png`` (a cell's sweep viewer zoomed on one spike, at full
resolution), ``morphology.png`` (a reconstruction's xy, xz and zy projections) and
``glif_overlay.png`` (a GLIF model's voltage over its cell's recorded Noise sweep).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from web_mirror import chromium, serving, wait_for


def sql(mirror: Path, query: str) -> list[list[str]]:
    ctmirror = Path(sys.executable).with_name("ctmirror")
    out = subprocess.run([str(ctmirror), "sql", "--root", str(mirror), "--format", "csv", query],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    return [line.split(",") for line in out[1:]]


def element_shot(driver: Any, element_id: str, path: Path) -> None:
    element = driver.find_element("id", element_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.screenshot(str(path))
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ((specimen, sweep),) = sql(args.mirror, """
        SELECT s.specimen_id, s.sweep_number FROM sweep_summary s JOIN cells c USING (specimen_id)
        WHERE c.has_nwb AND c.glif_model_count > 0 AND s.stimulus_name = 'Long Square'
          AND s.num_spikes > 3 ORDER BY s.num_spikes LIMIT 1""")
    ((reconstructed,),) = sql(args.mirror, """
        SELECT specimen_id FROM cells WHERE has_reconstruction AND has_nwb
        UNION ALL SELECT min(specimen_id) FROM cells WHERE has_reconstruction LIMIT 1""")
    with serving(args.mirror) as base:
        driver = chromium()
        try:
            driver.get(base + "/?species=mouse")
            driver.save_screenshot(str(args.out / "search.png"))
            print(f"wrote {args.out / 'search.png'}")

            driver.get(f"{base}/cells/{specimen}?sweep={sweep}")
            wait_for(driver, "return window.ctm && window.ctm.done")
            peak = wait_for(driver, "const d = document.getElementById('sweep');"
                                    "return d.data[2].x.length && d.data[2].x[1];")
            before = driver.execute_script(
                "return document.getElementById('sweep').dataset.window")
            driver.execute_script(
                f"Plotly.relayout('sweep', {{'xaxis.range': [{peak - 0.003}, {peak + 0.004}]}})")
            wait_for(driver, f"return document.getElementById('sweep').dataset.window"
                             f" !== '{before}'")
            element_shot(driver, "sweep", args.out / "sweep_zoom.png")
            element_shot(driver, "glif", args.out / "glif_overlay.png")

            driver.get(f"{base}/cells/{reconstructed}")
            wait_for(driver, "return window.ctm && window.ctm.done")
            element_shot(driver, "morphology", args.out / "morphology.png")
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
