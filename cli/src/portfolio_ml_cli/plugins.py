"""The plugin manager: load plugins from entry points, validate them, describe them.

A plugin that fails to import, or that implements a hook no spec defines, is left out and
reported as one warning line; the rest of the command keeps working.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from typing import Any

import pluggy
from portfolio_ml_core import distribution_version, hookspecs
from portfolio_ml_core.detectors import DetectorRegistry
from portfolio_ml_core.models import ModelRegistry

BUILTIN_PLUGIN = "core"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str | None
    hooks: tuple[str, ...]
    distribution: str | None = None


@dataclass(frozen=True)
class PluginProblem:
    name: str
    message: str


@dataclass
class PortfolioPluginManager:
    """A pluggy manager plus what went wrong while loading plugins."""

    pm: pluggy.PluginManager
    problems: list[PluginProblem] = field(default_factory=list)
    _versions: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def register(
        self, plugin: object, name: str, version: str | None = None, distribution: str | None = None
    ) -> bool:
        """Register ``plugin`` if its hooks all match a spec; otherwise record a problem."""
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self.problems.append(PluginProblem(name, _one_line(exc)))
            return False
        unknown = [
            impl.function.__name__
            for caller in self.pm.get_hookcallers(plugin) or []
            if caller.spec is None
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin
        ]
        if unknown:
            # As tox's check_pending(): a hook that matches no spec is a bug (a typo, or a
            # plugin written for another version), not something to ignore silently.
            self.pm.unregister(plugin)
            self.problems.append(
                PluginProblem(name, f"implements unknown hook(s): {', '.join(sorted(unknown))}")
            )
            return False
        self._versions[name] = (version, distribution)
        return True

    def load_entry_points(self) -> None:
        for ep in importlib.metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            if self.pm.has_plugin(ep.name):
                continue
            dist = ep.dist
            try:
                plugin = ep.load()
            except Exception as exc:  # any import failure: report it, keep the others
                self.problems.append(PluginProblem(ep.name, f"failed to load: {_one_line(exc)}"))
                continue
            self.register(
                plugin,
                ep.name,
                version=dist.version if dist else None,
                distribution=dist.name if dist else None,
            )

    def call_each(self, hook_name: str, **kwargs: Any) -> list[PluginProblem]:
        """Call one hook on every plugin separately, so that one plugin's failure (an import
        inside its hook, a duplicate name) becomes a recorded problem, not a dead command.

        Returns the problems of this call (each also kept once in ``problems``)."""
        caller = getattr(self.pm.hook, hook_name)
        # Through pluggy's own caller (argument subsetting, hook wrappers), one plain
        # implementation at a time; wrappers stay in every call, so they wrap each of them.
        # In registration order (core first, then entry points; pluggy's own calls run last
        # registered first), so on a duplicate name the plugin that came later is the one blamed.
        order = {id(p): n for n, (_, p) in enumerate(self.pm.list_name_plugin())}
        plain = [i.plugin for i in caller.get_hookimpls() if not (i.hookwrapper or i.wrapper)]
        plugins = sorted(plain, key=lambda p: order.get(id(p), len(order)))
        found = []
        for plugin in plugins:
            alone = self.pm.subset_hook_caller(
                hook_name, remove_plugins=[p for p in plugins if p is not plugin]
            )
            try:
                alone(**kwargs)
            except Exception as exc:
                name = self.pm.get_name(plugin) or "?"
                problem = PluginProblem(name, f"{hook_name} failed: {_one_line(exc)}")
                found.append(problem)
                if problem not in self.problems:
                    self.problems.append(problem)
        return found

    def model_registry(self) -> ModelRegistry:
        """Every model file the plugins declare (``register_models``)."""
        registry = ModelRegistry()
        self.call_each("register_models", registry=registry)
        return registry

    def detector_registry(self) -> DetectorRegistry:
        """Every detector the plugins offer (``register_detectors``)."""
        registry = DetectorRegistry()
        self.call_each("register_detectors", registry=registry)
        return registry

    def plugins(self) -> list[PluginInfo]:
        infos = []
        for name, plugin in sorted(self.pm.list_name_plugin()):
            version, dist = self._versions.get(name, (None, None))
            hooks = tuple(sorted(c.name for c in self.pm.get_hookcallers(plugin) or []))
            infos.append(PluginInfo(name, version, hooks, dist))
        return infos


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def create_plugin_manager(*, load_entry_points: bool = True) -> PortfolioPluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    manager = PortfolioPluginManager(pm)
    from portfolio_ml_core import plugin as core_plugin

    manager.register(
        core_plugin,
        BUILTIN_PLUGIN,
        version=distribution_version("portfolio-ml-core"),
        distribution="portfolio-ml-core",
    )
    if load_entry_points:
        manager.load_entry_points()
    return manager
