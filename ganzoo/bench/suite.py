"""Suites: what `ganzoo bench` trains, read from a suite file and expanded into cells.

A suite (TOML, or YAML when PyYAML is installed) is a list of blocks; each block
names architectures (shell wildcards, so a newly installed plugin joins in),
losses, data sets and seeds, a step budget, an evaluation schedule and the
metrics. Every combination is a *cell*: one `ganzoo train` run.

Each cell carries the hash of its whole training configuration (`protocol_sha`). When
the suite file changes (a block added, one block's options tuned), the cells whose
configuration is unchanged keep their results and only the others run again
(`ganzoo.bench.run`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from ganzoo.bench.search import apply_draws, best_trial, parse_search
from ganzoo.core.config import CELL_FIELDS, FALLBACKS, FIELDS, NOT_PROTOCOL
from ganzoo.errors import GanzooError, UnknownNameError, did_you_mean
from ganzoo.plugin import api
from ganzoo.plugin.manager import registry

SUITES_DIR = Path(__file__).parents[1] / "suites"
#: What a block says about its cells besides their training settings.
STRUCTURE_KEYS = {
    "name",
    "architectures",
    "losses",
    "data",
    "seeds",
    "metrics",
    "train",
    "optional",
    "search",
    "seed_batched",
    "run_first",
    "tuning_seeds",
}
#: Training settings a block may give as keys of its own (or inside `train = {...}`): every
#: TrainConfig field but those that name a cell (the block's lists name them) and
#: `eval_metrics` (a block's `metrics`).
SETTING_KEYS = set(FIELDS) - set(CELL_FIELDS) - {"eval_metrics"}
BLOCK_KEYS = STRUCTURE_KEYS | SETTING_KEYS
SUITE_KEYS = {"name", "description", "block"}


@dataclass
class Cell:
    block: str
    arch: str
    loss: str
    data: str
    seed: int
    train: dict  # TrainConfig fields
    optional: bool = False
    trial: dict | None = None  # a search block's trial: {"index": k, "draws": {option: value}}
    best_of: dict | None = None  # a re-run of a search's best trial: {"block", "trial", "score", "by"}
    seed_batched: bool = False  # trained with the block's other seeds as one ensemble (ensemble.py)

    @property
    def experiment(self) -> str:
        """What every seed of this cell shares (a seed-batched ensemble trains them together)."""
        block = self.block if self.trial is None else f"{self.block}-trial{self.trial['index']:03d}"
        return f"{block}--{self.arch}--{self.loss}--{self.data}"

    @property
    def id(self) -> str:
        return f"{self.experiment}--seed{self.seed}"

    @property
    def protocol_sha(self) -> str:
        """Hash of everything that decides this cell's results (not the device or log intervals)."""
        fields = {k: v for k, v in self.train.items() if k not in NOT_PROTOCOL}
        fields.update(arch=self.arch, loss=self.loss, data=self.data, seed=self.seed)
        if self.train.get("recipe"):  # what the recipe trains, not only its name (cells without one: unchanged)
            entry = api.recipe_entry(self.train["recipe"])
            fields["recipe_settings"], fields["recipe_version"] = entry.defaults, entry.version
        return hashlib.sha256(json.dumps(fields, sort_keys=True, default=list).encode()).hexdigest()[:16]


@dataclass
class Suite:
    name: str
    description: str
    text: str
    blocks: list[dict] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def builtin_suites() -> list[str]:
    """ganzoo's own suites and those plugins register (`ganzoo_register_suites`)."""
    return sorted(set(own_suites()) | set(registry("suite").entries))


