"""agenticrs: reinforcement-learning environments in which recommender systems evolve themselves.

Sub-packages (mapped from the repository's top-level folders):

* :mod:`agenticrs.recsys`: datasets, recommenders, training, evaluation.
* :mod:`agenticrs.envs`: Gymnasium environments, backends, reward terms, knowledge store.
* :mod:`agenticrs.policies`: RLlib / SB3 policies and search baselines.
* :mod:`agenticrs.benchmarks`: benchmark protocols and committed results.
"""

__version__ = "0.1.0"

# Registering is cheap (lazy "module:Class" entry points; RLlib only once ray.tune is imported).
from agenticrs.envs.registration import (  # noqa: E402
    install_rllib_hook as _install_rllib_hook,
    list_envs,
    load_plugins as _load_plugins,
    register_builtin_envs as _register_builtin_envs,
    register_env,
)

_register_builtin_envs()
_install_rllib_hook()
_load_plugins()

__all__ = ["__version__", "list_envs", "register_env"]
