"""The fixed cost of a bench cell: what a cell costs besides its training steps.

    pytest benchmarks/test_bench_overhead.py --benchmark-only

A suite of one-step cells (mlp.test on ring8, one evaluation of 200 samples) runs in
two long-lived worker processes, as `ganzoo bench --jobs 2` runs any suite. The
first cell of each worker pays for the interpreter, the torch import and the plugin
load; every later cell reuses them. extra_info holds the mean wall time of first
cells and of later cells, from the cells' own records.
"""

import statistics
import textwrap

from ganzoo.bench.run import run_suite
from ganzoo.bench.suite import load_suite

CELLS = 8
SUITE = f"""
name = "overhead"
description = "one-step cells"
[[block]]
name = "one-step"
architectures = ["mlp.test"]
losses = ["non-saturating"]
data = ["ring8"]
seeds = {list(range(CELLS))}
steps = 1
eval_every = 1
log_every = 1
batch_size = 32
eval_samples = 200
metrics = ["mode-coverage"]
"""


def test_per_cell_fixed_cost_in_persistent_workers(benchmark, tmp_path):
    path = tmp_path / "overhead.toml"
    path.write_text(textwrap.dedent(SUITE))
    runs = iter(range(1000))

    def bench_once():
        return run_suite(
            load_suite(str(path)),
            tmp_path / f"out{next(runs)}",
            overrides={"device": "cpu"},
            jobs=2,
            echo=lambda *_: None,
        )

    records = benchmark.pedantic(bench_once, rounds=2, iterations=1)
    walls = [r["wall_seconds"] for r in records]
    first, later = sorted(walls)[-2:], sorted(walls)[:-2]  # the two slowest: each worker's first cell
    benchmark.extra_info.update(
        cells=CELLS,
        jobs=2,
        first_cell_s=round(statistics.fmean(first), 2),
        later_cell_s=round(statistics.fmean(later), 2),
    )
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["suite_s_per_cell"] = round(benchmark.stats.stats.mean / CELLS, 2)
    assert all(r["status"] == "ok" for r in records)
