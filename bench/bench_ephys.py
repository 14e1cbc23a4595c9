"""Cell-level ephys features of this project against ipfx 2.1.2 and AllenSDK 2.16.2 on the same
NWB files, in one run.

Usage::

    python bench/bench_ephys.py FILE_OR_DIR [...] [--ipfx-python IPFX_VENV/bin/python] \
        [--allensdk-python SDK_VENV/bin/python] [--scope cell|dataset] [--threads N] \
        [--json OUT.json]

Neither reference can share the project's environment, so each runs in its own interpreter (a
virtualenv with ``ipfx==2.1.2``, one with ``allensdk==2.16.2``), called by this script once per
file. ipfx: the file is read with the NWB 1 adapter of ``bench/ipfx_read_check.py``; with
``--scope cell`` (default) its three cell-level analyses run (long squares, short squares,
ramps) and build the cell record, as inside ``extract_data_set_features``; with ``--scope
dataset`` all of ``extract_data_set_features`` runs, which also measures every current-clamp
sweep for its sweep table. Compared with this project's ``ipfx`` definitions: ``cell_features``
on the protocols' sweeps, plus, for ``dataset``, ``sweep_results`` on every current-clamp sweep
(the pipeline's spike and sweep tables). AllenSDK: ``NwbDataSet`` and ``extract_cell_features``
(the 2016-2018 extractor, cell level only); compared with the ``allen2016`` definitions.
Both sides read the file inside the timed part; interpreter start-up and imports are not
timed. This project reads and measures the sweeps on ``--threads`` threads (default: the CPUs
the process may use); the references run as they are, on one. Besides the wall-time speed-up
the CPU time of both sides is compared (``cpu x``): on a machine shared with other jobs it
shows the work saved, where wall time shows what the scheduler gave each side. Agreement: a
(cell, column) pair agrees when both are empty or within 1% of the reference's value.

Each file's *floor* is also timed, on one core: inflating the gzip chunks of the cell-level
sweeps (response and stimulus, each with the inflater the reader uses: libdeflate or zlib-ng,
see ``ctmirror.readers.zlib_chunks``) and one exact pass of the zero-phase 10 kHz filter
with its derivative over every response sample (both references filter the whole trace before
looking for spikes). The filter is timed twice: one sweep after another (``filtered_dvdt``: the
latency of one filter chain, in one buffer reused from sweep to sweep as the features do;
``floor``/``bound``) and two sweeps side by side (``filtered_dvdts``: the processor's
throughput; ``tfloor``/``tbound``); both are printed in ns per sample and samples per second,
and the reference's time over each floor.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).parent


def worker(path: str, scope: str) -> None:
    """Run inside the ipfx interpreter: print ipfx's record and seconds as one JSON line.

    ``cell``: the three cell-level analyses and the record, as ``extract_data_set_features``
    runs them; ``dataset``: all of ``extract_data_set_features``, which also measures every
    current-clamp sweep (noise sweeps included) for the sweep table."""
    import importlib.util
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.CRITICAL)
    spec = importlib.util.spec_from_file_location("ipfx_read_check",
                                                  HERE / "ipfx_read_check.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    from ipfx import data_set_features as dsf
    from ipfx.dataset.ephys_data_set import EphysDataSet
    from ipfx.feature_record import build_cell_feature_record

    ontology = check.StimulusOntology(
        check.ju.read(check.StimulusOntology.DEFAULT_STIMULUS_ONTOLOGY_FILE))
    started, cpu = time.perf_counter(), time.process_time()
    data = check.Nwb1PipelineData(path, ontology)
    data_set = EphysDataSet(data=data, sweep_info=data.sweep_info())
    if scope == "dataset":
        _, _, record, _, _, _ = dsf.extract_data_set_features(data_set)
    else:
        features = {"long_squares": dsf.extract_cell_long_square_features(data_set)[0],
                    "short_squares": dsf.extract_cell_short_square_features(data_set)[0],
                    "ramps": dsf.extract_cell_ramp_features(data_set)[0]}
        record = build_cell_feature_record(features)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "record": _plain(record)}))


def allensdk_worker(path: str) -> None:
    """Run inside the AllenSDK interpreter: the 2016-2018 extractor's cell record and seconds.

    ``extract_cell_features`` (fixed 1.02-2.02 s long-square window, short-square estimate
    window 1.02-1.021 s, ramps from 1.02 s) on the file's "Ramp", "Short Square" and "Long
    Square" sweeps (as the Allen pipeline passed them; feature_spec 2.1), mapped onto the
    published column names the way the Allen pipeline stored them
    (rheobase sweep's first spike for ``*_long_square``, the first spikes' means for
    ``*_short_square`` and ``*_ramp``, hero sweep for adaptation/latency/avg_isi, tau and
    avg_isi in ms). The subthreshold minimum amplitude follows the coarse long squares' step
    (-100 pA for 20 pA steps, -200 pA for 40 pA), as in the project.
    """
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.CRITICAL)
    import h5py
    import numpy as np
    from allensdk.core.nwb_data_set import NwbDataSet
    from allensdk.ephys.extract_cell_features import extract_cell_features

    started = time.perf_counter()
    by_name: dict[str, list[int]] = {}
    coarse: list[float] = []
    with h5py.File(path, "r") as nwb:
        for key, stim in nwb["stimulus/presentation"].items():
            name = stim["aibs_stimulus_name"][()].decode()
            number = int(key.split("_")[1])
            by_name.setdefault(name, []).append(number)
            code = stim["aibs_stimulus_description"][()] if "aibs_stimulus_description" in stim \
                else b""
            if name == "Long Square" and code.decode().startswith("C1LSCOARSE"):
                coarse.append(float(stim["aibs_stimulus_amplitude_pa"][()]))
    steps = np.unique(np.round(np.diff(sorted(coarse))))
    steps = steps[steps > 0]
    min_amp = {20.0: -100.0, 40.0: -200.0}.get(float(steps.min()), -100.0) if steps.size \
        else -100.0
    record: dict[str, object] = {}
    try:
        features = extract_cell_features(
            NwbDataSet(path), sorted(by_name.get("Ramp", [])),
            sorted(by_name.get("Short Square", [])),
            sorted(by_name.get("Long Square", [])), min_amp)
    except Exception as exc:  # noqa: BLE001 - the reference's failure is the comparison's datum
        features = None
        record["error"] = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    if features is not None:
        long_squares = features["long_squares"]
        record["rheobase_sweep_num"] = long_squares["rheobase_sweep"].get("id")
        record["thumbnail_sweep_num"] = long_squares["hero_sweep"].get("id")
        for column, key in (("vrest", "v_baseline"), ("ri", "input_resistance"),
                            ("sag", "sag"), ("tau", "tau"), ("vm_for_sag", "vm_for_sag"),
                            ("f_i_curve_slope", "fi_fit_slope")):
            record[column] = long_squares.get(key)
        hero = long_squares["hero_sweep"]
        for column, key in (("adaptation", "adapt"), ("latency", "latency"),
                            ("avg_isi", "mean_isi")):
            record[column] = hero.get(key)
        spike_sources = (("long_square", long_squares["rheobase_sweep"]["spikes"][0]),
                         ("short_square", features["short_squares"]["mean_spike_0"]),
                         ("ramp", features["ramps"]["mean_spike_0"]))
        for protocol, spike in spike_sources:
            for key in ("upstroke_downstroke_ratio", "peak_v", "peak_t", "trough_v", "trough_t",
                        "fast_trough_v", "fast_trough_t", "slow_trough_v", "slow_trough_t",
                        "threshold_v", "threshold_i", "threshold_t"):
                record[f"{key}_{protocol}"] = spike.get(key)
        record["threshold_i_short_square"] = features["short_squares"]["stimulus_amplitude"]
        for column in ("tau", "avg_isi"):
            if record[column] is not None:
                record[column] = float(record[column]) * 1e3
    print(json.dumps({"seconds": seconds, "record": _plain(record)}))


def _plain(record: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in record.items():
        if hasattr(value, "item"):
            value = value.item()
        out[key] = None if isinstance(value, float) and math.isnan(value) else value
    return out


def ours(path: Path, definitions: str, scope: str = "cell", threads: int = 1
         ) -> tuple[float, float, dict[str, object], int | None, int | None]:
    """This project's cell record and seconds; with ``dataset`` also every current-clamp
    sweep's spikes and features (the pipeline's ``ephys_spikes`` and ``ephys_sweep_features``,
    the counterpart of ipfx's sweep table)."""
    from ctmirror.features.ephys import definitions as definition_set
    from ctmirror.features.ephys.cell import CELL_STIMULI, cell_features
    from ctmirror.features.ephys.sweeps import sweep_results
    from ctmirror.readers.ephys import recordings_from_nwb

    chosen = definition_set(definitions)
    started, cpu = time.perf_counter(), time.process_time()
    recordings, _ = recordings_from_nwb(path, None if scope == "dataset" else CELL_STIMULI,
                                        threads=threads)
    cell = cell_features(recordings, chosen, threads=threads)
    if scope == "dataset":
        sweep_results(recordings, chosen)
    return (time.perf_counter() - started, time.process_time() - cpu, cell.values,
            cell.rheobase_sweep_number, cell.hero_sweep_number)


