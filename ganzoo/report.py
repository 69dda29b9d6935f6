"""`ganzoo report` and `ganzoo compare`: bench results as tables, curves and samples.

The report is written twice from one structure: `report.md` (with its figures in
`figures/`) and `report.html`, a single self-contained page (figures inlined) that
can be mailed or published as is. Every number comes from the results folder;
the protocol of each (suite, environment, metric protocols) is printed with it.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
import math
from collections import defaultdict
from pathlib import Path

from .errors import GanzooError
from .files import atomic_write_bytes, atomic_write_text, read_jsonl
from .metrics.mode_coverage import reverse_kl_of


def table_columns() -> list[tuple[str, str, str, int, int]]:
    """Table columns: (metric, result key, label, decimals, better: +1 higher, -1 lower, 0
    neither), as each registered metric declares them (a plugin's too), then throughput."""
    from .evaluation import registered_metrics

    return [(name, *column) for name, metric in registered_metrics().items() for column in metric.columns] + [
        ("throughput", "images_per_s", "img/s", 0, 1)]


def curve_specs() -> list[tuple[str, str, str]]:
    """Curves over training steps: (metric, result key, axis label). The first curve of a
    metric keeps the plain file name (figures/DATA-METRIC.png)."""
    from .evaluation import registered_metrics

    return [(name, *curve) for name, metric in registered_metrics().items() for curve in metric.curves]


# --- reading results -----------------------------------------------------------------------

def load(results_dir) -> tuple[dict, list[dict]]:
    results_dir = Path(results_dir)
    meta_path = results_dir / "bench.json"
    if not meta_path.is_file():
        raise GanzooError(f"{results_dir} holds no bench results (no bench.json). "
                          "Pass the --out folder of a `ganzoo bench` run.")
    from .bench import completed, read_bench_meta

    meta = read_bench_meta(results_dir)
    latest = completed(results_dir)
    for r in latest.values():  # records from before ganzoo named it reverse_kl call it kl_uniform
        coverage = r.get("final", {}).get("mode-coverage")
        if coverage is not None and "reverse_kl" not in coverage:
            coverage["reverse_kl"] = reverse_kl_of(coverage)
    if "cells" in meta:  # the suite's cells as of its last run: blocks removed since are not reported
        wanted = set(meta["cells"])
        latest = {cell: r for cell, r in latest.items() if cell in wanted}
    return meta, list(latest.values())


def value(record: dict, metric: str, key: str):
    source = record.get("throughput", {}) if metric == "throughput" else record.get("final", {}).get(metric, {})
    v = source.get(key)
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def stats(values: list) -> dict:
    """Mean, sample standard deviation (n - 1) and count of the values that exist."""
    xs = [v for v in values if v is not None]
    n = len(xs)
    if not n:
        return {"n": 0, "mean": None, "std": None}
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
    return {"n": n, "mean": mean, "std": std}


def grouped(records: list[dict]) -> dict[str, dict[tuple[str, str, str], list[dict]]]:
    """data set -> (architecture, loss, setting) -> records of its seeds, in first-seen order.
    The setting (options, optimiser, schedule; see `bench.setting_of`) keeps two blocks that
    train the same architecture and loss differently (pack=2 against none) in separate rows."""
    out: dict = defaultdict(lambda: defaultdict(list))
    for r in records:
        out[r["data"]][(r["arch"], r["loss"], json.dumps(_canonical(r.get("setting", {})), sort_keys=True))].append(r)
    return out


def _canonical(setting: dict) -> dict:
    """The setting without options at TrainConfig's own defaults (unroll_steps=0...), so records
    written before an option existed group with those written after."""
    defaults = _config_defaults()
    return {k: v for k, v in setting.items() if k not in defaults or v != defaults[k]}


@functools.cache
def _config_defaults() -> dict:
    import dataclasses

    from .config import TrainConfig

    return {f.name: f.default for f in dataclasses.fields(TrainConfig)
            if f.default is not dataclasses.MISSING and f.default is not None}


def _flatten(setting: dict) -> dict:
    """{"arch_options": {"pack": 2}, "g_lr": 1e-4} -> {"pack": 2, "g_lr": 1e-4}."""
    flat = {}
    for key, v in setting.items():
        if isinstance(v, dict):
            flat.update({(k if k not in setting else f"{key}.{k}"): x for k, x in v.items()})
        else:
            flat[key] = v
    return flat


def setting_labels(keys) -> dict:
    """For the (architecture, loss, setting) keys of one table: the options in which each row
    differs from the others, as `pack=2, batch_size=200` (empty when nothing differs)."""
    flat = {key: _flatten(json.loads(key[2])) for key in keys}
    names = sorted({n for f in flat.values() for n in f})
    differing = [n for n in names if len({json.dumps(f.get(n), sort_keys=True) for f in flat.values()}) > 1]
    return {key: ", ".join(f"{n}={_short(f[n])}" for n in differing if n in f and f[n] not in (None, 0, {}, []))
            for key, f in flat.items()}


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "(" + ", ".join(_short(x) for x in v) + ")"
    return str(v)


def fmt_stats(s: dict, decimals: int, seeds: int) -> str:
    if s["mean"] is None:
        return "–"
    text = f"{s['mean']:,.{decimals}f}"
    if s["std"] is not None:
        text += f" ± {s['std']:,.{decimals}f}"
    if s["n"] < seeds:
        text += f" (n={s['n']})"
    return text


# --- the report ----------------------------------------------------------------------------

class Page:
    """A report as a list of blocks, rendered to Markdown and to self-contained HTML."""

    def __init__(self, title: str):
        self.title, self.blocks = title, []

    def heading(self, text, level=2):
        self.blocks.append(("h", level, text))

    def para(self, text):
        self.blocks.append(("p", text))

    def table(self, header, rows):
        self.blocks.append(("table", header, rows))

    def image(self, path: Path, alt: str, width: int | None = None):
        self.blocks.append(("img", path, alt, width))

    def images(self, items: list[tuple[Path, str]]):
        self.blocks.append(("imgs", items))

    def code(self, text, lang=""):
        self.blocks.append(("pre", text, lang))

    def markdown(self, base: Path) -> str:
        lines = [f"# {self.title}", ""]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                lines += ["#" * block[1] + " " + block[2], ""]
            elif kind == "p":
                lines += [block[1], ""]
            elif kind == "table":
                header, rows = block[1], block[2]
                lines.append("| " + " | ".join(str(h).replace("|", "\\|") for h in header) + " |")
                lines.append("|" + "|".join("---" for _ in header) + "|")
                lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
                lines.append("")
            elif kind == "img":
                lines += [f"![{block[2]}]({block[1].relative_to(base).as_posix()})", ""]
            elif kind == "imgs":
                lines += [" ".join(f"![{alt}]({p.relative_to(base).as_posix()})" for p, alt in block[1]), ""]
            elif kind == "pre":
                lines += [f"```{block[2]}", block[1].rstrip(), "```", ""]
        return "\n".join(lines)

    def html(self) -> str:
        def img(path: Path, alt: str, width=None) -> str:
            data = base64.b64encode(path.read_bytes()).decode()
            size = f' style="max-width:{width}px"' if width else ""
            mime = "image/jpeg" if path.suffix == ".jpg" else "image/png"
            return (f'<figure><img src="data:{mime};base64,{data}" alt="{html.escape(alt)}"{size}>'
                    f"<figcaption>{html.escape(alt)}</figcaption></figure>")

        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                body.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
            elif kind == "p":
                body.append(f"<p>{_inline(block[1])}</p>")
            elif kind == "table":
                head = "".join(f"<th>{html.escape(str(h))}</th>" for h in block[1])
                def cell(c) -> str:  # long text (reasons, sources, settings) wraps instead of widening
                    text = str(c)
                    return f"<td class='wrap'>{html.escape(text)}</td>" if len(text) > 28 else \
                        f"<td>{html.escape(text)}</td>"

                rows = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in block[2])
                body.append(f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
                            "</table></div>")
            elif kind == "img":
                body.append(img(block[1], block[2], block[3]))
            elif kind == "imgs":
                body.append("<div class='gallery'>" + "".join(img(p, alt, 220) for p, alt in block[1]) + "</div>")
            elif kind == "pre":
                body.append(f"<pre>{html.escape(block[1])}</pre>")
        return HTML_TEMPLATE.format(title=html.escape(self.title), body="\n".join(body))