def own_suites() -> list[str]:
    """ganzoo's own suites (ganzoo/suites/*.toml), without loading any plugin."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def load_suite(name_or_path: str) -> Suite:
    """A built-in suite by name (`quick`, `standard`) or a suite file."""
    path, registered = Path(name_or_path), None
    if not path.is_file():
        if (SUITES_DIR / f"{name_or_path}.toml").is_file():
            path = SUITES_DIR / f"{name_or_path}.toml"
        elif name_or_path in registry("suite").entries:
            path = cast(Path, registry("suite").get(name_or_path).factory)  # a plugin's suite file
            registered = name_or_path  # its name is the one it is run by, whatever the file says
        else:
            raise GanzooError(
                f"No suite '{name_or_path}': it is neither a file nor a suite that ganzoo or a plugin "
                f"ships ({', '.join(builtin_suites())}; `ganzoo list suites`). Pass a .toml or .yaml suite file."
            )
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise GanzooError(
                    f"{path} is YAML, which needs PyYAML: pip install pyyaml (or write the suite in TOML)."
                ) from None
            raw = yaml.safe_load(text)
        else:
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib
            raw = tomllib.loads(text)
    except GanzooError:
        raise
    except Exception as exc:
        raise GanzooError(f"{path} is not a valid suite file: {exc}") from None
    if not isinstance(raw, dict) or not raw.get("block"):
        raise GanzooError(f"{path} names no [[block]] of cells. See ganzoo/suites/quick.toml for the format.")
    unknown = sorted(set(raw) - SUITE_KEYS)
    if unknown:
        raise GanzooError(
            f"{path}: unknown top-level key(s) {', '.join(unknown)}.{did_you_mean(unknown, SUITE_KEYS)} "
            f"Allowed: {', '.join(sorted(SUITE_KEYS))}; options of cells go inside a [[block]]."
        )
    if not isinstance(raw["block"], list) or not all(isinstance(b, dict) for b in raw["block"]):
        raise GanzooError(f"{path}: 'block' must be a list of tables ([[block]] in TOML).")
    for i, block in enumerate(raw["block"]):
        unknown = sorted(set(block) - BLOCK_KEYS)
        if unknown:
            raise GanzooError(
                f"{path}, block {i + 1}: unknown key(s) {', '.join(unknown)}."
                f"{did_you_mean(unknown, BLOCK_KEYS)} Allowed: {', '.join(sorted(BLOCK_KEYS))}."
            )
        train = block.get("train", {})
        if not isinstance(train, dict):
            raise GanzooError(
                f"{path}, block {i + 1}: 'train' must be a table of training settings, "
                f'e.g. train = {{ update = "simultaneous" }}.'
            )
        twice = sorted(set(block) & set(train)) + (
            ["metrics"] if "metrics" in block and "eval_metrics" in train else []
        )
        if twice:
            raise GanzooError(
                f"{path}, block {i + 1}: {', '.join(twice)} given both as a block key and inside "
                "train = {...}; one would silently win over the other. Give each once."
            )
        recipe = block.get("recipe", train.get("recipe"))
        for key in ("architectures", "losses", "data", "seeds"):
            if recipe is not None and key != "seeds" and key not in block:
                continue  # the recipe's
            if not isinstance(block.get(key), list) or not block[key]:
                raise GanzooError(f"{path}, block {i + 1}: '{key}' must be a non-empty list.")
        for key in ("optional", "seed_batched", "run_first"):  # a string "false" would read as true
            if not isinstance(block.get(key, False), bool):
                raise GanzooError(
                    f"{path}, block {i + 1}: '{key}' must be true or false (without quotes), not {block[key]!r}."
                )
        _check_held_out(f"{path}, block {i + 1}", block)
        if "search" in block:
            block["search"] = parse_search(f"{path}, block {i + 1}", block["search"])
            overlap = sorted(set(block["search"].best_seeds) & set(block["seeds"]))
            if overlap:
                raise GanzooError(
                    f"{path}, block {i + 1}: the search's best_seeds {overlap} also train its trials "
                    "(seeds), so the best trial would be reported on seeds that chose it. Give "
                    "best_seeds that no trial uses."
                )
    return Suite(registered or raw.get("name", path.stem), raw.get("description", ""), text, raw["block"])


def suite_rows(pattern: str = "*") -> list[dict]:
    """`ganzoo list suites`: ganzoo's and the plugins' suites, with who ships them."""
    rows = []
    for name in builtin_suites():
        if not fnmatch.fnmatchcase(name, pattern):
            continue
        entry = registry("suite").entries.get(name)
        try:
            description = entry.description if entry and entry.description else load_suite(name).description
        except GanzooError as exc:  # a plugin's broken suite file: listed, with why
            description = f"(cannot be loaded: {exc})"
        rows.append({"name": name, "plugin": entry.plugin if entry else "ganzoo", "description": description})
    return rows


def _match(patterns: list[str], names: list[str], kind: str) -> list[str]:
    """Names matching any pattern, in pattern order. Wildcards skip tiny `.test` variants
    unless the pattern asks for them; a plain name must exist."""

    out = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            found = [
                n for n in names if fnmatch.fnmatchcase(n, pattern) and (".test" in pattern or not n.endswith(".test"))
            ]
            if not found:
                raise GanzooError(
                    f"The {kind} pattern '{pattern}' matches nothing. Registered: "
                    f"{', '.join(n for n in names if not n.endswith('.test'))}. Fix the suite file."
                )
        elif pattern in names:
            found = [pattern]
        else:
            raise UnknownNameError(kind, pattern, names, hint="Fix the suite file.")
        out += [n for n in found if n not in out]
    return out


def _check_held_out(where: str, block: dict) -> None:
    """`tuning_seeds`: the seeds whose runs chose this block's configuration (pilots, a grid of
    trials). A tuned configuration is reported only on seeds that took no part in choosing it."""
    if "tuning_seeds" not in block:
        return
    tuning = block["tuning_seeds"]
    if (
        not isinstance(tuning, list)
        or not tuning
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in tuning)
    ):
        raise GanzooError(
            f"{where}: 'tuning_seeds' must be a non-empty list of whole numbers (the seeds whose "
            f"runs chose this configuration), not {tuning!r}."
        )
    overlap = sorted(set(tuning) & set(block["seeds"]))
    if overlap:
        raise GanzooError(
            f"{where}: seeds {overlap} chose this configuration (tuning_seeds), so they cannot "
            "report it: a tuned configuration is reported on held-out seeds. Give 'seeds' that "
            "are not in 'tuning_seeds'."
        )


def block_name(index: int, block: dict) -> str:
    return block.get("name", f"block{index + 1}")


def expand(suite: Suite, overrides: dict, results: dict[str, dict] | None = None) -> list[Cell]:
    """Every cell of the suite, with the CLI's overrides (device, data root...) applied. With
    the results so far (`completed`), also the re-runs of finished searches' best trials."""

    cells = []
    for i, block in enumerate(suite.blocks):
        name = block_name(i, block)
        recipe = block.get("recipe", block.get("train", {}).get("recipe"))
        chosen = api.recipe_entry(recipe).defaults if recipe is not None else {}
        fallback = {
            key: [chosen.get(field, FALLBACKS[field])]
            for key, field in (("architectures", "arch"), ("losses", "loss"), ("data", "data"))
        }
        archs = _match(block.get("architectures", fallback["architectures"]), api.list_architectures(), "architecture")
        losses = _match(block.get("losses", fallback["losses"]), api.list_losses(), "loss")
        datasets = _match(block.get("data", fallback["data"]), api.list_datasets(), "dataset")
        train = {k: block[k] for k in SETTING_KEYS if k in block}
        if "metrics" in block:
            train["eval_metrics"] = list(block["metrics"])
        train.update(block.get("train", {}))
        where = f"Suite '{suite.name}', block '{name}'"
        search = block.get("search")
        trials = (
            [(None, train)]
            if search is None
            else [
                ({"index": k, "draws": draws}, apply_draws(where, train, draws))
                for k, draws in ((k, search.draw(name, k)) for k in range(search.trials))
            ]
        )
        fields = set(FIELDS) - set(CELL_FIELDS)
        for trial, options in trials:
            options = {**options, **overrides}
            unknown = sorted(set(options) - fields)
            if unknown:
                raise GanzooError(
                    f"{where}: unknown training option(s) {', '.join(unknown)}. "
                    "See `ganzoo train --help` for the options."
                )
            for data in datasets:
                for arch in archs:
                    for loss in losses:
                        for seed in block["seeds"]:
                            cells.append(
                                Cell(
                                    name,
                                    arch,
                                    loss,
                                    data,
                                    int(seed),
                                    dict(options),
                                    bool(block.get("optional", False)),
                                    trial,
                                    seed_batched=bool(block.get("seed_batched", False)),
                                )
                            )
        if search is not None and search.best_seeds and results is not None:
            cells += _best_reruns(where, name, search, [c for c in cells if c.block == name], results)
    _refuse_repeated_cells(suite, cells)
    return cells


