"""Running MLflow projects in the local environment, with parameters checked before anything runs.

``mlflow run`` only finds a bad parameter after it has created a run; driftloop reads the ``MLproject`` file first
and refuses an unknown name, a malformed ``-P`` pair or a value of the wrong type with a message naming the
parameter, what it expected and what it received. The project then runs with ``env_manager="local"`` (offline:
no environment is built) and its run always ends FINISHED or FAILED.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from mlflow import MlflowClient
from mlflow.exceptions import ExecutionException, MlflowException

from driftloop.errors import DriftloopError
from driftloop.tracking.experiments import get_or_create_experiment
from driftloop.tracking.store import use_tracking_uri

PARAMETER_TYPES = ("float", "int", "string", "path", "uri")


@dataclass(frozen=True)
class ProjectParameter:
    """A parameter declared by an MLproject entry point."""

    name: str
    type: str
    default: object | None

    def check(self, raw: str) -> str:
        """Return ``raw`` if it is a valid value of this parameter's type, else raise a :class:`DriftloopError`."""
        if self.type in ("float", "int"):
            try:
                number = float(raw) if self.type == "float" else int(raw)
            except ValueError:
                kind = "a number" if self.type == "float" else "an integer"
                raise DriftloopError(
                    f"Parameter {self.name!r} must be {kind} ({self.type}); got {raw!r}."
                ) from None
            if isinstance(number, float) and not math.isfinite(number):
                raise DriftloopError(f"Parameter {self.name!r} must be a finite number; got {raw!r}.")
        if self.type == "path" and not Path(raw).exists():
            raise DriftloopError(f"Parameter {self.name!r} must be an existing path; got {raw!r}, which does not exist.")
        return raw


@dataclass(frozen=True)
class ProjectSpec:
    """What driftloop needs from an ``MLproject`` file: its name and its entry points' parameters."""

    directory: Path
    name: str
    entry_points: Mapping[str, Mapping[str, ProjectParameter]]

    def parameters(self, entry_point: str) -> Mapping[str, ProjectParameter]:
        if entry_point not in self.entry_points:
            known = ", ".join(sorted(self.entry_points))
            raise DriftloopError(
                f"Project {self.name!r} has no entry point {entry_point!r}; its entry points are: {known}."
            )
        return self.entry_points[entry_point]


def load_project(directory: str | os.PathLike[str]) -> ProjectSpec:
    """Read and check the ``MLproject`` file in ``directory``."""
    folder = Path(directory).resolve()
    spec_file = folder / "MLproject"
    if not folder.is_dir():
        raise DriftloopError(f"Project folder {str(directory)!r} does not exist.")
    if not spec_file.is_file():
        raise DriftloopError(f"Project folder {str(directory)!r} has no MLproject file.")
    try:
        document = yaml.safe_load(spec_file.read_text()) or {}
    except yaml.YAMLError as error:
        raise DriftloopError(f"{spec_file} is not valid YAML: {error}") from None
    entry_points: dict[str, dict[str, ProjectParameter]] = {}
    for entry_name, entry in (document.get("entry_points") or {}).items():
        parameters: dict[str, ProjectParameter] = {}
        for param_name, declaration in ((entry or {}).get("parameters") or {}).items():
            if isinstance(declaration, str):
                param_type, default = declaration, None
            else:
                param_type, default = declaration.get("type", "string"), declaration.get("default")
            if param_type not in PARAMETER_TYPES:
                raise DriftloopError(
                    f"{spec_file}: parameter {param_name!r} has type {param_type!r}; "
                    f"expected one of {', '.join(PARAMETER_TYPES)}."
                )
            parameters[param_name] = ProjectParameter(param_name, param_type, default)
        entry_points[entry_name] = parameters
    return ProjectSpec(folder, str(document.get("name") or folder.name), entry_points)


def parse_parameter_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """Turn ``["alpha=0.01", "l1_ratio=0.5"]`` into a dict; a pair without ``=`` or a name is an error.

    >>> parse_parameter_pairs(["alpha=0.01", "note=a=b"])
    {'alpha': '0.01', 'note': 'a=b'}
    """
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name.strip():
            raise DriftloopError(f"Parameters are given as -P NAME=VALUE; got {pair!r}.")
        if name in parsed:
            raise DriftloopError(f"Parameter {name!r} is given twice.")
        parsed[name.strip()] = value
    return parsed


