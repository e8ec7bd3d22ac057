#!/usr/bin/env python3
"""The utfall benchmark (SPEC §8): generates inputs at sample, city and national scale
(Swedish CSV and xlsx) once into a cache folder, then measures for each

  * parse-only: `examples/parse_only` — the same readers as `utfall run`, nothing after;
  * run: `utfall run --period <year>` — read, compute every indicator for every district
    and the total, write every workbook and the JSON;

wall time, CPU time (user + system; CPU/wall > 1 means both cores were used) and peak
memory (max RSS), and prints the ratio run ÷ parse-only (of the best runs, and the median of
the back-to-back pairs' ratios with their range). With `--reference` it also runs
the pandas and polars reference implementations in ../shared/bench on the same files
(needs `pip install pandas openpyxl polars fastexcel xlsxwriter`) and checks that their
figures agree with utfall's.

    python3 bench/bench.py                      # sample + city, csv + xlsx
    python3 bench/bench.py --scale national     # the SPEC §8 scale (≈2.7 M payment rows)
    python3 bench/bench.py --scale national --format csv --reference

Only the Python standard library is used. Timings are of whole processes (os.wait4).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = ROOT.parent / "shared" / "bench"

SCALES = {
    # name: (districts, households a month)
    "sample": ("Kungsholmen,Norrmalm,Östermalm", 1000),
    "city": ("14", 15000),
    "national": ("290", 105000),
}
YEARS = "2018,2019"
PERIOD = "2019"


def build() -> None:
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bins", "--example", "parse_only"],
        cwd=ROOT,
        check=True,
    )


def exe(name: str) -> str:
    if name == "parse_only":
        return str(ROOT / "target" / "release" / "examples" / "parse_only")
    return str(ROOT / "target" / "release" / name)


def generate(cache: Path, scale: str, fmt: str) -> Path:
    out = cache / f"{scale}-{fmt}"
    done = out / ".complete"
    if done.exists():
        return out
    if out.exists():
        shutil.rmtree(out)
    districts, households = SCALES[scale]
    subprocess.run(
        [exe("utfall-gen"), "--out", str(out), "--districts", districts,
         "--households", str(households), "--years", YEARS, "--format", fmt,
         "--no-title-rows"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    done.touch()
    return out


def rules_for(scale: str, tmp: Path) -> Path:
    """The shipped pack, with the districts taken from the data (the samples' three names
    are the pack's default list). Household ids stay global, as utfall-gen writes them (a
    household that moves keeps its id) and as the reference implementations key them."""
    dst = tmp / f"rules-{scale}"
    if dst.exists():
        return dst
    shutil.copytree(ROOT / "rules", dst)
    rapport = dst / "rapport.rhai"
    text = rapport.read_text(encoding="utf-8")
    text = "\n".join(l for l in text.splitlines() if not l.strip().startswith("stadsdelar:"))
    rapport.write_text(text + "\n", encoding="utf-8")
    return dst


def measure(cmd: list[str]) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({code}):\n{stderr}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
    }


def best_of_alternating(n: int, first: list[str], second: list[str]) -> tuple[dict, dict, list]:
    """Best of n runs of each command, the two taken in turn (first, second, first, ...):
    this machine's speed drifts by tens of percent within minutes, and two commands
    measured one after the other would see different machines, moving their ratio. Also
    the ratio second ÷ first of each pair taken back to back, which compares the two on
    the same phase of the machine even when the best runs of each fell in different ones."""
    a, b = [], []
    for _ in range(n):
        a.append(measure(first))
        b.append(measure(second))
    pairs = [y["wall"] / x["wall"] for x, y in zip(a, b) if x["wall"] > 0]
    return min(a, key=lambda r: r["wall"]), min(b, key=lambda r: r["wall"]), pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", action="append", choices=list(SCALES),
                    help="scales to run (default: sample and city)")
    ap.add_argument("--format", action="append", choices=["csv", "xlsx"],
                    help="input formats (default: both)")
    ap.add_argument("--repeat", type=int, default=5,
                    help="best of N runs, parse-only and run taken in turn (default 5)")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "utfall-bench"),
                    help="where generated inputs are kept between runs")
    ap.add_argument("--reference", action="store_true",
                    help="also time the pandas and polars references and compare figures")
    args = ap.parse_args()
    scales = args.scale or ["sample", "city"]
    formats = args.format or ["csv", "xlsx"]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    build()

    rows = []
    with tempfile.TemporaryDirectory(prefix="utfall-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for scale in scales:
            for fmt in formats:
                data = generate(cache, scale, fmt)
                rules = rules_for(scale, tmp)
                out = tmp / f"out-{scale}-{fmt}"
                parse, run, pairs = best_of_alternating(
                    args.repeat,
                    [exe("parse_only"), str(data)],
                    [exe("utfall"), "run", "-q", "--input", str(data), "--rules", str(rules),
                     "--output", str(out), "--period", PERIOD])
                written = len(list(out.glob("*.xlsx")))
                row = {"scale": scale, "format": fmt, "parse": parse, "run": run,
                       "pairs": pairs, "workbooks": written}
                if args.reference:
                    row["reference"] = references(data, out, tmp)
                rows.append(row)
                print_row(row, header=len(rows) == 1)
    print()
    print(f"machine: {os.cpu_count()} cores; inputs cached in {cache}")


def references(data: Path, out: Path, tmp: Path) -> dict:
    result = {}
    ours = next(out.glob(f"*_{PERIOD}.json"))
    for name in ("pandas", "polars"):
        script = SHARED_BENCH / f"reference_{name}.py"
        ref_json = tmp / f"ref-{name}.json"
        m = measure([sys.executable, str(script), str(data), "--period", PERIOD,
                     "--json", str(ref_json), "-q"])
        cmp = subprocess.run([sys.executable, str(SHARED_BENCH / "compare_json.py"),
                              str(ref_json), str(ours), "--subset"],
                             capture_output=True, text=True)
        m["agrees"] = cmp.returncode == 0
        result[name] = m
    return result


def print_row(row: dict, header: bool) -> None:
    if header:
        print(f"{'scale':<9} {'format':<6} {'parse wall':>10} {'parse cpu':>9} {'parse MiB':>9} "
              f"{'run wall':>9} {'run cpu':>8} {'run MiB':>8} {'ratio':>6} {'pairs':>16} "
              f"{'books':>6}")
    p, r = row["parse"], row["run"]
    ratio = r["wall"] / p["wall"] if p["wall"] > 0 else float("nan")
    # The median ratio of the back-to-back pairs, and their range.
    pairs = sorted(row["pairs"])
    median = statistics.median(pairs) if pairs else float("nan")
    spread = f"{median:.2f} ({pairs[0]:.2f}–{pairs[-1]:.2f})" if pairs else "-"
    print(f"{row['scale']:<9} {row['format']:<6} {p['wall']:>9.2f}s {p['cpu']:>8.2f}s "
          f"{p['rss_mib']:>9.0f} {r['wall']:>8.2f}s {r['cpu']:>7.2f}s {r['rss_mib']:>8.0f} "
          f"{ratio:>6.2f} {spread:>16} {row['workbooks']:>6}")
    for name, m in row.get("reference", {}).items():
        speedup = m["wall"] / r["wall"] if r["wall"] > 0 else float("nan")
        print(f"{'':<16} reference {name}: {m['wall']:.2f}s, {m['rss_mib']:.0f} MiB, "
              f"utfall {speedup:.1f}x faster, figures {'agree' if m['agrees'] else 'DIFFER'}")


if __name__ == "__main__":
    main()
