"""Showing and installing the deployment's policy set.

``install_policies`` is the announced way to change the rules: an admin's act
(``policy.install``, decided by Cedar like every act), validated before anything is
written, the folder's ``*.cedar`` files replaced, the new set recorded and audited in
one step. A change made any other way (someone edits the folder, an upgrade ships new
rules) is still recorded, as ``policy.change`` by the next Registry that loads it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from idgraph.audit import record
from idgraph.policy import policy_set
from idgraph.policy.acts import ActDecision, authorise_act
from idgraph.policy.cedar import deployment_files, load_policies
from idgraph.policy.registry import Registry, policy_folder
from idgraph.settings import Settings
from idgraph.store import Store


class PolicyInstallError(ValueError):
    """The policy set cannot be installed (invalid, or no folder to install it to)."""


@dataclass(frozen=True, slots=True)
class PolicySetInfo:
    """What ``idgraph policy show`` prints."""

    digest: str
    folder: str | None
    files: tuple[str, ...]
    ids: tuple[str, ...]
    recorded: policy_set.RecordedSet | None


def show(store: Store, settings: Settings | None = None) -> PolicySetInfo:
    """The set in force (loading it records it if it changed) and its last record."""
    reg = Registry(store, settings=settings)
    p = reg.policies
    folder = str(reg.policy_folder) if reg.policy_folder is not None else None
    return PolicySetInfo(p.digest, folder, p.files, p.ids, policy_set.current(store))


def _replace(folder: Path, files: list[tuple[str, str]]) -> None:
    """Make ``folder`` hold exactly ``files`` (name, text); each write is atomic."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {Path(name).name: text for name, text in files}
    for old in folder.glob("*.cedar"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, folder / name)


def in_force(store: Store, settings: Settings | None = None) -> Registry:
    """The registry of the policy set in force, which decides ``policy.install``.

    Loading it records an unannounced change first. When the target is a new folder,
    the set in force is the recorded folder's: installing is how a deployment's folder
    moves (policy_set._check_folder)."""
    target = policy_folder(store, settings)
    if target is None:
        raise PolicyInstallError("this store has no policy folder (set IDGRAPH_POLICY_DIR)")
    load_policies(target)  # the folder named now must load (a broken one is an error)
    recorded = policy_set.current(store)
    chosen = settings
    if recorded is not None and recorded.folder is not None:
        was = Path(recorded.folder)
        base = settings or Settings()
        if was.resolve() == target.resolve():
            pass
        elif was.is_dir():
            chosen = base.model_copy(update={"policy_dir": was})
        elif was.name == "policies":  # a data dir's default folder, never created
            chosen = base.model_copy(update={"data_dir": was.parent, "policy_dir": None})
    return Registry(store, settings=chosen)


def install_policies(
    store: Store, source: Path, *, actor: str = "", settings: Settings | None = None,
    decision: ActDecision | None = None,
) -> PolicySetInfo:
    """Install ``source/*.cedar`` as the deployment's policies (an admin's act, decided
    under the set in force: :func:`in_force`; ``decision`` when already decided);
    audited."""
    target = policy_folder(store, settings)
    if target is None:
        raise PolicyInstallError("this store has no policy folder (set IDGRAPH_POLICY_DIR)")
    if not source.is_dir():
        raise PolicyInstallError(f"{source} is not a folder")
    if decision is None:
        reg = in_force(store, settings)
        decision = authorise_act(store, actor, "policy.install", registry=reg,
                                 target=str(source))
    dec = decision
    actor = dec.actor
    try:
        files = deployment_files(source)
        new = load_policies(source)  # validate the whole set before touching the folder
    except ValueError as exc:
        raise PolicyInstallError(str(exc)) from exc
    old = policy_set.current(store)
    with store.transaction():
        _replace(target, files)
        policy_set.insert(store, new, target, by=actor, how="policy.install")
        detail = {**policy_set.change_detail(old, new, target), "installed": new.digest}
        record(store, dec.entry("ok", detail=detail))
    return show(store, settings)
