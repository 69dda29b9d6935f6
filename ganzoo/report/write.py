"""`ganzoo report`: bench results as tables, curves and samples, beside the papers'
numbers when a reference file is given. Every number comes from the results folder; the
protocol of each (suite, environment, metric protocols) is printed with it."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

from ganzoo.errors import GanzooError
from ganzoo.report.comparable import last_protocol, protocol_differences
from ganzoo.report.judged import convergence_table, paper_rows, render_paper_rows
from ganzoo.report.page import Page
from ganzoo.report.papers import load_papers, papers_file_for
from ganzoo.report.results import (
    curve_specs,
    fmt_stats,
    grouped,
    load,
    metric_series,
    row_names,
    setting_labels,
    stats,
    table_columns,
    value,
)
from ganzoo.report.study import study_section
from ganzoo.runs.resultsdir import EXTERNAL_SUITE, external_records, is_external
from ganzoo.runs.rundir import RunDir
from ganzoo.util.files import atomic_write_bytes, atomic_write_text
from ganzoo.util.plots import plt, save_figure


def write_report(results_dir, out_dir=None, papers=None, external=None) -> tuple[Path, Path]:
    """Write report.md (+ figures/) and report.html into `out_dir` (default: the results folder).
    `papers`: a reference file of published numbers (default: the built-in suite's own, if any).
    `external`: folders of samples made elsewhere (`ganzoo eval --samples`), set beside the cells."""

    results_dir = Path(results_dir)
    out_dir = Path(out_dir or results_dir)
    meta, records = load(results_dir)
    records = records + external_records(external or [])
    papers = papers or papers_file_for(meta["suite"]["name"])
    papers = load_papers(papers) if papers else None
    if not records:
        raise GanzooError(f"{results_dir} has no finished cells yet; run `ganzoo bench` first.")
    figures = out_dir / "figures"
    suite = meta["suite"]
    env = meta["environment"]
    page = Page(f"ganzoo bench: {suite['name']}")
    hardware = _hardware(meta, records, results_dir)
    cells = [r for r in records if not is_external(r)]  # the folder's own; external entries are listed apart
    ok = sum(r["status"] == "ok" for r in cells)
    planned = len(meta.get("cells", cells))
    progress = (
        f"**{len(records)} external entries** (samples made elsewhere)"
        if suite["name"] == EXTERNAL_SUITE
        else f"**{ok} of {len(cells)} cells finished**"
        if planned == len(cells)
        else f"**{ok} of the suite's {planned} cells finished, {planned - len(cells)} not run yet: a partial report**"
    )
    page.para(
        f"{suite['description'] or 'Suite ' + suite['name']}. {progress}; "
        f"hardware: {hardware}; device `{env['device']}`; torch {env['torch']}"
        + (f", CUDA {env['cuda']}" if env.get("cuda") else "")
        + f"; ganzoo {env['ganzoo']}; {_precisions(records)}; {meta['jobs']} cell(s) at a time with "
        f"{meta['threads_per_job']} thread(s) each"
        + (
            " (a bench run with fewer cells to train than that gave them the idle workers' threads too; each "
            "run's config.json records its own)"
            if meta["jobs"] > 1
            else ""
        )
        + ". Values are mean ± standard deviation over seeds "
        "(n shown when some seeds have no value); the protocol of every number is at the end."
    )
    plain = grouped([r for r in records if "trial" not in r])  # a search's trials have their own section
    beside = paper_rows(papers, plain, results_dir) if papers else []  # one family for Holm, all data sets
    family = sum(r.comparison is not None and not r.comparison.not_comparable for r in beside)
    for data in dict.fromkeys(r["data"] for r in records):
        page.heading(f"Data set: {data}")
        groups = plain.get(data)
        if groups:
            trained = {key: rows for key, rows in groups.items() if not all(is_external(r) for r in rows)}
            _data_table(page, groups)
            _held_out(page, meta, groups)
            if trained:  # samples made elsewhere have no training curve
                convergence_table(page, trained, results_dir, papers.margins.get(data, {}) if papers else {})
            render_paper_rows(page, [r for r in beside if r.data == data], family)
            if trained:
                _curves(page, data, trained, results_dir, figures)
            _samples(page, data, groups, results_dir, figures)
        study_section(page, data, records, figures)
    _external(page, records, results_dir)
    _failures(page, records)
    _protocol(page, meta, records, results_dir)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    atomic_write_text(md_path, page.markdown(out_dir))
    atomic_write_text(html_path, page.html())
    return md_path, html_path


def _hardware(meta: dict, records: list[dict], results_dir: Path) -> str:
    """The machine the cells trained on, from each run's own config.json: a folder resumed or
    extended on another machine names each (its img/s figures compare only within one)."""
    env = meta["environment"]
    machines: dict[str, int] = {}
    for r in records:
        try:
            run_env = RunDir(results_dir / r["run_dir"]).read_config().get("environment", {})
        except (GanzooError, OSError, ValueError):
            continue
        name = run_env.get("gpu") or run_env.get("processor")
        if name:
            machines[name] = machines.get(name, 0) + 1
    cores = f" ({meta.get('cpu_count', '?')} CPU cores)" if not env.get("gpu") else ""
    if len(machines) <= 1:
        return (next(iter(machines), None) or env.get("gpu") or env.get("processor", "?")) + cores
    return ", ".join(f"{name} for {n} cell(s)" for name, n in machines.items()) + (
        " (their img/s figures compare only within one machine)"
    )


def _precisions(records: list[dict]) -> str:
    """The arithmetic each block trained in (`--precision`; records before it existed: fp32)."""
    by_block: dict[str, set] = {}
    for r in records:
        by_block.setdefault(r["block"], set()).add((r.get("setting") or {}).get("precision") or "fp32")
    kinds = {kind for block in by_block.values() for kind in block}
    if len(kinds) == 1:
        return f"precision {kinds.pop()} in every block"
    return "precision " + ", ".join(f"{block} {'/'.join(sorted(k))}" for block, k in by_block.items())


def _external(page: Page, records: list[dict], results_dir: Path) -> None:
    """Where each external entry's samples came from, how many each metric read, and where its
    metric protocols differ from the cells' of the same data set (then the two rows measure
    different quantities and do not compare)."""
    entries = [r for r in records if is_external(r)]
    if not entries:
        return
    page.heading("External entries: samples made elsewhere")
    page.para(
        "Rows whose loss reads `external` hold samples another codebase made (`ganzoo eval --samples`), measured "
        "here with the protocol each of their metric lines records. They have no training curve, and the "
        "protocol guard finds their training settings not recorded. Where an entry's metric protocol differs "
        "from the cells' on the same data set (sample counts, real images, extractor), the last column says so: "
        "those numbers measure different quantities."
    )
    rows = []
    for r in entries:
        e = r["external"]
        resize = e.get("resize") or {}
        counts = e.get("counts") or {}
        read = f"{e['count']:,}" + (" (" + ", ".join(f"{m} {n:,}" for m, n in counts.items()) + ")" if counts else "")
        resized = (
            f"{resize['filter']} ({resize.get('library', '')})" if resize.get("applied", True) and resize else "none"
        )
        rows.append(
            [
                e["label"],
                r["data"],
                str(r["seed"]),
                f"`{Path(e['path']).name}` ({e['format']})",
                f"`{e['sha256'][:16]}…`",
                read,
                resized,
                ", ".join(e.get("fewer_than_standard") or []) or "-",
                e.get("description") or "",
                _against_cells(r, records, results_dir),
            ]
        )
    header = ["label", "data", "seed", "file", "SHA-256", "samples (read by each metric)", "resize"]
    page.table(header + ["below standard count", "description", "protocol against the cells"], rows)


def _against_cells(entry: dict, records: list[dict], results_dir: Path) -> str:
    cell = next((r for r in records if r["data"] == entry["data"] and not is_external(r) and r["status"] == "ok"), None)
    if cell is None:
        return "no cell of this data set here"
    differ = []
    for metric in entry.get("final", {}):
        found = protocol_differences(
            last_protocol(results_dir, cell, metric), last_protocol(results_dir, entry, metric)
        )
        if found:
            differ.append(f"{metric}: " + "; ".join(found))
    return " / ".join(differ) if differ else "same"


def _data_table(page: Page, groups) -> None:
    all_records = [r for rs in groups.values() for r in rs]
    columns = [c for c in table_columns() if any(value(r, c.metric, c.key) is not None for r in all_records)]
    labels = setting_labels(groups)
    with_setting = any(labels.values())
    header = ["architecture", "loss"] + (["setting"] if with_setting else []) + ["seeds ok", "failed"]
    header += [c.label for c in columns]
    rows = []
    for key, rs in groups.items():
        good = [r for r in rs if r["status"] == "ok"]
        failed = sum(r["status"] == "failed" for r in rs)
        row = [key[0], key[1]] + ([labels[key] or "–"] if with_setting else []) + [f"{len(good)}/{len(rs)}", failed]
        row += [fmt_stats(stats([value(r, m, k) for r in good]), d, len(good)) for m, k, _, d, _ in columns]
        rows.append(row)
    page.table(header, rows)
    notes = {
        "modes": "modes covered (2D mixtures: of 8 or 25)",
        "HQ %": "samples within 3σ of a mode",
        "reverse KL": "KL(generated mode histogram ‖ true mode weights), PacGAN's definition",
        "img/s": "real images shown to D per second, training step only (warm-up, evaluation and checkpoints excluded)",
        "GFLOP/s": "the step's matrix-product, convolution and attention FLOPs (counted by PyTorch's "
        "FlopCounterMode) times its speed",
        "MFU %": "those FLOP/s against the GPU's dense peak for the arithmetic used (docs/benchmarks.md)",
    }
    shown = [f"{label}: {notes[label]}" for _, _, label, _, _ in columns if label in notes]
    if shown:
        page.para("; ".join(shown) + ".")


def _held_out(page: Page, meta: dict, groups) -> None:
    """Say, for each tuned configuration (a block with tuning_seeds), which seeds chose it and
    which report it: the numbers shown are the held-out seeds' alone."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        blocks = tomllib.loads(meta["suite"].get("text", "")).get("block", [])
    except tomllib.TOMLDecodeError:
        return
    present = {r["block"] for rs in groups.values() for r in rs}
    lines = [
        f"`{b['name']}` was chosen on runs with seeds {_seed_list(b['tuning_seeds'])} and is reported on "
        f"seeds {_seed_list(b['seeds'])} only, which took no part in choosing it"
        for b in blocks
        if "tuning_seeds" in b and b.get("name") in present
    ]
    if lines:
        page.para("**Tuned configurations, held-out seeds.** " + "; ".join(lines) + ".")


