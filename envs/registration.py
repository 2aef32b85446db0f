"""Registration of agenticrs envs with Gymnasium and RLlib, and the plugin entry points.

``import agenticrs`` calls :func:`register_builtin_envs` and :func:`load_plugins`, so
``gymnasium.make("agenticrs/AutoTrain-v0", backend="table")`` works right away. Entry points
are lazy ``"module:Class"`` strings: nothing heavy is imported until an env is made.

RLlib: importing ``ray.tune`` costs seconds, so it is never imported here. Every env is
registered with ``ray.tune.registry.register_env`` as soon as that module is imported (by
the user, RLlib or Tune) — immediately if it already is, otherwise by a one-shot import
hook. The creator :func:`make_from_config` lives in this module, so unpickling it on a
remote env runner imports ``agenticrs``, which registers the Gymnasium ids there too.

Users register their own envs the same way::

    register_env("mylab/MyEnv-v0", "mylab.envs:MyEnv", backends=("table",))

and plugins through the ``agenticrs.plugins`` entry-point group: each entry point is loaded
at ``import agenticrs``; a callable is called with no arguments (register there).
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import gymnasium as gym

PLUGIN_GROUP = "agenticrs.plugins"
NAMESPACE = "agenticrs"


@dataclass(frozen=True)
class EnvRecord:
    """What :func:`list_envs` knows about a registered env."""

    id: str
    entry_point: str | Callable[..., gym.Env]
    backends: tuple[str, ...] = ()
    describe_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments that build the env cheaply (no data, no table) to read its spaces."""
    multi_agent: bool = False
    """An RLlib ``MultiAgentEnv`` (per-agent dict spaces and steps): not a single-agent Gymnasium env, so
    single-agent checkers skip it and the RLlib creator returns it unwrapped."""


_ENVS: dict[str, EnvRecord] = {}


def register_env(
    id: str,
    entry_point: str | Callable[..., gym.Env],
    *,
    backends: Sequence[str] = (),
    describe_kwargs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    multi_agent: bool = False,
    **kwargs: Any,
) -> None:
    """Register an env with Gymnasium (and with RLlib once ``ray.tune`` is imported).

    Args:
        id: ``namespace/Name-vN``; never change what an existing id means, add ``-v(N+1)``.
        entry_point: ``"module:Class"`` (imported on first ``make``) or a callable.
        backends: backend kinds the env accepts (for ``agenticrs envs``).
        describe_kwargs: kwargs that build the env without data, to list its spaces.
        overwrite: replace an existing registration of ``id``.
        multi_agent: the entry point is an RLlib ``MultiAgentEnv`` (Gymnasium's passive env
            checker is disabled for it; ``list_env_ids(multi_agent=False)`` leaves it out).
        **kwargs: default constructor kwargs stored in the Gymnasium spec.
    """
    if not overwrite and id in _ENVS:
        raise ValueError(f"env {id!r} is already registered; pass overwrite=True or register -v(N+1)")
    if not overwrite and id in gym.registry:
        raise ValueError(f"env id {id!r} is already registered with Gymnasium by another package")
    gym.register(id=id, entry_point=entry_point, kwargs=dict(kwargs), disable_env_checker=multi_agent)
    _ENVS[id] = EnvRecord(id, entry_point, tuple(backends), dict(describe_kwargs or {}), multi_agent)
    if _rllib_ready():
        _register_rllib(id)


def unregister_env(id: str) -> None:
    """Remove an env registered through :func:`register_env` (Gymnasium and RLlib)."""
    _ENVS.pop(id, None)
    gym.registry.pop(id, None)
    if id in _rllib_registered and _rllib_ready():
        from ray.tune.registry import ENV_CREATOR, _global_registry

        _global_registry.unregister(ENV_CREATOR, id)
        _rllib_registered.discard(id)


