"""Plugin loading: pluggy over the `ganzoo` entry-point group.

ganzoo's own zoo (`ganzoo.zoo`: architectures, losses, regularisers, augmentations,
optimisers, data sets, metrics) registers through the same hooks as a third-party
package, like pytest's built-in plugins: each of its modules is registered here by name
(`BUILTIN_PLUGINS`), so it is always there and a new built-in needs no reinstall.
Third-party plugins are found through the `ganzoo` entry-point group.

`GANZOO_PLUGINS=a,b` loads only the named entry-point plugins; set but empty, only the
built-ins. A plugin that fails to import, or whose hook raises, is reported by name and
skipped; the others still work.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pluggy

from ganzoo.core.defaults import check_defaults, check_recipe
from ganzoo.core.metrics import declaration_problems
from ganzoo.core.regularization import regularizer_names
from ganzoo.errors import GanzooError, PluginError
from ganzoo.plugin import hookspecs
from ganzoo.plugin.registry import Entry, Registry, check_options, signature_defaults
from ganzoo.util.environment import DISTRIBUTION, ganzoo_version

ENV_VAR = "GANZOO_PLUGINS"
ENTRY_POINT_GROUP = "ganzoo"
ARCHITECTURES = ("mlp", "dcgan", "resnet", "pacgan_mlp", "unrolled_dcgan", "r3gan", "biggan", "stylegan2", "infogan")
BUILTIN_PLUGINS = (
    "ganzoo.zoo.losses",
    "ganzoo.zoo.regularizers",
    "ganzoo.zoo.augmentations",
    "ganzoo.zoo.optimizers",
    "ganzoo.zoo.datasets.toy1d",
    "ganzoo.zoo.datasets.toy2d",
    "ganzoo.zoo.datasets.images",
    "ganzoo.zoo.metrics",
    "ganzoo.zoo.recipes",
    "ganzoo.training.schedules",
    "ganzoo.training.tensorboard_log",
    *(f"ganzoo.zoo.architectures.{name}" for name in ARCHITECTURES),
)
KINDS = (
    "architecture",
    "loss",
    "dataset",
    "metric",
    "regularizer",
    "augmentation",
    "optimizer",
    "recipe",
    "command",
    "suite",
)


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded; ganzoo goes on without it."""


