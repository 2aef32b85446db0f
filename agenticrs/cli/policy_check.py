"""Checks the CLI runs before an episode: does a checkpoint fit the env, does a searcher apply to it.

Both fail fast with one line instead of a shape error deep inside torch (``mat1 and mat2
shapes cannot be multiplied``) or a ``ValueError`` traceback half-way through a benchmark.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from agenticrs.cli.errors import CLIError


def space_signature(space: gym.Space | None) -> Any:
    """What a trained network depends on: Box shapes, Dict keys, Discrete / MultiDiscrete sizes.

    Bounds and dtypes are left out: a policy applies to an env whose observation has the same
    layout. ``Dict(observations, action_mask)`` (RLlib's masking module) compares part by part.
    """
    if space is None:
        return None
    if isinstance(space, gym.spaces.Dict):
        return {k: space_signature(s) for k, s in space.spaces.items()}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return ("MultiDiscrete", tuple(int(n) for n in space.nvec.ravel()))
    if isinstance(space, gym.spaces.Discrete):
        return ("Discrete", int(space.n))
    if isinstance(space, gym.spaces.Box):
        return ("Box", tuple(space.shape))
    return (type(space).__name__, getattr(space, "shape", None))


def _describe(sig: Any) -> str:
    if isinstance(sig, dict):
        return "Dict(" + ", ".join(f"{k}={_describe(v)}" for k, v in sig.items()) + ")"
    if isinstance(sig, tuple) and len(sig) == 2:
        return f"{sig[0]}{list(sig[1]) if isinstance(sig[1], tuple) else sig[1]}"
    return str(sig)


def policy_spaces(policy: Any) -> tuple[gym.Space | None, gym.Space | None]:
    """``(observation space, action space)`` a trained policy was built for (SB3 ``model``, RLlib ``module``)."""
    inner = getattr(policy, "model", None) or getattr(policy, "module", None) or policy
    return getattr(inner, "observation_space", None), getattr(inner, "action_space", None)


def load_checkpoint_policy(checkpoint: str, deterministic: bool = False) -> tuple[Any, dict[str, Any]]:
    """``(policy, checkpoint metadata)``; Ray's notices hidden for RLlib checkpoints, a missing one is one line."""
    from agenticrs.cli.train import FRAMEWORKS
    from agenticrs.policies.training import load_policy, read_meta

    try:
        meta = read_meta(checkpoint)
    except FileNotFoundError as e:
        raise CLIError(str(e)) from None
    framework = FRAMEWORKS.get(meta.get("framework", ""))
    if framework is not None and framework.ray:
        from agenticrs.policies.ray_util import quiet_ray_logging

        quiet_ray_logging()  # loading an RLlib module logs deprecation notices
    return load_policy(checkpoint, deterministic=deterministic), meta


def check_policy_fits(policy: Any, env: gym.Env, checkpoint: str, env_id: str, trained_on: str | None) -> None:
    """Raise :class:`CLIError` if the checkpoint's spaces differ from ``env``'s (before any episode runs).

    Args:
        policy: a loaded checkpoint policy (``load_policy``).
        env: the env it is about to act in, built with the policy's ``obs_mode``.
        checkpoint: its path, for the message.
        env_id / trained_on: the env's id and the one the checkpoint was trained on.
    """
    obs, act = policy_spaces(policy)
    wrong = []
    for what, mine, theirs in (("observation", obs, env.observation_space), ("action", act, env.action_space)):
        a, b = space_signature(mine), space_signature(theirs)
        if a is not None and a != b:
            wrong.append(f"{what} space {_describe(a)} vs the env's {_describe(b)}")
    if wrong:
        origin = f"trained on {trained_on}" if trained_on else "trained elsewhere"
        raise CLIError(f"checkpoint {checkpoint} ({origin}) does not fit {env_id}: {'; '.join(wrong)}; "
                       f"evaluate it on the env (and suite options) it was trained on, or train on this one")


def inapplicable_reason(policy: Any, env: gym.Env, budget: int) -> str | None:
    """Why a search baseline cannot run on ``env`` (e.g. ``halving`` on an env without a fidelity), else ``None``.

    Asks the searcher's ``applies_to`` when it has one, then tries a search set-up on the env's
    action space (what every episode would do first): a ``ValueError`` there is the reason.
    """
    from agenticrs.policies.base import Budget, Searcher, env_search_space

    if not isinstance(policy, Searcher):
        return None
    try:
        space = env_search_space(env)
    except TypeError as e:  # an action space the search baselines do not know
        return str(e)
    applies = getattr(policy, "applies_to", None)
    reason = applies(space) if callable(applies) else None
    if reason:
        return str(reason)
    try:
        policy.reset(space, Budget(max(1, budget)), seed=0)
    except ValueError as e:
        return str(e)
    return None