def list_env_ids(multi_agent: bool | None = None) -> list[str]:
    """Ids registered through agenticrs (built-ins, user calls, plugins); ``multi_agent=False`` /
    ``True`` keeps only single-agent Gymnasium envs / only multi-agent envs."""
    return sorted(i for i, r in _ENVS.items() if multi_agent is None or r.multi_agent == multi_agent)


def list_envs() -> list[dict[str, Any]]:
    """``[{id, entry_point, action_space, observation_space, backends}]`` for every registered env.

    Spaces are read from an instance built with the env's ``describe_kwargs``; an env that
    cannot be built here is listed with ``error`` instead of its spaces.
    """
    rows = []
    for rec in sorted(_ENVS.values(), key=lambda r: r.id):
        row: dict[str, Any] = {"id": rec.id, "entry_point": _name(rec.entry_point), "backends": list(rec.backends)}
        try:
            env = gym.make(rec.id, disable_env_checker=True, **rec.describe_kwargs)
            try:
                row["action_space"] = repr(env.action_space)
                row["observation_space"] = repr(env.observation_space)
            finally:
                env.close()
        except Exception as e:  # noqa: BLE001 - one broken plugin must not hide the others
            row["error"] = f"{type(e).__name__}: {e}"
        rows.append(row)
    return rows


def _name(entry_point: str | Callable[..., Any]) -> str:
    if isinstance(entry_point, str):
        return entry_point
    return f"{entry_point.__module__}:{getattr(entry_point, '__qualname__', repr(entry_point))}"


# ---------------------------------------------------------------------- built-ins
class _NullBackend:
    """Evaluates nothing; lets ``list_envs`` build an env (to read its spaces) without a table."""

    kind = "null"

    def evaluate(self, task: Any, config: Any, fidelity: float, seed: int) -> Any:
        raise RuntimeError("the null backend only exists to describe an env's spaces")


def register_builtin_envs() -> None:
    """Register every env shipped with agenticrs (idempotent)."""
    builtins = [
        ("agenticrs/AutoTrain-v0", "agenticrs.envs.autotrain:AutoTrainEnv", ("table", "surrogate", "live")),
        ("agenticrs/Compose-v0", "agenticrs.envs.compose:ComposeEnv", ("table", "surrogate", "live")),
        ("agenticrs/AutoFeature-v0", "agenticrs.envs.autofeature:AutoFeatureEnv", ("table", "surrogate", "live")),
        ("agenticrs/AutoPerf-v0", "agenticrs.envs.autoperf:AutoPerfEnv", ("table", "surrogate", "live")),
        ("agenticrs/OpenDesign-v0", "agenticrs.envs.opendesign:OpenDesignEnv", ("live",)),
    ]
    for id, entry_point, backends in builtins:
        if id in _ENVS:
            continue
        register_env(id, entry_point, backends=backends, describe_kwargs={"backend": _NullBackend()},
                     overwrite=True)
    if "agenticrs/AutoTrain-v1" not in _ENVS:  # the harder space (issue 29); v0 keeps its meaning
        register_env("agenticrs/AutoTrain-v1", "agenticrs.envs.autotrain:AutoTrainEnv", backends=("live",),
                     describe_kwargs={"backend": _NullBackend()}, overwrite=True, space="v1", backend="live")
        # v1 is another, harder env, not a fix of v0 (kept for reproducibility, its table ships):
        # Gymnasium's "v0 is out of date, consider upgrading to v1" would mislead every v0 user.
        warnings.filterwarnings("ignore", message=r".*agenticrs/AutoTrain-v0 is out of date.*")
    if "agenticrs/AgenticRS-v0" not in _ENVS:  # multi-agent: the RLlib face (PettingZoo: agenticrs.envs.agentic)
        register_env("agenticrs/AgenticRS-v0", "agenticrs.envs.agentic.rllib_env:AgenticRSEnv",
                     backends=("cached", "live"), overwrite=True, multi_agent=True)


# ---------------------------------------------------------------------- plugins
_plugins_loaded: list[str] = []


