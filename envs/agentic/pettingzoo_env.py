"""The PettingZoo face of ``AgenticRS-v0``: a ``ParallelEnv`` over :class:`~agenticrs.envs.agentic.core.AgenticCore`.

    from agenticrs.envs.agentic import parallel_env
    env = parallel_env(coupling="lagrangian")
    obs, infos = env.reset(seed=0)
    while env.agents:
        obs, rewards, terms, truncs, infos = env.step({a: env.action_space(a).sample() for a in env.agents})

The spec (agents, spaces, rounds, rewards, backends) is the docstring of
:class:`~agenticrs.envs.agentic.rllib_env.AgenticRSEnv`; the keyword arguments are the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from agenticrs.envs.agentic.core import AgenticCore


class AgenticParallelEnv(ParallelEnv):
    """``AgenticRS-v0`` as a PettingZoo ``ParallelEnv`` (all four agents act every round).

    ``observation_space(agent)`` / ``action_space(agent)`` return the same object on every
    call; ``state()`` is the centralised critic's global state (``state_space``). When the
    episode ends every agent is terminated and ``agents`` becomes empty. Action masks are in
    ``infos[agent]["action_mask"]`` as one int8 mask per dimension (``action_space(agent).sample(mask=...)``);
    ``obs_mode="dict"`` adds RLlib's flat float mask to the observation.
    """

    metadata = {"name": "agenticrs_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.core = AgenticCore(**kwargs)
        self.possible_agents = list(self.core.possible_agents)
        self.agents: list[str] = []
        self.observation_spaces = self.core.observation_spaces
        self.action_spaces = self.core.action_spaces
        self.state_space: spaces.Box = self.core.state_space

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, infos = self.core.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        return obs, infos

    def step(self, actions: dict[str, Any]):
        out = self.core.step(actions)
        if self.core.done:
            self.agents = []
        return out

    def state(self) -> np.ndarray:
        return self.core.state()

    def render(self) -> str | None:
        return self.core.render() if self.render_mode == "ansi" else None

    def close(self) -> None:
        self.core.close()


def parallel_env(**kwargs: Any) -> AgenticParallelEnv:
    """A PettingZoo ``ParallelEnv`` of ``AgenticRS-v0``.

    Keyword arguments: see :class:`~agenticrs.envs.agentic.rllib_env.AgenticRSEnv` (plus ``render_mode``).
    """
    return AgenticParallelEnv(**kwargs)


def env(**kwargs: Any) -> Any:
    """The same game as a PettingZoo AEC env (``parallel_to_aec``: agents act in turn within a round,
    the round is evaluated when the last one has acted)."""
    from pettingzoo.utils.conversions import parallel_to_aec

    return parallel_to_aec(parallel_env(**kwargs))
