"""Gymnasium environments in which recommender pipelines evolve.

``import agenticrs`` registers every env (``agenticrs/AutoTrain-v0``...) with Gymnasium and,
once ``ray.tune`` is imported, with RLlib. The pieces:

* :mod:`~agenticrs.envs.core`: TrialConfig, TrialResult, Task, TaskSuite, the Backend protocol;
* :mod:`~agenticrs.envs.spaces`: the AutoTrain action space;
* :mod:`~agenticrs.envs.rewards`: reward terms and their registry;
* :mod:`~agenticrs.envs.suites`: task suites and their registry;
* :mod:`~agenticrs.envs.autotrain`: ``AutoTrainEnv``;
* :mod:`~agenticrs.envs.backends`: live / table / surrogate backends;
* :mod:`~agenticrs.envs.knowledge`: the KnowledgeStore;
* :mod:`~agenticrs.envs.registration` / :mod:`~agenticrs.envs.replay`: registries, replays.

Heavier modules (the env class, backends, the store) load on first attribute access.
"""

from __future__ import annotations

from agenticrs._lazy import lazy_getattr

from agenticrs.envs.core import Backend, Task, TaskSuite, TrialConfig, TrialResult
from agenticrs.envs.registration import list_env_ids, list_envs, load_plugins, register_env
from agenticrs.envs.rewards import (
    EpisodeState,
    RewardTerm,
    get_reward_term,
    list_reward_terms,
    register_reward_term,
)
from agenticrs.envs.spaces import AutoTrainSpace, Dim
from agenticrs.envs.suites import get_suite, list_suites, register_suite, task_stats

_LAZY = {
    "AutoTrainEnv": "agenticrs.envs.autotrain",
    "KnowledgeStore": "agenticrs.envs.knowledge",
    "make_backend": "agenticrs.envs.backends",
    "register_backend": "agenticrs.envs.backends",
    "list_backends": "agenticrs.envs.backends",
    "Episode": "agenticrs.envs.replay",
    "record_episode": "agenticrs.envs.replay",
    "replay": "agenticrs.envs.replay",
}

__all__ = [
    "AutoTrainSpace", "Backend", "Dim", "EpisodeState", "RewardTerm", "Task", "TaskSuite", "TrialConfig",
    "TrialResult", "get_reward_term", "get_suite", "list_env_ids", "list_envs", "list_reward_terms", "list_suites",
    "load_plugins", "register_env", "register_reward_term", "register_suite", "task_stats", *_LAZY,
]


__getattr__ = lazy_getattr(__name__, _LAZY)