def load_plugins(group: str = PLUGIN_GROUP) -> list[str]:
    """Load every ``agenticrs.plugins`` entry point once; returns the names loaded.

    A failing plugin is reported with a warning and skipped, so one broken package cannot
    break ``import agenticrs``.
    """
    from importlib.metadata import entry_points

    loaded = []
    for ep in entry_points(group=group):
        if ep.name in _plugins_loaded:
            continue
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, type):
                obj()
        except Exception as e:  # noqa: BLE001
            warnings.warn(f"agenticrs plugin {ep.name!r} ({ep.value}) failed to load: {type(e).__name__}: {e}",
                          stacklevel=2)
            continue
        _plugins_loaded.append(ep.name)
        loaded.append(ep.name)
    return loaded


# ---------------------------------------------------------------------- RLlib
def make_from_config(env_id: str, env_config: Mapping[str, Any] | None = None) -> gym.Env:
    """RLlib creator: ``gym.make(env_id, **env_config)`` (an ``EnvContext`` is a dict).

    A multi-agent env is returned unwrapped: RLlib needs the ``MultiAgentEnv`` itself.
    """
    import agenticrs  # noqa: F401  (on a fresh Ray worker this registers the Gymnasium ids)

    env = gym.make(env_id, **dict(env_config or {}))
    record = _ENVS.get(env_id)
    return env.unwrapped if record is not None and record.multi_agent else env


_RLLIB_MODULE = "ray.tune.registry"
_rllib_registered: set[str] = set()


def _rllib_ready() -> bool:
    return _RLLIB_MODULE in sys.modules and hasattr(sys.modules[_RLLIB_MODULE], "register_env")


def _register_rllib(env_id: str, module: Any = None) -> None:
    try:
        (module or sys.modules[_RLLIB_MODULE]).register_env(env_id, functools.partial(make_from_config, env_id))
        _rllib_registered.add(env_id)
    except Exception as e:  # noqa: BLE001 - RLlib trouble must not break Gymnasium use
        warnings.warn(f"could not register {env_id!r} with RLlib: {type(e).__name__}: {e}", stacklevel=2)
    _add_reinit_hook()


def _reregister_after_init() -> None:
    for env_id in list(_ENVS):
        _register_rllib(env_id)


def _add_reinit_hook() -> None:
    """Re-register after every ``ray.init``: Tune's registry forgets its entries at ``ray.shutdown``.

    Uses Ray's private post-init hook list (the one Tune's registry itself uses); if a Ray
    version lacks it, ``register_rllib()`` after ``ray.init`` does the same by hand.
    """
    try:
        hooks = sys.modules["ray._private.worker"]._post_init_hooks
    except (KeyError, AttributeError):
        return
    if _reregister_after_init not in hooks:
        hooks.append(_reregister_after_init)


def register_rllib() -> list[str]:
    """Register every agenticrs env with RLlib now (imports ``ray.tune``); returns the ids."""
    importlib.import_module(_RLLIB_MODULE)
    for env_id in _ENVS:
        _register_rllib(env_id)
    return sorted(_rllib_registered)


class _TuneImportHook(importlib.abc.MetaPathFinder):
    """Runs :func:`register_rllib`'s work right after ``ray.tune.registry`` is first imported."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != _RLLIB_MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _AfterExec(spec.loader)
                return spec
        return None


class _AfterExec(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)  # type: ignore[attr-defined]
        _remove_hook()
        for env_id in list(_ENVS):
            _register_rllib(env_id, module)  # register_env is defined now that the module ran


def _remove_hook() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TuneImportHook)]


def install_rllib_hook() -> None:
    """Register with RLlib now if ``ray.tune`` is loaded, else when it gets imported."""
    if _rllib_ready():
        for env_id in _ENVS:
            _register_rllib(env_id)
    elif not any(isinstance(f, _TuneImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _TuneImportHook())
