"""The numbers in the docs are measured: recompute them."""

import re

import pytest

import ganzoo
from conftest import REPO

DOC = (REPO / "docs" / "architectures.md").read_text()


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def human(n: int) -> str:
    return f"{n / 1000:.1f}k" if n < 100_000 else f"{n / 1e6:.2f}M"


@pytest.mark.parametrize("name,doc_name", [
    ("mlp", "mlp"), ("dcgan", "dcgan"), ("dcgan-32", "dcgan-28"), ("dcgan-64", "dcgan-28"),
    ("sngan-resnet", "sngan-resnet"), ("wgan-gp-resnet", "wgan-gp-resnet"), ("sngan-projection", "sngan-projection"),
])
def test_parameter_counts_in_the_architecture_table(name, doc_name):
    G, D, _ = ganzoo.create_architecture(name)
    row = next(line for line in DOC.splitlines() if line.startswith(f"| `{doc_name}`"))
    expected = f"{human(count(G))} / {human(count(D))}"
    # dcgan 28 px is printed with two decimals in its row; accept the table's rounding.
    found = re.findall(r"(\d+(?:\.\d+)?[kM]) / (\d+(?:\.\d+)?[kM])", row)
    assert any(_close(g, count(G)) and _close(d, count(D)) for g, d in found), (expected, row)


def _close(printed: str, actual: int) -> bool:
    value = float(printed[:-1]) * (1000 if printed[-1] == "k" else 1e6)
    decimals = len(printed[:-1].split(".")[1]) if "." in printed else 0
    unit = 1000 if printed[-1] == "k" else 1e6
    return abs(value - actual) <= 0.5 * unit * 10 ** -decimals + 1e-9
