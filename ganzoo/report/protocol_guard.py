"""The protocol guard: before a ganzoo number is set beside a published one, the two
protocols are compared field by field, and a difference that changes the quantity rules the
comparison out ("not comparable") instead of letting a verdict through.

A papers file names the paper's protocol (`[protocols.NAME]`) and each reference entry
uses one (`protocol = "NAME"`), with the fields that differ for that row in
`protocol_overrides`. A field is a dotted path into what a cell records:

- ``train.FIELD``: the resolved training configuration (config.json's ``train``),
  plus ``train.precision`` ("fp32" where the run records none);
- ``arch.OPTION``: the architecture's resolved options (``arch.name``, ``arch.pack``...);
- ``data.FIELD``: the data set's description (config.json's ``data``);
- ``metric.KEY``: the protocol the metric recorded at its last evaluation (its
  ``num_samples``, feature extractor and weights' hash, resize, reference split...).

A field's value in the papers file is the paper's value, or a table:
``{ value = ..., effect = "...", why = "..." }`` or ``{ any_of = [...], why = "..." }``
for a value the paper leaves ambiguous. `effect` says what a difference does:

- ``"decisive"`` (the default): the quantity differs; the row is not comparable;
- ``"convergence"``: comparable only where the convergence rule finds the curve at its
  plateau (a shorter schedule than the paper's, say), and only while the paper's value is
  at most `MAX_EXTRAPOLATION` times the run's: a plateau read from a run's own last two
  thirds is not carried over a schedule many times its length;
- ``"noted"``: listed beside the verdict, with its reason, but not ruling it out.

A field the cell does not record is a difference too ("not recorded"), so a guard written
for one kind of run cannot pass silently over another. Fields no record can show (how the
paper drew its data, say) go into the protocol's `notes`, printed with every row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ganzoo.errors import GanzooError
from ganzoo.plugin.api import architecture_entry
from ganzoo.runs.rundir import RunDir

EFFECTS = ("decisive", "convergence", "noted")
#: The longest a paper's schedule may be, as a multiple of the run's, for a plateau found in
#: the run to stand for the paper's end. On the grid reproduce-2d's packed rows end their
#: 5,000 steps at 3-9% HQ, PacGAN3's and PacGAN4's at plateau by the window rule, and PacGAN2
#: reaches 84% at step 100,000 in reproduce-2d-long: a plateau is not carried over 80 times
#: a run's length.
#: Four times is reproduce-2d-long's quarter of PacGAN's schedule, the most any committed
#: report carries one; that even this holds only PacGAN's full schedule would show.
MAX_EXTRAPOLATION = 4.0
ROOTS = ("train", "arch", "data", "metric")
MISSING = object()


@dataclass(frozen=True)
class FieldDifference:
    field: str
    paper: str  # the paper's value, as printed
    ours: str  # the cell's value, as printed
    effect: str  # "decisive", "convergence", "noted" or "ambiguous" (the paper's value is one of several)
    why: str = ""
    times: float | None = None  # a convergence field's paper value over the run's (both numbers)

    @property
    def too_short(self) -> bool:
        """A convergence difference too large for any plateau in the run to stand for the paper's."""
        return self.effect == "convergence" and self.times is not None and self.times > MAX_EXTRAPOLATION

    def describe(self) -> str:
        text = f"{self.field}: paper {self.paper}, here {self.ours}"
        if self.effect == "ambiguous":
            text = f"{self.field}: the paper's is one of {self.paper} (ambiguous), here {self.ours}"
        tail = {
            "decisive": "not comparable",
            "convergence": "comparable only at plateau",
            "noted": "noted",
            "ambiguous": "noted",
        }[self.effect]
        if self.too_short:
            tail = f"not comparable: the paper's is {self.times:,.0f} times the run's, more than {MAX_EXTRAPOLATION:g}"
        return f"{text} ({tail}{': ' + self.why if self.why else ''})"


def check_protocol_spec(spec: dict, where: str) -> None:
    """A papers file's protocol table: each field's root, and each table's keys and effect."""
    for name, entry in spec.items():
        if name in ("source", "notes", "runs"):
            continue
        if name.split(".", 1)[0] not in ROOTS or "." not in name:
            raise GanzooError(
                f"{where}: protocol field {name!r} is not a dotted path under one of "
                f'{", ".join(ROOTS)} (e.g. "train.steps", "metric.num_samples").'
            )
        if isinstance(entry, dict):
            unknown = set(entry) - {"value", "any_of", "effect", "why"}
            if unknown or (("value" in entry) == ("any_of" in entry)):
                raise GanzooError(
                    f"{where}: protocol field {name!r} must be a value or a table with exactly one "
                    "of value or any_of, and optionally effect and why."
                )
            if entry.get("effect", "decisive") not in EFFECTS:
                raise GanzooError(
                    f"{where}: protocol field {name!r} has effect {entry['effect']!r}; use one of {', '.join(EFFECTS)}."
                )


def cell_protocol(run_dir, metric: str) -> dict:
    """What a cell recorded, flattened to the guard's dotted fields."""
    run = RunDir(run_dir)
    config = run.read_config()
    fields = {f"train.{k}": v for k, v in config.get("train", {}).items()}
    fields.setdefault("train.precision", "fp32")  # runs before --precision existed trained in fp32
    architecture = config.get("architecture", {})
    fields.update({f"arch.{k}": v for k, v in architecture.items()})
    for k, v in _current_defaults(architecture.get("name")).items():
        # An option added after the run was recorded: its default is the behaviour the run had
        # (ganzoo adds options that way), e.g. pacgan-mlp's bn_groups = 1.
        fields.setdefault(f"arch.{k}", v)
    fields.update({f"data.{k}": v for k, v in _flat(config.get("data", {})).items()})
    last = None
    for line in run.read_metrics():
        if line.get("metric") == metric:
            last = line
    if last is not None:
        fields.update({f"metric.{k}": v for k, v in _flat(last.get("protocol", {})).items()})
    return fields


def _current_defaults(name: str | None) -> dict:
    try:
        return dict(architecture_entry(name).defaults) if name else {}
    except GanzooError:  # an architecture no longer installed: nothing to fill in
        return {}


def differences(spec: dict, overrides: dict, recorded: dict) -> list[FieldDifference]:
    """The fields of the paper's protocol (with this row's overrides) that the cell does not share."""
    out = []
    for name, entry in {**spec, **overrides}.items():
        if name in ("source", "notes", "runs"):
            continue
        table = entry if isinstance(entry, dict) else {"value": entry}
        ours = recorded.get(name, MISSING)
        shown = "not recorded" if ours is MISSING else _show(ours)
        why = table.get("why", "")
        if "any_of" in table:
            options = table["any_of"]
            if ours is MISSING or not any(_same(ours, o) for o in options):
                out.append(FieldDifference(name, " or ".join(_show(o) for o in options), shown, "decisive", why))
            else:
                out.append(FieldDifference(name, " or ".join(_show(o) for o in options), shown, "ambiguous", why))
        elif ours is MISSING or not _same(ours, table["value"]):
            effect = table.get("effect", "decisive")
            times = _times(table["value"], ours) if effect == "convergence" else None
            out.append(FieldDifference(name, _show(table["value"]), shown, effect, why, times))
    return out


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _times(paper, ours) -> float | None:
    """How many times the run's value the paper's is, where both are positive numbers."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in (paper, ours))
    return paper / ours if numbers else None


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _show(v) -> str:
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
