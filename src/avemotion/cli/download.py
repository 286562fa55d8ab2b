"""CLI command: `avemotion download CORPUS DIR`: RAVDESS (and its landmarks), CREMA-D or EmoDB,
verified, resumable, into the layout `prepare` reads (docs/data.md, Getting the data).

Exit status: 0 every file is there and verified; 2 a one-line error before any file (usage, licence
not accepted, metadata unreachable, not enough disk space); 3 finished, but some files failed (one
line each, the others are in place; run again to retry them); 130 Ctrl-C (partial files are kept
as .part; run the same command again to resume).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

EXIT_FILES_FAILED = 3
EXIT_INTERRUPTED = 130
LISTED = 40  # --dry-run lists this many files, then counts the rest


def register(app: typer.Typer) -> None:
    app.command("download")(download_cmd)


def download_cmd(
    corpus: str = typer.Argument(..., help="ravdess, crema-d or emodb.", show_default=False),
    dest: Path = typer.Argument(..., help="Folder for the corpus, in the layout `prepare` reads (created if missing).", show_default=False),
    parts: Optional[str] = typer.Option(None, "--parts", help="Comma-separated parts, or 'all'. RAVDESS: video,landmarks (default), audio, song-video, song-audio; CREMA-D: video (default), audio; EmoDB: audio.", show_default=False),
    actors: Optional[str] = typer.Option(None, "--actors", help="Only these actors, e.g. 1-4 or 1,2,9 (RAVDESS 1-24; CREMA-D 1001-1091). Archives of all actors are fetched whole and only their files are placed. Default: every actor.", show_default=False),
    mirror: Optional[str] = typer.Option(None, "--mirror", envvar="AVEMOTION_MIRROR", help="A copy of the sources laid out as MIRROR/<host>/<path> (http://, https://, file:// or a folder); env AVEMOTION_MIRROR. Default: the original sources.", show_default=False),
    accept_licence: bool = typer.Option(False, "--accept-licence", "--accept-license", help="Accept the corpus's licence (printed) without asking; recorded in DIR/LICENCE-<corpus>.md."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be fetched (sizes, checksums, what is already there) and the disk space needed; fetch nothing."),
    jobs: int = typer.Option(4, "--jobs", min=1, max=32, help="Files fetched at once."),
    retries: int = typer.Option(5, "--retries", min=0, max=100, help="Retries per file after a transient failure (back-off 1, 2, 4 ... 60 s)."),
    keep_archives: bool = typer.Option(False, "--keep-archives", help="Keep the verified zips in DIR/.downloads after extraction (default: deleted)."),
    trust_unverified: bool = typer.Option(False, "--trust-unverified", help="EmoDB: accept an archive whose utterances differ from the release's (it has no published checksum)."),
) -> None:
    """Download a corpus, verified and resumable, into the layout `prepare` reads; prints the
    licence first (accept it once), and the `prepare` command to run next."""
    from rich.console import Console

    from avemotion.data.download import runner, sources
    from avemotion.errors import ConfigError

    spec = sources.get_corpus(corpus)
    chosen_parts = sources.parse_parts(spec, parts)
    chosen_actors = sources.parse_actors(spec, actors)
    dest = dest.expanduser()
    state = runner.check_folder(dest, spec)
    out = Console(soft_wrap=True, highlight=False)
    err_console = Console(stderr=True)

    def line(text: str = "", style: str | None = None) -> None:
        out.print(text, style=style, markup=False, highlight=False)

    accepted = runner.licence_accepted(dest, spec)
    if accepted and not dry_run:
        line(f"{spec.name}: licence {spec.licence}, accepted ({runner.licence_file(dest, spec)})")
    else:
        line(runner.licence_text(spec))
        line()
    if not dry_run and not accepted:
        if accept_licence:
            how = "--accept-licence"
        elif sys.stdin.isatty():
            if not typer.confirm(f"Accept the {spec.licence} terms of {spec.name}?", default=False):
                raise ConfigError(f"{spec.name}: licence not accepted; nothing was downloaded")
            how = "accepted interactively"
        else:
            raise ConfigError(f"{spec.name}: its licence ({spec.licence}, printed above) must be accepted before the "
                              "download: pass --accept-licence")
        dest.mkdir(parents=True, exist_ok=True)
        line(f"terms recorded in {runner.record_licence(dest, spec, how)}")

    # Ctrl-C: one line and exit 130, raised outside the except block (no KeyboardInterrupt in its context)
    plan = sources.Plan(corpus=spec, dest=dest, parts=chosen_parts, actors=chosen_actors)
    interrupted = False
    try:
        _plan(plan, runner, mirror, retries, jobs, state, err_console)
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:
        if plan.pointers and not dry_run and dest.is_dir():
            state.setdefault("pointers", {}).update(plan.pointers)
            state["corpus"] = spec.name
            runner.save_state(dest, state)
        typer.echo(f"interrupted while reading the file list ({len(plan.pointers)} pointers kept); run the same "
                   "command again to resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)

    statuses = {item.name: runner.item_status(item, state) for item in plan.items}
    need = runner.space_needed(plan, statuses, keep_archives=keep_archives, jobs=jobs)
    if dry_run:
        _print_plan(plan, statuses, need, mirror, runner, line)
        return
    runner.check_space(dest, need)
    kept: list | None = None
    try:
        result = runner.run(plan, mirror=mirror, jobs=jobs, retries=retries, keep_archives=keep_archives,
                            trust_unverified=trust_unverified, state=state, statuses=statuses, console=err_console)
    except runner.DownloadInterrupted as stop:
        kept = stop.parts
    if kept is not None:
        typer.echo(f"interrupted: {len(kept)} partial files kept as .part (nothing truncated under its final "
                   "name); run the same command again to resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)

    for warning in result.warnings:
        line(f"warning: {warning}", "yellow")
    for name, reason in result.failed:
        line(f"failed: {name}: {reason}", "red")
    for note in result.notes:
        line(f"note: {note}")
    line(f"{spec.name}: {len(result.fetched)} files fetched ({runner.human(result.bytes)}), {len(result.extracted)} "
         f"archives extracted, {len(result.skipped)} already complete, {len(result.failed)} failed -> {dest}", "bold")
    if result.failed:
        line(f"run the same command again to retry the {len(result.failed)} failed files")
        raise typer.Exit(EXIT_FILES_FAILED)
    for command in sources.next_commands(plan):
        line(f"next: {command}")


def _plan(plan, runner, mirror, retries, jobs, state, console) -> None:
    if plan.corpus.name != "crema-d" or not console.is_terminal:
        runner.make_plan(plan, mirror=mirror, retries=retries, jobs=jobs, state=state)
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("reading the Git LFS pointers", total=None)
        runner.make_plan(plan, mirror=mirror, retries=retries, jobs=jobs, state=state,
                         progress=lambda: bar.advance(task))


def _print_plan(plan, statuses, need, mirror, runner, line) -> None:
    from avemotion.data.download.fetch import resolve
    from avemotion.data.download.sources import next_commands

    counts = {"complete": 0, "extract": 0, "fetch": 0}
    to_fetch = 0
    for i, item in enumerate(plan.items):
        status, have = statuses[item.name]
        counts[status] += 1
        if status == "fetch":
            to_fetch += (item.size or 0) - have
        if i < LISTED:
            state = {"complete": "have", "extract": "extract"}.get(status, f"resume at {runner.human(have)}" if have else "fetch")
            line(f"{state:>18}  {runner.human(item.size):>10}  {item.name}  {item.checksum or 'content-checked'}  "
                 f"<- {resolve(item.url, mirror)}")
    if len(plan.items) > LISTED:
        line(f"{'':>18}  ... and {len(plan.items) - LISTED} more files")
    for name, reason in plan.failed:
        line(f"failed: {name}: {reason}", "red")
    for note in plan.notes:
        line(f"note: {note}")
    line(f"dry run: {counts['fetch']} files to fetch ({runner.human(to_fetch)}), {counts['extract']} to extract, "
         f"{counts['complete']} already complete; needs {runner.human(need)} of disk, "
         f"{runner.human(runner.free_space(plan.dest))} free at {plan.dest}")
    for command in next_commands(plan):
        line(f"then: {command}")
