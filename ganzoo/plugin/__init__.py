"""The plugin machinery: the hooks (`hookspecs`), loading built-ins and entry points and
isolating a failing plugin (`manager`), the timm-style registries (`registry`) and the
Python API over them, `list_*` and `create_*` for every kind of plugin (`api`).
"""
