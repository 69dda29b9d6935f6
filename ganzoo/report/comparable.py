"""Whether two metric lines measured the same quantity: their recorded protocols compared
field by field (`ganzoo compare` and the report's external entries use it).

A metric line's protocol (metrics.jsonl) records everything that decides its number: the
generated and real sample counts, the real split and its selection, the extractor and its
weights' hash, the quantisation, the metric's own parameters. Two lines whose protocols
differ there (FID on 1,000 samples against FID on 10,000, say) are not comparable, whatever
their seeds say. What only says how or where a line was made (the device, the seconds, the
seed of the latent draw, the training precision, the samples' provenance, cache names,
library versions) is left out of the comparison, as are descriptions (sentences saying what
a field means) and fields only one side records (added in a later version).
"""

from __future__ import annotations

from pathlib import Path

from ganzoo.runs.rundir import RunDir

#: Protocol keys (any depth) that describe how or where a line was made, not what it measures.
HOW_NOT_WHAT = frozenset(
    {
        "device",
        "seconds",
        "seed",
        "sample_seed",
        "generator",
        "latent",
        "cache_key",
        "torch_fidelity",
        "precision",
        "samples",
        "weights_file",  # the file's name: its hash is what counts
        "test_accuracy",
    }
)


def _is_description(value) -> bool:
    """A sentence saying what a field means ("within 3 std of the nearest centre"), not a setting."""
    return isinstance(value, str) and " " in value and len(value) > 30


def measured(protocol: dict, prefix: str = "") -> dict:
    """The protocol's fields that decide the number, flattened to dotted keys."""
    out = {}
    for key, value in protocol.items():
        if key in HOW_NOT_WHAT or _is_description(value):
            continue
        if isinstance(value, dict):
            out.update(measured(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def protocol_differences(a: dict | None, b: dict | None) -> list[str]:
    """What differs between two metric lines' protocols ("num_samples 1000 vs 10000"); empty
    when they measured the same quantity, or when either side recorded none. A field only one
    side records (added to the protocol in a later version) is not a difference."""
    if a is None or b is None:
        return []
    fa, fb = measured(a), measured(b)
    return [f"{key} {fa[key]} vs {fb[key]}" for key in sorted(set(fa) & set(fb)) if fa[key] != fb[key]]


def last_protocol(results_dir, record: dict, metric: str) -> dict | None:
    """The protocol of `record`'s last line of `metric` (its run directory's metrics.jsonl)."""
    if "run_dir" not in record:
        return None
    try:
        lines = RunDir(Path(results_dir) / record["run_dir"]).read_metrics()
    except (OSError, ValueError):
        return None
    found = [line.get("protocol") for line in lines if line.get("metric") == metric]
    return found[-1] if found else None
