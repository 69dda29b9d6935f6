"""Only what pyproject.toml cannot say: the package list is found, not written by hand, so a
new subpackage (as ganzoo.theory once was) cannot be left out of a wheel."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["ganzoo", "ganzoo.*"]))
