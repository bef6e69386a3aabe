"""Plugin discovery, validation and listing, through the real CLI."""

from __future__ import annotations

import json
import types
from importlib import metadata
from typing import ClassVar

import pytest
import typer
from portfolio_ml_cli import plugins as plugins_module
from portfolio_ml_cli.app import create_app
from portfolio_ml_cli.plugins import create_plugin_manager
from portfolio_ml_core.hookspecs import hookimpl
from typer.testing import CliRunner

runner = CliRunner()


class GreeterPlugin:
    """A minimal plugin: one command and one benchmark."""

    @hookimpl
    def register_commands(self, app: typer.Typer) -> None:
        @app.command("hello")
        def hello(name: str = "world") -> None:
            typer.echo(f"hello {name}")

    @hookimpl
    def register_benchmarks(self, registry) -> None:
        from portfolio_ml_core.bench import Benchmark, Metric

        registry.add(
            Benchmark(
                "greeter.speed",
                "greeter",
                "a fixed figure",
                lambda ctx: [Metric("speed", 10.0 if ctx.quick else 12.0, "x/s", target=5)],
            )
        )


class TypoPlugin:
    @hookimpl
    def register_command(self, app: typer.Typer) -> None:  # typo: no such hook spec
        raise AssertionError("must never be called")


def fresh_manager():
    return create_plugin_manager(load_entry_points=False)


