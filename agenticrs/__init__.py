"""agenticrs: reinforcement-learning environments in which recommender systems evolve themselves.

Sub-packages (mapped from the repository's top-level folders):

* :mod:`agenticrs.recsys`: datasets, recommenders, training, evaluation.
* :mod:`agenticrs.envs`: Gymnasium environments, backends, reward terms, knowledge store.
* :mod:`agenticrs.policies`: RLlib / SB3 policies and search baselines.
* :mod:`agenticrs.benchmarks`: benchmark protocols and committed results.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
