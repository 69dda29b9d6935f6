"""ganzoo's built-in plugins.

Each module here is a plugin exactly as a third-party package would write one:
it is listed in the `ganzoo` entry-point group of pyproject.toml and implements
hooks from `ganzoo.hookspecs`. Copy one to start your own (docs/plugins.md).
"""
