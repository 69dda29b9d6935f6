"""Only what pyproject.toml cannot say: the package list is found, not written by hand, so a
new subpackage (as ganzoo.theory once was) cannot be left out of a wheel. plugins/ installs
as ganzoo_plugins (package-dir in pyproject.toml)."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["ganzoo", "ganzoo.*"]), "ganzoo_plugins"])
