"""What a wheel holds: every module of the checkout (CI also installs the wheel and runs it,
scripts/wheel_smoke.sh)."""

from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[1]


def test_every_ganzoo_folder_with_code_is_a_package_the_wheel_finds():
    folders = {p.parent for p in (REPO / "ganzoo").rglob("*.py") if "__pycache__" not in p.parts}
    packages = set(find_packages(str(REPO), include=["ganzoo", "ganzoo.*"]))
    for folder in folders:
        name = ".".join(folder.relative_to(REPO).parts)
        assert (folder / "__init__.py").is_file() and name in packages, f"{name} would be left out of the wheel"
    assert "ganzoo.theory" in packages


def test_the_wheel_keeps_its_data_files():
    text = (REPO / "pyproject.toml").read_text()
    for pattern in ('"reference/*.pt"', '"suites/*.toml"', '"suites/papers/*.toml"'):
        assert pattern in text
    assert list((REPO / "ganzoo" / "evaluation" / "reference").glob("*.pt"))
