"""`ganzoo theory`: run the experiments, record each claim's outcome, write the report.

Each experiment module has a NAME, a TITLE, a `Settings` dataclass (whose defaults are
the report's protocol) and `run(settings, figures_dir) -> result`. A result states its
claim and tolerance, whether the measurement meets it, the numbers, a table and the
figures. The lab appends one line per experiment to `theory.jsonl` with the settings,
timing and environment (a re-run skips experiments already recorded with the same
settings), runs experiment 7's bench cells, and writes `report.md` and a
self-contained `report.html` from the records.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from ganzoo.bench.cells import run_cell
from ganzoo.bench.pool import stop_with_parent
from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo.report.page import Page
from ganzoo.runs.resultsdir import ResultsDir
from ganzoo.theory import disjoint, fixed_point, mle, mode_collapse, optimal_discriminator, saturation, value_jsd
from ganzoo.util.environment import environment
from ganzoo.util.files import append_jsonl, atomic_write_text, read_jsonl

EXPERIMENTS = (mle, optimal_discriminator, value_jsd, fixed_point, saturation, disjoint, mode_collapse)
RECORDS = "theory.jsonl"


def number(module) -> int:
    return EXPERIMENTS.index(module) + 1


def select(only: list[str] | None) -> list:
    """Experiments by number (`3`) or name (`value-is-jsd`); all of them for None."""
    if not only:
        return list(EXPERIMENTS)
    names = {m.NAME: m for m in EXPERIMENTS}
    chosen = []
    for item in only:
        if item.isdigit() and 1 <= int(item) <= len(EXPERIMENTS):
            module = EXPERIMENTS[int(item) - 1]
        elif item in names:
            module = names[item]
        else:
            raise UnknownNameError(
                "experiment", item, list(names), hint=f"Name them, or number them 1 to {len(EXPERIMENTS)}."
            )
        if module not in chosen:
            chosen.append(module)
    return sorted(chosen, key=number)


def run_experiment(name: str, settings: dict, out_dir: Path, threads: int | None = 1) -> dict:
    """Run one experiment (in a worker process or here) and return its record."""
    import torch

    if threads:
        torch.set_num_threads(threads)  # tiny models: one thread each is fastest
    module = next(m for m in EXPERIMENTS if m.NAME == name)
    figures = out_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if module is mode_collapse:
        result = module.run(module.Settings(**settings), figures, out_dir)
    else:
        result = module.run(module.Settings(**settings), figures)
    return {
        "experiment": name,
        "number": number(module),
        "title": module.TITLE,
        **result,
        "passed": bool(result["passed"]),
        "settings": settings,
        "seconds": round(time.perf_counter() - started, 2),
        "environment": environment(torch.device("cpu")),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _worker(args):
    kind, payload, out_dir = args
    if kind == "cell":
        cell, threads = payload
        return kind, run_cell(cell, ResultsDir(out_dir / mode_collapse.RESULTS).run_dir(cell.id), threads)
    name, settings = payload
    return kind, run_experiment(name, settings, out_dir)


def latest_records(out_dir: Path) -> dict[str, dict]:
    return {r["experiment"]: r for r in read_jsonl(Path(out_dir) / RECORDS)}


def run_lab(
    out_dir, *, only: list[str] | None = None, jobs: int | None = None, seed: int = 0, rerun: bool = False, echo=print
) -> list[dict]:
    """Run the chosen experiments not yet recorded (all of them with `rerun`); returns the
    latest record of every chosen experiment, in order."""

    out_dir = Path(out_dir)
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    chosen = select(only)
    if jobs is None:
        jobs = max(1, min(os.cpu_count() or 1, 4))
    if jobs < 1:
        raise GanzooError(f"--jobs must be at least 1, got {jobs}.")
    done = latest_records(out_dir)
    # through JSON, as the records hold them (tuples become lists)
    settings = {m.NAME: json.loads(json.dumps(dataclasses.asdict(m.Settings(seed=seed)))) for m in chosen}
    todo = [m for m in chosen if rerun or m.NAME not in done or done[m.NAME]["settings"] != settings[m.NAME]]
    tasks = [("experiment", (m.NAME, settings[m.NAME])) for m in todo if m is not mode_collapse]
    if mode_collapse in todo:
        modes_settings = mode_collapse.Settings(**settings[mode_collapse.NAME])
        cells, threads = mode_collapse.pending_cells(modes_settings, out_dir, jobs)
        # WGAN-GP cells are the longest (5 critic steps each): start them first.
        cells.sort(key=lambda c: c.loss != "wgan-gp")
        tasks = [("cell", (c, threads)) for c in cells] + tasks
    echo(
        f"theory lab: {len(chosen)} experiments, {len(chosen) - len(todo)} already recorded; "
        f"{len(tasks)} tasks ({jobs} at a time) -> {out_dir}"
    )
    started = time.perf_counter()

    def finish(kind: str, record: dict) -> None:
        if kind == "cell":
            ResultsDir(out_dir / mode_collapse.RESULTS).append(record)
            echo(f"  cell {record['cell']}: {record['status']} ({record['wall_seconds']:.0f} s)")
        else:
            append_jsonl(out_dir / RECORDS, record)
            echo(_line(record))

    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            finish(*_worker((*task, out_dir)))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("spawn"), initializer=stop_with_parent
        ) as pool:
            futures = [pool.submit(_worker, (*task, out_dir)) for task in tasks]
            try:
                for future in as_completed(futures):
                    finish(*future.result())
            except KeyboardInterrupt:
                for future in futures:
                    future.cancel()
                raise
    if mode_collapse in todo:  # its cells are recorded now; the summary reads them
        finish("experiment", run_experiment(mode_collapse.NAME, settings[mode_collapse.NAME], out_dir))
    echo(f"ran {len(tasks)} tasks in {time.perf_counter() - started:.0f} s")
    latest = latest_records(out_dir)
    return [latest[m.NAME] for m in chosen]


def _line(record: dict) -> str:
    mark = "holds" if record["passed"] else "DOES NOT HOLD"
    return f"  {record['number']}. {record['title']}: {mark} ({record['seconds']:.0f} s)"


# --- the report --------------------------------------------------------------------------


def write_report(out_dir, records: list[dict] | None = None) -> tuple[Path, Path]:
    """report.md (figures in figures/) and a self-contained report.html from the records."""

    out_dir = Path(out_dir)
    if records is None:
        latest = latest_records(out_dir)
        records = [latest[m.NAME] for m in EXPERIMENTS if m.NAME in latest]
    if not records:
        raise GanzooError(f"{out_dir} holds no theory results ({RECORDS}). Run `ganzoo theory --out {out_dir}`.")
    figures = out_dir / "figures"
    held = sum(r["passed"] for r in records)
    page = Page("ganzoo theory lab")
    page.para(
        "The results of the GAN theory notes (Goodfellow et al. 2014; Hung-yi Lee's 2018 lectures) as "
        "experiments: each states a claim with its tolerance, measures it, and shows the figure. "
        "`docs/theory.md` gives each derivation. Every number below was measured by `ganzoo theory`; "
        f"the protocol is at the end. **{held} of {len(records)} claims hold.**"
    )
    page.table(
        ["#", "experiment", "claim holds", "seconds"],
        [[r["number"], r["title"], "yes" if r["passed"] else "NO", f"{r['seconds']:.0f}"] for r in records],
    )
    for r in records:
        page.heading(f"{r['number']}. {r['title']}")
        page.para(f"**Claim.** {r['claim']}")
        page.para(f"**Result: {'the claim holds' if r['passed'] else 'the claim does NOT hold'}.** {r['summary']}")
        header, rows = r["table"]
        page.table(header, rows)
        pictures = [(figures / name, caption) for name, caption in r["figures"]]
        page.image(*pictures[0])
        if len(pictures) > 1:
            page.images(pictures[1:])
        if r.get("settings_note"):
            page.para(f"Setup: {r['settings_note']}")
    page.heading("Protocol")
    env = records[0]["environment"]
    page.para(
        "Every experiment runs on the CPU in float32 (quadrature in float64), with the seeds below; "
        "discriminators see fresh samples at every step. Settings of each experiment (the defaults of its "
        "`Settings` in `ganzoo/theory/`):"
    )
    page.code(json.dumps({r["experiment"]: r["settings"] for r in records}, indent=1))
    page.para("Environment:")
    page.code(json.dumps(env, indent=1))
    page.para(
        f"Total time of the experiments: {sum(r['seconds'] for r in records):.0f} s of work; finished "
        f"{max(r['finished'] for r in records)}."
    )
    md = out_dir / "report.md"
    atomic_write_text(md, page.markdown(out_dir))
    html = out_dir / "report.html"
    atomic_write_text(html, page.html())
    return md, html
