"""What a plugin may set of the training settings: the training defaults a loss or an
architecture registers, and a recipe's settings. Each is checked when it is registered, so a
default that names no TrainConfig field, or one a run must choose itself, is an error that
names the plugin (`ganzoo.plugin.manager` calls these)."""

from __future__ import annotations

from ganzoo.core.config import CELL_FIELDS, FIELDS, TrainConfig
from ganzoo.errors import GanzooError, did_you_mean


def check_recipe(settings: dict, owner: str) -> None:
    """A recipe's settings: TrainConfig fields (any but `seed` and `recipe`), of the right types."""
    if not isinstance(settings, dict):
        raise ValueError(
            f"{owner} is registered with {type(settings).__name__} settings; a recipe's settings are "
            "a dict of TrainConfig fields."
        )
    _check_fields(
        settings,
        owner,
        "recipe settings",
        refused=("seed", "recipe"),
        why="a recipe does not choose the seed or another recipe",
    )


def check_defaults(defaults: dict, owner: str) -> None:
    """Training defaults a loss or an architecture registers must name TrainConfig fields that
    may be defaulted, with values of the right type; `owner` names who registers them."""
    _check_fields(
        defaults,
        owner,
        "training default(s)",
        refused=(*CELL_FIELDS, "recipe"),
        why="they name a run and are the user's (or a recipe's) to choose",
    )


def _check_fields(values: dict, owner: str, what: str, refused: tuple, why: str) -> None:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ValueError(
            f"{owner} sets {what} {', '.join(repr(k) for k in unknown)}, which "
            f"{'is not a training setting' if len(unknown) == 1 else 'are not training settings'}."
            f"{did_you_mean(unknown, FIELDS)} Any TrainConfig field may be set "
            "(`ganzoo train --help` lists them)."
        )
    fixed = sorted(set(values) & set(refused))
    if fixed:
        raise ValueError(f"{owner} sets {what} {', '.join(fixed)}: {why}; leave them out.")
    try:
        TrainConfig(**values)
    except GanzooError as exc:
        raise ValueError(f"{owner} sets {what} of the wrong type: {exc}") from None