def _best_reruns(where: str, name: str, search, trial_cells: list[Cell], results: dict[str, dict]) -> list[Cell]:
    """The best trial of each architecture x loss x data set of a search block, trained again
    with its `best_seeds`, once every trial cell of that combination has a record that holds."""
    out = []
    combos = dict.fromkeys((c.arch, c.loss, c.data) for c in trial_cells)
    for arch, loss, data in combos:
        cells = [c for c in trial_cells if (c.arch, c.loss, c.data) == (arch, loss, data)]
        found = [results.get(c.id) for c in cells]
        records = [
            r
            for r, c in zip(found, cells)
            if r is not None and r.get("protocol_sha") == c.protocol_sha and r["status"] != "skipped"
        ]
        if len(records) < len(cells):
            continue  # the search is not finished
        best = best_trial(where, search, records)
        if best is None:
            continue
        index, score, by = best
        source = next(c for c in cells if c.trial is not None and c.trial["index"] == index)
        assert source.trial is not None, "a search's cells are its trials"
        for seed in search.best_seeds:
            out.append(
                Cell(
                    f"{name}-best",
                    arch,
                    loss,
                    data,
                    int(seed),
                    dict(source.train),
                    source.optional,
                    best_of={"block": name, "trial": index, "draws": source.trial["draws"], "score": score, "by": by},
                    seed_batched=source.seed_batched,
                )
            )
    return out


