"""The command line: ``hightide run | validate | scenarios | params``. Thin over :mod:`hightide.api`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

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


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None, None
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


def _do_run(scenario: Optional[str], scale: Optional[float], seed: Optional[int], out: Optional[Path], force: bool,
            quiet: bool, check: bool, checkpoint_every: Optional[int] = None, resume: Optional[Path] = None,
            resource_check: bool = True, report: bool = True):
    from hightide import api

    progress, on_month = _progress(quiet)
    kwargs = dict(check=check, checkpoint_every=checkpoint_every, resource_check=resource_check, report=report)
    try:
        if resume is not None:
            call = lambda **kw: api.resume(resume, **kw, **kwargs)  # noqa: E731
        else:
            call = lambda **kw: api.run(scenario, scale=scale, seed=seed, out=out, force=force, **kw, **kwargs)  # noqa: E731
        if progress:
            with progress:
                return call(on_month=on_month)
        return call()
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
) -> None:
    """Run a scenario and write its tables and manifest (or continue a stopped run with --resume DIR)."""
    from hightide import api
    from hightide.scenarios import load_scenario

    try:
        if resume is not None:
            given = [name for name, value in (("SCENARIO", scenario), ("--scale", scale), ("--seed", seed),
                                              ("--out", out)) if value is not None] + (["--force"] if force else [])
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
            out = out or api.default_out(scenario, eff_scale, eff_seed)
        res = _do_run(scenario, scale, seed, out, force, quiet, check, checkpoint_every, resume,
                      not no_resource_check, not no_report)
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
) -> None:
    """Compare the historical run with the record; print the table and write validation.csv."""
    from hightide import api
    from hightide.results import store
    from hightide.results.validation import validate as do_validate

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
    directory: Path = typer.Argument(..., help="A finished run (or an ensemble/comparison directory with bands)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the report here instead of DIR/report.html."),
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
    directory: Optional[Path] = typer.Argument(None, help="A finished run (or an ensemble directory with bands)."),
    figure: list[str] = typer.Option([], "--figure", "-f", metavar="NAME",
                                     help="Figure to draw (repeat for several; 'all' for every one); see --list."),
    fmt: str = typer.Option("png", "--format", help="png, svg or pdf."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (one figure) or directory (several); "
                                       "default DIR/figures/NAME.FORMAT."),
    dpi: int = typer.Option(150, "--dpi", min=30, max=1200, help="Resolution of PNG figures."),
    list_figures: bool = typer.Option(False, "--list", help="List the figures and exit."),
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
    port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
) -> None:
    """Start the interactive dashboard (Streamlit) at http://HOST:PORT: edit a scenario, run it small, compare."""
    from hightide.report.serve import serve as do_serve

    console.print(f"dashboard: http://{host}:{port}  (Ctrl-C stops it)", highlight=False, soft_wrap=True)
    raise typer.Exit(code=do_serve(host=host, port=port))


@app.command()
def docs(
    out: Path = typer.Option(Path("docs"), "--out", help="Directory of the generated references."),
    check: bool = typer.Option(False, "--check", help="Only check that the files there are up to date (exit 1 if not)."),
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


if __name__ == "__main__":  # pragma: no cover
    app()
