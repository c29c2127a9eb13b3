"""Registry aliases with an audit trail: promote, roll back, and recover an undecided challenger.

Aliases (MLflow registry stages are deprecated):

``champion``            the version in production
``previous-champion``   the champion before the last promotion (what :func:`rollback` restores)
``challenger``          a freshly trained version waiting for its validation

Audit. Every change writes tags on the model versions concerned (``driftloop.decision``, ``driftloop.decided_at``,
``driftloop.decided_by``, ``driftloop.reason``, ...) and one run in the experiment ``retraining`` whose parameters
say what happened (``action``, ``model``, ``version``, ``previous``, ``actor``, ``reason``).

Concurrency. Alias changes are compare-and-set operations done under an exclusive lock:

* **SQLite store** (the embedded default): ``fcntl.flock`` on ``<database>.driftloop.lock`` next to the database —
  exact between processes of one machine, released by the kernel when a process dies.
* **Other stores** (a tracking server, or a database such as PostgreSQL used directly): a lease made of tickets in
  the registered model's tags. MLflow has no atomic conditional write, and two writers of one tag key collide (on
  PostgreSQL the second insert fails on the tag's unique key), so each contender writes a ticket under a key of its
  own, ``driftloop.lock.<random token>``, whose value is its expiry (Unix seconds) and holder (``host:pid``), then
  reads the model's tags back: it holds the lock only when its ticket is the only live one; otherwise it deletes
  its ticket and tries again after a random pause. This is exact whenever the store's reads follow its writes (one
  database behind the server): if A holds the lock, A read no other ticket after writing its own, so any contender
  B wrote later and, reading after that, sees A's ticket and backs off. Two contenders may both back off (they
  retry at random times); they can never both proceed. A crashed holder's ticket blocks others until it expires
  (:data:`LEASE_SECONDS`), or no longer once its process is seen gone from its host.

Inside the lock the champion alias is read again and compared with what the caller saw when it decided
(``expected_champion``): a promotion decided against a champion that has moved since is refused, so two retrains
started at once cannot both promote.

Recovery. A retrain registers its version, then tags it ``driftloop.role = challenger`` with its owner (host and
process id) before validating. A crash in between leaves a challenger without ``driftloop.decision``;
:func:`recover` (called at the start of every retrain) finds such versions whose owner is gone (a dead process on
this host, or older than ``stale_after`` seconds) and resolves them: one that already became champion is marked
``promoted``, any other ``abandoned``; the ``challenger`` alias is removed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from driftloop.errors import DriftloopError
from driftloop.tracking.experiments import get_or_create_experiment
from driftloop.tracking.search import model_versions

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous-champion"
CHALLENGER = "challenger"
RETRAINING_EXPERIMENT = "retraining"
TAG = "driftloop."
LOCK_TIMEOUT_SECONDS = 120.0
"""How long an alias change waits for the lock before giving up."""
LEASE_SECONDS = 300.0
"""Lifetime of a tag lease on server stores (a crashed holder blocks others at most this long)."""
LEASE_RETRY_PAUSE_SECONDS = (0.05, 0.5)
"""Bounds of the random pause before a contender for a lease tries again."""
STALE_AFTER_SECONDS = 6 * 3600.0
"""An undecided challenger whose owner cannot be checked is resolved by :func:`recover` after this long."""

_UNSET = object()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def owner_id() -> str:
    """``host:pid`` of this process, as written on the challengers it registers."""
    return f"{socket.gethostname()}:{os.getpid()}"


# ------------------------------------------------------------------------------------------------------ reading


def require_model(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException:
        raise DriftloopError(f"The registered model {name!r} does not exist.") from None


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version of ``name`` that carries ``alias``, or None."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _version_of(found: ModelVersion | None) -> str | None:
    return None if found is None else str(found.version)


def require_version(client: MlflowClient, name: str, version: str | int) -> ModelVersion:
    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        raise DriftloopError(f"Model {name!r} has no version {str(version)!r}.") from None


def champion_version(client: MlflowClient, name: str) -> ModelVersion:
    """The champion of ``name``; a model without one is a :class:`DriftloopError`."""
    require_model(client, name)
    found = alias_version(client, name, CHAMPION)
    if found is None:
        raise DriftloopError(
            f"Model {name!r} has no {CHAMPION!r} alias; set one first with driftloop promote --model {name} --version V."
        )
    return found


# -------------------------------------------------------------------------------------------------------- locks


def _sqlite_path(uri: str) -> Path | None:
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    return Path(uri[len(prefix):].split("?", 1)[0])


def _holder(scope: str) -> str:
    return "another promotion" if scope == "lock" else f"another {scope} pass"


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float, holder: str = "another promotion") -> Iterator[None]:
    lock_path = path.with_name(path.name + ".driftloop.lock")
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise DriftloopError(
                        f"Could not lock the registry ({lock_path}) within {timeout:g} s: {holder} holds it."
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


_ABANDONED_TICKETS: set[str] = set()
"""Tickets this process could not delete (the store was unreachable when it released the lock): dead to it."""


def _ticket_is_live(key: str, value: str) -> bool:
    """A ticket (value ``<expiry> <host>:<pid>``) is live until its expiry, unless its holder is a process of this
    host that is gone (a crashed pass) or it is one this process abandoned."""
    expiry, _, holder = value.partition(" ")
    try:
        live = float(expiry) > time.time()
    except ValueError:
        return False
    if not live or key in _ABANDONED_TICKETS:
        return False
    return not _gone_from_this_host(holder)


def _gone_from_this_host(holder: str) -> bool:
    """Whether ``holder`` (``<host>:<pid>``) names a process of this host that no longer runs; a process of another
    host, or one this user may not signal (it runs), is not known to be gone."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _live_tickets(client: MlflowClient, name: str, prefix: str) -> set[str]:
    """The keys of the live lease tickets of ``name`` under ``prefix``; dead ones (expired, or a crashed holder's)
    are deleted on the way, best effort."""
    live: set[str] = set()
    for key, value in client.get_registered_model(name).tags.items():
        if not key.startswith(prefix):
            continue
        if _ticket_is_live(key, value):
            live.add(key)
        else:
            with contextlib.suppress(MlflowException):
                client.delete_registered_model_tag(name, key)
    return live


