"""Imported once by the multiprocessing forkserver that forks live-backend workers.

Importing torch and the trainer and paying torch's lazy first-step imports here (seconds)
means every worker forked afterwards starts in milliseconds, so restarting a worker after a
timeout is cheap. One thread: the forkserver must not start an OpenMP pool before forking.
"""

import torch

import agenticrs.recsys.training  # noqa: F401
from agenticrs.envs.backends.live import _warm_up

torch.set_num_threads(1)
_warm_up()
