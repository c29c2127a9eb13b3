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
              help="Export folder shared by every replica: date=YYYY-MM-DD/replica=NAME/part-0.parquet, and the "
                   "labels this replica holds for other replicas' predictions and its streaming detectors' detections "
                   "(re-export rewrites them).")
@click.option("--replica", default=None, metavar="NAME",
              help="This log's name in the export (default: the first 12 digits of the log's id).")
@handle_errors
def export(log_path: str, to_dir: str, replica: str | None) -> None:
    """Write the inference log as Parquet partitions by UTC date and replica (idempotent); driftloop monitor --data
    DIR reads every replica's rows at once, labels matched across replicas, with every replica's stream detections."""
    from driftloop.data.inference_log import log_summary
    from driftloop.data.log_export import export_log

    written = export_log(log_path, to_dir, replica)
    counts = log_summary(log_path)
    click.echo(f"Exported {counts['predictions']} predictions ({counts['labels']} labels, {counts['orphans']} of them "
               f"for predictions of other replicas) from {log_path} as replica {written.replica} to "
               f"{len(written.files) - 1} partition(s) in {to_dir}, with {written.detections} detection(s) of its "
               "streaming detectors")