def _seed_list(seeds: list[int]) -> str:
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _curves(page: Page, data: str, groups, results_dir: Path, figures: Path) -> None:
    names = row_names(groups)
    specs = curve_specs()
    first_key: dict[str, str] = {}
    for metric, key, _ in specs:
        first_key.setdefault(metric, key)
    for metric, key, label in specs:
        lines = []
        for group, rs in groups.items():
            per_seed = [metric_series(results_dir / r["run_dir"], metric, key) for r in rs if r["status"] == "ok"]
            per_seed = [s for s in per_seed if s]
            if per_seed:
                lines.append((names[group], per_seed))
        if not lines:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
        colors = plt.get_cmap("tab20" if len(lines) > 10 else "tab10")
        for i, (name, per_seed) in enumerate(lines):
            steps = sorted(set.intersection(*[{s for s, _, _ in series} for series in per_seed]))
            if not steps:
                continue
            by_step = [[dict((s, (t, v)) for s, t, v in series)[step] for series in per_seed] for step in steps]
            mean_v = [sum(v for _, v in pts) / len(pts) for pts in by_step]
            std_v = [stats([v for _, v in pts])["std"] or 0.0 for pts in by_step]
            mean_t = [sum(t for t, _ in pts) / len(pts) for pts in by_step]
            for ax, x in ((axes[0], steps), (axes[1], mean_t)):
                ax.plot(x, mean_v, marker="o", ms=3, lw=1.4, color=colors(i), label=name)
                ax.fill_between(
                    x,
                    [m - s for m, s in zip(mean_v, std_v)],
                    [m + s for m, s in zip(mean_v, std_v)],
                    color=colors(i),
                    alpha=0.15,
                    lw=0,
                )
        end = max(max(s for s, _, _ in series) for _, per_seed in lines for series in per_seed)
        for start, stop, shade in ((end / 3, 2 * end / 3, 0.05), (2 * end / 3, end, 0.10)):
            axes[0].axvspan(start, stop, color="k", alpha=shade, lw=0)  # the thirds the convergence rule compares
        axes[0].set_xlabel("generator steps (shaded: the middle and last thirds the convergence rule compares)")
        axes[1].set_xlabel("training time, s (mean over seeds; evaluation excluded)")
        axes[0].set_ylabel(label)
        for ax in axes:
            ax.grid(alpha=0.3)
        if max(len(name) for name, _ in lines) > 60:  # rows named by many options: the legend goes under
            handles, labels = axes[1].get_legend_handles_labels()  # the plots, so they keep their width
            fig.legend(
                handles,
                [textwrap.fill(label, 150) for label in labels],
                fontsize=7,
                loc="upper center",
                bbox_to_anchor=(0.5, 0.0),
            )
        else:
            axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.suptitle(f"{data}: {label} (mean ± std over seeds)", fontsize=10)
        path = figures / f"{data}-{metric}{'' if key == first_key.get(metric) else '-' + key}.png"
        save_figure(fig, path)
        page.image(path, f"{data}: {label} against steps and training time")


