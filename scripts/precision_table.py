"""The step-speed table of benchmarks/test_precision_speed.py, from its pytest-benchmark JSON:

    pytest benchmarks/test_precision_speed.py --benchmark-only --benchmark-json=speed.json
    python scripts/precision_table.py speed.json [later.json ...] > docs/results/precision/speed-MACHINE.md

A later file's benchmarks replace an earlier one's of the same architecture, variant and
implementation (a part measured again after a change); each row's share of the peak uses the
peak measured in its own run, which the last column names. Every figure is read from the
JSON files (median step time of each benchmark, and the extra_info it recorded: FLOPs per
step, the peaks, the machine); nothing is typed. The bf16 speed-ups timed alternately with
fp32 in one process (`test_bf16_speedup_interleaved`, `-k interleaved`) are listed under the
table, one line per run, from whichever files hold them, and so are the timings of ganzoo's
step alternately with the plain one (`test_against_plain_alternately`).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def main(paths: list[str]) -> str:
    steps: dict = defaultdict(dict)  # arch -> (variant, implementation) -> benchmark
    peaks: dict = {}  # file index -> precision -> GFLOP/s
    kernels: dict = {}  # file index -> precision -> the kernel that reached the peak
    interleaved: list[tuple[int, dict]] = []  # (file index, extra_info) of each alternate timing
    against_plain: list[tuple[int, dict]] = []  # the same, of ganzoo's step against the plain one
    machine, runs = None, []
    for index, path in enumerate(paths):
        data = json.loads(open(path).read())
        runs.append(f"{data['datetime'][:16]} (pytest-benchmark {data['version']})")
        for b in data["benchmarks"]:
            info = b["extra_info"]
            if b["group"] in ("peak", "matmul-peak"):  # matmul-peak: files made before the peak timed convolutions
                peaks.setdefault(index, {})[info["precision"]] = info["peak_gflops"]
                kernels.setdefault(index, {})[info["precision"]] = info.get("peak_kernel", "products alone")
                continue
            if b["group"] == "bf16-speedup-interleaved":
                interleaved.append((index, info))
                continue
            if b["group"] == "against-plain-alternately":
                against_plain.append((index, info))
                continue
            machine = machine or {k: info.get(k) for k in ("device", "cpu_flags", "threads", "torch")}
            steps[info["arch"]][(info["variant"], info["implementation"])] = {**b, "run": index}
    variants = list(dict.fromkeys(v for arch in steps.values() for v, _ in arch))
    lines = [
        "# Step time by precision: ganzoo's step and a plain PyTorch step of the same networks",
        "",
        f"Machine: {machine['device']}"
        + (f", flags {', '.join(machine['cpu_flags'])}" if machine.get("cpu_flags") else "")
        + (f", {machine['threads']} thread(s)" if machine.get("threads") else "")
        + f"; torch {machine['torch']}; run {', run '.join(f'{i + 1}: {r}' for i, r in enumerate(runs))}.",
        "",
        "Peak measured in the same run: the best of square matrix products (512-2048) and 3x3 "
        "convolutions (128-512 channels), the kernel that reached it in brackets (a run that timed "
        "products alone says so): "
        + "; ".join(
            f"run {i + 1}: " + ", ".join(f"{p} {g:,.0f} GFLOP/s ({kernels[i][p]})" for p, g in ps.items())
            for i, ps in peaks.items()
        )
        + ". Step: one D step (non-saturating), one G step on a fresh batch, Adam, no penalty; batch 256 "
        "for 2D data, 64 for images. Median step time in ms; speed-up over ganzoo's fp32 step; plain/ganzoo "
        "> 1 means ganzoo's step is faster; GFLOP/s and its share of the peak in that precision "
        "(FLOPs from FlopCounterMode on an eager step).",
        "",
        "| architecture | variant | ganzoo ms | plain ms | plain/ganzoo | speed-up vs fp32 | GFLOP/s | % of peak "
        "| run |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for arch, runs in steps.items():
        base = runs.get(("fp32", "ganzoo"))
        for variant in variants:
            ours, plain = runs.get((variant, "ganzoo")), runs.get((variant, "plain"))
            if ours is None:
                continue
            ms = ours["stats"]["median"] * 1e3
            plain_ms = plain["stats"]["median"] * 1e3 if plain else None
            speedup = base["stats"]["median"] / ours["stats"]["median"] if base else None
            info = ours["extra_info"]
            gflops = info["flops_per_step"] / ours["stats"]["median"] / 1e9
            share = 100 * gflops / peaks[ours["run"]][info["precision"]]
            lines.append(
                f"| {arch} | {variant} | {ms:.2f} | {f'{plain_ms:.2f}' if plain_ms else '-'} | "
                f"{f'{plain_ms / ms:.2f}' if plain_ms else '-'} | {f'{speedup:.2f}x' if speedup else '-'} | "
                f"{gflops:.1f} | {share:.1f} | {ours['run'] + 1} |"
            )
    if interleaved:
        lines += [
            "",
            "The bf16 step's speed-up over the fp32 step timed alternately in one process "
            "(`test_bf16_speedup_interleaved`: 7 rounds of 3 steps each, median step times):",
            "",
        ]
        lines += [
            f"- {info['arch']}, run {index + 1}: {info['speedup']:.2f}x "
            f"(fp32 {info['median_fp32_s'] * 1e3:.1f} ms, bf16 {info['median_bf16_s'] * 1e3:.1f} ms)"
            for index, info in interleaved
        ]
    if against_plain:
        lines += [
            "",
            "ganzoo's step against the plain step timed alternately in one process "
            "(`test_against_plain_alternately`: 7 rounds of 3 steps each, median step times; "
            "plain/ganzoo > 1 means ganzoo's step is faster):",
            "",
        ]
        lines += [
            f"- {info['arch']} {info['variant']}, run {index + 1}: {info['plain_over_ganzoo']:.2f} "
            f"(ganzoo {info['median_ganzoo_s'] * 1e3:.1f} ms, plain {info['median_plain_s'] * 1e3:.1f} ms)"
            for index, info in against_plain
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(main(sys.argv[1:]))
