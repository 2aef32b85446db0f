"""A tiny deterministic backend for the OpenDesign env tests (no training).

The validation metric is a fixed function of the program (its structure plus crc32 noise of its
hash) and the fidelity; programs with a mixture-of-experts block of 16 experts always fail, so the
failure path runs.
"""

from __future__ import annotations

import zlib

from agenticrs.envs.core import Task, TrialConfig, TrialResult


def _unit(*parts: object) -> float:
    return zlib.crc32("|".join(map(str, parts)).encode()) / 2**32


class FakeDesignBackend:
    """``kind = "fake-design"``: evaluate is a pure function of its arguments."""

    kind = "fake-design"

    def __init__(self) -> None:
        self.calls = 0

    def evaluate(self, task: Task, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        from agenticrs.envs.opendesign import program_of
        from agenticrs.recsys.design import program_hash

        self.calls += 1
        program = program_of(config)
        if program is None:
            raise ValueError(f"not a design program: {config}")
        kinds = [b.kind for b in program.blocks]
        secs = 1.0 + 0.1 * len(kinds) * program.dim / 32 * fidelity
        if any(b.kind == "moe" and b.experts == 16 for b in program.blocks):
            return TrialResult(config, task.name, fidelity, seed, "failed", cost={"seconds": secs / 2},
                               reason="fake out of memory", source="fake")
        v = 0.03 + 0.01 * kinds.count("attention") + 0.005 * kinds.count("gru") + 0.01 * (program.loss.kind == "ce")
        v *= (0.6 + 0.4 * fidelity) * (0.8 + 0.4 * _unit(task.name, program_hash(program)))
        v *= 1.0 + 0.05 * (_unit(seed, program_hash(program)) - 0.5)
        return TrialResult(config, task.name, fidelity, seed, "ok", valid={"ndcg@10": v, "recall@10": 2 * v},
                           test={"ndcg@10": 0.95 * v, "recall@10": 1.9 * v},
                           cost={"seconds": secs, "params": 1e4 * len(kinds)}, source="fake")

    def best_known(self, task: Task, metric: str) -> float:
        return 0.1


def register() -> None:
    from agenticrs.envs.backends import register_backend

    register_backend("fake-design", overwrite=True)(FakeDesignBackend)


register()


def env_kwargs_for(env_id: str) -> dict | None:
    """Registry-test kwargs for OpenDesign (``None`` for other envs)."""
    # Edit mode: SB3 (one of the registry checks) supports numeric action spaces only; the text
    # mode is checked with Gymnasium's checker in test_opendesign.py.
    return {"backend": "fake-design", "action_mode": "edit"} if env_id.startswith("agenticrs/OpenDesign") else None
