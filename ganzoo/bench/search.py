"""Search blocks: a suite block that draws its options, as Lucic et al. 2018 searched.

    [[block]]
    name = "ns"
    architectures = ["infogan"]
    losses = ["non-saturating"]
    data = ["mnist"]
    seeds = [0]
    train = { betas = [0.5, 0.999] }
    [block.search]
    trials = 12
    seed = 0
    [block.search.space]
    "g_lr,d_lr" = "loguniform(1e-5, 1e-2)"
    "betas.0" = "uniform(0, 1)"
    n_d = [1, 5]
    "arch_options.d_batchnorm" = [true, false]

Each key of `space` names one or more options (comma-separated: one draw sets them
all, as Lucic et al. drew one rate for G and D); an option is a training option
(`g_lr`), an entry of a table option (`arch_options.d_batchnorm`,
`regularizer_options.gamma`) or an element of a pair the block sets (`betas.0`).
Each value is `loguniform(low, high)`, `uniform(low, high)`, `intuniform(low, high)`
(both ends included) or a list to choose from.

With `best_seeds = [1, 2, 3, 4, 5]`, once every trial of the block is recorded, the
best trial (by `best_by`, a metric or METRIC.KEY; by default the report's first scored
column, FID for images) is trained again with those seeds, as the block NAME-best.

Trial k of a block draws each option from a generator seeded by (search seed, block,
k, key) alone. So the draws are a function of the suite text: a re-run, or a run
with more trials, draws the same settings for the trials it already has, and
`ganzoo bench` resumes the search instead of redrawing it. Each trial is one or more
cells (one per seed) whose records carry the trial's number and draws.
"""

from __future__ import annotations

import copy
import math
import random
import re
from dataclasses import dataclass

from ganzoo.errors import GanzooError, did_you_mean
from ganzoo.report.study import best_of, score_column, scored_columns, trials_by_group

SEARCH_KEYS = {"trials", "seed", "space", "best_seeds", "best_by"}
_CALL = re.compile(r"^\s*(loguniform|uniform|intuniform)\s*\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)\s*$")


@dataclass(frozen=True)
class Distribution:
    kind: str  # loguniform, uniform, intuniform or choice
    low: float | None = None
    high: float | None = None
    choices: tuple = ()

    def draw(self, rng: random.Random):
        if self.kind == "choice":
            return copy.deepcopy(self.choices[rng.randrange(len(self.choices))])
        # parse_search gives every kind but "choice" both ends
        assert self.low is not None and self.high is not None
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high)
        if self.kind == "intuniform":
            return rng.randint(int(self.low), int(self.high))
        return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))


@dataclass(frozen=True)
class Search:
    trials: int
    seed: int
    space: dict  # key (as written) -> Distribution
    best_seeds: tuple = ()  # re-run the best trial with these seeds once every trial is recorded
    best_by: str | None = None  # "METRIC" or "METRIC.KEY"; default: the report's first scored column

    def draw(self, block: str, trial: int) -> dict:
        """Trial `trial`'s values, by the keys of the space as written."""
        return {
            key: dist.draw(random.Random(f"ganzoo-search/{self.seed}/{block}/{trial}/{key}"))
            for key, dist in self.space.items()
        }


def parse_search(where: str, raw) -> Search:
    """A block's `search` table; `where` names the block in errors."""
    if not isinstance(raw, dict):
        raise GanzooError(f"{where}: 'search' must be a table: [block.search] with trials, seed and space.")
    unknown = sorted(set(raw) - SEARCH_KEYS)
    if unknown:
        raise GanzooError(
            f"{where}: unknown key(s) {', '.join(unknown)} in 'search'."
            f"{did_you_mean(unknown, SEARCH_KEYS)} Allowed: {', '.join(sorted(SEARCH_KEYS))}."
        )
    trials, seed, space = raw.get("trials"), raw.get("seed", 0), raw.get("space")
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise GanzooError(f"{where}: search 'trials' must be a whole number of at least 1, not {trials!r}.")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise GanzooError(f"{where}: search 'seed' must be a whole number, not {seed!r}.")
    if not isinstance(space, dict) or not space:
        raise GanzooError(
            f"{where}: search 'space' must name at least one option, e.g. "
            'space = { "g_lr,d_lr" = "loguniform(1e-5, 1e-2)" }.'
        )
    best_seeds, best_by = raw.get("best_seeds", []), raw.get("best_by")
    if not isinstance(best_seeds, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in best_seeds):
        raise GanzooError(f"{where}: search 'best_seeds' must be a list of whole numbers (seeds), not {best_seeds!r}.")
    if best_by is not None and not isinstance(best_by, str):
        raise GanzooError(
            f"{where}: search 'best_by' must name a metric, like \"fid\" or "
            f'"mode-coverage.high_quality_pct", not {best_by!r}.'
        )
    return Search(
        trials,
        seed,
        {key: _distribution(where, key, value) for key, value in space.items()},
        tuple(best_seeds),
        best_by,
    )