def check_parameters(spec: ProjectSpec, entry_point: str, given: Mapping[str, str]) -> dict[str, str]:
    """Check ``given`` against the entry point's declared parameters; return them unchanged when valid."""
    declared = spec.parameters(entry_point)
    for name, value in given.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise DriftloopError(
                f"Project {spec.name!r} (entry point {entry_point!r}) declares no parameter {name!r}; "
                f"its parameters are: {known}."
            )
        declared[name].check(value)
    missing = [p.name for p in declared.values() if p.default is None and p.name not in given]
    if missing:
        raise DriftloopError(f"Parameter(s) {', '.join(missing)} have no default and must be given with -P.")
    return dict(given)


@dataclass(frozen=True)
class ProjectRunResult:
    """The outcome of one project run."""

    run_id: str | None
    status: str
    metrics: Mapping[str, float]
    cause: str | None = None


@contextmanager
def _tee_stderr(tail: deque[str]) -> Iterator[None]:
    """Copy everything written to file descriptor 2 (by this process or a child) to the real stderr, keeping its
    last lines in ``tail`` so that a failing project's cause can be reported."""
    try:
        original = os.dup(2)
    except OSError:  # no real stderr (embedded interpreter): run without capturing
        yield
        return
    read_end, write_end = os.pipe()
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as source:
            while chunk := source.read(65536):
                os.write(original, chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                tail.extend(line.decode(errors="replace") for line in lines)
        if pending:
            tail.append(pending.decode(errors="replace"))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end: the pump sees end of file
        thread.join(timeout=10)
        os.close(original)


def _failure_cause(lines: Sequence[str]) -> str:
    """The most telling line of a failed command's stderr: the last exception line, else the last line."""
    meaningful = [line.strip() for line in lines if line.strip() and not line.startswith("=== ")]
    for line in reversed(meaningful):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b", line):
            return line
    return meaningful[-1] if meaningful else "the project's command failed without output"


def run_project(
    client: MlflowClient,
    directory: str | os.PathLike[str],
    parameters: Mapping[str, str],
    *,
    entry_point: str = "main",
    experiment_name: str | None = None,
) -> ProjectRunResult:
    """Run the MLflow project in ``directory`` locally and return its run's status and latest metrics.

    Parameters are checked against the ``MLproject`` file first. The project's command runs with the Python
    interpreter running driftloop first on ``PATH``, so that ``python train.py`` finds the same packages.
    """
    import mlflow.projects

    spec = load_project(directory)
    checked = check_parameters(spec, entry_point, parameters)
    tracking_uri = client.tracking_uri
    experiment_id = get_or_create_experiment(client, experiment_name) if experiment_name else None
    interpreter_dir = str(Path(sys.executable).parent)
    previous_path = os.environ.get("PATH", "")
    os.environ["PATH"] = interpreter_dir + os.pathsep + previous_path
    tail: deque[str] = deque(maxlen=200)
    try:
        with use_tracking_uri(tracking_uri), _tee_stderr(tail):
            submitted = mlflow.projects.run(
                str(spec.directory),
                entry_point=entry_point,
                parameters=checked,
                experiment_id=experiment_id,
                env_manager="local",
                synchronous=True,
            )
        run_id, cause = submitted.run_id, None
    except ExecutionException as error:
        match = re.search(r"Run \(ID '([0-9a-f]+)'\)", str(error))
        if match is None:  # failed before any run was created
            raise DriftloopError(f"Project {spec.name!r} could not start: {error}") from None
        run_id, cause = match.group(1), _failure_cause(tail)
    except MlflowException as error:
        raise DriftloopError(f"Project {spec.name!r} could not start: {error.message}") from None
    finally:
        os.environ["PATH"] = previous_path
    run = client.get_run(run_id)
    if cause is not None and run.info.status == "RUNNING":
        client.set_terminated(run_id, "FAILED")
        run = client.get_run(run_id)
    return ProjectRunResult(run_id, run.info.status, dict(sorted(run.data.metrics.items())), cause)
