"""``driftloop serve``: serve a registered model with a durable inference log and late-label feedback."""

from __future__ import annotations

import click

from driftloop.cli.common import handle_errors, tracking_uri_option
from driftloop.cli.ui import check_port_free
from driftloop.errors import DriftloopError
from driftloop.serve.limits import RequestLimits, option
from driftloop.settings import DRIFTLOOP_FEEDBACK_TOKEN

_LIMIT_HELP = {
    "max_body_bytes": "Largest request body in bytes; larger ones are answered 413.",
    "max_columns": "Most columns one request may name (400 beyond).",
    "max_json_depth": "Deepest nesting of arrays and objects in a JSON body (400 beyond).",
    "max_number_digits": "Most digits of an integer in a JSON body (400 beyond).",
    "max_id_length": "Longest prediction id on /feedback, in characters (422 beyond).",
    "max_label_length": "Longest string label on /feedback, in characters (422 beyond).",
}


def _limit_options(command: click.Command) -> click.Command:
    """One option per field of :class:`RequestLimits` (``--max-columns`` ...), with its default."""
    defaults = RequestLimits()
    for name in reversed(list(_LIMIT_HELP)):
        command = click.option(option(name), name, default=getattr(defaults, name), show_default=True,
                               type=click.IntRange(min=1), help=_LIMIT_HELP[name])(command)
    return command


@click.command("serve")
@click.option("--model", "-m", "model", required=True, metavar="NAME@ALIAS",
              help="Registered model to serve: NAME@ALIAS follows the alias (e.g. wine-quality@champion); "
                   "NAME/VERSION serves a fixed version, as do models:/m-<id> (an MLflow 3 logged model) and "
                   "runs:/<run_id>/model (the version registered from them).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", "-p", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--log", "log_path", default="inference-log.db", show_default=True, metavar="PATH",
              help="The inference log (SQLite); every answered row is committed to it before the answer.")
@click.option("--no-log", is_flag=True, help="Serve without an inference log (nothing to monitor; no /feedback).")
@click.option("--log-sync", type=click.Choice(["full", "normal"]), default="full", show_default=True,
              help="full: each commit is fsynced (survives power loss); normal: survives a killed server only.")
@click.option("--poll-interval", default=30.0, show_default=True, type=click.FloatRange(min=0), metavar="SECONDS",
              help="How often to look for a moved alias (0: never).")
@click.option("--feedback-token", envvar=DRIFTLOOP_FEEDBACK_TOKEN.name, default=None, metavar="TOKEN",
              help="Require 'Authorization: Bearer TOKEN' on POST /feedback (default: "
                   f"${DRIFTLOOP_FEEDBACK_TOKEN.name}; unset: anyone who can reach the service may send labels).")
@click.option("--stream-detectors/--no-stream-detectors", default=True, show_default=True,
              help="Run streaming detectors on the stream of predictions and of errors (as labels arrive); their "
                   "state and detections go to the log, for driftloop monitor, and to /metrics.")
# The parameters are driftloop.stream's, listed rather than imported (it loads numba): --help stays light.
@click.option("--stream-detector", "stream_specs", multiple=True, metavar="NAME[:PARAMETER=VALUE,...]",
              help="Run this detector, with these parameters, instead of the default (adwin with its default "
                   "parameters); repeat for several. E.g. --stream-detector adwin "
                   "--stream-detector page_hinkley:threshold=20,delta=0.05. Parameters: adwin: delta, clock, "
                   "max_buckets, min_window_length, grace_period; page_hinkley: min_instances, delta, threshold, "
                   "alpha, mode; cusum: warmup, slack, threshold, mode.")
@_limit_options
@tracking_uri_option
@handle_errors
def serve(
    model: str,
    host: str,
    port: int,
    log_path: str,
    no_log: bool,
    log_sync: str,
    poll_interval: float,
    feedback_token: str | None,
    stream_detectors: bool,
    stream_specs: tuple[str, ...],
    tracking_uri: str | None,
    **limits: int,
) -> None:
    """Serve a registered model: POST /predict, /invocations (as mlflow models serve), /feedback; GET /health,
    /ping, /version, /metrics."""
    try:
        from driftloop.data.log_streams import DEFAULT_STREAMS
        from driftloop.serve.service import build_service, run
        from driftloop.stream import parse_detectors
    except ImportError as error:
        raise DriftloopError(
            f"driftloop serve needs the 'serve' extra ({error.name} is missing): pip install 'driftloop[serve]'."
        ) from None
    if stream_specs and not stream_detectors:
        raise click.UsageError("--stream-detector chooses the streaming detectors that --no-stream-detectors turns "
                               "off: give one or the other.")
    try:
        streams = parse_detectors(stream_specs) if stream_specs else DEFAULT_STREAMS
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--stream-detector'") from None
    check_port_free(host, port)
    app = build_service(model, tracking_uri=tracking_uri, log_path=None if no_log else log_path,
                        synchronous=log_sync, poll_interval=poll_interval, limits=RequestLimits(**limits),
                        feedback_token=feedback_token, streams=streams if stream_detectors else None)
    served = app.state.holder.current
    log = app.state.log
    alias = f" (alias {served.alias})" if served.alias else ""
    click.echo(f"Serving {served.name} version {served.version}{alias} at http://{host}:{port}")
    click.echo(f"Inference log: {log.path}" if log is not None else "Inference log: off (--no-log)")
    if log is not None:
        click.echo(f"Streaming detectors: {_describe(log.streams)}")
        click.echo("Feedback: bearer token required" if feedback_token else
                   "Feedback: open to any client that reaches the service (see --feedback-token)")
    run(app, host, port)


def _describe(streams: dict | None) -> str:
    """``adwin, page_hinkley (threshold=20)`` or ``off (--no-stream-detectors)``."""
    if not streams:
        return "off (--no-stream-detectors)"
    return ", ".join(name + (f" ({', '.join(f'{k}={v}' for k, v in parameters.items())})" if parameters else "")
                     for name, parameters in streams.items())