@contextlib.contextmanager
def _lease_lock(client: MlflowClient, name: str, timeout: float, scope: str = "lock") -> Iterator[None]:
    """Hold the ticket lease of ``scope`` on model ``name`` (the protocol is in the module docstring)."""
    prefix = f"{TAG}{scope}."
    mine = prefix + uuid.uuid4().hex
    deadline = time.monotonic() + timeout
    while True:
        if not _live_tickets(client, name, prefix):
            client.set_registered_model_tag(name, mine, f"{time.time() + LEASE_SECONDS:.3f} {owner_id()}")
            if _live_tickets(client, name, prefix) == {mine}:
                break
            client.delete_registered_model_tag(name, mine)  # another contender wrote meanwhile: both back off
        if time.monotonic() > deadline:
            raise DriftloopError(f"Could not lock model {name!r} within {timeout:g} s: {_holder(scope)} holds it.")
        time.sleep(random.uniform(*LEASE_RETRY_PAUSE_SECONDS))
    try:
        yield
    finally:
        try:
            client.delete_registered_model_tag(name, mine)
        except Exception:  # the store went away: the ticket dies with this process, or at its expiry
            _ABANDONED_TICKETS.add(mine)


@contextlib.contextmanager
def registry_lock(client: MlflowClient, name: str, *, timeout: float = LOCK_TIMEOUT_SECONDS,
                  scope: str = "lock") -> Iterator[None]:
    """Hold the exclusive lock for alias changes of model ``name`` (see the module docstring); another ``scope``
    (``monitor``) is another lock, taken the same way (file ``<database>.<scope>.driftloop.lock``, tickets
    ``driftloop.<scope>.<token>``)."""
    database = _sqlite_path(client._registry_uri)
    if database is not None:
        path = database if scope == "lock" else database.with_name(f"{database.name}.{scope}")
        with _file_lock(path, timeout, _holder(scope)):
            yield
    else:
        with _lease_lock(client, name, timeout, scope):
            yield


# -------------------------------------------------------------------------------------------------------- audit


