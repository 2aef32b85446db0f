"""``AgenticRS-v0``: four agents co-evolve one recommender pipeline under layered inner/outer rewards.

One core and two faces (STYLE item 15):

* :mod:`~agenticrs.envs.agentic.core`: :class:`AgenticCore`, the game logic (rounds, the
  shared pipeline, reward coupling, observations, ``state()``);
* :mod:`~agenticrs.envs.agentic.pettingzoo_env`: :func:`parallel_env` -> a PettingZoo ``ParallelEnv``
  (:func:`env`: the AEC form);
* :mod:`~agenticrs.envs.agentic.rllib_env`: :class:`AgenticRSEnv`, the RLlib ``MultiAgentEnv``
  registered as ``agenticrs/AgenticRS-v0`` (its docstring is the env's spec);
* :mod:`~agenticrs.envs.agentic.spaces` (agents, spaces, :class:`JointConfig`),
  :mod:`~agenticrs.envs.agentic.rewards` (terms, couplings, the dual-ascent multiplier),
  :mod:`~agenticrs.envs.agentic.backend` (``cached`` / ``live``), :mod:`~agenticrs.envs.agentic.components`
  and :mod:`~agenticrs.envs.agentic.assemble` (real components, numpy assembly),
  :mod:`~agenticrs.envs.agentic.joint_eval` (:func:`evaluate`: one joint config, no RL).

Nothing heavy (PettingZoo, Ray) is imported until used.
"""

from __future__ import annotations

from agenticrs._lazy import lazy_getattr

from agenticrs.envs.agentic.spaces import AGENTS, JointConfig, agent_spaces

_LAZY = {
    "AgenticCore": "agenticrs.envs.agentic.core",
    "AgenticParallelEnv": "agenticrs.envs.agentic.pettingzoo_env",
    "parallel_env": "agenticrs.envs.agentic.pettingzoo_env",
    "env": "agenticrs.envs.agentic.pettingzoo_env",
    "AgenticRSEnv": "agenticrs.envs.agentic.rllib_env",
    "CachedBackend": "agenticrs.envs.agentic.backend",
    "LiveAgenticBackend": "agenticrs.envs.agentic.backend",
    "PipelineResult": "agenticrs.envs.agentic.assemble",
    "COUPLINGS": "agenticrs.envs.agentic.rewards",
    "DualAscent": "agenticrs.envs.agentic.rewards",
    "evaluate": "agenticrs.envs.agentic.joint_eval",
    "JointEvaluation": "agenticrs.envs.agentic.joint_eval",
    "exhaustive_best": "agenticrs.envs.agentic.joint_eval",
    "joint_configs": "agenticrs.envs.agentic.joint_eval",
}

__all__ = ["AGENTS", "JointConfig", "agent_spaces", *_LAZY]


__getattr__ = lazy_getattr(__name__, _LAZY)