@dataclass
class PluginInfo:
    name: str
    module: str
    package: str  # distribution that provides it (DISTRIBUTION for the built-ins)
    version: str
    status: str  # "loaded" or "failed"
    error: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class PluginState:
    """The plugin manager, what it loaded, and the registries it filled."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("ganzoo")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.registries = {kind: Registry(kind) for kind in KINDS}
        for module_name in BUILTIN_PLUGINS:
            module = importlib.import_module(module_name)
            self.pm.register(module, name=module_name)
            self.plugins.append(PluginInfo(module_name, module_name, DISTRIBUTION, ganzoo_version(), "loaded"))
        self._load_entry_points()
        for info in self.plugins:
            if info.status == "loaded":
                self._collect(info)

    def _load_entry_points(self) -> None:
        entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
        wanted = _wanted_plugins()
        if wanted is not None:
            installed = {ep.name for ep in entry_points}
            missing = sorted(set(wanted) - installed)
            if missing:
                raise GanzooError(
                    f"{ENV_VAR} names plugin(s) {', '.join(missing)} that are not installed. "
                    f"Installed plugins: {', '.join(sorted(installed)) or 'none'}. "
                    f"Fix {ENV_VAR} (comma-separated names), or unset it to load all."
                )
            entry_points = [ep for ep in entry_points if ep.name in wanted]
        seen = set()
        for ep in entry_points:
            if ep.name in seen:  # the same distribution found twice on sys.path
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                ep.name,
                ep.value,
                dist.name if dist else "?",
                dist.version if dist else "?",
                "loaded",
            )
            self.plugins.append(info)
            try:
                self.pm.register(ep.load(), name=ep.name)
                # Per plugin, so that one with a misspelt hook is the only one dropped.
                self.pm.check_pending()
            except Exception as exc:  # noqa: BLE001 - any plugin bug must not stop the others
                if self.pm.has_plugin(ep.name):
                    self.pm.unregister(name=ep.name)
                self._fail(info, exc)

    def _collect(self, info: PluginInfo) -> None:
        """Call one plugin's register hooks into staging registries, then merge.

        Hooks are called plugin by plugin (not through one `pm.hook` call) so a
        plugin whose hook raises is dropped whole, and the others still load.
        """
        staged: list[Entry] = []
        hooks = {
            "architecture": self.pm.hook.ganzoo_register_architectures,
            "loss": self.pm.hook.ganzoo_register_losses,
            "dataset": self.pm.hook.ganzoo_register_datasets,
            "metric": self.pm.hook.ganzoo_register_metrics,
            "regularizer": self.pm.hook.ganzoo_register_regularizers,
            "augmentation": self.pm.hook.ganzoo_register_augmentations,
            "optimizer": self.pm.hook.ganzoo_register_optimizers,
            "recipe": self.pm.hook.ganzoo_register_recipes,
            "command": self.pm.hook.ganzoo_register_commands,
            "suite": self.pm.hook.ganzoo_register_suites,
        }
        try:
            for kind, hook in hooks.items():
                for impl in hook.get_hookimpls():
                    if impl.plugin_name == info.name:
                        impl.function(register=_register_callback(kind, info.name, staged))
        except GanzooError:
            raise
        except Exception as exc:  # noqa: BLE001
            self._fail(info, exc)
            return
        for entry in staged:
            self.registries[entry.kind].add(entry)

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        info.status = "failed"
        info.error = f"{type(exc).__name__}: {exc}"
        for registry_ in self.registries.values():  # a name it would have registered is unknown: say why
            registry_.failed_plugins.append(f"plugin '{info.name}' (package {info.package}): {info.error.rstrip('.')}")
        warnings.warn(
            f"Plugin '{info.name}' (package {info.package}) failed to load and is skipped: "
            f"{info.error.rstrip('.')}. Everything else still works. Fix or uninstall that package, "
            f"or leave it out of {ENV_VAR}.",
            PluginLoadWarning,
            stacklevel=2,
        )


@dataclass
class Command:
    """A plugin's `ganzoo` command: `arguments(parser)` adds its options, `handler(args)` runs it."""

    handler: Callable
    arguments: Callable | None = None


def _register_callback(kind: str, plugin: str, staged: list[Entry]):
    if kind == "recipe":
        return _register_recipe(plugin, staged)
    if kind == "command":

        def register_command(name, handler, *, help="", arguments=None):
            if not callable(handler) or (arguments is not None and not callable(arguments)):
                raise ValueError(
                    f"The command '{name}' is registered with a handler or arguments that cannot be "
                    "called; register(name, handler, help=..., arguments=...) takes functions."
                )
            staged.append(
                Entry(kind="command", name=name, factory=Command(handler, arguments), plugin=plugin, description=help)
            )

        return register_command
    if kind == "suite":

        def register_suite(name, path, *, description=""):
            if not Path(path).is_file():
                raise ValueError(f"The suite '{name}' is registered with {path}, which is not a file.")
            staged.append(Entry(kind="suite", name=name, factory=Path(path), plugin=plugin, description=description))

        return register_suite

    def register(name, factory, *, defaults=None, train_defaults=None, description="", paper=""):
        if defaults is None and kind not in ("architecture", "optimizer"):  # an optimiser takes no options
            defaults = signature_defaults(factory)
        if train_defaults:  # a misspelt setting would otherwise be ignored without a word
            check_defaults(train_defaults, f"The {kind} '{name}'")
        if kind == "architecture" and not {"data_shape", "num_classes"} <= set(defaults or {}):
            raise ValueError(
                f"The architecture '{name}' is registered without data_shape and num_classes in its "
                "defaults; the training loop fills them from the data, and needs them there."
            )
        if kind == "metric" and isinstance(factory, type) and (problems := declaration_problems(factory)):
            raise ValueError(f"The metric '{name}' " + "; ".join(problems) + ".")
        staged.append(
            Entry(
                kind=kind,
                name=name,
                factory=factory,
                plugin=plugin,
                defaults=dict(defaults or {}),
                train_defaults=dict(train_defaults or {}),
                description=description,
                paper=paper,
            )
        )

    register.__doc__ = f"Register a {kind} (see ganzoo.plugin.hookspecs)."
    return register


