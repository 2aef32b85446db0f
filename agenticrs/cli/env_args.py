"""Env flags shared by ``train``, ``evaluate`` and ``evolve``: what the user gives, merged over the registration.

Precedence (lowest first): the env class's defaults < the kwargs stored with the registered id
(``gymnasium.spec(id).kwargs``) < ``--env-kwargs JSON`` < the explicit flags (``--backend``,
``--suite``, ``--table``, ``--max-trials``). A flag the user did not give is ``None`` and passes
nothing, so ``agenticrs train --env mylab/ShopTrain-v0`` trains on the suite and backend that
``mylab/ShopTrain-v0`` was registered with.
"""

from __future__ import annotations

import argparse
from typing import Any, Mapping

from agenticrs.cli.errors import CLIError, check_at_least, json_object


def add_env_arguments(p: argparse.ArgumentParser, *, env_default: str | None = "agenticrs/AutoTrain-v0",
                      env_help: str = "registered env id") -> None:
    """``--env``, ``--backend``, ``--table``, ``--suite``, ``--env-kwargs``, ``--max-trials`` (all optional)."""
    p.add_argument("--env", default=env_default, help=env_help)
    p.add_argument("--backend", default=None,
                   help="table | surrogate | live | any registered kind (default: the env's registration)")
    p.add_argument("--table", default=None, help="table file for the table/surrogate backend (default: shipped)")
    p.add_argument("--suite", default=None, help="task suite (default: the env's registration; built-ins: synthetic)")
    p.add_argument("--env-kwargs", default=None, metavar="JSON",
                   help='any env constructor kwargs as a JSON object, e.g. \'{"reward_weights": {"cost": 0}}\'; '
                        "the flags above win over it")
    p.add_argument("--max-trials", type=int, default=None, help="trial budget per episode (default: the task's)")


def env_overrides(args: argparse.Namespace, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The env kwargs the user gave, over ``base`` (e.g. a checkpoint's kwargs); nothing for unset flags.

    Raises:
        CLIError: ``--env-kwargs`` is not a JSON object, or ``--max-trials`` < 1.
    """
    check_at_least("--max-trials", args.max_trials)
    base = dict(base or {})
    if args.backend is not None and args.backend != base.get("backend"):
        base.pop("backend_kwargs", None)  # another backend's arguments do not carry over
    kwargs = {**base, **json_object("--env-kwargs", args.env_kwargs)}
    if args.backend is not None:
        kwargs["backend"] = args.backend
    if args.suite is not None:
        kwargs["suite"] = args.suite
    if args.table is not None:
        kwargs["backend_kwargs"] = {**dict(kwargs.get("backend_kwargs") or {}), "table": args.table}
    if args.max_trials is not None:
        kwargs["max_trials"] = args.max_trials
    return kwargs


def registered_kwargs(env_id: str) -> dict[str, Any]:
    """The kwargs stored with ``env_id``'s Gymnasium registration (``{}`` for none)."""
    import gymnasium as gym

    return dict(gym.spec(env_id).kwargs or {})


def _class_defaults(env_id: str) -> dict[str, Any]:
    """The env constructor's own defaults for ``backend`` and ``suite`` (what an unset flag means)."""
    import inspect

    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    entry = gym.spec(env_id).entry_point
    try:
        creator = load_env_creator(entry) if isinstance(entry, str) else entry
    except (ImportError, AttributeError, ValueError):
        return {}
    found: dict[str, Any] = {}
    # A subclass may take **kwargs and pass them up: look through the classes' __init__ in MRO order.
    for fn in [c.__init__ for c in creator.__mro__] if isinstance(creator, type) else [creator]:
        try:
            params = inspect.signature(fn).parameters
        except (ValueError, TypeError):
            continue
        for k in ("backend", "suite"):
            if k not in found and k in params and params[k].default is not inspect.Parameter.empty:
                found[k] = params[k].default
    return found


def describe_kwargs(env_id: str, overrides: Mapping[str, Any]) -> str:
    """``backend=…, suite=…`` as the env will see them (defaults < registration < ``overrides``), one line."""
    merged = {**_class_defaults(env_id), **registered_kwargs(env_id), **overrides}
    shown = {k: merged[k] for k in ("backend", "suite", "split", "max_trials") if k in merged}
    shown.update({k: v for k, v in merged.items() if k not in shown and k not in ("store", "run_id")})
    return ", ".join(f"{k}={_short(v)}" for k, v in shown.items()) or "the env's defaults"


def _short(v: Any) -> str:
    text = v if isinstance(v, str) else getattr(v, "name", None) or getattr(v, "kind", None) or repr(v)
    text = str(text)
    return text if len(text) <= 60 else text[:57] + "..."


def make_env(env_id: str, kwargs: Mapping[str, Any]) -> Any:
    """``gymnasium.make(env_id, **kwargs)``; a constructor's bad argument becomes one line.

    Raises:
        CLIError: the env rejects its kwargs (unknown suite or backend, wrong keyword...).
    """
    import gymnasium as gym

    try:
        return gym.make(env_id, **kwargs)
    except (KeyError, ValueError, TypeError, FileNotFoundError) as e:  # e.g. no table for the suite
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        raise CLIError(f"cannot build {env_id} with {describe_kwargs(env_id, kwargs)}: {msg}") from None


def knowledge_run(path: str | None, command: str, meta: Mapping[str, Any]) -> Any:
    """``open_run(path, command, meta)`` (``--knowledge PATH``; records nothing for ``None``).

    Use it as ``with knowledge_run(...) as run:`` and pass ``run.env_kwargs()`` (JSON-able: the
    store's path and the run id) to the env; the run ends ``ok``, ``failed`` or ``interrupted``.

    Raises:
        CLIError: the path cannot be a knowledge store (a folder, not SQLite, unwritable...).
    """
    from agenticrs.envs.knowledge import KnowledgeStoreError, open_run

    try:
        return open_run(path, command, meta)
    except KeyboardInterrupt:
        raise
    except KnowledgeStoreError as e:
        raise CLIError(f"--knowledge {path}: {e}") from None
