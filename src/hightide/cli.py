"""The command line: ``hightide run | validate | scenarios | params``. Thin over :mod:`hightide.api`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hightide.errors import HightideError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="hightide: China's agricultural collectivisation, 1952-1966, as an agent-based model.")
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)


def _fail(exc: Exception) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


LOG_INTERVAL_SECONDS = 30.0


class _LineProgress:
    """Progress for a log file (stderr not a terminal): one plain line at most every
    ``LOG_INTERVAL_SECONDS`` (none for work shorter than that), and a last one when the work ends
    if any was written, so a run left for hours under ``nohup`` shows how far it is."""

    def __init__(self, label: str, unit: str):
        self.label, self.unit = label, unit
        self.start = time.monotonic()
        self.last = self.start
        self.written = False

    def update(self, done: int, total: int, note: str = "") -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if now - self.last < LOG_INTERVAL_SECONDS and not (finished and self.written):
            return
        self.last, self.written = now, True
        elapsed = now - self.start
        left = ""
        if total and 0 < done < total:
            left = f", about {_clock(elapsed * (total - done) / done)} left"
        extra = f", {note}" if note else ""
        sys.stderr.write(f"{self.label}: {done}/{total} {self.unit}{extra}, {_clock(elapsed)} elapsed{left}\n")
        sys.stderr.flush()


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _progress(quiet: bool):
    """A rich progress bar on a terminal; plain lines in a log; nothing when quiet."""
    if quiet:
        return None, None
    if not sys.stderr.isatty():
        lines = _LineProgress("simulating", "months")
        return None, lines.update
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} months"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True)
    task = progress.add_task("simulating", total=None)

    def on_month(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return progress, on_month


def _interrupted(exc: KeyboardInterrupt) -> None:
    message = getattr(exc, "message", None) or "interrupted"
    err_console.print(f"[bold yellow]interrupted:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=130)


def _do_run(scenario, scale: Optional[float], seed: Optional[int], out: Optional[Path], force: bool,
            quiet: bool, check: bool, checkpoint_every: Optional[int] = None, resume: Optional[Path] = None,
            resource_check: bool = True, report: bool = True, keep_checkpoints: Optional[str] = None,
            branch_from: Optional[Path] = None, at: Optional[str] = None, shards: int | None = None,
            scheduler: str | None = None):
    from hightide import api

    progress, on_month = _progress(quiet)
    kwargs = dict(check=check, checkpoint_every=checkpoint_every, resource_check=resource_check, report=report)
    if shards is not None:
        kwargs.update(shards=shards, scheduler=scheduler)
    try:
        if resume is not None:
            call = lambda **kw: api.resume(resume, **kw, **kwargs)  # noqa: E731
        elif branch_from is not None:
            from hightide.experiments.branching import branch

            call = lambda **kw: branch(scenario, branch_from, at, out=out, force=force, check=check,  # noqa: E731
                                       checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints,
                                       seed=seed, scale=scale, **kw)
        else:
            call = lambda **kw: api.run(scenario, scale=scale, seed=seed, out=out, force=force,  # noqa: E731
                                        keep_checkpoints=keep_checkpoints, **kw, **kwargs)
        if progress:
            with progress:
                return call(on_month=on_month)
        return call(on_month=on_month) if on_month else call()
    except HightideError as exc:
        _fail(exc)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except OSError as exc:  # disk full, permissions: the manifest already says failed (and how to resume)
        text = "; ".join([str(exc)] + list(getattr(exc, "__notes__", [])))
        err_console.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    except MemoryError as exc:
        err_console.print(f"[bold red]error:[/] out of memory{': ' + escape(str(exc)) if str(exc) else ''}; "
                          "try a smaller --scale", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)


@app.command()
def run(
    scenario: Optional[str] = typer.Argument(None, help="Bundled scenario name or path to a scenario .toml file (default: historical)."),
    scale: Optional[float] = typer.Option(None, "--scale", help="Share of townships simulated (default: the scenario's, 0.001)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Run seed (default: the scenario's, 0)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default: runs/SCENARIO-scaleS-seedN)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    check: bool = typer.Option(False, "--check", help="Verify conservation and state invariants after every month."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
    checkpoint_every: Optional[int] = typer.Option(
        None, "--checkpoint-every", metavar="MONTHS", min=0,
        help="Save a checkpoint in OUT/checkpoint every MONTHS simulated months (default 12; 0 = never)."),
    resume: Optional[Path] = typer.Option(
        None, "--resume", metavar="DIR",
        help="Continue the stopped run in DIR from its last checkpoint (scenario, scale and seed from its manifest)."),
    no_resource_check: bool = typer.Option(
        False, "--no-resource-check", help="Skip the memory and disk estimate made before the run starts."),
    no_report: bool = typer.Option(False, "--no-report", help="Do not write OUT/report.html (`hightide report OUT` "
                                   "writes it later)."),
    params: Optional[Path] = typer.Option(
        None, "--params", metavar="FILE", help="Parameter file ([parameters] TOML, e.g. from `hightide calibrate`)."),
    keep_checkpoints: Optional[str] = typer.Option(
        None, "--keep-checkpoints", metavar="MONTHS",
        help="Keep the state at the start of these months ('1958-07,1960-01' or 'yearly') in OUT/checkpoints/, "
             "to branch counterfactuals from."),
    branch_from: Optional[Path] = typer.Option(
        None, "--branch-from", metavar="RUN_DIR",
        help="Start from the checkpoint RUN_DIR kept at --at instead of re-running the shared past."),
    at: Optional[str] = typer.Option(None, "--at", metavar="YYYY-MM", help="Branch date (with --branch-from)."),
    shards: int | None = typer.Option(
        None, "--shards", metavar="N", min=1,
        help="Run the provinces in N shards on Dask workers, the centre exchanging national aggregates every "
             "month (same output as one process; pays off on large runs)."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", metavar="ADDRESS", help="Dask scheduler for --shards (default: a local cluster)."),
) -> None:
    """Run a scenario and write its tables and manifest (or continue a stopped run with --resume DIR)."""
    from hightide import api
    from hightide.scenarios import load_scenario

    try:
        if (branch_from is None) != (at is None):
            _fail(HightideError("--branch-from RUN_DIR and --at YYYY-MM go together"))
        if resume is not None:
            given = [name for name, value in (("SCENARIO", scenario), ("--scale", scale), ("--seed", seed),
                                              ("--out", out), ("--params", params), ("--branch-from", branch_from),
                                              ("--keep-checkpoints", keep_checkpoints))
                     if value is not None] + (["--force"] if force else [])
            if given:
                _fail(HightideError(f"--resume continues the run in {resume} with the scenario, scale and seed its "
                                    f"manifest records; do not also give {', '.join(given)}"))
            out = resume
        else:
            try:
                sc = load_scenario(scenario or "historical")
            except HightideError as exc:
                _fail(exc)
            eff_scale = sc.scenario.scale if scale is None else scale
            eff_seed = sc.scenario.seed if seed is None else seed
            if params is not None or branch_from is not None:
                from hightide.experiments.scenario_tools import prepare, read_params_file

                try:
                    sc = prepare(sc, parameters=read_params_file(params) if params is not None else None)
                except HightideError as exc:
                    _fail(exc)
            if branch_from is not None:
                from hightide.experiments.branching import default_out as branch_out
                from hightide.results import store

                try:
                    src = store.read_manifest(branch_from)
                except HightideError as exc:
                    _fail(exc)
                out = out or branch_out(sc.name, at, float(src.get("scale", eff_scale)), int(src.get("seed", eff_seed)))
            else:
                out = out or api.default_out(scenario, eff_scale, eff_seed)
            if params is not None or branch_from is not None:
                scenario = sc
        if branch_from is not None and shards not in (None, 1):
            _fail(HightideError("--shards does not combine with --branch-from (branch on one process)"))
        if scheduler is not None and shards in (None, 1):
            _fail(HightideError("--scheduler goes with --shards N (N >= 2)"))
        res = _do_run(scenario, scale, seed, out, force, quiet, check, checkpoint_every, resume,
                      not no_resource_check, not no_report, keep_checkpoints, branch_from, at,
                      shards=shards, scheduler=scheduler)
    except KeyboardInterrupt as exc:  # before or after the run proper
        _interrupted(exc)
    if not quiet:
        m = res.manifest
        console.print(f"[green]complete[/] {m['scenario']} scale {m['scale']:g} seed {m['seed']}: "
                      f"{m['households_simulated']:,} households x {m['months']} months in "
                      f"{m['simulation_seconds']:.1f} s (wall {m['wall_seconds']:.1f} s) -> {out}")
        _summary(res.national_annual)
        if (out / "report.html").is_file() and not no_report:
            console.print(f"report: {out / 'report.html'}", highlight=False, soft_wrap=True)


def _summary(df) -> None:
    table = Table(title="national, year end")
    df = df.assign(share_apc_pct=df["share_elementary_apc_pct"] + df["share_advanced_apc_pct"])
    cols = {"year": "year", "population_m": "population M", "grain_output_mt": "grain Mt",
            "grain_output_reported_mt": "reported Mt", "procurement_mt": "procurement Mt",
            "death_rate_permille": "deaths ‰", "share_mutual_aid_pct": "teams %", "share_apc_pct": "APCs %",
            "share_commune_pct": "communes %"}
    for label in cols.values():
        table.add_column(label, justify="right")
    for _, r in df.iterrows():
        table.add_row(*[f"{int(r[c])}" if c == "year" else f"{r[c]:.1f}" for c in cols])
    console.print(table)


@app.command()
def validate(
    out: Optional[Path] = typer.Option(None, "--out", help="A finished run to read; without it the historical scenario is run (into this directory if given)."),
    scale: Optional[float] = typer.Option(None, "--scale"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    ensemble_dir: Optional[Path] = typer.Option(
        None, "--ensemble", metavar="DIR",
        help="Validate a finished ensemble of the historical scenario (`hightide ensemble`) instead of one run: "
             "per-year targets on the median across members, and the famine checks.", show_default=False),
    counterfactual: Optional[list[Path]] = typer.Option(
        None, "--counterfactual", metavar="DIR",
        help="With --ensemble: a counterfactual ensemble whose excess deaths should be lower (repeatable).",
        show_default=False),
) -> None:
    """Compare the historical run with the record; print the table and write validation.csv.

    With --ensemble DIR: the targets on the ensemble (median, 5-95% band, share of members that
    pass) and the famine checks (grain, procurement, deaths, excess deaths, births, provinces,
    counterfactuals), written to DIR/validation_ensemble.csv and DIR/famine_checks.csv."""
    from hightide import api
    from hightide.results import store
    from hightide.results.validation import validate as do_validate

    if ensemble_dir is not None or counterfactual:
        if ensemble_dir is None:
            _fail(HightideError("--counterfactual needs --ensemble DIR (the historical ensemble to compare with)"))
        if out is not None or scale is not None or seed is not None:
            _fail(HightideError("--ensemble reads a finished ensemble: --out, --scale and --seed do not apply"))
        _validate_ensemble(ensemble_dir, counterfactual or [])
        return
    try:
        if out is not None and (out / store.MANIFEST).exists():
            res = api.Results.load(out)
        else:
            out = out or api.default_out("historical", scale or 0.001, seed or 0)
            if out.exists() and (out / store.MANIFEST).exists():
                res = api.Results.load(out)
            else:
                res = _do_run("historical", scale, seed, out, False, quiet, False)
        table = do_validate(res.national_annual, res.national_monthly)
        store.atomic_write(out / "validation.csv", lambda tmp: table.to_csv(tmp, index=False))
    except HightideError as exc:
        _fail(exc)
    t = Table(title=f"model vs record ({res.manifest['scenario']}, scale {res.manifest['scale']:g}, seed {res.manifest['seed']})")
    for c in ("target", "when", "model", "record", "error", "tolerance", "pass", "window", "issue"):
        t.add_column(c, justify="right" if c in ("model", "record", "error") else "left")
    for _, r in table.iterrows():
        t.add_row(r["target"], r["when"], f"{r['model']:.2f}", f"{r['record']:.2f}", r["error"], r["tolerance"],
                  "[green]pass[/]" if r["pass"] else "[red]FAIL[/]", r["window"], r["issue"])
    console.print(t)
    console.print(f"{int(table['pass'].sum())} of {len(table)} checks pass; written {out / 'validation.csv'}")


def _validate_ensemble(ensemble_dir: Path, counterfactuals: list[Path]) -> None:
    from hightide.report import write_report
    from hightide.report.data import BANDS
    from hightide.results import store
    from hightide.results.ensemble_validation import (
        CHECKS_FILE,
        TARGETS_FILE,
        EnsembleRuns,
        famine_checks,
        per_year_table,
    )

    report = None
    try:
        runs = EnsembleRuns.load(ensemble_dir)
        others = tuple(EnsembleRuns.load(d) for d in counterfactuals)
        targets = per_year_table(runs)
        checks = famine_checks(runs, others)
        store.atomic_write(ensemble_dir / TARGETS_FILE, lambda tmp: targets.to_csv(tmp, index=False))
        store.atomic_write(ensemble_dir / CHECKS_FILE, lambda tmp: checks.to_csv(tmp, index=False))
        if (ensemble_dir / f"{BANDS}.parquet").is_file():  # the ensemble's report, now with both tables
            report = write_report(ensemble_dir)
    except HightideError as exc:
        _fail(exc)
    t = Table(title=f"ensemble vs record ({runs.name}, {runs.n} members): median [5-95%], share of members passing")
    for c in ("target", "when", "median", "5-95%", "record", "error", "tolerance", "pass", "members", "window"):
        t.add_column(c, justify="right" if c in ("median", "record", "error", "members") else "left")
    for _, r in targets.iterrows():
        t.add_row(r["target"], r["when"], f"{r['model_q50']:.2f}", f"{r['model_q05']:.2f}-{r['model_q95']:.2f}",
                  f"{r['record']:.2f}", r["error"], r["tolerance"], "[green]pass[/]" if r["pass"] else "[red]FAIL[/]",
                  f"{r['members_pass']:.0%}", r["window"])
    console.print(t)
    f = Table(title="famine checks (the State and grain-economy issue)")
    for c in ("check", "requirement", "result", "pass"):
        f.add_column(c, overflow="fold")
    for _, r in checks.iterrows():
        f.add_row(r["check"], r["requirement"], escape(r["result"]), "[green]pass[/]" if r["pass"] else "[red]FAIL[/]")
    console.print(f)
    console.print(f"targets: {int(targets['pass'].sum())} of {len(targets)} pass; famine checks: "
                  f"{int(checks['pass'].sum())} of {len(checks)} pass; written {ensemble_dir / TARGETS_FILE} "
                  f"and {ensemble_dir / CHECKS_FILE}" + (f"; report: {report}" if report is not None else ""))


@app.command()
def scenarios() -> None:
    """List the bundled scenarios."""
    from hightide.scenarios import bundled_scenarios

    t = Table(title="bundled scenarios")
    t.add_column("name")
    t.add_column("description")
    for name, desc in bundled_scenarios().items():
        t.add_row(name, desc)
    console.print(t)


@app.command()
def params(group: Optional[str] = typer.Option(None, "--group", help="Only this group (world, production, ...)."),
           calibrated: bool = typer.Option(False, "--calibrated", help="Only calibrated parameters.")) -> None:
    """Print the parameter registry: default, range, unit, source."""
    from hightide.params import load_registry

    t = Table(title="parameter registry", show_lines=False)
    for c in ("name", "group", "default", "range", "unit", "cal.", "source"):
        t.add_column(c, overflow="fold")
    for p in load_registry().values():
        if (group and p.group != group) or (calibrated and not p.calibrated):
            continue
        t.add_row(p.name, p.group, f"{p.default:g}", f"{p.range[0]:g}..{p.range[1]:g}", p.unit,
                  "yes" if p.calibrated else "", p.source)
    console.print(t)


# ===================================================================================================
# Reports and interfaces (issue 8): report, plot, serve, docs. Thin over hightide.report.
# ===================================================================================================


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="A finished run or ensemble directory.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the report here instead of DIR/report.html.")] = None,
) -> None:
    """(Re)build the self-contained HTML report of a run: model vs record, forms, grain, people, provinces,
    validation and manifest."""
    from hightide.report import write_report

    try:
        path = write_report(directory, out=out)
    except HightideError as exc:
        _fail(exc)
    console.print(f"report: {path}", highlight=False, soft_wrap=True)


@app.command()
def plot(
    directory: Annotated[Path | None, typer.Argument(help="A finished run or ensemble directory.")] = None,
    figure: Annotated[list[str] | None, typer.Option(
        "--figure", "-f", metavar="NAME",
        help="Figure to draw (repeat for several; 'all' for every one); see --list.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="png, svg or pdf.")] = "png",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output file (one figure) or directory (several); default DIR/figures/NAME.FORMAT.")] = None,
    dpi: Annotated[int, typer.Option("--dpi", min=30, max=1200, help="Resolution of PNG figures.")] = 150,
    list_figures: Annotated[bool, typer.Option("--list", help="List the figures and exit.")] = False,
) -> None:
    """Draw static figures (PNG/SVG/PDF) of a run for papers."""
    from hightide.report import charts, static
    from hightide.report.data import ReportData

    if list_figures:
        t = Table(title="figures")
        t.add_column("name")
        t.add_column("shows")
        for f in charts.FIGURES.values():
            t.add_row(f.name, f.description)
        console.print(t)
        return
    if directory is None:
        _fail(HightideError("give a run directory (or --list for the figures)"))
    if not figure:
        _fail(HightideError(f"name a figure with --figure; figures: {', '.join(charts.FIGURES)} (or all)"))
    fmt = fmt.lower()
    if fmt not in static.FORMATS:
        _fail(HightideError(f"unknown --format {fmt!r}; formats: {', '.join(static.FORMATS)}"))
    names = list(charts.FIGURES) if "all" in figure else list(dict.fromkeys(figure))
    unknown = [n for n in names if n not in charts.FIGURES]
    if unknown:
        _fail(HightideError(f"unknown figure {unknown[0]!r}; figures: {', '.join(charts.FIGURES)} (or all)"))
    try:
        data = ReportData.load(directory)
    except HightideError as exc:
        _fail(exc)
    single = len(names) == 1 and out is not None and out.suffix != ""
    for name in names:
        chart = charts.build(name, data)
        if chart is None or not chart.has_data:
            err_console.print(f"[yellow]skipped[/] {name}: nothing to draw in {escape(str(directory))}",
                              highlight=False, soft_wrap=True)
            continue
        target = out if single else (out or directory / "figures") / f"{name}.{fmt}"
        static.save(chart, target, fmt=fmt if not single else None, dpi=dpi)
        console.print(f"{name}: {target}", highlight=False, soft_wrap=True)


@app.command()
def serve(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8501,
    host: Annotated[str, typer.Option("--host", help="Address to bind (default: this machine only).")] = "127.0.0.1",
) -> None:
    """Start the interactive dashboard (Streamlit) at http://HOST:PORT: edit a scenario, run it small, compare."""
    from hightide.report.serve import serve as do_serve

    console.print(f"dashboard: http://{host}:{port}  (Ctrl-C stops it)", highlight=False, soft_wrap=True)
    raise typer.Exit(code=do_serve(host=host, port=port))


