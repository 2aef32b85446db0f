"""Starting Ray for agenticrs' own commands: quietly, and with a one-line error when it fails.

Ray and RLlib log, at every start, notices a user of ``agenticrs train`` cannot act on (the
token-auth notice, "You are running PPO on the new API stack", ``RLModule(config=...)``
deprecations, "Install gputil for GPU system monitoring"). :func:`quiet_ray_logging` raises
the ``ray`` loggers to ERROR; real errors still show. :func:`init_ray` starts or joins a
cluster and turns any failure into :class:`RayStartError`, whose message is one line.

Library users who call ``ray.init`` themselves keep Ray's logging as they configured it:
only the command line (and code that calls these helpers) is quieted.
"""

from __future__ import annotations

import logging
import warnings

NOISY_LOGGERS = ("ray", "ray.rllib", "ray.tune", "ray.train", "ray.data")
"""Loggers whose WARNING/INFO start-up lines are hidden (``ray.rllib`` has its own level and handler)."""


class RayStartError(RuntimeError):
    """Ray could not be started or joined; the message is one line naming the address and the cause."""


def quiet_ray_logging(level: int = logging.ERROR) -> None:
    """Hide Ray's start-up notices and deprecation warnings in this process (idempotent).

    Imports ``ray`` first: its import installs the ``ray`` logger's handler and INFO level,
    which would otherwise undo an earlier setting.
    """
    import ray  # noqa: F401  (configures Ray's loggers; we override them below)

    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(level)
    # Python-level deprecation warnings raised inside Ray's and RLlib's own modules.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"ray(\.|$)")


def init_ray(address: str | None = None, num_cpus: int | None = None, quiet: bool = True) -> bool:
    """Join ``address`` (``"auto"`` or ``host:port``) or start a local instance; True if this call started it.

    Args:
        address: an existing cluster; ``None`` starts a local one (no dashboard).
        num_cpus: CPUs of a local instance (``None``: Ray's default, all cores).
        quiet: call :func:`quiet_ray_logging` first.

    Raises:
        RayStartError: Ray failed to start or connect (one line: where, and Ray's own first line).
    """
    import ray

    if quiet:
        quiet_ray_logging()
    if ray.is_initialized():
        return False
    where = f"connect to the Ray cluster at {address!r}" if address else "start a local Ray instance"
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR if quiet else logging.INFO)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except Exception as e:  # noqa: BLE001 - every failure of ray.init becomes the same one-line error
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        hint = " (is `ray start --head` running there?)" if address else " (see `ray status`; /tmp/ray holds the logs)"
        raise RayStartError(f"could not {where}: {type(e).__name__}: {first}{hint}") from None
    if quiet:
        quiet_ray_logging()  # ray.init(configure_logging=True) re-installs Ray's levels
    return True
