"""Batch jobs: what a plugin offers to ``portfolio-ml batch``, and how one input is run.

A plugin registers a `BatchJob` (``register_batch_jobs``): a function from (input, output
folder, plugin options) to the run's headline figures. The batch runner (`batch_ray`) plans
the inputs, skips those already done, and runs the rest as Ray tasks; each task calls
`run_one`, which writes into a staging folder and renames it into place only when the job
succeeded, so ``OUT/<stem>/`` is either complete or absent — never half-written.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from portfolio_ml_core.errors import InputFileError, PortfolioError
from portfolio_ml_core.fsutil import write_json_atomic, write_text_atomic
from portfolio_ml_core.registry import Registry

# Written last into each finished output folder: what produced it, so a re-run can tell
# whether the output is current (same input file, same options) and skip it.
DONE_MARKER = ".batch-done.json"
SUMMARY_CSV = "batch_summary.csv"
SUMMARY_JSON = "batch_summary.json"

JobFunction = Callable[[Path, Path, Sequence[str]], dict[str, Any]]
Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class BatchJob:
    """One plugin's batch job. ``name`` is what users type: ``portfolio-ml batch NAME ...``.

    ``run(input, out_dir, options)`` must write exactly what the plugin's ``run`` command
    writes into ``out_dir`` and return headline figures (small JSON values). It raises
    `PortfolioError` for a bad input. ``check_options`` rejects bad plugin options before
    any task starts. Inputs are files with one of ``suffixes`` (folders are searched for them),
    or, with ``folder_inputs``, folders (each folder is one input).
    """

    name: str
    description: str
    run: JobFunction
    suffixes: tuple[str, ...] = ()
    folder_inputs: bool = False
    check_options: Callable[[Sequence[str]], None] | None = None


class BatchJobRegistry(Registry[BatchJob]):
    kind = "batch job"


# --- jobs made of a plugin's own `run` command -------------------------------------------------

# Options the batch itself sets for every input; a plugin option may not override them.
BATCH_OWNED_OPTIONS = ("--out", "-o")


@dataclass(frozen=True)
class CommandRun:
    """A job function that runs the plugin's own ``run`` command in the task's process, so
    a batch writes exactly what ``run`` writes, by construction.

    ``app`` names the plugin's Typer app (``"portfolio_ml_footai.cli:app"``), imported only in
    the process that runs the task; ``figures`` reads the headline figures back from the
    output folder (``summary.json``).
    """

    app: str
    command_name: str
    figures: Callable[[Path], dict[str, Any]]

    def command(self) -> Any:
        import importlib

        import typer

        module, _, attr = self.app.partition(":")
        group = typer.main.get_command(getattr(importlib.import_module(module), attr))
        return group.commands[self.command_name]  # type: ignore[attr-defined]

    def __call__(self, source: Path, out_dir: Path, options: Sequence[str]) -> dict[str, Any]:
        invoke_command(self.command(), [str(source), "--out", str(out_dir), *options])
        return self.figures(out_dir)

    def check(self, options: Sequence[str]) -> None:
        """Parse the options against the command now, before any task is started."""
        owned = [o for o in options if o.split("=")[0] in BATCH_OWNED_OPTIONS]
        if owned:
            raise PortfolioError(f"{owned[0]} is set by batch (OUT/<input stem>/)")
        command = self.command()
        try:
            command.make_context(command.name, ["input", "--out", "out", *options])
        except Exception as exc:
            raise _as_portfolio_error(exc, "plugin option: ") from None


def command_job(
    name: str,
    description: str,
    app: str,
    figures: Callable[[Path], dict[str, Any]],
    suffixes: tuple[str, ...],
    command_name: str = "run",
    folder_inputs: bool = False,
) -> BatchJob:
    """A `BatchJob` that runs ``<plugin> <command> INPUT --out DIR [options]`` on each input."""
    runner = CommandRun(app, command_name, figures)
    return BatchJob(name, description, runner, suffixes, folder_inputs, check_options=runner.check)


def invoke_command(command: Any, args: Sequence[str]) -> None:
    """Run a Click/Typer command in this process as if typed: its `PortfolioError` passes
    through, a usage error becomes one, and so does a non-zero exit."""
    try:
        code = command.main(list(args), prog_name=command.name, standalone_mode=False)
    except PortfolioError:
        raise
    except Exception as exc:
        raise _as_portfolio_error(exc) from None
    if isinstance(code, int) and code != 0:
        raise PortfolioError(f"{command.name} exited with status {code}")


@dataclass(frozen=True)
class BatchItem:
    """One planned input: where it comes from and where its outputs go."""

    input: Path
    out_dir: Path

    @property
    def stem(self) -> str:
        return self.out_dir.name


@dataclass
class BatchRow:
    """The outcome of one input, as written to ``batch_summary.csv``."""

    input: str
    output: str
    status: Status
    seconds: float = 0.0
    error: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _as_portfolio_error(exc: Exception, prefix: str = "") -> Exception:
    """Click's usage errors and aborts as one-line `PortfolioError`s; anything else as is.

    Duck-typed: Typer ships its own copy of Click, whose exception classes are not click's.
    """
    if hasattr(exc, "format_message"):
        return PortfolioError(prefix + exc.format_message())
    if type(exc).__name__ == "Abort":
        return PortfolioError(prefix + "aborted")
    return exc


# --- planning ---------------------------------------------------------------------------------


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def expand_inputs(specs: Sequence[str], job: BatchJob, outputs: Path | None = None) -> list[Path]:
    """Files, folders and globs → the job's inputs, sorted, each once.

    A folder is searched (recursively) for files with the job's suffixes, unless the job takes
    folders as inputs; nothing under ``outputs`` is an input (a batch's own ``annotated.mp4``
    must not become next run's input). A name that matches nothing is an error: a typo must
    not run a batch silently smaller than the user meant.
    """
    found: list[Path] = []
    for spec in specs:
        if _is_glob(spec) and not Path(spec).exists():
            matches = [Path(m) for m in sorted(glob.glob(spec, recursive=True))]
            matches = [m for m in matches if _is_input(m, job)]
            if not matches:
                raise InputFileError(f"no {_what(job)} match {spec!r}")
            found.extend(matches)
            continue
        path = Path(spec)
        if not path.exists():
            raise InputFileError(f"input not found: {spec}")
        if path.is_dir() and not job.folder_inputs:
            inside = sorted(p for p in path.rglob("*") if _is_input(p, job))
            if not inside:
                raise InputFileError(f"no {_what(job)} in folder {spec}")
            found.extend(inside)
        elif job.folder_inputs and not path.is_dir():
            raise InputFileError(f"{spec}: batch {job.name} takes folders")
        else:
            found.append(path)  # an explicit file is run whatever its suffix: the job judges it
    unique: dict[Path, Path] = {}
    out_root = outputs.resolve() if outputs is not None else None
    for path in found:
        real = path.resolve()
        if out_root is not None and (real == out_root or out_root in real.parents):
            continue
        unique.setdefault(real, path)
    if found and not unique:
        raise InputFileError(f"every input is inside --out {outputs}")
    return sorted(unique.values(), key=lambda p: str(p))


def _is_input(path: Path, job: BatchJob) -> bool:
    if job.folder_inputs:
        return path.is_dir()
    return path.is_file() and (not job.suffixes or path.suffix.lower() in job.suffixes)


def _what(job: BatchJob) -> str:
    if job.folder_inputs:
        return "folders"
    return f"{'/'.join(job.suffixes)} files" if job.suffixes else "files"


def plan(inputs: Sequence[Path], out_root: Path) -> list[BatchItem]:
    """One output folder per input, named by its stem; two inputs may not share one."""
    items: list[BatchItem] = []
    owners: dict[str, Path] = {}
    for path in inputs:
        stem = path.stem if path.is_file() else path.name
        if stem in owners:
            raise InputFileError(
                f"{owners[stem]} and {path} would both write to {out_root / stem}: "
                "rename one or run them in separate batches"
            )
        owners[stem] = path
        # Absolute paths: a Ray worker does not share the driver's working directory.
        items.append(BatchItem(path.absolute(), out_root.absolute() / stem))
    return items


# --- resuming -----------------------------------------------------------------------------------


def input_fingerprint(path: Path) -> dict[str, Any]:
    """Cheap identity of an input: a changed (re-exported, replaced) file is run again."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        stats = [(str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
        digest = hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]
        return {"files": len(files), "sha256_of_stats": digest}
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def completed_row(item: BatchItem, job: BatchJob, options: Sequence[str]) -> BatchRow | None:
    """The stored row when ``item``'s outputs are complete and current, else None."""
    marker = item.out_dir / DONE_MARKER
    try:
        done = json.loads(marker.read_text(encoding="utf-8"))
        current = (
            done["job"] == job.name
            and done["options"] == list(options)
            and done["input"] == str(item.input.resolve())
            and done["fingerprint"] == input_fingerprint(item.input)
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not current:
        return None
    return BatchRow(
        str(item.input),
        str(item.out_dir),
        "skipped",
        float(done.get("seconds", 0.0)),
        figures=dict(done.get("figures", {})),
    )


# --- one input ------------------------------------------------------------------------------------


def run_one(job: BatchJob, item: BatchItem, options: Sequence[str]) -> BatchRow:
    """Run ``job`` on one input; never raises for a bad input (the row says what went wrong).

    The job writes into ``.<stem>.partial`` beside the final folder; only a job that
    succeeded is renamed to ``<stem>`` (replacing an older output), with its marker inside.
    """
    staging = item.out_dir.with_name(f".{item.stem}.partial")
    shutil.rmtree(staging, ignore_errors=True)  # left by a killed batch
    staging.mkdir(parents=True)
    start = time.perf_counter()
    try:
        figures = job.run(item.input, staging, options)
    except PortfolioError as exc:
        return _failed(item, staging, start, exc.message)
    except SystemExit as exc:  # a Typer/Click command that exited on its own
        if exc.code in (0, None):
            figures = {}
        else:
            return _failed(item, staging, start, f"exited with status {exc.code}")
    except Exception as exc:  # a bug in the job: still one line, and the batch goes on
        return _failed(item, staging, start, f"unexpected {type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    write_json_atomic(
        staging / DONE_MARKER,
        {
            "job": job.name,
            "input": str(item.input.resolve()),
            "fingerprint": input_fingerprint(item.input),
            "options": list(options),
            "seconds": round(seconds, 3),
            "figures": figures,
        },
    )
    _swap_into_place(staging, item.out_dir)
    return BatchRow(str(item.input), str(item.out_dir), "done", round(seconds, 3), figures=figures)


def _failed(item: BatchItem, staging: Path, start: float, message: str) -> BatchRow:
    shutil.rmtree(staging, ignore_errors=True)
    first_line = (message.strip().splitlines() or ["failed"])[0]
    return BatchRow(
        str(item.input), str(item.out_dir), "failed", round(time.perf_counter() - start, 3),
        error=first_line,
    )  # fmt: skip


def _swap_into_place(staging: Path, final: Path) -> None:
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


# --- the summary ----------------------------------------------------------------------------------


def write_summary(out_root: Path, rows: Sequence[BatchRow], meta: dict[str, Any]) -> None:
    """``batch_summary.csv`` (one row per input, headline figures as columns) and ``.json``."""
    figure_names = sorted({k for r in rows for k in r.figures})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["input", "output", "status", "seconds", "error", *figure_names])
    for r in rows:
        writer.writerow(
            [r.input, r.output, r.status, f"{r.seconds:.3f}", r.error]
            + [_cell(r.figures.get(k)) for k in figure_names]
        )
    write_text_atomic(out_root / SUMMARY_CSV, buffer.getvalue())
    counts = {s: sum(r.status == s for r in rows) for s in ("done", "skipped", "failed")}
    write_json_atomic(
        out_root / SUMMARY_JSON, {**meta, **counts, "rows": [r.to_json() for r in rows]}
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