def test_registered_plugin_adds_command_and_is_listed():
    manager = fresh_manager()
    assert manager.register(GreeterPlugin(), "greeter", version="1.2.3")
    app = create_app(manager)
    result = runner.invoke(app, ["hello", "--name", "pluggy"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "hello pluggy"

    listed = runner.invoke(app, ["plugins", "--json"])
    data = json.loads(listed.output)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["greeter"]["version"] == "1.2.3"
    assert by_name["greeter"]["hooks"] == ["register_benchmarks", "register_commands"]
    assert "core" in by_name


def test_unknown_hook_is_rejected_with_one_line():
    manager = fresh_manager()
    assert not manager.register(TypoPlugin(), "typo")
    assert [p.name for p in manager.problems] == ["typo"]
    assert "register_command" in manager.problems[0].message
    app = create_app(manager)
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0
    assert "typo" in result.output and "unknown hook" in result.output


def test_broken_entry_point_is_a_warning_and_the_rest_works(monkeypatch):
    good = types.ModuleType("good_plugin")
    good.register_commands = GreeterPlugin.register_commands.__get__(GreeterPlugin())  # type: ignore[attr-defined]

    class FakeEntryPoint:
        def __init__(self, name, loader):
            self.name, self._loader, self.dist = name, loader, None

        def load(self):
            return self._loader()

    def broken():
        raise ImportError("No module named 'missing_dependency'")

    eps = [FakeEntryPoint("broken", broken), FakeEntryPoint("greeter", lambda: GreeterPlugin())]
    monkeypatch.setattr(
        plugins_module.importlib.metadata,
        "entry_points",
        lambda group: eps if group == "portfolio_ml" else [],
    )
    manager = create_plugin_manager()
    app = create_app(manager)
    result = runner.invoke(app, ["hello"])
    assert result.exit_code == 0
    assert "hello world" in result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: plugin broken: failed to load: ImportError: No module named 'missing_dependency'"
    ]


def test_installed_demo_plugins_are_discovered():
    names = {ep.name for ep in metadata.entry_points(group="portfolio_ml")}
    assert {"squat", "footai", "cifar"} <= names
    manager = create_plugin_manager()
    loaded = {p.name for p in manager.plugins()}
    assert {"core", "squat", "footai", "cifar"} <= loaded, manager.problems


@pytest.mark.parametrize("sub", ["squat", "footai", "cifar"])
def test_demo_sub_apps_are_registered(sub):
    result = runner.invoke(create_app(), [sub, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_version():
    result = runner.invoke(create_app(fresh_manager()), ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("portfolio-ml ")


def test_bench_runs_plugin_benchmark_and_compares_with_baseline(tmp_path):
    manager = fresh_manager()
    manager.register(GreeterPlugin(), "greeter")
    app = create_app(manager)
    listed = runner.invoke(app, ["bench", "list"])
    assert "greeter.speed" in listed.output and "core.pose_raw" in listed.output

    report = tmp_path / "full.json"
    result = runner.invoke(app, ["bench", "greeter", "--json", str(report)])
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert data["results"][0]["metrics"][0]["value"] == 12.0
    assert data["results"][0]["metrics"][0]["passed"] is True
    assert data["environment"]["cores"] >= 1

    # Against itself: no regression. Quick mode gives 10 < 12 * (1 - 0.1): a regression.
    same = runner.invoke(app, ["bench", "greeter", "--baseline", str(report)])
    assert same.exit_code == 0, same.output
    worse = runner.invoke(
        app, ["bench", "greeter", "--quick", "--baseline", str(report), "--tolerance", "0.1"]
    )
    assert worse.exit_code == 1
    assert "regress" in worse.output


def test_bench_unknown_name_and_bad_baseline(tmp_path):
    app = create_app(fresh_manager())
    result = runner.invoke(app, ["bench", "nope"])
    assert result.exit_code == 1
    assert "no benchmark 'nope'" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["bench", "core", "--baseline", str(bad)])
    assert result.exit_code == 1
    assert "not valid JSON" in result.output
    assert "Traceback" not in result.output


class FailingHooksPlugin:
    @hookimpl
    def register_benchmarks(self, registry) -> None:
        raise ImportError("No module named 'plugin_bench_module'")

    @hookimpl
    def register_commands(self, app: typer.Typer) -> None:
        raise RuntimeError("cannot build commands")


def test_plugin_failing_inside_a_hook_does_not_break_the_cli():
    manager = fresh_manager()
    manager.register(FailingHooksPlugin(), "flaky")
    manager.register(GreeterPlugin(), "greeter")
    app = create_app(manager)
    result = runner.invoke(app, ["bench", "list"])
    assert result.exit_code == 0, result.output
    assert "greeter.speed" in result.output
    assert "warning: plugin flaky: register_benchmarks failed: ImportError" in result.output
    assert "warning: plugin flaky: register_commands failed: RuntimeError" in result.output
    assert result.output.count("register_commands failed") == 1  # reported once, not twice
    assert runner.invoke(app, ["hello"]).exit_code == 0


class WrappingPlugin:
    """A hook wrapper sees every call: only true when hooks go through pluggy's caller."""

    calls: ClassVar[list[str]] = []

    @hookimpl(wrapper=True)
    def register_benchmarks(self, registry):
        WrappingPlugin.calls.append("wrapped")
        return (yield)


def test_hooks_are_called_through_pluggy_with_wrappers():
    WrappingPlugin.calls.clear()
    manager = fresh_manager()
    manager.register(WrappingPlugin(), "wrapper")
    manager.register(GreeterPlugin(), "greeter")
    result = runner.invoke(create_app(manager), ["bench", "list"])
    assert result.exit_code == 0, result.output
    assert "greeter.speed" in result.output
    # The wrapper ran around each plain implementation (core's and the greeter's at least).
    assert len(WrappingPlugin.calls) >= 2


def test_bench_table_keeps_values_on_a_narrow_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    manager = fresh_manager()
    manager.register(GreeterPlugin(), "greeter")
    result = runner.invoke(create_app(manager), ["bench", "greeter"])
    assert result.exit_code == 0, result.output
    assert "12" in result.output and "pass" in result.output


class ModelPlugin:
    @hookimpl
    def register_models(self, registry) -> None:
        from portfolio_ml_core.models import ModelSpec

        registry.add(ModelSpec("greeter-model", "greeter.bin", "", "GREETER_MODEL", "test", 1, 100))


def test_registered_models_feed_resolve_model(tmp_path, monkeypatch):
    from portfolio_ml_core.models import resolve_model, use_registry

    model = tmp_path / "greeter.bin"
    model.write_bytes(b"x" * 10)
    monkeypatch.setenv("GREETER_MODEL", str(model))
    manager = fresh_manager()
    manager.register(ModelPlugin(), "modeller")
    try:
        create_app(manager)
        # No registry passed: the one the CLI built from register_models is used.
        assert resolve_model("greeter-model") == model
        listed = runner.invoke(create_app(manager), ["models", "list"])
        assert "greeter-model" in listed.output and "pose_landmarker_full" in listed.output
    finally:
        use_registry(create_plugin_manager().model_registry())


def _fake_detector(model=None, **_):
    return lambda image: None


class DetectorPlugin:
    @hookimpl
    def register_detectors(self, registry) -> None:
        from portfolio_ml_core.detectors import DetectorSpec

        registry.add(DetectorSpec("greeter-det", "football", "a test detector", _fake_detector))


class DuplicateDetectorPlugin:
    @hookimpl
    def register_detectors(self, registry) -> None:
        from portfolio_ml_core.detectors import DetectorSpec

        registry.add(DetectorSpec("greeter-det", "football", "the same name again", _fake_detector))


class DetectorTypoPlugin:
    @hookimpl
    def register_detector(self, registry) -> None:  # typo: the hook is register_detectors
        raise AssertionError("must never be called")


@pytest.fixture
def no_active_detectors(monkeypatch):
    # create_app sets the process-wide detector registry; keep this test's one from leaking
    # into later tests (footai resolves --detector through it).
    from portfolio_ml_core import detectors

    monkeypatch.setattr(detectors, "_ACTIVE", [])


def test_registered_detectors_feed_the_active_registry(no_active_detectors):
    from portfolio_ml_core.detectors import active_detector_registry

    manager = fresh_manager()
    assert manager.register(DetectorPlugin(), "detectors")
    registry = manager.detector_registry()
    assert "greeter-det" in registry
    assert [s.name for s in registry.for_task("football")] == ["greeter-det"]
    assert manager.problems == []

    assert active_detector_registry() is None  # library use: nothing set until the CLI runs
    app = create_app(manager)
    active = active_detector_registry()
    assert active is not None
    assert active.get("greeter-det").summary == "a test detector"
    assert active.get("greeter-det").create() is not None

    listed = runner.invoke(app, ["plugins", "--json"])
    by_name = {p["name"]: p for p in json.loads(listed.output)["plugins"]}
    assert by_name["detectors"]["hooks"] == ["register_detectors"]


def test_duplicate_detector_name_is_a_plugin_problem(no_active_detectors):
    from portfolio_ml_core.detectors import active_detector_registry

    manager = fresh_manager()
    manager.register(DetectorPlugin(), "first")
    manager.register(DuplicateDetectorPlugin(), "second")
    app = create_app(manager)
    # The first registration stands; the second plugin's failure is recorded, not raised.
    active = active_detector_registry()
    assert active is not None
    assert active.get("greeter-det").summary == "a test detector"
    assert [(p.name, p.message) for p in manager.problems] == [
        (
            "second",
            "register_detectors failed: ValueError: detector 'greeter-det' is registered twice",
        )
    ]
    manager.detector_registry()  # asked again (footai does): still reported once
    assert len(manager.problems) == 1

    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    assert result.output.count("warning: plugin second: register_detectors failed") == 1


def test_misspelt_detector_hook_is_rejected(no_active_detectors):
    manager = fresh_manager()
    assert not manager.register(DetectorTypoPlugin(), "typo")
    assert [p.name for p in manager.problems] == ["typo"]
    assert "unknown hook(s): register_detector" in manager.problems[0].message
    assert "typo" not in {p.name for p in manager.plugins()}
    assert len(manager.detector_registry()) == 0
    result = runner.invoke(create_app(manager), ["plugins"])
    assert result.exit_code == 0
    assert "typo" in result.output and "unknown hook" in result.output
