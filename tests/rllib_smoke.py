"""One tiny RLlib PPO run (new API stack) with 0 and 1 env runners, shared by the env tests."""

from __future__ import annotations

import math
from typing import Any, Mapping


def run_ppo_with_0_and_1_env_runners(env_id: str, env_config: Mapping[str, Any], fragment: int = 32,
                                     min_episodes: int = 0) -> None:
    """Two PPO iterations with local sampling, then with one remote env runner (a fresh process
    that rebuilds the env from ``env_config`` through the registered creator).

    Asserts at least 64 sampled env steps, a finite mean episode return and, if given, a
    minimum number of finished episodes.
    """
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig

    from agenticrs.policies.ray_util import init_ray

    init_ray(num_cpus=2)
    try:
        for runners in (0, 1):
            config = (
                PPOConfig()
                .environment(env_id, env_config=dict(env_config))
                .env_runners(num_env_runners=runners, rollout_fragment_length=fragment)
                .training(train_batch_size_per_learner=32, minibatch_size=16, num_epochs=1)
                .rl_module(model_config={"fcnet_hiddens": [16]})
                .debugging(seed=0)
            )
            algo = config.build_algo()
            try:
                for _ in range(2):
                    result = algo.train()
                metrics = result["env_runners"]
                assert metrics["num_env_steps_sampled_lifetime"] >= 64, runners
                assert math.isfinite(metrics["episode_return_mean"]), runners
                assert metrics["num_episodes_lifetime"] >= min_episodes, runners
            finally:
                algo.stop()
    finally:
        ray.shutdown()