def _distribution(where: str, key: str, value) -> Distribution:
    if isinstance(value, list):
        if not value:
            raise GanzooError(f"{where}: search option '{key}' has an empty list of choices.")
        return Distribution("choice", choices=tuple(value))
    match = _CALL.match(value) if isinstance(value, str) else None
    if match is None:
        raise GanzooError(
            f"{where}: search option '{key}' = {value!r} is not a distribution. Write "
            '"loguniform(1e-5, 1e-2)", "uniform(0, 1)", "intuniform(1, 5)" or a list of choices.'
        )
    kind, low, high = match.group(1), *(_number(where, key, text) for text in match.group(2, 3))
    if not low < high or (kind == "loguniform" and low <= 0):
        raise GanzooError(
            f"{where}: search option '{key}' = {value!r} needs low < high"
            + (" and low > 0 (a log scale)." if kind == "loguniform" else ".")
        )
    if kind == "intuniform" and not (float(low).is_integer() and float(high).is_integer()):
        raise GanzooError(f"{where}: search option '{key}' = {value!r}: intuniform takes whole numbers.")
    return Distribution(kind, low, high)


def _number(where: str, key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise GanzooError(f"{where}: search option '{key}': {text!r} is not a number.") from None


def apply_draws(where: str, train: dict, draws: dict) -> dict:
    """A copy of a block's training options with a trial's draws set in them."""
    out = copy.deepcopy(train)
    for key, value in draws.items():
        for path in (p.strip() for p in key.split(",")):
            _set(where, out, path, value)
    return out


def _set(where: str, train: dict, path: str, value) -> None:
    name, _, rest = path.partition(".")
    if not rest:
        train[name] = value
        return
    if rest.isdigit():  # an element of a pair the block sets: betas.0
        current = train.get(name)
        if not isinstance(current, (list, tuple)) or int(rest) >= len(current):
            raise GanzooError(
                f"{where}: search option '{path}' sets element {rest} of '{name}', which the block "
                f"does not set in full. Add it to the block's train table, e.g. "
                f"train = {{ {name} = [0.5, 0.999] }}."
            )
        current = list(current)
        current[int(rest)] = value
        train[name] = current
        return
    table = train.setdefault(name, {})
    if not isinstance(table, dict):
        raise GanzooError(f"{where}: search option '{path}' sets a key of '{name}', which is not a table of options.")
    train[name] = {**table, rest: value}


def best_trial(where: str, search: Search, trial_records: list[dict]) -> tuple[int, float, str] | None:
    """The best trial (index, score, column) among one search's records of one architecture,
    loss and data set, as the report ranks them. None when no trial has a score."""

    if search.best_by is None:
        column = score_column(trial_records)
    else:
        metric, _, key = search.best_by.partition(".")
        column = next((c for c in scored_columns() if c[0] == metric and (not key or c[1] == key)), None)
        if column is None:
            scored = ", ".join(f"{c[0]}.{c[1]}" for c in scored_columns())
            raise GanzooError(f"{where}: search 'best_by' = {search.best_by!r} is no scored metric. Scored: {scored}.")
    if column is None:
        return None
    metric, key, better = column[0], column[1], column[4]
    trials = [t for group in trials_by_group(trial_records, metric, key).values() for t in group]
    best = best_of(trials, better)
    return None if best is None else (best["index"], best["score"], f"{metric}.{key}")