def floor(path: Path) -> tuple[float, float, float, int]:
    """Seconds to inflate the cell-level sweeps' chunks, to filter every response sample once
    one sweep after another (the latency of one filter chain) and side by side
    (``filtered_dvdts``: the processor's throughput), and the number of samples (see the
    module doc)."""
    import deflate
    import h5py
    import numpy as np
    from zlib_ng import zlib_ng

    from ctmirror.features.ephys import IPFX
    from ctmirror.features.ephys.cell import CELL_STIMULI
    from ctmirror.features.ephys.dvdt import ScratchBuffer, filtered_dvdt, filtered_dvdts
    from ctmirror.readers import zlib_chunks
    from ctmirror.readers.ephys import recordings_from_nwb
    from ctmirror.readers.hdf5_chunks import deflate_chunks, raw_chunks

    recordings, _ = recordings_from_nwb(path, CELL_STIMULI)
    # Each dataset's chunks with the inflater the reader gives them (zlib_chunks).
    compressed: list[tuple[bool, int, bytes]] = []
    with h5py.File(path, "r") as nwb:
        for recording in recordings:
            for group in ("acquisition/timeseries", "stimulus/presentation"):
                data = nwb[f"{group}/Sweep_{recording.sweep_number}/data"]
                layout = deflate_chunks(data)
                if layout is not None:
                    stored = sum(nbytes for _, _, nbytes in layout)
                    libdeflate = zlib_chunks.inflater(stored, data.nbytes) == zlib_chunks.LIBDEFLATE
                    size = data.chunks[0] * data.dtype.itemsize
                    with raw_chunks(data, layout) as chunks:
                        compressed.extend((libdeflate, size, raw) for raw in chunks)
    started = time.perf_counter()
    for libdeflate, size, raw in compressed:
        if libdeflate:
            deflate.zlib_decompress(raw, size)
        else:
            zlib_ng.decompress(raw, bufsize=size)
    inflate = time.perf_counter() - started
    traces = [(np.arange(r.v.size) / r.sampling_rate, r.v) for r in recordings]
    scratch = ScratchBuffer()  # reused from sweep to sweep, as the feature code does
    started = time.perf_counter()
    for t, v in traces:
        filtered_dvdt(t, v, IPFX.spikes.filter_hz, scratch)
    one_lane = time.perf_counter() - started
    # Two at a time, traces of about the same length together, in two reused buffers.
    by_size = sorted(traces, key=lambda trace: trace[1].size)
    lanes_scratch = [ScratchBuffer(), ScratchBuffer()]
    started = time.perf_counter()
    for k in range(0, len(by_size), 2):
        pair = by_size[k:k + 2]
        filtered_dvdts(pair, IPFX.spikes.filter_hz, lanes_scratch[:len(pair)])
    lanes = time.perf_counter() - started
    return inflate, one_lane, lanes, sum(v.size for _, v in traces)


