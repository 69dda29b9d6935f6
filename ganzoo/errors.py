"""User-facing errors.

A `GanzooError` is a mistake the user can fix (a bad name, a bad option, a
missing file). The CLI prints its message as one paragraph, with no traceback.
Anything else is a bug in ganzoo or a plugin and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GanzooError(Exception):
    """An error caused by input the user can correct; the message says how."""


class UnknownNameError(GanzooError, KeyError):
    """A name that no registry entry (architecture, loss, data set...) has."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = "", extra: str = ""):
        self.kind, self.name = kind, name
        known = sorted(known)
        close = close_names(name, known)
        parts = [f"Unknown {kind} '{name}'."]
        if close:
            parts.append("Did you mean: " + ", ".join(close) + "?")
        plural = "losses" if kind == "loss" else f"{kind}s"
        parts.append(f"Registered {plural}: " + (", ".join(known) if known else "none") + ".")
        parts.append(hint or f"Run `ganzoo list {plural}` to see them with their plugins.")
        super().__init__(" ".join(parts) + extra)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


def close_names(name: str, known: Iterable[str], n: int = 5) -> list[str]:
    """Known names near `name`: its nearest spellings, then the names it begins (difflib may
    rank "dcgan" -> "dcgan-32" low)."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=n, cutoff=0.5)
    return close + [k for k in known if k.startswith(name) and k not in close][:n]


def did_you_mean(unknown: Iterable[str], known: Iterable[str]) -> str:
    """ " Did you mean 'seeds' for 'seed'?" for the unknown keys with a near known one; "" if none."""
    known = list(known)
    pairs = [f"'{close[0]}' for '{name}'" for name in unknown if (close := close_names(name, known, 1))]
    return f" Did you mean {', '.join(pairs)}?" if pairs else ""


class PluginError(GanzooError):
    """A plugin's own code raised while ganzoo ran it: the message names the plugin, its
    package and the line; the original exception (its traceback) is the `__cause__`, which
    the command line prints above the message so that the plugin's author can find the line."""


class NonFiniteLossError(GanzooError):
    """Training produced a NaN or infinite loss; the message names the last good checkpoint."""


class GanzooWarning(UserWarning):
    """Something the user should know that does not stop the run (a setting that will be slow
    on this machine): the command line prints it as one paragraph, without a source line."""
