"""``driftloop log``: the inference log written by ``driftloop serve``."""

from __future__ import annotations

import click

from driftloop.cli.common import handle_errors


@click.group("log")
def log() -> None:
    """Work with the inference log of driftloop serve."""


@log.command("export")
@click.option("--log", "log_path", default="inference-log.db", show_default=True, metavar="PATH",
              help="The inference log to read (it may be in use by a running server).")
@click.option("--to", "to_dir", required=True, metavar="DIR",
              help="Folder for the Parquet partitions, date=YYYY-MM-DD/part-0.parquet (re-export rewrites them).")
@handle_errors
def export(log_path: str, to_dir: str) -> None:
    """Write the inference log as Parquet partitions by UTC date (idempotent)."""
    from driftloop.data.inference_log import export_partitions, log_summary

    files = export_partitions(log_path, to_dir)
    counts = log_summary(log_path)
    click.echo(f"Exported {counts['predictions']} predictions ({counts['labels']} labelled, {counts['orphans']} "
               f"orphan labels) from {log_path} to {len(files)} partition(s) in {to_dir}")
