"""The command line: ``hightide run | validate | scenarios | params``. Thin over :mod:`hightide.api`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from hightide.errors import HightideError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="hightide: China's agricultural collectivisation, 1952-1966, as an agent-based model.")
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)


def _fail(exc: Exception) -> None:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
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


def _do_run(scenario: str, scale: Optional[float], seed: Optional[int], out: Optional[Path], force: bool,
            quiet: bool, check: bool):
    from hightide import api

    progress, on_month = _progress(quiet)
    try:
        if progress:
            with progress:
                return api.run(scenario, scale=scale, seed=seed, out=out, force=force, check=check, on_month=on_month)
        return api.run(scenario, scale=scale, seed=seed, out=out, force=force, check=check)
    except HightideError as exc:
        _fail(exc)


@app.command()
def run(
    scenario: str = typer.Argument("historical", help="Bundled scenario name or path to a scenario .toml file."),
    scale: Optional[float] = typer.Option(None, "--scale", help="Share of townships simulated (default: the scenario's, 0.001)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Run seed (default: the scenario's, 0)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default: runs/SCENARIO-scaleS-seedN)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    check: bool = typer.Option(False, "--check", help="Verify conservation and state invariants after every month."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Run a scenario and write its tables and manifest."""
    from hightide import api
    from hightide.scenarios import load_scenario

    try:
        sc = load_scenario(scenario)
    except HightideError as exc:
        _fail(exc)
    eff_scale = sc.scenario.scale if scale is None else scale
    eff_seed = sc.scenario.seed if seed is None else seed
    out = out or api.default_out(scenario, eff_scale, eff_seed)
    res = _do_run(scenario, scale, seed, out, force, quiet, check)
    if not quiet:
        m = res.manifest
        console.print(f"[green]complete[/] {m['scenario']} scale {m['scale']:g} seed {m['seed']}: "
                      f"{m['households_simulated']:,} households x {m['months']} months in "
                      f"{m['simulation_seconds']:.1f} s (wall {m['wall_seconds']:.1f} s) -> {out}")
        _summary(res.national_annual)


def _summary(df) -> None:
    table = Table(title="national, year end")
    cols = ["year", "population_m", "grain_output_mt", "procurement_mt", "death_rate_permille", "share_mutual_aid_pct"]
    for c in cols:
        table.add_column(c, justify="right")
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


if __name__ == "__main__":  # pragma: no cover
    app()
