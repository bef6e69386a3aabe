"""``portfolio-ml batch PLUGIN INPUTS... --out DIR [-- plugin options]``: many inputs on Ray."""

from __future__ import annotations

import platform
from pathlib import Path

import typer
from portfolio_ml_core.batch import (
    SUMMARY_CSV,
    BatchJobRegistry,
    BatchRow,
    expand_inputs,
    plan,
    write_summary,
)
from portfolio_ml_core.errors import PortfolioError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperCommand

from portfolio_ml_cli.plugins import PortfolioPluginManager

PLUGIN_OPTIONS = "plugin_options"


class _SplitAtDoubleDash(TyperCommand):
    """Everything after ``--`` is the plugin's own options, not more INPUTS."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if "--" in args:
            cut = args.index("--")
            ctx.meta[PLUGIN_OPTIONS] = args[cut + 1 :]
            args = args[:cut]
        return super().parse_args(ctx, args)


def job_registry(manager: PortfolioPluginManager) -> BatchJobRegistry:
    registry = BatchJobRegistry()
    for problem in manager.call_each("register_batch_jobs", registry=registry):
        typer.secho(f"warning: plugin {problem.name}: {problem.message}", fg="yellow", err=True)
    return registry


def _status(row: BatchRow) -> str:
    return {"done": "[green]✔ done", "skipped": "[cyan]↷ skipped", "failed": "[red]✘ failed"}[
        row.status
    ]


def _figures(row: BatchRow) -> str:
    return " · ".join(f"{k} {v}" for k, v in row.figures.items())


def register(app: typer.Typer, manager: PortfolioPluginManager) -> None:
    @app.command("batch", cls=_SplitAtDoubleDash)
    def batch_command(
        ctx: typer.Context,
        plugin: str = typer.Argument(..., help="Whose job to run: footai, squat, …"),
        inputs: list[str] = typer.Argument(..., help="Files, folders or globs ('clips/*.mp4')."),
        out: Path = typer.Option(..., "--out", "-o", help="Outputs go to OUT/<input stem>/."),
        address: str | None = typer.Option(
            None,
            "--address",
            help="Join a running Ray cluster (auto, or ray://HOST:10001); default: start a "
            "local one on this machine.",
        ),
        cpus_per_task: float = typer.Option(
            1.0, "--cpus-per-task", min=0.1, help="CPUs Ray reserves for each input."
        ),
    ) -> None:
        """Run a plugin's job on many inputs as Ray tasks; re-runs skip what is done.

        Options after `--` go to the plugin (`batch footai clips/ --out runs -- --no-video`).
        Writes OUT/batch_summary.csv and .json; exits 1 if any input failed.
        """
        from portfolio_ml_core.batch_ray import ClusterOptions, run_batch

        options = list(ctx.meta.get(PLUGIN_OPTIONS, []))
        jobs = job_registry(manager)
        plugins = sorted(info.name for info in manager.plugins())
        if plugin not in plugins:
            raise PortfolioError(f"no plugin {plugin!r} (installed: {', '.join(plugins)})")
        if plugin not in jobs:
            offered = ", ".join(sorted(jobs.items)) or "none"
            raise PortfolioError(
                f"plugin {plugin!r} registers no batch job (batch jobs: {offered})"
            )
        job = jobs.get(plugin)
        if job.check_options is not None:
            job.check_options(options)
        if out.exists() and not out.is_dir():
            raise PortfolioError(f"--out {out} is a file, not a folder")
        items = plan(expand_inputs(inputs, job, outputs=out), out)
        out.mkdir(parents=True, exist_ok=True)

        console = Console()
        rows: list[BatchRow] = []
        with Progress(
            TextColumn(f"[bold]batch {plugin}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("batch", total=len(items), state="")

            def on_cluster(startup: float, cpus: float) -> None:
                where = address or "local"
                progress.update(
                    task, state=f"Ray {where}: {cpus:g} CPUs ({startup:.1f} s to start)"
                )

            def on_row(row: BatchRow) -> None:
                rows.append(row)
                detail = row.error if row.status == "failed" else _figures(row)
                progress.console.print(
                    f"{_status(row)}[/] {Path(row.input).name}  {row.seconds:.1f} s  {detail}"
                )
                progress.advance(task)

            try:
                report = run_batch(
                    job,
                    items,
                    options,
                    ClusterOptions(address, cpus_per_task),
                    on_row=on_row,
                    on_cluster=on_cluster,
                )
            except KeyboardInterrupt:
                progress.stop()
                typer.secho(
                    f"interrupted: {len(rows)} of {len(items)} inputs finished; run the same "
                    "command again to resume",
                    fg="yellow",
                    err=True,
                )
                raise typer.Exit(130) from None

        write_summary(
            out,
            report.rows,
            {
                "job": job.name,
                "options": options,
                "address": address or "local",
                "cpus_per_task": cpus_per_task,
                "cluster_cpus": report.cluster_cpus,
                "ray_startup_seconds": report.ray_startup_seconds,
                "wall_seconds": round(report.wall_seconds, 3),
                "host": platform.node(),
            },
        )
        table = Table(title=f"batch {plugin} · {len(items)} inputs · {report.wall_seconds:.1f} s")
        for column in ("input", "status", "seconds", "result"):
            table.add_column(column, justify="right" if column == "seconds" else "left")
        for row in report.rows:
            table.add_row(
                Path(row.input).name,
                _status(row),
                f"{row.seconds:.1f}",
                row.error if row.status == "failed" else _figures(row),
            )
        console.print(table)
        console.print(f"summary → {out / SUMMARY_CSV}")
        if report.failed:
            typer.secho(
                f"Error: {len(report.failed)} of {len(items)} inputs failed", fg="red", err=True
            )
            raise typer.Exit(1)
