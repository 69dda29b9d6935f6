"""Published numbers set beside ganzoo's: a suite's papers file.

A papers file (TOML) holds:

- `[[reference]]` entries, each naming the suite block and data set it stands beside, its
  source, the metric, and `values = { key = [mean, standard error] }` (`[mean]` when the
  paper gives no error bar); the protocol it was measured under (`protocol = "NAME"`) and
  the fields in which this row's protocol differs from that one (`protocol_overrides`);
  `runs` where it differs from the protocol's.
- `[protocols.NAME]`: the paper's protocol, field by field (report/protocol_guard.py says
  how fields are named and compared), with `runs` (the number of runs behind its means),
  `source`, and `notes` for differences no record can show.
- `[margins.DATA]`: per result key, how far apart two means may be and still "agree" (a
  number, or "5%" of the paper's value). A key without a margin can be shown to differ,
  never to agree.
- `extends = "OTHER.toml"` (optional, a file beside it): OTHER's protocols, margins and
  references come first, this file's add to them (a suite that trains another's rows
  on another schedule, with rows of its own).

The file for a built-in suite is `ganzoo/suites/papers/SUITE.toml`; `ganzoo report
--papers FILE` names another. It is kept apart from
the suite so that fixing a transcription does not change the suite's hash, which guards
the results folder. The verdicts are the engine's (report/verdicts.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ganzoo.errors import GanzooError
from ganzoo.report.protocol_guard import check_protocol_spec

PAPERS_DIR = Path(__file__).parents[1] / "suites" / "papers"
REQUIRED = ("block", "data", "source", "metric", "values", "protocol")
OPTIONAL = ("protocol_overrides", "runs")


@dataclass
class Papers:
    path: Path
    references: list[dict]
    protocols: dict[str, dict] = field(default_factory=dict)
    margins: dict[str, dict] = field(default_factory=dict)
    inherited: int = 0  # the first this many references come from the file it extends

    def runs(self, ref: dict) -> int | None:
        """The number of runs behind a reference's means (None: not known)."""
        return ref.get("runs", self.protocols[ref["protocol"]].get("runs"))

    def margin(self, data: str, key: str):
        return self.margins.get(data, {}).get(key)


def papers_file_for(suite_name: str) -> Path | None:
    path = PAPERS_DIR / f"{suite_name}.toml"
    return path if path.is_file() else None


def load_papers(path, _seen: tuple = ()) -> Papers:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GanzooError(
            f"Cannot read the papers file {path}: {exc}. Pass a TOML file of "
            "[[reference]] entries (see ganzoo/suites/papers/)."
        ) from None
    base = Papers(path, [])
    if "extends" in raw:
        parent = path.parent / str(raw["extends"])
        if parent.resolve() in _seen or not parent.is_file():
            raise GanzooError(
                f"{path}: extends {raw['extends']!r}, which is "
                + ("itself extended by this file" if parent.resolve() in _seen else "not a file beside it")
                + "; name a papers file in the same folder."
            )
        base = load_papers(parent, _seen + (path.resolve(),))
    entries = raw.get("reference", [])
    if not isinstance(entries, list) or not (entries or base.references):
        raise GanzooError(f"{path} holds no [[reference]] entries; see ganzoo/suites/papers/ for the format.")
    protocols = {**base.protocols, **raw.get("protocols", {})}
    margins = {**base.margins, **raw.get("margins", {})}
    unknown = set(raw) - {"reference", "protocols", "margins", "extends"}
    if unknown:
        raise GanzooError(
            f"{path}: unknown table(s) {', '.join(sorted(unknown))}; a papers file holds "
            "[[reference]] entries, [protocols.NAME], [margins.DATA] and optionally extends."
        )
    for name, spec in protocols.items():
        check_protocol_spec(spec, f"{path}, protocol {name!r}")
    for data, keys in margins.items():
        for key, margin in keys.items():
            if not (
                isinstance(margin, (int, float))
                and margin > 0
                or isinstance(margin, str)
                and margin.endswith("%")
                and _is_number(margin[:-1])
            ):
                raise GanzooError(
                    f"{path}, margins of {data}: {key} = {margin!r}; give a positive number or a "
                    'percentage of the paper\'s value such as "5%".'
                )
    for i, entry in enumerate(entries, 1):
        where = f"{path}, reference {i}"
        missing = [k for k in REQUIRED if k not in entry]
        if missing:
            raise GanzooError(
                f"{where}: missing {', '.join(missing)}. Each entry needs {', '.join(REQUIRED)} "
                f"(optionally {', '.join(OPTIONAL)})."
            )
        extra = set(entry) - set(REQUIRED) - set(OPTIONAL)
        if extra:
            raise GanzooError(
                f"{where}: unknown key(s) {', '.join(sorted(extra))}; allowed: {', '.join(REQUIRED + OPTIONAL)}."
            )
        if entry["protocol"] not in protocols:
            raise GanzooError(
                f"{where}: protocol {entry['protocol']!r} is not defined; the file defines "
                f"{', '.join(protocols) or 'none'} ([protocols.NAME])."
            )
        check_protocol_spec(entry.get("protocol_overrides", {}), where)
        for key, numbers in entry["values"].items():
            if not (
                isinstance(numbers, list)
                and 1 <= len(numbers) <= 2
                and all(isinstance(x, (int, float)) for x in numbers)
            ):
                raise GanzooError(f"{where}: {key} must be [mean, standard error] or [mean], got {numbers!r}.")
    return Papers(path, base.references + entries, protocols, margins, inherited=len(base.references))


def load_references(path) -> list[dict]:
    return load_papers(path).references


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
