"""Episodes saved as JSON and replayed: do the rewards reproduce?

An :class:`Episode` holds what is needed to re-run it exactly — env id, constructor kwargs
(JSON, so a backend is given by kind), task, reset seed and actions — plus the rewards it
got. :func:`replay` rebuilds the env, re-runs the actions and compares the rewards
(``agenticrs validate EPISODE.json``). With a table or surrogate backend they must match
exactly; with ``backend="live"`` they match within the training noise, so pass a tolerance.

File format (``version`` 1)::

    {"format": "agenticrs.episode", "version": 1, "env_id": "agenticrs/AutoTrain-v0",
     "kwargs": {"backend": "table"}, "task": "syn-sequential", "seed": 0,
     "actions": [[4, 1, 0, ...], ...], "rewards": [0.41, ...], "reward_terms": [{...}, ...],
     "meta": {...}}
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import gymnasium as gym
import numpy as np

FORMAT = "agenticrs.episode"
VERSION = 1


@dataclass
class Episode:
    """One recorded episode (see the module docstring for the JSON layout)."""

    env_id: str
    kwargs: dict[str, Any]
    task: str | None
    seed: int
    actions: list[list[int]]
    rewards: list[float]
    reward_terms: list[dict[str, float]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (a crash never leaves half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "<dict>") -> "Episode":
        """Parse and check an episode; errors name the file and the field."""
        def bad(problem: str) -> ValueError:
            return ValueError(f"{source}: {problem}")

        if not isinstance(d, Mapping):
            raise bad(f"expected a JSON object, got {type(d).__name__}")
        if d.get("format") != FORMAT:
            raise bad(f"'format' must be {FORMAT!r}, got {d.get('format')!r}")
        if d.get("version") != VERSION:
            raise bad(f"unsupported 'version' {d.get('version')!r} (this agenticrs reads {VERSION})")
        for key, typ in (("env_id", str), ("kwargs", dict), ("seed", int), ("actions", list), ("rewards", list)):
            if key not in d:
                raise bad(f"missing field {key!r}")
            if not isinstance(d[key], typ) or (typ is int and isinstance(d[key], bool)):
                raise bad(f"field {key!r} must be {typ.__name__}, got {type(d[key]).__name__}")
        if d.get("task") is not None and not isinstance(d["task"], str):
            raise bad("field 'task' must be a string or null")
        for i, a in enumerate(d["actions"]):
            if not isinstance(a, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in a):
                raise bad(f"actions[{i}] must be a list of integers, got {a!r}")
        if len(d["rewards"]) != len(d["actions"]):
            raise bad(f"{len(d['actions'])} actions but {len(d['rewards'])} rewards")
        for i, r in enumerate(d["rewards"]):
            if not isinstance(r, (int, float)) or isinstance(r, bool):
                raise bad(f"rewards[{i}] must be a number, got {r!r}")
        return cls(d["env_id"], dict(d["kwargs"]), d.get("task"), int(d["seed"]), [list(a) for a in d["actions"]],
                   [float(r) for r in d["rewards"]], [dict(t) for t in d.get("reward_terms", [])],
                   dict(d.get("meta", {})))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Episode":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"episode file {path} does not exist")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
        return cls.from_dict(data, str(path))


Policy = Callable[[Any, gym.Env], Any]


def record_episode(
    env_id: str,
    policy: Policy | Sequence[Any],
    *,
    seed: int = 0,
    task: str | None = None,
    kwargs: Mapping[str, Any] | None = None,
    max_steps: int = 100_000,
    path: str | os.PathLike[str] | None = None,
) -> Episode:
    """Run one episode and record it.

    Args:
        env_id: a registered env id.
        policy: ``policy(obs, env) -> action``, or a sequence of actions (the episode stops
            when it ends or the actions run out).
        seed: the reset seed.
        task: ``options={"task": task}`` at reset (``None``: drawn from the seed).
        kwargs: env constructor kwargs; must be JSON-serialisable (give backends by kind).
        path: also save the episode there.
    """
    kwargs = dict(kwargs or {})
    try:
        json.dumps(kwargs)
    except TypeError as e:
        raise ValueError(f"record_episode: env kwargs must be JSON-serialisable (give a backend by kind): {e}") from None
    env = gym.make(env_id, **kwargs)
    try:
        obs, info = env.reset(seed=seed, options={"task": task} if task is not None else None)
        task_name = info.get("task", task)
        actions: list[list[int]] = []
        rewards: list[float] = []
        terms: list[dict[str, float]] = []
        seq = None if callable(policy) else list(policy)
        for step in range(max_steps):
            if seq is not None and step >= len(seq):
                break
            action = seq[step] if seq is not None else policy(obs, env)  # type: ignore[operator]
            obs, reward, terminated, truncated, info = env.step(action)
            actions.append(np.asarray(action).astype(np.int64).tolist())
            rewards.append(float(reward))
            terms.append({k: float(v) for k, v in info.get("reward_terms", {}).items()})
            if terminated or truncated:
                break
    finally:
        env.close()
    episode = Episode(env_id, kwargs, task_name, seed, actions, rewards, terms,
                      {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    if path is not None:
        episode.save(path)
    return episode


@dataclass
class ReplayReport:
    """The outcome of :func:`replay`; ``ok`` when every reward matched within tolerance."""

    ok: bool
    env_id: str
    task: str | None
    steps: int
    expected: list[float]
    got: list[float]
    max_abs_diff: float
    first_mismatch: int | None
    error: str = ""
    rtol: float = 0.0
    atol: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        head = f"{self.env_id} task={self.task}: {self.steps} steps, "
        if self.error:
            return head + f"FAILED: {self.error}"
        if self.ok:
            return head + f"rewards reproduce (max |diff| {self.max_abs_diff:.3g}, rtol {self.rtol:g}, atol {self.atol:g})"
        i = self.first_mismatch
        return head + (f"rewards differ from step {i}: expected {self.expected[i]:.6g}, got {self.got[i]:.6g} "
                       f"(max |diff| {self.max_abs_diff:.3g})" if i is not None else "rewards differ")


def replay(
    episode: Episode | str | os.PathLike[str],
    *,
    backend: str | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    kwargs: Mapping[str, Any] | None = None,
) -> ReplayReport:
    """Re-run a recorded episode and check that its rewards reproduce.

    Args:
        episode: an :class:`Episode` or the path of its JSON file.
        backend: replace the recorded backend kind (e.g. ``"live"`` to check a table episode).
        rtol / atol: tolerance of ``math.isclose`` per reward (loosen for the live backend).
        kwargs: further env kwargs overriding the recorded ones.
    """
    ep = episode if isinstance(episode, Episode) else Episode.load(episode)
    env_kwargs = {**ep.kwargs, **dict(kwargs or {})}
    if backend is not None:
        env_kwargs["backend"] = backend
    got: list[float] = []
    error = ""
    try:
        env = gym.make(ep.env_id, **env_kwargs)
        try:
            env.reset(seed=ep.seed, options={"task": ep.task} if ep.task is not None else None)
            for i, action in enumerate(ep.actions):
                _, reward, terminated, truncated, _ = env.step(np.asarray(action, dtype=np.int64))
                got.append(float(reward))
                if (terminated or truncated) and i < len(ep.actions) - 1:
                    error = f"the episode ended after {i + 1} of {len(ep.actions)} actions"
                    break
        finally:
            env.close()
    except Exception as e:  # noqa: BLE001 - the report says what went wrong
        error = f"{type(e).__name__}: {e}"
    diffs = [abs(a - b) for a, b in zip(ep.rewards, got)]
    mismatch = next((i for i, (a, b) in enumerate(zip(ep.rewards, got))
                     if not math.isclose(a, b, rel_tol=rtol, abs_tol=atol)), None)
    ok = not error and mismatch is None and len(got) == len(ep.rewards)
    return ReplayReport(ok, ep.env_id, ep.task, len(got), list(ep.rewards), got, max(diffs, default=0.0),
                        mismatch, error, rtol, atol)