def _samples(page: Page, data: str, groups, results_dir: Path, figures: Path) -> None:
    from PIL import Image

    items = []
    names = row_names(groups)
    for group, rs in groups.items():
        for r in rs:
            if r["status"] != "ok":
                continue
            source = RunDir(results_dir / r["run_dir"]).sample_picture(r["steps"])
            if not source.is_file():
                continue
            thumb = figures / "samples" / f"{r['cell']}.jpg"  # JPEG: scatter plots compress badly as PNG
            image = Image.open(source).convert("RGB")
            image.thumbnail((260, 260))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=85)
            atomic_write_bytes(thumb, buffer.getvalue())
            items.append((thumb, f"{names[group]}, seed {r['seed']}, step {r['steps']}"))
    if items:
        page.heading(f"{data}: final samples, every cell", 3)
        page.images(items)


def _failures(page: Page, records: list[dict]) -> None:
    bad = [r for r in records if r["status"] != "ok"]
    if bad:
        page.heading("Failed and skipped cells")
        page.table(["cell", "status", "reason"], [[r["cell"], r["status"], r["reason"]] for r in bad])


def _protocol(page: Page, meta: dict, records: list[dict], results_dir: Path) -> None:
    page.heading("Protocol")
    if meta["suite"]["name"] == EXTERNAL_SUITE:
        page.para(
            "Each entry is one `ganzoo eval --samples` of samples made elsewhere; its run directory under `runs/` "
            "holds `config.json` (the data set, the evaluation settings and the samples' provenance), the metric "
            "records (`metrics.jsonl`, each with its protocol) and a picture of the samples."
        )
    else:
        page.para(
            "Each cell is one `ganzoo train` run of the suite below; its run directory under `runs/` "
            "holds the resolved configuration (`config.json`), logs, metric records and samples. "
            f"Suite SHA-256 `{meta['suite']['sha256'][:16]}…`."
        )
        page.code(meta["suite"]["text"], "toml")
    recipes = sorted(
        {
            (p["name"], p.get("recipe_version", "?"), p.get("package", "?"))
            for r in records
            if isinstance(p := (r.get("provenance") or {}).get("recipe"), dict)
        }
    )
    if recipes:
        page.para(
            "Recipes: "
            + "; ".join(f"`{name}` version {version} ({package})" for name, version, package in recipes)
            + "."
        )
    page.heading("Environment", 3)
    page.code(
        json.dumps(
            {k: meta[k] for k in ("environment", "jobs", "threads_per_job", "cpu_count", "overrides")}, indent=2
        ),
        "json",
    )
    seen: dict[tuple[str, str], tuple[str, dict]] = {}  # (data, metric) -> (cell, protocol)
    for r in records:
        if r["status"] != "ok":
            continue
        for line in RunDir(results_dir / r["run_dir"]).read_metrics():
            seen.setdefault((r["data"], line["metric"]), (r["cell"], line["protocol"]))
    if seen:
        page.heading("Metric protocols (one example cell per data set and metric)", 3)
        for (data, metric), (cell, protocol) in seen.items():
            page.para(f"**{metric}** on `{data}` (from `{cell}`):")
            page.code(json.dumps(protocol, indent=2), "json")