def _awaited_reruns(suite: Suite, cells: list[Cell]) -> int:
    """How many best-trial re-runs the suite will add to `cells` once its unfinished searches finish."""
    best_seeds = {block_name(i, b): b["search"].best_seeds for i, b in enumerate(suite.blocks) if b.get("search")}
    listed = {(c.block, c.arch, c.loss, c.data) for c in cells if c.best_of is not None}
    searched = {(c.block, c.arch, c.loss, c.data) for c in cells if c.trial is not None}
    return sum(
        len(best_seeds[block])
        for block, arch, loss, data in searched
        if (f"{block}-best", arch, loss, data) not in listed
    )


def _refuse_repeated_cells(suite: Suite, cells: list[Cell]) -> None:
    """Two cells with one id would train one run directory twice (at once, with --jobs)."""
    blocks_of: dict[str, list[str]] = {}
    for cell in cells:
        blocks_of.setdefault(cell.id, []).append(cell.block)
    repeated = {cell_id: blocks for cell_id, blocks in blocks_of.items() if len(blocks) > 1}
    if repeated:
        named = "; ".join(f"{cell_id} (blocks {', '.join(blocks)})" for cell_id, blocks in list(repeated.items())[:5])
        more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
        raise GanzooError(
            f"Suite '{suite.name}' names {len(repeated)} cell(s) more than once: {named}{more}. Each cell "
            "(block, architecture, loss, data, seed) trains its own run directory; remove the repeated "
            "seeds, or give the blocks different names."
        )


def select_blocks(suite: Suite, patterns: list[str]) -> set[str]:
    """The names of the suite's blocks that `patterns` (names, or wildcards as `pacgan*`) pick."""
    names = [block_name(i, b) for i, b in enumerate(suite.blocks)]
    return _pick(patterns, names, f"Suite '{suite.name}' has no block", "blocks", "--blocks", "block")


def select_data(suite: Suite, patterns: list[str]) -> set[str]:
    """The data sets the suite trains that `patterns` (names, or wildcards as `ring*`) pick."""
    names = list(dict.fromkeys(c.data for c in expand(suite, {})))
    return _pick(patterns, names, f"Suite '{suite.name}' trains no data set", "data sets", "--data", "data set")


def _pick(patterns: list[str], names: list[str], missing: str, plural: str, flag: str, one: str) -> set[str]:
    import difflib

    chosen = set()
    for pattern in patterns:
        found = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not found:
            close = difflib.get_close_matches(pattern, names, n=3, cutoff=0.5)
            raise GanzooError(
                f"{missing} '{pattern}'."
                + (f" Did you mean: {', '.join(close)}?" if close else "")
                + f" Its {plural}: {', '.join(names)}. Fix {flag} (names or wildcards, "
                f"comma-separated), or leave it out to run every {one}."
            )
        chosen.update(found)
    return chosen


@dataclass(frozen=True)
class Part:
    """The part of a suite one run trains: some blocks, some data sets (None: all)."""

    blocks: set[str] | None = None
    data: set[str] | None = None

    def holds(self, cell: Cell) -> bool:
        # A search's best-trial re-runs (block NAME-best) belong to the search's block NAME.
        in_blocks = (
            self.blocks is None
            or cell.block in self.blocks
            or (cell.best_of is not None and cell.block.removesuffix("-best") in self.blocks)
        )
        return in_blocks and (self.data is None or cell.data in self.data)

    def others(self) -> str:
        return " or ".join(
            kind for kind, chosen in (("blocks", self.blocks), ("data sets", self.data)) if chosen is not None
        )
