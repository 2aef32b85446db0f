"""The throughput benchmark's ratio bookkeeping (no training here)."""

from __future__ import annotations

from agenticrs.benchmarks.policy_throughput import with_ratios


def _row(env: str, framework: str, runners: int, envs: int, rate: float) -> dict:
    return {"env": env, "framework": framework, "env_runners": runners, "envs_per_runner": envs, "steps_per_s": rate}


def test_ratios_divide_by_cartpole_at_the_same_framework_runners_and_envs_per_runner():
    rows = with_ratios([
        _row("cartpole", "rllib", 0, 1, 1000.0), _row("autotrain", "rllib", 0, 1, 900.0),
        _row("cartpole", "rllib", 0, 4, 3000.0), _row("autotrain", "rllib", 0, 4, 1500.0),
        _row("autotrain", "rllib", 2, 1, 500.0), _row("cartpole", "sb3", 0, 1, 400.0), _row("autotrain", "sb3", 0, 1, 100.0),
    ])
    assert [r["ratio_to_cartpole"] for r in rows] == [1.0, 0.9, 1.0, 0.5, None, 1.0, 0.25]