def record_event(client: MlflowClient, action: str, name: str, *, params: Mapping[str, object],
                 metrics: Mapping[str, float] | None = None, status: str = "FINISHED") -> str:
    """Write one run in the experiment ``retraining`` describing ``action`` on model ``name``; return its id."""
    experiment_id = get_or_create_experiment(client, RETRAINING_EXPERIMENT)
    version = params.get("version")
    run_name = f"{action} {name}" + (f" v{version}" if version not in (None, "") else "")
    run = client.create_run(experiment_id, run_name=run_name,
                            tags={TAG + "action": action, TAG + "model": name})
    run_id = run.info.run_id
    stamp = int(time.time() * 1000)
    client.log_batch(
        run_id,
        params=[Param(key, str(value)[:6000]) for key, value in {"action": action, "model": name, **params}.items()
                if value is not None],
        metrics=[Metric(key, float(value), stamp, 0) for key, value in (metrics or {}).items()],
    )
    client.set_terminated(run_id, status)
    return run_id


def _tag_version(client: MlflowClient, name: str, version: str, tags: Mapping[str, object]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(name, version, TAG + key, str(value))


@dataclass(frozen=True)
class AliasChange:
    """The outcome of :func:`promote` or :func:`rollback`."""

    model: str
    champion: str
    previous: str | None
    run_id: str


# ---------------------------------------------------------------------------------------------- promote, rollback


def promote(client: MlflowClient, name: str, version: str | int, *, reason: str, actor: str,
            expected_champion: object = _UNSET, evidence: Mapping[str, object] | None = None) -> AliasChange:
    """Make ``version`` the champion of ``name``; the old champion becomes ``previous-champion``.

    ``expected_champion`` (a version string, or None for "no champion") makes this a compare-and-set: when the
    champion is no longer that version once the lock is held, nothing changes and a :class:`DriftloopError` is
    raised. ``evidence`` is written as tags on the promoted version (``driftloop.<key>``). The champion reported
    is read back from the registry after the change.
    """
    require_model(client, name)
    version = str(version)
    require_version(client, name, version)
    if not reason or not reason.strip():
        raise DriftloopError("The 'reason' parameter of promote must be a non-empty text; got an empty reason.")
    with registry_lock(client, name):
        old = _version_of(alias_version(client, name, CHAMPION))
        if expected_champion is not _UNSET and old != expected_champion:
            raise DriftloopError(
                f"Model {name!r}: the champion moved from version {expected_champion} to {old} while this "
                f"promotion was decided; version {version} is not promoted."
            )
        if old == version:
            raise DriftloopError(f"Model {name!r}: version {version} is already the champion.")
        client.set_registered_model_alias(name, CHAMPION, version)
        if old is not None:
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, old)
        challenger = alias_version(client, name, CHALLENGER)
        if challenger is not None and str(challenger.version) == version:
            client.delete_registered_model_alias(name, CHALLENGER)
        champion = _version_of(alias_version(client, name, CHAMPION))
    stamp = now_iso()
    _tag_version(client, name, version, {
        **(evidence or {}),
        "decision": "promoted", "decided_at": stamp, "decided_by": actor, "reason": reason,
        "replaced": old if old is not None else "none",
    })
    if old is not None:
        _tag_version(client, name, old, {"demoted_at": stamp, "replaced_by": version})
    run_id = record_event(client, "promote", name, params={
        "version": version, "previous": old, "actor": actor, "reason": reason,
    })
    return AliasChange(name, champion or "none", old, run_id)