def _register_recipe(plugin: str, staged: list[Entry]):
    def register(name, settings, *, description="", paper="", version="1"):
        check_recipe(settings, f"The recipe '{name}'")
        staged.append(
            Entry(
                kind="recipe",
                name=name,
                factory=dict,
                plugin=plugin,
                defaults=dict(settings),
                description=description,
                paper=paper,
                version=str(version),
            )
        )

    register.__doc__ = "Register a recipe (see ganzoo.plugin.hookspecs.ganzoo_register_recipes)."
    return register


def _wanted_plugins() -> list[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


_state: PluginState | None = None


def state() -> PluginState:
    """The process-wide plugin state, loaded on first use."""
    global _state
    if _state is None:
        _state = PluginState()
    return _state


def reset() -> None:
    """Forget loaded plugins, so the next call reloads (after changing GANZOO_PLUGINS)."""
    global _state
    _state = None


def registry(kind: str) -> Registry:
    return state().registries[kind]


def origin(entry) -> str:
    """Where a registered entry comes from, for error messages: "plugin 'x' (package y 1.0)"."""
    for info in state().plugins:
        if info.name == entry.plugin:
            return f"plugin '{info.name}' (package {info.package} {info.version})"
    return f"plugin '{entry.plugin}'"


def provenance(kind: str, name: str) -> dict:
    """Which plugin and package provide a registered entry: config.json and every results
    record carry this for each architecture, loss, data set, regulariser and metric used."""
    entry = registry(kind).get(name)
    info = next((p for p in state().plugins if p.name == entry.plugin), None)
    made = {
        "name": name,
        "plugin": entry.plugin,
        "package": info.package if info else "?",
        "version": info.version if info else "?",
    }
    if entry.version:  # a recipe's own version, beside its package's
        made["recipe_version"] = entry.version
    return made


def run_provenance(cfg, metrics: list[str]) -> dict:
    """The plugin and package behind each named thing a run (a TrainConfig) uses."""
    used: dict[str, dict | list[dict]] = {  # one entry per kind; a list for the kinds a run uses several of
        "architecture": provenance("architecture", cfg.arch),
        "loss": provenance("loss", cfg.loss),
        "dataset": provenance("dataset", cfg.data),
    }
    if cfg.regularizer:
        used["regularizer"] = [provenance("regularizer", name) for name in regularizer_names(cfg.regularizer)]
    if cfg.augment:
        used["augmentation"] = provenance("augmentation", cfg.augment)
    if cfg.recipe:
        used["recipe"] = provenance("recipe", cfg.recipe)
    used["metric"] = [provenance("metric", name) for name in metrics]
    return used


def check_installed(saved_config: dict, run_dir, kinds: tuple[str, ...]) -> None:
    """The entries of these kinds that a saved run used must still be registered; one that is
    not is named with the package that provided it when the run was made."""
    recorded = saved_config.get("provenance")
    recorded = recorded if isinstance(recorded, dict) else {}  # runs from before ganzoo recorded it
    for kind in kinds:
        entries = recorded.get(kind)
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, dict) or entry.get("name") in registry(kind).entries:
                continue
            package = f"{entry.get('package', '?')} {entry.get('version', '?')}"
            raise GanzooError(
                f"The run in {run_dir} used the {kind} '{entry.get('name')}' from plugin '{entry.get('plugin')}' "
                f"(package {package}), which is not installed now. Install that package (pip install "
                f"{entry.get('package')}), or leave {ENV_VAR} unset if it leaves that plugin out."
            )


def create_entry(kind: str, name: str, options: dict, *, made_right, noun: str, wrong: str, passthrough: tuple = ()):
    """The registered `kind` called `name`, built by its plugin's factory with `options`
    checked against the entry's (`passthrough`: as for `call_factory`); a result for which
    `made_right` is false is the plugin's bug: "{noun} '{name}' from {plugin} {wrong}; fix
    the plugin's factory."."""

    entry = registry(kind).get(name)
    made = call_factory(entry, passthrough=passthrough, **check_options(entry, options))
    if not made_right(made):
        raise GanzooError(f"{noun} '{name}' from {origin(entry)} {wrong}; fix the plugin's factory.")
    return made


