"""How a training setting is declared: `setting()` and the kinds of value a setting accepts.
`ganzoo.core.config.TrainConfig` declares each of its fields with it."""

from __future__ import annotations

import json
from dataclasses import field
from pathlib import Path


def setting(
    default=None,
    *,
    kind: tuple[tuple, str] | None = None,
    accepts: tuple = (),
    words: str = "",
    help: str = "",
    identity: bool = False,
    protocol: bool = True,
    fallback=None,
    cli: str = "value",
    flag: str | None = None,
    argument: str = "",
    choices: tuple | None = None,
    metavar: str | tuple[str, str] | None = None,
    factory=None,
):
    """One TrainConfig field, declared once: its default (None: unset, filled when the config
    is resolved, last of all from `fallback`), the values it accepts (with the words an error
    uses), whether it defines the experiment (a resumed run may not change it), whether it
    changes what a run measures (`protocol`; False for how a run executes or logs), its
    allowed values (`choices`) and its command-line flag. `kind`: (accepts, words) at once, one
    of the kinds below (NAME_OR_NONE...). `ganzoo train`'s flags, the suite
    keys of `ganzoo bench`, a cell's configuration hash and the checks of a resolved config
    are generated from these.

    cli: "value" (a flag taking one value; `argument` names its parser: positive, whole,
    float, text), "switch" (a flag that sets True), "on-off" (--x and --no-x; neither: the
    architecture's default), "options" (repeatable KEY=VALUE),
    "pair" (two floats), "names" (comma-separated), or None (no flag)."""
    if kind is not None:
        accepts, words = kind
    metadata = {
        "accepts": accepts,
        "words": words,
        "help": help,
        "identity": identity,
        "protocol": protocol,
        "fallback": fallback,
        "cli": cli,
        "flag": flag,
        "argument": argument,
        "choices": choices,
        "metavar": metavar,
    }
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


NAME = ((str,), "a name (a string)")
NAME_OR_NONE = ((str, None), "a name (a string) or None")
OPTIONS = ((dict,), "a dict of options ({} for none)")
COUNT_OR_NONE = ((int, None), "a whole number or None")
RATE_OR_NONE = ((float, None), "a number or None")
SWITCH = ((bool,), "True or False")
SWITCH_OR_NONE = ((bool, None), "True, False or None")
PATH_OR_NONE = ((str, Path, None), "a path or None")


def accepts_value(value, kind) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "pair":
        return isinstance(value, (list, tuple)) and len(value) == 2 and all(accepts_value(v, float) for v in value)
    if kind == "names":
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


def jsonable(value):
    """Round-trip through JSON so tuples and lists compare equal."""
    return json.loads(json.dumps(value))
