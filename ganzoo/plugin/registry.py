"""Named registries of architectures, losses and data sets (timm-style).

Entries arrive through the plugin hooks (see `ganzoo.plugin.manager`); this module
holds them and checks the names and options a user passes.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ganzoo.errors import GanzooError, UnknownNameError, did_you_mean

# kebab-case words, optionally one ".tag" (e.g. "mlp", "dcgan-32", "mlp.test").
NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)?$")


@dataclass
class Entry:
    kind: str
    name: str
    factory: Callable
    plugin: str
    defaults: dict = field(default_factory=dict)
    train_defaults: dict = field(default_factory=dict)
    description: str = ""
    paper: str = ""
    version: str = ""  # a recipe's own version (its settings change, its name stays)

    def info(self) -> dict:
        """A JSON-friendly summary, as `ganzoo list --json` prints it; a metric class also
        says what the data must offer and its standard sample count."""
        out = {
            "name": self.name,
            "plugin": self.plugin,
            "description": self.description,
            "paper": self.paper,
            "defaults": self.defaults,
            "train_defaults": self.train_defaults,
        }
        if self.kind == "recipe":  # a recipe's settings are its defaults
            out = {k: v for k, v in out.items() if k not in ("defaults", "train_defaults")}
            out.update(settings=self.defaults, version=self.version)
        if self.kind == "metric":
            for key in ("needs", "uses", "num_samples"):
                if hasattr(self.factory, key):
                    out[key] = getattr(self.factory, key)
        return out


def signature_defaults(factory: Callable) -> dict:
    """Keyword options a factory accepts, with their defaults (for losses, data sets)."""
    options = {}
    for param in inspect.signature(factory).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is param.empty:
            raise TypeError(f"factory {factory!r} has a required parameter '{param.name}'")
        options[param.name] = param.default
    return options


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self.entries: dict[str, Entry] = {}
        self.failed_plugins: list[str] = []  # "plugin 'x' (package y): its error", set by the loader

    def add(self, entry: Entry) -> None:
        if not NAME_PATTERN.match(entry.name):
            raise GanzooError(
                f"Plugin '{entry.plugin}' registers the {self.kind} name '{entry.name}', "
                "which is not kebab-case (lower-case words joined by '-', optionally one "
                "'.tag' such as '.test'). Rename it in the plugin."
            )
        other = self.entries.get(entry.name)
        if other is not None:
            first, second = sorted([other.plugin, entry.plugin])  # entry points load in no fixed order
            raise GanzooError(
                f"The {self.kind} '{entry.name}' is registered twice: by plugin "
                f"'{first}' and by plugin '{second}'. Uninstall one of them, "
                "or set GANZOO_PLUGINS to the plugins you want loaded."
            )
        self.entries[entry.name] = entry

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self.entries if fnmatch.fnmatchcase(n, pattern))

    def get(self, name: str) -> Entry:
        try:
            return self.entries[name]
        except KeyError:
            missing = (
                f" Plugins that failed to load, whose entries are missing: {'; '.join(self.failed_plugins)}."
                if self.failed_plugins
                else ""
            )
            raise UnknownNameError(self.kind, name, self.entries, extra=missing) from None


def check_options(entry: Entry, given: dict[str, Any], what: str = "option") -> dict:
    """Merge `given` over the entry's defaults, refusing unknown keys and wrong types."""
    unknown = sorted(set(given) - set(entry.defaults))
    if unknown:
        allowed = ", ".join(f"{k}={v!r}" for k, v in entry.defaults.items()) or "none"
        raise GanzooError(
            f"The {entry.kind} '{entry.name}' has no {what} "
            + ", ".join(f"'{k}'" for k in unknown)
            + f".{did_you_mean(unknown, entry.defaults)} Its {what}s (with defaults) are: {allowed}."
        )
    merged = dict(entry.defaults)
    for key, value in given.items():
        merged[key] = _coerce(entry, key, entry.defaults[key], value)
    return merged


#: How a boolean option may be spelled on the command line or in a file.
BOOLEAN_WORDS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


#: How an option's expected type is named in errors ("expects a whole number", not "a int").
TYPE_WORDS = {float: "number", int: "whole number", str: "string", tuple: "list", list: "list", dict: "table"}


def _coerce(entry: Entry, key: str, default: Any, value: Any) -> Any:
    """Accept a value of the default's type (ints for floats, lists for tuples, the usual
    spellings of booleans). Where the default is a positive whole number (widths, depths,
    latent sizes, resolutions) the value must be one too; where it is a positive number
    (scales, weights, penalties), at least 0."""
    if default is None or value is None:
        return value
    expected = type(default)
    if isinstance(default, bool):
        if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
            value = BOOLEAN_WORDS[value.strip().lower()]
        elif isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            value = bool(value)
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, (tuple, list)):
        ok = isinstance(value, (tuple, list))
        value = expected(value) if ok else value
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise GanzooError(
            f"Option '{key}' of {entry.kind} '{entry.name}' expects "
            f"{'True or False' if isinstance(default, bool) else 'a ' + TYPE_WORDS.get(expected, expected.__name__)} "
            f"(default {default!r}), got {value!r}."
        )
    # num_classes=0 is every conditional architecture's way to train unconditionally (--arch-opt num_classes=0).
    minimum = 0 if key == "num_classes" else 1
    if isinstance(default, int) and not isinstance(default, bool) and default > 0 and value < minimum:
        raise GanzooError(
            f"Option '{key}' of {entry.kind} '{entry.name}' must be a whole number >= {minimum} "
            f"(default {default!r}), got {value!r}."
        )
    if isinstance(default, float) and default > 0 and not 0 <= value < float("inf"):
        raise GanzooError(
            f"Option '{key}' of {entry.kind} '{entry.name}' must be a finite number >= 0 "
            f"(default {default!r}), got {value!r}."
        )
    return value
