"""Fixed-seed table-backend episodes of every registered single-agent table env, as JSON text.

``test_env_step_identity.py`` compares fresh rollouts with ``data/episode_reference.json.gz``,
recorded from the env code *before* the per-step speed work (issue 30), so any change to an
observation, reward, flag, action mask or info value fails the test. Re-record (only after a
deliberate change of behaviour, or when a shipped table or the synthetic suite changed) with::

    OMP_NUM_THREADS=1 .venv/bin/python tests/envs/episode_reference.py
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import agenticrs  # noqa: F401  (registers the envs)
from agenticrs.envs.core import TrialConfig, TrialResult

FIXTURE = Path(__file__).resolve().parent / "data" / "episode_reference.json.gz"
ENV_IDS = ("agenticrs/AutoFeature-v0", "agenticrs/AutoPerf-v0", "agenticrs/AutoTrain-v0", "agenticrs/Compose-v0")
"""The registered single-agent envs with a shipped table (AutoTrain-v1 and OpenDesign-v0 are live-only)."""
SEEDS = (0, 1, 2)
"""Reset seeds; seed ``s`` also seeds the random actions. Episodes continue past the first
(``reset()`` without a seed) so episode-to-episode state is covered too."""
EPISODES_PER_SEED = 2


def plain(x: Any) -> Any:
    """JSON-able form of an info value: results and configs by their dicts, numpy as lists."""
    if isinstance(x, TrialResult):
        return {"__result__": x.to_dict()}
    if isinstance(x, TrialConfig):
        return {"__config__": x.to_dict()}
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return {"__array__": str(x.dtype), "values": x.tolist()}
    if isinstance(x, np.generic):
        return {"__scalar__": str(x.dtype), "value": x.item()}
    if isinstance(x, float) and not math.isfinite(x):
        return {"__float__": repr(x)}
    return x


def rollout(env_id: str, seed: int) -> list[str]:
    """One JSON line per reset and per step (observation, reward, flags, mask, info) of the table env."""
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    nvec = np.asarray(env.action_space.nvec)
    lines: list[str] = []
    try:
        for episode in range(EPISODES_PER_SEED):
            obs, info = env.reset(seed=seed if episode == 0 else None)
            lines.append(json.dumps(plain({"reset": obs, "info": info, "mask": env.unwrapped.action_masks()}),
                                    sort_keys=True))
            done = False
            while not done:
                action = rng.integers(0, nvec).astype(np.int64)
                obs, reward, terminated, truncated, info = env.step(action)
                lines.append(json.dumps(plain({
                    "action": action, "obs": obs, "reward": reward, "terminated": terminated,
                    "truncated": truncated, "info": info, "mask": env.unwrapped.action_masks(),
                }), sort_keys=True))
                done = terminated or truncated
    finally:
        env.close()
    return lines


def inputs_fingerprint() -> str:
    """sha256 of what the episodes depend on besides env code: the shipped tables and the suite's tasks."""
    from agenticrs.envs.backends.table import table_path
    from agenticrs.envs.suites import get_suite

    h = hashlib.sha256()
    for env in ("autofeature", "autoperf", "autotrain", "compose"):
        h.update(table_path(env, "synthetic").read_bytes())
    h.update(repr(get_suite("synthetic")).encode())
    return h.hexdigest()


def record() -> dict[str, Any]:
    return {"inputs": inputs_fingerprint(),
            "episodes": {env_id: {str(s): rollout(env_id, s) for s in SEEDS} for env_id in ENV_IDS}}


if __name__ == "__main__":
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    data = record()
    with open(FIXTURE, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(json.dumps(data, sort_keys=True).encode())  # mtime=0: the same episodes, the same bytes
    n = sum(len(v) for e in data["episodes"].values() for v in e.values())
    print(f"recorded {n} lines to {FIXTURE} ({FIXTURE.stat().st_size:,} bytes)")