#: reference -> (this project's definition set, worker flag)
REFERENCES = {"ipfx": ("ipfx", "--worker"), "allensdk": ("allen2016", "--allensdk-worker")}


def _agree(got: object, want: object) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return abs(float(got) - float(want)) <= 0.01 * abs(float(want)) + 1e-9  # type: ignore[arg-type]


def compare(files: list[Path], reference: str, python: Path, scope: str = "cell",
            threads: int = 1) -> dict[str, object]:
    """Run ``reference`` (in ``python``) and this project on every file; print and return the
    per-cell rows and the summary."""
    from ctmirror.features.ephys.cell import CELL_FEATURES
    from ctmirror.features.ephys.dvdt import LANES

    definitions, flag = REFERENCES[reference]
    rows = []
    per_feature: dict[str, list[bool]] = {name: [] for name in CELL_FEATURES}
    disagreements: list[tuple[str, str, object, object]] = []
    ours(files[0], definitions, scope, threads)  # warm-up: numba and scipy imports
    floor(files[0])  # and the side-by-side filter's compiled code
    print(f"\n{reference} vs this project ({definitions} definitions, {scope} scope, "
          f"{threads} thread{'s' if threads > 1 else ''})")
    print(f"{'file':<26} {reference + ' s':>10} {'ours s':>8} {'speed-up':>9} {'cpu x':>6} "
          f"{'agree':>7} {'floor s':>8} {'bound':>7} {'tfloor s':>8} {'tbound':>7}")
    for path in files:
        done = subprocess.run([str(python), __file__, flag, str(path), "--scope", scope],
                              capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        record = result["record"]
        seconds, cpu, values, rheobase, hero = ours(path, definitions, scope, threads)
        inflate, one_lane, lanes, samples = floor(path)
        least = inflate + one_lane
        if "error" in record:
            print(f"{path.name[:26]:<26} {reference} failed: {record['error']}")
            rows.append({"file": path.name, "reference_error": record["error"]})
            continue
        agree = []
        for name in CELL_FEATURES:
            same = _agree(values.get(name), record.get(name))
            agree.append(same)
            per_feature[name].append(same)
            if not same:
                disagreements.append((path.name, name, values.get(name), record.get(name)))
        rows.append({"file": path.name, "reference_s": result["seconds"], "ours_s": seconds,
                     "reference_cpu_s": result.get("cpu_seconds"), "ours_cpu_s": cpu,
                     "floor_s": least, "throughput_floor_s": inflate + lanes,
                     "filter_ns_per_sample": 1e9 * one_lane / samples,
                     "batched_filter_ns_per_sample": 1e9 * lanes / samples,
                     "agree": sum(agree), "pairs": len(agree),
                     "rheobase_same": rheobase == record.get("rheobase_sweep_num"),
                     "hero_same": hero == record.get("thumbnail_sweep_num")})
        cpu_ratio = (result.get("cpu_seconds") or math.nan) / cpu
        print(f"{path.name[:26]:<26} {result['seconds']:>10.2f} {seconds:>8.2f} "
              f"{result['seconds'] / seconds:>8.1f}x {cpu_ratio:>5.1f}x "
              f"{sum(agree):>3}/{len(agree)} "
              f"{least:>8.2f} {result['seconds'] / least:>6.1f}x "
              f"{inflate + lanes:>8.2f} {result['seconds'] / (inflate + lanes):>6.1f}x")
    done_rows = [r for r in rows if "pairs" in r]
    pairs = sum(r["pairs"] for r in done_rows)
    agreeing = sum(r["agree"] for r in done_rows)
    speedups = [r["reference_s"] / r["ours_s"] for r in done_rows]
    summary = {
        "reference": reference,
        "definitions": definitions,
        "scope": scope,
        "threads": threads,
        "cells": len(done_rows),
        "reference_failed": len(rows) - len(done_rows),
        "pairs_agreeing": agreeing,
        "pairs": pairs,
        "median_speedup": statistics.median(speedups) if speedups else None,
        "median_cpu_speedup": statistics.median(
            (r["reference_cpu_s"] or math.nan) / r["ours_cpu_s"] for r in done_rows)
        if done_rows else None,
        "total_speedup": (sum(r["reference_s"] for r in done_rows)
                          / sum(r["ours_s"] for r in done_rows)) if done_rows else None,
        "median_bound": statistics.median(r["reference_s"] / r["floor_s"] for r in done_rows)
        if done_rows else None,
        "median_throughput_bound": statistics.median(
            r["reference_s"] / r["throughput_floor_s"] for r in done_rows) if done_rows else None,
        "filter_ns_per_sample": statistics.median(
            r["filter_ns_per_sample"] for r in done_rows) if done_rows else None,
        "batched_filter_ns_per_sample": statistics.median(
            r["batched_filter_ns_per_sample"] for r in done_rows) if done_rows else None,
        "rheobase_same": sum(r["rheobase_same"] for r in done_rows),
        "hero_same": sum(r["hero_same"] for r in done_rows),
        "features_below_95pct": {name: f"{sum(v)}/{len(v)}" for name, v in per_feature.items()
                                 if v and sum(v) < 0.95 * len(v)},
    }
    if done_rows:
        print(f"{len(done_rows)} cells: {agreeing}/{pairs} (cell, column) pairs within 1% of "
              f"{reference} ({100 * agreeing / pairs:.1f}%); rheobase sweep the same in "
              f"{summary['rheobase_same']}, hero sweep in {summary['hero_same']}; per-cell "
              f"speed-up median {summary['median_speedup']:.1f}x, "
              f"total {summary['total_speedup']:.1f}x; CPU time over CPU time median "
              f"{summary['median_cpu_speedup']:.1f}x; single-core bound (reference over "
              f"floor) median {summary['median_bound']:.1f}x; batched-filter throughput "
              f"bound {summary['batched_filter_ns_per_sample']:.2f} ns per sample "
              f"({1e3 / summary['batched_filter_ns_per_sample']:.0f} M samples/s), "
              f"reference over inflate + batched filter median "
              f"{summary['median_throughput_bound']:.1f}x")
        print(f"filter, one sweep after another: {summary['filter_ns_per_sample']:.2f} ns per "
              f"sample ({1e3 / summary['filter_ns_per_sample']:.0f} M samples/s; latency "
              f"bound); {LANES} sweeps side by side: "
              f"{summary['batched_filter_ns_per_sample']:.2f} ns per sample "
              f"({1e3 / summary['batched_filter_ns_per_sample']:.0f} M samples/s; throughput "
              f"bound)")
    for row in disagreements:
        print("  differs:", *row)
    if summary["features_below_95pct"]:
        print("columns agreeing for fewer than 95% of cells:", summary["features_below_95pct"])
    return {"summary": summary, "cells": rows,
            "disagreements": [list(d) for d in disagreements]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--ipfx-python", type=Path,
                        help="interpreter with ipfx==2.1.2 (compared with --definitions ipfx)")
    parser.add_argument("--allensdk-python", type=Path,
                        help="interpreter with allensdk==2.16.2 (compared with allen2016)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--allensdk-worker", help=argparse.SUPPRESS)
    parser.add_argument("--scope", choices=("cell", "dataset"), default="cell",
                        help="cell: the cell-level features only (default); dataset: ipfx's "
                             "extract_data_set_features, which also measures every current-clamp "
                             "sweep, against this project's cell and per-sweep features")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="threads this project reads and measures a cell's sweeps on "
                             "(default: the CPUs this process may use; the references use one)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.scope)
        return 0
    if args.allensdk_worker:
        allensdk_worker(args.allensdk_worker)
        return 0
    if not (args.ipfx_python or args.allensdk_python) or not args.paths:
        parser.error("give NWB files or directories and --ipfx-python and/or --allensdk-python")
    files = [p for arg in args.paths for p in (sorted(arg.rglob("*.nwb")) if arg.is_dir()
                                               else [arg])]
    results = {}
    for reference, python in (("ipfx", args.ipfx_python), ("allensdk", args.allensdk_python)):
        if python is not None:
            results[reference] = compare(files, reference, python,
                                         "cell" if reference == "allensdk" else args.scope,
                                         args.threads)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