def rollback(client: MlflowClient, name: str, *, reason: str, actor: str,
             expected_champion: object = _UNSET) -> AliasChange:
    """Make ``previous-champion`` the champion again; the rolled-back version is tagged and the
    ``previous-champion`` alias removed (one level of undo: a second rollback needs a new promotion first).

    A compare-and-set, like :func:`promote`: the champion is read before the lock is taken (or given as
    ``expected_champion``, a version string) and must still be the champion once the lock is held; when a promotion
    or another rollback moved it in between, nothing changes and a :class:`DriftloopError` is raised — restoring the
    previous champion then could reinstate the very version the caller meant to retire. The champion reported is
    read back from the registry after the change.
    """
    require_model(client, name)
    if not reason or not reason.strip():
        raise DriftloopError("The 'reason' parameter of rollback must be a non-empty text; got an empty reason.")
    if expected_champion is _UNSET:
        expected_champion = _version_of(alias_version(client, name, CHAMPION))
    with registry_lock(client, name):
        old = _version_of(alias_version(client, name, CHAMPION))
        if old != expected_champion:
            raise DriftloopError(
                f"Model {name!r}: the champion moved from version {expected_champion} to {old} while this rollback "
                f"waited; nothing is rolled back (run it again to roll back version {old})."
            )
        previous = alias_version(client, name, PREVIOUS_CHAMPION)
        if previous is None:
            raise DriftloopError(f"Model {name!r} has no {PREVIOUS_CHAMPION!r} alias: there is nothing to roll back to.")
        restored = str(previous.version)
        client.set_registered_model_alias(name, CHAMPION, restored)
        client.delete_registered_model_alias(name, PREVIOUS_CHAMPION)
        champion = _version_of(alias_version(client, name, CHAMPION))
    stamp = now_iso()
    if old is not None:
        _tag_version(client, name, old, {
            "decision": "rolled-back", "decided_at": stamp, "decided_by": actor, "reason": reason,
            "replaced_by": restored,
        })
    _tag_version(client, name, restored, {"restored_at": stamp, "restored_by": actor})
    run_id = record_event(client, "rollback", name, params={
        "version": restored, "previous": old, "actor": actor, "reason": reason,
    })
    return AliasChange(name, champion or "none", old, run_id)


# ------------------------------------------------------------------------------------------------------ recovery


def mark_challenger(client: MlflowClient, name: str, version: str, *, owner: str | None = None) -> None:
    """Tag ``version`` as an undecided challenger owned by this process and point the ``challenger`` alias at it."""
    _tag_version(client, name, version, {
        "role": "challenger", "owner": owner or owner_id(), "registered_at": f"{time.time():.3f}",
    })
    client.set_registered_model_alias(name, CHALLENGER, version)


def decide_challenger(client: MlflowClient, name: str, version: str, *, decision: str, reason: str, actor: str,
                      evidence: Mapping[str, object] | None = None) -> None:
    """Record a non-promoting decision (``rejected``, ``failed``, ``abandoned``) on a challenger and drop its alias."""
    _tag_version(client, name, version, {
        **(evidence or {}),
        "decision": decision, "decided_at": now_iso(), "decided_by": actor, "reason": reason,
    })
    challenger = alias_version(client, name, CHALLENGER)
    if challenger is not None and str(challenger.version) == version:
        client.delete_registered_model_alias(name, CHALLENGER)


def _owner_gone(tags: Mapping[str, str], stale_after: float) -> bool:
    try:
        age = time.time() - float(tags.get(TAG + "registered_at", "0"))
    except ValueError:
        age = float("inf")
    return age > stale_after or _gone_from_this_host(tags.get(TAG + "owner", ""))


def undecided_challengers(client: MlflowClient, name: str) -> list[ModelVersion]:
    """Versions of ``name`` tagged as challengers that carry no decision yet."""
    versions = model_versions(client, name)
    return [v for v in versions if v.tags.get(TAG + "role") == "challenger" and TAG + "decision" not in v.tags]


def recover(client: MlflowClient, name: str, *, actor: str,
            stale_after: float = STALE_AFTER_SECONDS) -> list[tuple[str, str]]:
    """Resolve the undecided challengers of ``name`` whose retrain is gone; return ``(version, decision)`` pairs."""
    resolved: list[tuple[str, str]] = []
    with registry_lock(client, name):
        champion = alias_version(client, name, CHAMPION)
        for version in undecided_challengers(client, name):
            if not _owner_gone(version.tags, stale_after):
                continue
            if champion is not None and str(champion.version) == str(version.version):
                decision, reason = "promoted", "recovered: promoted before the retrain stopped; audit completed"
            else:
                decision, reason = "abandoned", "recovered: the retrain that registered it stopped before deciding"
            decide_challenger(client, name, str(version.version), decision=decision, reason=reason, actor=actor)
            record_event(client, "recover", name, params={
                "version": str(version.version), "decision": decision, "actor": actor, "reason": reason,
            })
            resolved.append((str(version.version), decision))
    return resolved
