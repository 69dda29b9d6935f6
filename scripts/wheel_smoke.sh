#!/usr/bin/env bash
# The package as users install it: build a wheel, install it into a second venv, and run it
# from outside the checkout. An editable install hides a module left out of the wheel (as
# ganzoo.theory once was); this does not. The second venv borrows the first one's
# dependencies (torch is gigabytes), not its ganzoo. Usage: scripts/wheel_smoke.sh [VENV]
set -euo pipefail
cd "$(dirname "$0")/.."
main_venv="${1:-.venv}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$main_venv/bin/pip" wheel -q --no-deps --no-build-isolation . -w "$work/dist" 2>/dev/null \
  || "$main_venv/bin/pip" wheel -q --no-deps . -w "$work/dist"
python3 -m venv "$work/venv"
deps="$("$main_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
site="$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$deps" > "$site/zz-borrowed-dependencies.pth"
"$work/venv/bin/pip" install -q --no-deps "$work"/dist/pyganzoo-*.whl
cd "$work"
# Only the wheel's own (built-in) plugins: the borrowed folder also lists the editable example plugin.
export GANZOO_PLUGINS=""
"$work/venv/bin/python" - <<'PY'
import importlib, pkgutil
import ganzoo
assert "site-packages" in ganzoo.__file__, ganzoo.__file__  # the wheel, not the checkout
for module in pkgutil.walk_packages(ganzoo.__path__, "ganzoo."):
    if not module.name.endswith("__main__"):  # importing it would run the CLI
        importlib.import_module(module.name)
print("wheel:", ganzoo.__file__)
PY
"$work/venv/bin/ganzoo" list architectures > /dev/null
"$work/venv/bin/ganzoo" train --arch mlp.test --steps 3 --out run --no-progress > /dev/null
"$work/venv/bin/ganzoo" theory --help > /dev/null
echo "wheel smoke test passed"