def _inline(text: str) -> str:
    """Markdown's `code` and **bold** in a paragraph, for the HTML page."""
    import re

    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1400px;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }}
h1 {{ border-bottom: 2px solid #ddd; padding-bottom: .3rem; }}
h2 {{ margin-top: 2.2rem; border-bottom: 1px solid #eee; }}
table {{ border-collapse: collapse; font-size: .82rem; margin: .6rem 0; }}
th, td {{ border: 1px solid #d0d0d0; padding: .25rem .4rem; text-align: right; white-space: nowrap; }}
th {{ white-space: normal; vertical-align: bottom; }}
td.wrap {{ white-space: normal; text-align: left; min-width: 12rem; }}
th {{ background: #f3f4f6; }}
td:first-child, td:nth-child(2), th:first-child, th:nth-child(2) {{ text-align: left; }}
tr:nth-child(even) td {{ background: #fafafa; }}
.scroll {{ overflow-x: auto; }}
figure {{ display: inline-block; margin: .4rem; text-align: center; vertical-align: top; }}
figure img {{ max-width: 100%; border: 1px solid #e5e5e5; }}
figcaption {{ font-size: .75rem; color: #555; max-width: 900px; margin: auto; }}
.gallery figcaption {{ max-width: 220px; }}
.gallery {{ display: flex; flex-wrap: wrap; }}
pre {{ background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: .8rem; }}
code {{ background: #f0f0f0; padding: 0 .2rem; }}
</style></head>
<body>
{body}
<script>
// Marks the page once every figure has loaded, so a headless browser can check it.
window.addEventListener("load", () => {{
  const images = Array.from(document.images);
  const ok = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = ok + "/" + images.length;
  // Tables wider than their box would hide their rightmost columns behind a scroll bar.
  const boxes = Array.from(document.querySelectorAll(".scroll"));
  document.body.dataset.tablesCut = boxes.filter(b => b.scrollWidth > b.clientWidth + 1).length;
}});
</script>
</body></html>
"""


def write_report(results_dir, out_dir=None, papers=None) -> tuple[Path, Path]:
    """Write report.md (+ figures/) and report.html into `out_dir` (default: the results folder).
    `papers`: a reference file of published numbers (default: the built-in suite's own, if any)."""
    from .papers import load_references, papers_file_for

    results_dir = Path(results_dir)
    out_dir = Path(out_dir or results_dir)
    meta, records = load(results_dir)
    papers = papers or papers_file_for(meta["suite"]["name"])
    references = load_references(papers) if papers else []
    if not records:
        raise GanzooError(f"{results_dir} has no finished cells yet; run `ganzoo bench` first.")
    figures = out_dir / "figures"
    suite = meta["suite"]
    env = meta["environment"]
    page = Page(f"ganzoo bench: {suite['name']}")
    hardware = env.get("gpu") or f"{env.get('processor', '?')} ({meta.get('cpu_count', '?')} CPU cores)"
    ok = sum(r["status"] == "ok" for r in records)
    planned = len(meta.get("cells", records))
    progress = (f"**{ok} of {len(records)} cells finished**" if planned == len(records) else
                f"**{ok} of the suite's {planned} cells finished, {planned - len(records)} not run yet: "
                "a partial report**")
    page.para(f"{suite['description']}. {progress}; "
              f"hardware: {hardware}; device `{env['device']}`; torch {env['torch']}"
              + (f", CUDA {env['cuda']}" if env.get("cuda") else "")
              + f"; ganzoo {env['ganzoo']}; {meta['jobs']} cell(s) at a time with "
              f"{meta['threads_per_job']} thread(s) each. Values are mean ± standard deviation over seeds "
              "(n shown when some seeds have no value); the protocol of every number is at the end.")
    for data, groups in grouped(records).items():
        page.heading(f"Data set: {data}")
        _data_table(page, groups)
        _beside_papers(page, [ref for ref in references if ref["data"] == data], groups)
        _curves(page, data, groups, results_dir, figures)
        _samples(page, data, groups, results_dir, figures)
    _failures(page, records)
    _protocol(page, meta, records, results_dir)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    atomic_write_text(md_path, page.markdown(out_dir))
    atomic_write_text(html_path, page.html())
    return md_path, html_path


def row_names(groups) -> dict:
    """A short name for each row: architecture / loss, and the options that set it apart."""
    labels = setting_labels(groups)
    return {key: f"{key[0]} / {key[1]}" + (f" ({labels[key]})" if labels[key] else "") for key in groups}


def _data_table(page: Page, groups) -> None:
    all_records = [r for rs in groups.values() for r in rs]
    columns = [c for c in table_columns() if any(value(r, c[0], c[1]) is not None for r in all_records)]
    labels = setting_labels(groups)
    with_setting = any(labels.values())
    header = ["architecture", "loss"] + (["setting"] if with_setting else []) + ["seeds ok", "failed"]
    header += [c[2] for c in columns]
    rows = []
    for key, rs in groups.items():
        good = [r for r in rs if r["status"] == "ok"]
        failed = sum(r["status"] == "failed" for r in rs)
        row = [key[0], key[1]] + ([labels[key] or "–"] if with_setting else []) + [f"{len(good)}/{len(rs)}", failed]
        row += [fmt_stats(stats([value(r, m, k) for r in good]), d, len(good)) for m, k, _, d, _ in columns]
        rows.append(row)
    page.table(header, rows)
    notes = {"modes": "modes covered (2D mixtures: of 8 or 25)", "HQ %": "samples within 3σ of a mode",
             "reverse KL": "KL(generated mode histogram ‖ true mode weights), PacGAN's definition",
             "img/s": "real images shown to D per second, training step only (warm-up, evaluation and "
                      "checkpoints excluded)"}
    shown = [f"{label}: {notes[label]}" for _, _, label, _, _ in columns if label in notes]
    if shown:
        page.para("; ".join(shown) + ".")


def _beside_papers(page: Page, references: list[dict], groups) -> None:
    """ganzoo's mean ± standard error over seeds beside each published number, with a verdict."""
    from .papers import standard_error, verdict

    if not references:
        return
    names = row_names(groups)
    spec = {(m, k): (label, decimals, better) for m, k, label, decimals, better in table_columns()}
    rows = []
    for ref in references:
        for key, rs in groups.items():
            if not any(r["block"] == ref["block"] for r in rs):
                continue
            good = [r for r in rs if r["status"] == "ok" and r["block"] == ref["block"]]
            for result_key, paper in ref["values"].items():
                label, decimals, better = spec.get((ref["metric"], result_key), (result_key, 3, 0))
                ours = [v for v in (value(r, ref["metric"], result_key) for r in good) if v is not None]
                theirs = f"{paper[0]:,.{decimals}f}" + (f" ± {paper[1]:,.{decimals}f}" if len(paper) > 1 else "")
                if not ours:  # e.g. reverse KL is undefined for a run without a high-quality sample
                    rows.append([f"{ref['block']}: {names[key]}", label, "–", theirs, ref["source"], "no value for ganzoo"])
                    continue
                se = standard_error(ours)
                mine = f"{stats(ours)['mean']:,.{decimals}f}" + (f" ± {se:,.{decimals}f}" if se is not None else "")
                rows.append([f"{ref['block']}: {names[key]}", label, f"{mine} (n={len(ours)})", theirs, ref["source"],
                             verdict(ours, paper, better)])
    if rows:
        page.para("**Beside the papers.** Mean ± standard error over seeds (the papers' own error bars are "
                  "standard errors too, where they give one). Agreement: the two means differ by at most "
                  "2·√(se₁² + se₂²). Every difference of protocol is listed in the suite's documentation.")
        page.table(["configuration", "metric", "ganzoo", "paper", "source", "verdict"], rows)


def metric_series(run_dir: Path, metric: str, key: str) -> list[tuple[int, float, float]]:
    """(step, training seconds at that step, value) from a cell's logs."""
    times = {0: 0.0}
    for line in read_jsonl(run_dir / "train_log.jsonl"):
        times[line["step"]] = line["train_seconds"]
    out = []
    for record in read_jsonl(run_dir / "metrics.jsonl"):
        v = record.get("results", {}).get(key)
        if record.get("metric") == metric and isinstance(v, (int, float)) and record["step"] in times:
            out.append((record["step"], times[record["step"]], float(v)))
    return sorted({s: (s, t, v) for s, t, v in out}.values())  # the latest record per step


def _curves(page: Page, data: str, groups, results_dir: Path, figures: Path) -> None:
    from .plots import plt, save_figure

    names = row_names(groups)
    specs = curve_specs()
    first_key = {}
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
                ax.fill_between(x, [m - s for m, s in zip(mean_v, std_v)], [m + s for m, s in zip(mean_v, std_v)],
                                color=colors(i), alpha=0.15, lw=0)
        axes[0].set_xlabel("generator steps")
        axes[1].set_xlabel("training time, s (mean over seeds; evaluation excluded)")
        axes[0].set_ylabel(label)
        for ax in axes:
            ax.grid(alpha=0.3)
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
            source = results_dir / r["run_dir"] / "samples" / f"step-{r['steps']:08d}.png"
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
    page.para("Each cell is one `ganzoo train` run of the suite below; its run directory under `runs/` "
              "holds the resolved configuration (`config.json`), logs, metric records and samples. "
              f"Suite SHA-256 `{meta['suite']['sha256'][:16]}…`.")
    page.code(meta["suite"]["text"], "toml")
    page.heading("Environment", 3)
    page.code(json.dumps({k: meta[k] for k in ("environment", "jobs", "threads_per_job", "cpu_count", "overrides")},
                         indent=2), "json")
    seen = {}
    for r in records:
        if r["status"] != "ok":
            continue
        for line in read_jsonl(results_dir / r["run_dir"] / "metrics.jsonl"):
            seen.setdefault((r["data"], line["metric"]), (r["cell"], line["protocol"]))
    if seen:
        page.heading("Metric protocols (one example cell per data set and metric)", 3)
        for (data, metric), (cell, protocol) in seen.items():
            page.para(f"**{metric}** on `{data}` (from `{cell}`):")
            page.code(json.dumps(protocol, indent=2), "json")


# --- compare -------------------------------------------------------------------------------

def compare(dir_a, dir_b, alpha: float = 0.05) -> str:
    """Markdown: each shared (data, architecture, loss) and metric, A against B, with a Welch
    t-test over seeds saying whether the difference is within noise."""
    from scipy import stats as sstats

    _, records_a = load(dir_a)
    _, records_b = load(dir_b)
    ga, gb = grouped(records_a), grouped(records_b)
    lines = [f"# ganzoo compare: A = {dir_a}, B = {dir_b}", "",
             f"Mean ± std over seeds (n); Δ = B − A; Welch's t-test, a difference is called real when "
             f"p < {alpha}. With fewer than 2 seeds on a side no test is possible.", ""]
    shared = 0
    for data in ga:
        if data not in gb:
            continue
        rows = []
        names = row_names({k: None for k in ga[data] if k in gb[data]})
        for key in ga[data]:
            if key not in gb[data]:
                continue
            a_ok = [r for r in ga[data][key] if r["status"] == "ok"]
            b_ok = [r for r in gb[data][key] if r["status"] == "ok"]
            for metric, k, label, decimals, better in table_columns():
                sa, sb = stats([value(r, metric, k) for r in a_ok]), stats([value(r, metric, k) for r in b_ok])
                if sa["mean"] is None or sb["mean"] is None:
                    continue
                diff = sb["mean"] - sa["mean"]
                if sa["n"] < 2 or sb["n"] < 2:
                    verdict, p = "too few seeds", None
                elif (sa["std"] or 0) == 0 and (sb["std"] or 0) == 0:
                    verdict, p = ("identical" if diff == 0 else "differs (no spread)"), None
                else:
                    p = float(sstats.ttest_ind_from_stats(sa["mean"], sa["std"], sa["n"], sb["mean"], sb["std"],
                                                          sb["n"], equal_var=False).pvalue)
                    if p >= alpha:
                        verdict = "within noise"
                    else:
                        direction = "better" if diff * better > 0 else "worse" if diff * better < 0 else "differs"
                        verdict = f"B {direction}" if better else "differs"
                rows.append([names[key], label, fmt_stats(sa, decimals, 0) + f" ({sa['n']})",
                             fmt_stats(sb, decimals, 0) + f" ({sb['n']})", f"{diff:+,.{decimals}f}",
                             "–" if p is None else f"{p:.3g}", verdict])
        if rows:
            shared += 1
            lines += [f"## {data}", "", "| configuration | metric | A | B | Δ | p | verdict |",
                      "|---|---|---|---|---|---|---|"]
            lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
            lines.append("")
    if not shared:
        raise GanzooError(f"{dir_a} and {dir_b} share no (data set, architecture, loss) with results; "
                          "nothing to compare.")
    return "\n".join(lines)