def call_factory(entry, *args, passthrough: tuple = (), **kwargs):
    """Build an entry with its plugin's factory. A ganzoo error (an option the plugin refuses)
    and the `passthrough` exceptions pass as they are; anything else is the plugin's bug,
    reported by name, without traceback."""

    try:
        return entry.factory(*args, **kwargs)
    except (GanzooError, *passthrough):
        raise
    except Exception as exc:
        raise GanzooError(
            f"The {entry.kind} '{entry.name}' from {origin(entry)} failed to build: {type(exc).__name__}: "
            f"{exc}. This is a bug in that plugin, not in your command: report it to its authors, or use "
            "another entry (`ganzoo list`)."
        ) from None


def blame(exc: BaseException, doing: str) -> PluginError | None:
    """A PluginError naming the third-party plugin whose own code raised `exc` (the deepest
    frame of its traceback in one of the plugins' modules), with the file and line; None when
    no plugin's code is in the traceback (then it is ganzoo's, or torch's, to report)."""
    modules = {
        info.module.split(".")[0]: info
        for info in state().plugins
        if info.status == "loaded" and info.package != DISTRIBUTION
    }
    culprit, where = None, None
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_globals.get("__name__", "")
        if name.split(".")[0] in modules:
            culprit = modules[name.split(".")[0]]
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno} (in {tb.tb_frame.f_code.co_name})"
        tb = tb.tb_next
    if culprit is None:
        return None
    return plugin_bug(
        culprit.name, f"{culprit.package} {culprit.version}", exc, f"at {where}, {doing}", "train without it"
    )


def plugin_bug(plugin: str, package: str, exc: BaseException, where: str, otherwise: str) -> PluginError:
    """The one-paragraph error for a plugin's own exception; raise it `from exc` to keep the traceback."""
    return PluginError(
        f"Plugin '{plugin}' (package {package}) raised {type(exc).__name__}: {exc} {where}. This is "
        "a bug in that plugin, not in your command: its traceback is above; report it to its "
        f"authors, or {otherwise}."
    )


def has_implementations(hook: str) -> bool:
    """Whether some plugin implements a lifecycle hook (the loop calls `ganzoo_after_step`
    only then: it would run every step)."""
    return bool(getattr(state().pm.hook, hook).get_hookimpls())


def _package_of(plugin: str) -> str | None:
    """'distribution version' of a loaded plugin, or None."""
    info = next((p for p in state().plugins if p.name == plugin), None)
    return f"{info.package} {info.version}" if info else None


def lifecycle(hook: str, returns: type | None = None, **arguments) -> list:
    """Call each plugin's implementation of a run's lifecycle hook, in the order the plugins
    loaded (ganzoo's own first); returns what they returned, None left out (each of type
    `returns`, when given). A third-party plugin that raises, or returns the wrong type, stops
    the run with a PluginError naming it, its traceback kept as the cause; ganzoo's own
    built-ins' errors are ganzoo's, raised as they are."""
    results = []
    for impl in getattr(state().pm.hook, hook).get_hookimpls():  # in registration order
        try:
            result = impl.function(*[arguments[name] for name in impl.argnames])
        except (GanzooError, KeyboardInterrupt):
            raise
        except Exception as exc:
            package = _package_of(impl.plugin_name)
            if package is not None and package.startswith(f"{DISTRIBUTION} "):
                raise  # one of ganzoo's own: its bug, with its own traceback
            raise plugin_bug(impl.plugin_name, package or "?", exc, f"in its {hook} hook", "run without it") from exc
        if result is None:
            continue
        if returns is not None and not isinstance(result, returns):
            package = _package_of(impl.plugin_name) or "?"
            raise PluginError(
                f"Plugin '{impl.plugin_name}' (package {package}) returned a {type(result).__name__} from its "
                f"{hook} hook, which must return a {returns.__name__} or None. This is a bug in that plugin; "
                "report it to its authors, or run without it."
            )
        results.append(result)
    return results