@app.command()
def docs(
    out: Annotated[Path, typer.Option("--out", help="Directory of the generated references.")] = Path("docs"),
    check: Annotated[bool, typer.Option(
        "--check", help="Only check that the files there are up to date (exit 1 if not).")] = False,
) -> None:
    """Generate docs/scenarios.md (from the scenario schema) and docs/parameters.md (from the registry)."""
    from hightide.report.docs import generate

    stale = []
    for name, text in generate().items():
        path = out / name
        current = path.read_text("utf-8") if path.is_file() else None
        if current == text:
            continue
        if check:
            stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
            console.print(f"wrote {path}", highlight=False, soft_wrap=True)
    if stale:
        err_console.print(f"out of date: {', '.join(stale)}; run `hightide docs --out {out}`", highlight=False,
                          soft_wrap=True)
        raise typer.Exit(code=1)


# --------------------------------------------------------------------------------------------------
# Experiments (issue 5): ensemble, compare, calibrate, sensitivity. Thin over hightide.experiments.
# --------------------------------------------------------------------------------------------------


def _member_progress(quiet: bool, label: str = "members"):
    """A rich progress bar over finished members on a terminal, plain lines in a log (None when
    quiet); both show how many members failed."""
    if quiet:
        return None, None
    if not sys.stderr.isatty():
        lines = _LineProgress("running", label)
        show = lambda done, total, failed: lines.update(done, total, f"{failed} failed" if failed else "")  # noqa: E731
        progress = None
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total} " + label), TextColumn("{task.fields[note]}"),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True)
        task = progress.add_task("running", total=None, note="")
        show = lambda done, total, failed: progress.update(  # noqa: E731
            task, completed=done, total=total, note=f"[red]{failed} failed[/]" if failed else "")
    failed = 0

    def on_member(done: int, total: int, member, status: str) -> None:
        nonlocal failed
        failed += status == "failed"
        show(done, total, failed)

    return progress, on_member


