"""The numbers in the docs are measured: recompute them."""

import re

import pytest
from conftest import REPO, count

import ganzoo

DOC = (REPO / "docs" / "architectures.md").read_text()


@pytest.mark.parametrize(
    "name,doc_name",
    [
        ("mlp", "mlp"),
        ("pacgan-mlp", "pacgan-mlp"),
        ("unrolled-dcgan", "unrolled-dcgan"),
        ("dcgan", "dcgan"),
        ("dcgan-32", "dcgan-28"),
        ("dcgan-64", "dcgan-28"),
        ("sngan-resnet", "sngan-resnet"),
        ("wgan-gp-resnet", "wgan-gp-resnet"),
        ("sngan-projection", "sngan-projection"),
        ("r3gan", "r3gan"),
        ("biggan", "biggan"),
        ("stylegan2", "stylegan2"),
        ("infogan", "infogan"),
    ],
)
def test_parameter_counts_in_the_architecture_table(name, doc_name):
    G, D, _ = ganzoo.create_architecture(name)
    row = next(line for line in DOC.splitlines() if line.startswith(f"| `{doc_name}`"))
    # A row may list several variants ("32 px: ...; 64 px: ..."): one pair must match.
    found = re.findall(r"(\d+(?:\.\d+)?[kM]?) / (\d+(?:\.\d+)?[kM]?)(?=[ ;|(])", row)
    assert any(_close(g, count(G)) and _close(d, count(D)) for g, d in found), (count(G), count(D), row)


def _close(printed: str, actual: int) -> bool:
    """`printed` ("25.1k", "4.28M") is `actual` rounded to its shown decimals."""
    if printed[-1].isdigit():
        return int(printed) == actual
    number, unit = printed[:-1], 1000 if printed[-1] == "k" else 1e6
    decimals = len(number.split(".")[1]) if "." in number else 0
    return abs(float(number) * unit - actual) <= 0.5 * unit * 10**-decimals + 1e-9
