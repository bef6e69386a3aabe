"""``portfolio-ml bench list|all|<name>``: run registered benchmarks, table + JSON, baselines."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from portfolio_ml_core.bench import (
    ASSETS_ENV,
    BenchContext,
    BenchmarkRegistry,
    BenchResult,
    compare,
    load_report,
    run_benchmarks,
)
from portfolio_ml_core.errors import PortfolioError
from portfolio_ml_core.fsutil import write_json_atomic
from portfolio_ml_core.models import MODELS_DIR_ENV
from rich.console import Console
from rich.table import Table

from portfolio_ml_cli.plugins import PortfolioPluginManager


def _registry(manager: PortfolioPluginManager) -> BenchmarkRegistry:
    registry = BenchmarkRegistry()
    for problem in manager.call_each("register_benchmarks", registry=registry):
        typer.secho(f"warning: plugin {problem.name}: {problem.message}", fg="yellow", err=True)
    return registry


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def register(app: typer.Typer, manager: PortfolioPluginManager) -> None:
    @app.command("bench")
    def bench_command(
        target: str = typer.Argument(
            "list", help="`list`, `all`, a plugin (`squat`) or one benchmark (`core.pose_raw`)."
        ),
        quick: bool = typer.Option(False, "--quick", help="Short runs (the whole set < 5 min)."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the report here."),
        baseline: Path | None = typer.Option(
            None, "--baseline", help="Compare with a saved report; exit 1 on regression."
        ),
        tolerance: float = typer.Option(
            0.15, "--tolerance", help="Allowed relative regression against --baseline."
        ),
        assets: Path | None = typer.Option(
            None,
            "--assets",
            envvar=ASSETS_ENV,
            help="Folder with models/, videos/, datasets/ for benchmarks on real data (e.g. ../shared).",
        ),
        work_dir: Path | None = typer.Option(
            None, "--work-dir", help="Scratch folder for outputs."
        ),
    ) -> None:
        """Run benchmarks and print one table (figure, value, target, pass/miss)."""
        registry = _registry(manager)
        console = Console()
        if target == "list":
            table = Table("benchmark", "group", "description")
            for b in registry.values():
                table.add_row(b.name, b.group, b.description)
            console.print(table)
            return
        chosen = registry.select(target)
        if not chosen:
            known = sorted({b.group for b in registry.values()})
            raise PortfolioError(
                f"no benchmark {target!r} (try: all, {', '.join(known)}, or `bench list`)"
            )
        baseline_data = load_report(baseline) if baseline else None
        if assets is not None and not assets.is_dir():
            raise PortfolioError(f"--assets {assets} is not a folder")
        if assets is not None and (assets / "models").is_dir():
            # The assets folder's models/ joins model resolution (after --model and the
            # per-model variables), so benchmarks find e.g. the pose model there.
            os.environ.setdefault(MODELS_DIR_ENV, str(assets / "models"))
        context = BenchContext(quick=quick, work_dir=work_dir, assets_dir=assets)

        def progress(result: BenchResult) -> None:
            state = "[red]error[/]" if result.error else "done"
            console.print(
                f"{result.name}: {state} in {result.seconds:.1f}s"
                + (f" — {result.error}" if result.error else "")
            )

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        report = run_benchmarks(chosen, context, on_result=progress).to_json()
        table = Table(title="portfolio-ml bench")
        # Names may wrap; the figures must not be squeezed out on a narrow terminal.
        table.add_column("benchmark", overflow="fold")
        table.add_column("figure", overflow="fold")
        for column, width in (("value", 7), ("unit", 5), ("target", 8), ("result", 6)):
            table.add_column(column, min_width=width, no_wrap=True)
        for r in report["results"]:
            if r["error"]:
                table.add_row(r["name"], "-", "-", "-", "-", "[red]error[/]")
            for m in r["metrics"]:
                verdict = {True: "[green]pass[/]", False: "[red]miss[/]", None: ""}[m["passed"]]
                op = "≥" if m["higher_is_better"] else "≤"
                target_text = f"{op} {_fmt(m['target'])}" if m["target"] is not None else ""
                table.add_row(
                    r["name"], m["name"], _fmt(m["value"]), m["unit"], target_text, verdict
                )
        console.print(table)
        env = report["environment"]
        console.print(
            f"[dim]{env['cpu']} · {env['cores']} cores · Python {env['python']} · "
            f"commit {env['git_commit']}[/]"
        )
        if json_out is not None:
            write_json_atomic(json_out, report)
            console.print(f"report written to {json_out}")
        failed = [r["name"] for r in report["results"] if r["error"]]
        if baseline_data is not None:
            regressions = compare(report, baseline_data, tolerance)
            for reg in regressions:
                console.print(
                    f"[red]regression[/] {reg.benchmark} {reg.metric}: "
                    f"{reg.baseline:.4g} → {reg.current:.4g} ({reg.change:+.0%})"
                )
            if regressions:
                raise PortfolioError(
                    f"{len(regressions)} figure(s) regressed beyond {tolerance:.0%}"
                )
            console.print("no regression against the baseline")
        if failed:
            raise PortfolioError(f"benchmark(s) failed: {', '.join(failed)}")