def _experiment_errors(call, progress=None):
    """Run ``call()`` (under ``progress``, a rich progress display, if any), turning hightide errors
    and Ctrl-C into clean CLI exits."""
    try:
        if progress:
            with progress:
                return call()
        return call()
    except HightideError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err_console.print("[bold yellow]interrupted:[/] finished members are stored; run the same command "
                          "again to continue", highlight=False, soft_wrap=True)
        raise typer.Exit(code=130)


def _names(text: str | None) -> list[str] | None:
    """A comma-separated list of names from the command line (None when not given)."""
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


@app.command()
def ensemble(
    scenario: Optional[str] = typer.Argument(None, help="Bundled scenario name or path to a .toml (default: historical)."),
    runs: int = typer.Option(32, "--runs", min=1, help="Number of members."),
    scale: Optional[float] = typer.Option(None, "--scale", help="Scale of every member (default: the scenario's)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Base seed the member seeds are spawned from."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="ADDRESS",
                                            help="Address of a running Dask scheduler (default: a local cluster)."),
    workers: int = typer.Option(2, "--workers", min=0,
                                help="Processes in the local cluster (0: run members in this process, no Dask)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default: runs/SCENARIO-ensemble-scaleS-seedN)."),
    sample_params: Optional[str] = typer.Option(
        None, "--sample-params", metavar="SPEC",
        help="Draw parameters per member: 'calibrated', 'all', 'group:NAME', names a,b,c, or a .csv/.parquet of draws."),
    params: Optional[Path] = typer.Option(None, "--params", metavar="FILE",
                                          help="Parameter file ([parameters] TOML, e.g. from `hightide calibrate`)."),
    end: Optional[str] = typer.Option(None, "--end", metavar="YYYY-MM", help="End the runs early."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory instead of resuming it."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Run an ensemble of seeds (and sampled parameters) on Dask; write members and quantile bands.

    Running the same command again on the same --out resumes: finished members are kept."""
    from hightide.experiments import ensemble as run_ensemble

    progress, on_member = _member_progress(quiet)

    ens = _experiment_errors(lambda: run_ensemble(
        scenario, runs=runs, scale=scale, seed=seed, out=out, workers=workers, scheduler=scheduler,
        sample_params=sample_params, params=params, end=end, force=force, on_member=on_member), progress)
    if quiet:
        return
    m = ens.manifest
    s = m.get("last_session", {})
    console.print(f"[green]complete[/] ensemble of {m['runs']} x {m['scenario']} at scale {m['scale']:g}, base seed "
                  f"{m['base_seed']}: {s.get('ran', 0)} members run, {s.get('reused', 0)} reused, in "
                  f"{s.get('wall_seconds', 0):.1f} s -> {ens.out}")
    t = Table(title="national, year end: median [5%, 95%] across members")
    cols = {"grain_output_mt": "grain Mt", "procurement_mt": "procurement Mt", "death_rate_permille": "deaths ‰",
            "population_m": "population M"}
    t.add_column("year", justify="right")
    for label in cols.values():
        t.add_column(label, justify="right")
    bands = {c: ens.band(c).set_index("year") for c in cols}
    for year in bands["grain_output_mt"].index:
        t.add_row(str(int(year)), *[f"{b.loc[year, 'q50']:.1f} [{b.loc[year, 'q05']:.1f}, {b.loc[year, 'q95']:.1f}]"
                                    for b in bands.values()])
    console.print(t)


@app.command()
def compare(
    subjects: list[str] = typer.Argument(..., help="Scenarios (run now), run directories or ensemble directories; "
                                                   "the first is the reference for differences."),
    scale: Optional[float] = typer.Option(None, "--scale", help="Scale for scenarios run here."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for scenarios run here."),
    end: Optional[str] = typer.Option(None, "--end", metavar="YYYY-MM", help="End scenarios run here early."),
    params: Optional[Path] = typer.Option(None, "--params", metavar="FILE", help="Parameter file for scenarios run here."),
    out: Path = typer.Option(Path("runs/compare"), "--out", help="Directory for compare.csv and compare.png."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Compare scenarios, runs and ensembles side by side: outcomes with 5-95% bands and a figure.

    Differences from the first subject are taken member by member when two ensembles share their
    seeds (common random numbers)."""
    from hightide.experiments.compare import compare as do_compare
    from hightide.experiments.scenario_tools import read_params_file

    def call():
        overrides = read_params_file(params) if params is not None else None
        return do_compare(subjects, scale=scale, seed=seed, end=end, params=overrides, out=out)

    comp = _experiment_errors(call)
    if quiet:
        return
    t = Table(title="outcomes: value, or median [5%, 95%] across members; Δ vs " + comp.subjects[0].label)
    t.add_column("outcome")
    for i, sub in enumerate(comp.subjects):
        t.add_column(f"{sub.label}\n({sub.kind}, {len(sub.annual)})", justify="right")
        if i:
            t.add_column("Δ" + (" paired" if comp.table.loc[comp.table["subject"] == sub.label, "paired"].any()
                                else ""), justify="right")

    def fmt(mid, lo, hi):
        if np.isnan(mid):
            return "–"
        return f"{mid:.2f}" if np.isnan(lo) else f"{mid:.2f} [{lo:.2f}, {hi:.2f}]"

    for name, rows in comp.table.groupby("outcome", sort=False):
        cells = [f"{rows['label'].iloc[0]} ({rows['unit'].iloc[0]})"]
        for i, (_, r) in enumerate(rows.iterrows()):
            cells.append(fmt(r["q50"], r["q05"], r["q95"]))
            if i:
                cells.append(fmt(r["diff_q50"], r["diff_q05"], r["diff_q95"]))
        t.add_row(*cells)
    console.print(t)
    console.print(f"written {out / 'compare.csv'} and {out / 'compare.png'}")


@app.command()
def calibrate(
    scenario: Optional[str] = typer.Argument(None, help="Scenario to fit (default: historical)."),
    trials: int = typer.Option(80, "--trials", min=1, help="Optuna trials (the first is the registry defaults)."),
    scale: float = typer.Option(0.0002, "--scale", help="Scale of every trial run."),
    seed: int = typer.Option(0, "--seed", help="Seed of the runs (the same for every trial) and of the sampler."),
    seeds: int = typer.Option(1, "--seeds", min=1, help="Runs per trial (member seeds of --seed), averaged."),
    only: Optional[str] = typer.Option(None, "--only", metavar="NAMES",
                                       help="Fit these parameters (comma-separated) instead of the calibrated ones."),
    validation_end: str = typer.Option("1966-12", "--validation-end", metavar="YYYY-MM",
                                       help="End of the out-of-sample runs."),
    timeout: Optional[float] = typer.Option(None, "--timeout", metavar="SECONDS", help="Stop starting trials after this."),
    span: float = typer.Option(1.0, "--span", min=0.01, max=1.0,
                               help="Search within SPAN x each registry range around the default (1: the whole range)."),
    out: Path = typer.Option(Path("runs/calibration"), "--out", help="Output directory (running again continues it)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Fit the registry's calibrated parameters to the 1952-57 targets (optuna); report fit and
    out-of-sample errors; write OUT/calibrated.toml for `hightide run --params`."""
    from hightide.experiments.calibration import calibrate as do_calibrate

    progress = None
    on_trial = None
    if not quiet and sys.stderr.isatty():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("[bold]calibrating"), BarColumn(), TextColumn("{task.completed}/{task.total} trials"),
                            TextColumn("best loss {task.fields[best]}"), TimeElapsedColumn(), console=err_console,
                            transient=True)
        task = progress.add_task("", total=trials, best="–")

        def on_trial(done, total, loss, best):
            progress.update(task, completed=done, best=f"{best:.4g}")
    elif not quiet:
        lines = _LineProgress("calibrating", "trials")

        def on_trial(done, total, loss, best):
            lines.update(done, total, f"best loss {best:.4g}")

    cal = _experiment_errors(lambda: do_calibrate(
        scenario or "historical", trials=trials, scale=scale, seed=seed, seeds=seeds, names=_names(only), out=out,
        validation_end=validation_end, timeout=timeout, span=span, on_trial=on_trial), progress)
    if quiet:
        return
    s = cal.summary
    t = Table(title=f"calibration of {len(s['parameters'])} parameters, {s['trials']} trials")
    for c in ("parameter", "default", "calibrated", "range"):
        t.add_column(c, justify="left" if c == "parameter" else "right")
    from hightide.params import load_registry

    reg = load_registry()
    for n in s["parameters"]:
        t.add_row(n, f"{s['defaults'][n]:.4g}", f"{s['best'][n]:.4g}", f"{reg[n].range[0]:g}..{reg[n].range[1]:g}")
    console.print(t)
    f = Table(title="fit per target: model error (default -> calibrated)")
    for c in ("target", "when", "window", "record", "default", "calibrated", "tolerance"):
        f.add_column(c, justify="right" if c in ("record", "default", "calibrated") else "left")
    for _, r in cal.fit.iterrows():
        mark = lambda ok, e: f"[green]{e}[/]" if ok else f"[red]{e}[/]"  # noqa: E731
        f.add_row(r["target"], r["when"], r["window"], f"{r['record']:.2f}", mark(r["pass_default"], r["error_default"]),
                  mark(r["pass_calibrated"], r["error_calibrated"]), r["tolerance"])
    console.print(f)
    for w in ("in_sample", "out_of_sample"):
        d, c = s[w]["default"], s[w]["calibrated"]
        console.print(f"{w.replace('_', '-')}: RMS error in tolerances {d['rms_normalised_error']:.3f} -> "
                      f"{c['rms_normalised_error']:.3f}; passing {d['passing']} -> {c['passing']} of {d['targets']}")
    console.print(f"loss {s['loss_default']:.4g} (defaults) -> {s['loss_best']:.4g}; written {cal.out / 'calibrated.toml'}")


# options the design experiments share (sensitivity, decompose)
ScenarioArg = Annotated[Optional[str], typer.Argument(help="Scenario (default: historical).")]
OutcomesOpt = Annotated[Optional[str], typer.Option("--outcomes", metavar="NAMES", help="Comma-separated outcomes.")]
ScaleOpt = Annotated[float, typer.Option("--scale")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=0, help="Local Dask workers (0: in this process).")]
SchedulerOpt = Annotated[Optional[str], typer.Option("--scheduler", metavar="ADDRESS")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output directory (running again resumes it).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Discard the runs already in OUT instead of reusing them.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q")]


@app.command()
def sensitivity(
    scenario: ScenarioArg = None,
    parameters: Optional[str] = typer.Option(None, "--parameters", metavar="NAMES",
                                             help="Comma-separated parameters to vary over their registry ranges."),
    outcomes: OutcomesOpt = None,
    trajectories: int = typer.Option(6, "--trajectories", min=2, help="Morris trajectories (runs = r x (k + 1))."),
    scale: ScaleOpt = 0.0002,
    seed: int = typer.Option(0, "--seed", help="Seed of every run (common random numbers) and of the design."),
    workers: WorkersOpt = 1,
    scheduler: SchedulerOpt = None,
    out: OutOpt = Path("runs/sensitivity"),
    force: ForceOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Morris sensitivity indices (SALib) of outcomes over the registry ranges; table and figure."""
    from hightide.experiments.sensitivity import sensitivity as do_sensitivity

    progress, on_member = _member_progress(quiet, "runs")

    res = _experiment_errors(lambda: do_sensitivity(
        scenario or "historical", parameters=_names(parameters), outcomes=_names(outcomes), trajectories=trajectories,
        scale=scale, seed=seed, out=out, workers=workers, scheduler=scheduler, force=force, on_member=on_member),
        progress)
    if quiet:
        return
    for o, d in res.indices.groupby("outcome", sort=False):
        t = Table(title=f"{d['label'].iloc[0]} ({d['unit'].iloc[0]}): Morris indices")
        for c in ("rank", "parameter", "μ*", "μ* 95% ±", "σ", "μ"):
            t.add_column(c, justify="left" if c == "parameter" else "right")
        for _, r in d.sort_values("rank").iterrows():
            t.add_row(str(r["rank"]), r["parameter"], f"{r['mu_star']:.3g}", f"{r['mu_star_conf']:.2g}",
                      f"{r['sigma']:.3g}", f"{r['mu']:.3g}")
        console.print(t)
    console.print(f"written {res.out / 'sensitivity.csv'} and {res.out / 'sensitivity.png'}")


@app.command()
def decompose(
    scenario: ScenarioArg = None,
    mechanisms: Optional[str] = typer.Option(None, "--mechanisms", metavar="NAMES",
                                             help="Comma-separated mechanisms to switch off (default: all; --list)."),
    outcomes: OutcomesOpt = None,
    runs: int = typer.Option(8, "--runs", min=1, help="Seeds per arm (the same seeds in every arm)."),
    scale: ScaleOpt = 0.001,
    seed: int = typer.Option(0, "--seed", help="Base seed the member seeds are spawned from."),
    workers: WorkersOpt = 2,
    scheduler: SchedulerOpt = None,
    out: OutOpt = Path("runs/decomposition"),
    force: ForceOpt = False,
    list_: bool = typer.Option(False, "--list", help="List the mechanisms and what switching each off means."),
    quiet: QuietOpt = False,
) -> None:
    """Each crisis mechanism switched off in turn, seed for seed: what it adds to the collapse."""
    from hightide.experiments.decomposition import MECHANISMS
    from hightide.experiments.decomposition import decompose as do_decompose

    if list_:
        t = Table(title="mechanisms (switched off by a parameter of their rule or a held policy input)")
        for c in ("name", "mechanism", "switched off by", "source"):
            t.add_column(c)
        for m in MECHANISMS.values():
            how = [f"{k} = {v:g}" for k, v in m.parameters.items()]
            how += [f"{h.field} = {h.value if h.value is not None else 'its value before'}"
                    + (f" from {h.since}" if h.since else "") + (f" to {h.until}" if h.until else "")
                    for h in m.holds]
            t.add_row(m.name, m.label, "; ".join(how), m.source)
        console.print(t)
        return
    progress, on_member = _member_progress(quiet, "runs")

    res = _experiment_errors(lambda: do_decompose(
        scenario or "historical", mechanisms=_names(mechanisms), outcomes=_names(outcomes), runs=runs, scale=scale,
        seed=seed, out=out, workers=workers, scheduler=scheduler, force=force, on_member=on_member), progress)
    if quiet:
        return
    e = res.effects
    names = list(dict.fromkeys(e["outcome"]))
    t = Table(title=f"what each mechanism adds (the scenario minus the scenario without it; median of "
                    f"{int(e['pairs'].iloc[0])} paired seeds, 5-95% in brackets, share of the scenario's value)")
    t.add_column("mechanism")
    for o in names:
        first = e[e["outcome"] == o].iloc[0]
        t.add_column(f"{first['outcome_label']} ({first['unit']})\nscenario {first['with_q50']:.4g}", justify="right")
    for arm, d in e.groupby("mechanism", sort=False):
        d = d.set_index("outcome")
        t.add_row(arm, *(f"{d.at[o, 'effect_q50']:+.3g} [{d.at[o, 'effect_q05']:+.3g}, {d.at[o, 'effect_q95']:+.3g}]"
                         f" {d.at[o, 'share_pct_q50']:+.1f}%" for o in names))
    console.print(t)
    if res.inert:
        console.print(f"not run, identical to the scenario (the switch changes nothing in it, so the effect is 0): "
                      f"{', '.join(res.inert)}")
    console.print(f"written {res.out / 'decomposition.csv'} and {res.out / 'decomposition.png'}")


if __name__ == "__main__":  # pragma: no cover
    app()
