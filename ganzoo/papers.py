"""Published numbers set beside ganzoo's: a suite's reference file and the verdicts.

A reference file (TOML) lists `[[reference]]` entries, each naming the suite block
and data set it stands beside, its source, and `values = { key = [mean, standard
error] }` for one metric (`[mean]` when the paper gives no error bar). The file for
a built-in suite is `ganzoo/suites/papers/SUITE.toml` (`reproduce-2d-long` uses
`reproduce-2d`'s); `ganzoo report --papers FILE`
names another. It is kept apart from the suite so that fixing a transcription
does not change the suite's hash, which guards the results folder.

Verdict: ganzoo's mean over seeds and the paper's agree when they differ by at most
twice the standard error of the difference, 2 * sqrt(se_ganzoo^2 + se_paper^2)
(about a 95% interval for two independent estimates); a paper without an error
bar counts as se 0.
"""

from __future__ import annotations

import math
from pathlib import Path

from .errors import GanzooError
from .report import stats

PAPERS_DIR = Path(__file__).parent / "suites" / "papers"
# Built-in suites that train another suite's rows on another schedule share its file.
SHARED_REFERENCES = {"reproduce-2d-long": "reproduce-2d"}
REQUIRED = ("block", "data", "source", "metric", "values")


def papers_file_for(suite_name: str) -> Path | None:
    path = PAPERS_DIR / f"{SHARED_REFERENCES.get(suite_name, suite_name)}.toml"
    return path if path.is_file() else None


def load_references(path) -> list[dict]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GanzooError(f"Cannot read the reference file {path}: {exc}. Pass a TOML file of "
                          "[[reference]] entries (see ganzoo/suites/papers/).") from None
    entries = raw.get("reference")
    if not isinstance(entries, list) or not entries:
        raise GanzooError(f"{path} holds no [[reference]] entries; see ganzoo/suites/papers/ for the format.")
    for i, entry in enumerate(entries, 1):
        missing = [k for k in REQUIRED if k not in entry]
        if missing:
            raise GanzooError(f"{path}, reference {i}: missing {', '.join(missing)}. "
                              f"Each entry needs {', '.join(REQUIRED)}.")
        for key, numbers in entry["values"].items():
            if not (isinstance(numbers, list) and 1 <= len(numbers) <= 2
                    and all(isinstance(x, (int, float)) for x in numbers)):
                raise GanzooError(f"{path}, reference {i}: {key} must be [mean, standard error] or [mean], "
                                  f"got {numbers!r}.")
    return entries


def standard_error(values: list[float]) -> float | None:
    """The sample standard deviation (n - 1) over sqrt(n); None below two values."""
    s = stats(values)
    return None if s["std"] is None else s["std"] / math.sqrt(s["n"])


def verdict(ours: list[float], paper: list[float], better: int) -> str:
    """Whether ganzoo's seeds agree with a paper's mean (± standard error), and if not, how."""
    se = standard_error(ours)
    if se is None:
        return "one seed: no error bar"
    diff = stats(ours)["mean"] - paper[0]
    band = 2 * math.sqrt(se**2 + (paper[1] if len(paper) > 1 else 0.0) ** 2)
    if abs(diff) <= band:
        return "agrees"
    direction = "higher" if diff > 0 else "lower"
    quality = "better" if diff * better > 0 else "worse"
    return f"ganzoo {direction} ({quality})" if better else f"ganzoo {direction}"
