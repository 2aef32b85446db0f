"""Starting Ray for agenticrs' own commands: quietly, and with a one-line error when it fails.

Ray and RLlib log, at every start, notices a user of ``agenticrs train`` cannot act on (the
token-auth notice, "You are running PPO on the new API stack", ``RLModule(config=...)``
deprecations, "Install gputil for GPU system monitoring"). :func:`quiet_ray_logging` raises
the ``ray`` loggers to ERROR; real errors still show. :func:`init_ray` starts or joins a
cluster and turns any failure into :class:`RayStartError`, whose message is one line.

Library users who call ``ray.init`` themselves keep Ray's logging as they configured it:
only the command line (and code that calls these helpers) is quieted.

Every Ray start in the package goes through :func:`init_ray`, which also makes sure Ray never
reaches outside the machine unless it joins a cluster:

* A local instance lives on loopback: Ray normally finds "its" IP by opening a UDP socket
  towards 8.8.8.8:53 (in the driver and in each agent it starts) and, failing that, by a DNS
  lookup of the host name, which hangs on a machine without a network. The local start passes
  ``_node_ip_address="127.0.0.1"`` with Ray's cluster mode off for the start
  (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, inherited by the processes it starts), so no probe
  runs; no dashboard; usage stats off (``RAY_USAGE_STATS_ENABLED=0``).
* A cluster address is checked with a plain TCP connect first (seconds), because ``ray.init``
  retries an unreachable address for minutes; :func:`check_cluster_has_agenticrs` then imports
  ``agenticrs`` on every node, and :func:`describe_ray` says where the work runs.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

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


LOOPBACK = "127.0.0.1"
_CLUSTER_MODE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def init_ray(address: str | None = None, num_cpus: int | None = None, quiet: bool = True, *,
             runtime_env: dict[str, Any] | None = None, connect_timeout_s: float = 5.0) -> bool:
    """Join ``address`` (``"auto"`` or ``host:port``) or start a local instance; True if this call started it.

    Args:
        address: an existing cluster; ``None`` starts a local one (loopback only, no dashboard,
            no usage stats: it never opens a connection outside the machine).
        num_cpus: CPUs of a local instance (``None``: Ray's default, all cores).
        quiet: call :func:`quiet_ray_logging` first.
        runtime_env: Ray runtime environment of the job (e.g. ``env_vars``).
        connect_timeout_s: how long the TCP check of a ``host:port`` address waits.

    Raises:
        RayStartError: Ray failed to start or connect (one line: where, and Ray's own first line).
    """
    import ray

    if quiet:
        quiet_ray_logging()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    where = f"connect to the Ray cluster at {address!r}" if address else "start a local Ray instance"
    try:
        if address:
            if address != "auto":
                _check_reachable(address, connect_timeout_s)
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR if quiet else logging.INFO,
                     runtime_env=runtime_env)
        else:
            with _loopback_only():
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False,
                         _node_ip_address=LOOPBACK, runtime_env=runtime_env)
    except RayStartError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure of ray.init becomes the same one-line error
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        hint = " (is `ray start --head` running there?)" if address else " (see `ray status`; /tmp/ray holds the logs)"
        raise RayStartError(f"could not {where}: {type(e).__name__}: {first}{hint}") from None
    if quiet:
        quiet_ray_logging()  # ray.init(configure_logging=True) re-installs Ray's levels
    return True


@contextmanager
def _loopback_only() -> Iterator[None]:
    """During a local start, Ray resolves its node IP without the outside-connectivity probe.

    ``ray._private.services.get_node_ip_address`` probes 8.8.8.8 unless Ray's cluster mode is
    off: the constant is switched off in this process and the environment variable for the
    processes ``ray.init`` starts (GCS, raylet, agents), then both are restored.
    """
    from ray._private import ray_constants

    old_const, old_env = ray_constants.ENABLE_RAY_CLUSTER, os.environ.get(_CLUSTER_MODE_ENV)
    ray_constants.ENABLE_RAY_CLUSTER = False
    os.environ[_CLUSTER_MODE_ENV] = "0"
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = old_const
        if old_env is None:
            os.environ.pop(_CLUSTER_MODE_ENV, None)
        else:
            os.environ[_CLUSTER_MODE_ENV] = old_env


def _host_port(address: str) -> tuple[str, int]:
    rest = address.split("://", 1)[-1]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        raise RayStartError(f"could not connect to the Ray cluster at {address!r}: expected host:port "
                            f"(e.g. 127.0.0.1:6379, ray://host:10001) or 'auto'")
    return host.strip("[]") or LOOPBACK, int(port)


def _check_reachable(address: str, timeout_s: float) -> None:
    """A TCP connect to the cluster's port: ``ray.init`` would retry an unreachable one for minutes."""
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise RayStartError(f"could not connect to the Ray cluster at {address!r}: nothing answers at "
                            f"{host}:{port} within {timeout_s:g} s ({reason}); start one with "
                            f"`ray start --head --port {port}` or fix the address") from None


def describe_ray(address: str | None = None) -> str:
    """Where Ray work runs, one line: ``Ray cluster at ADDR: 2 nodes, 2 CPUs`` (or ``local Ray: ...``)."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    resources = ray.cluster_resources()
    gpus = resources.get("GPU", 0)
    where = f"Ray cluster at {address}" if address else "local Ray"
    return (f"{where}: {len(nodes)} node{'s' if len(nodes) != 1 else ''}, {resources.get('CPU', 0):g} CPUs"
            + (f", {gpus:g} GPUs" if gpus else ""))


def check_cluster_has_agenticrs(package: str = "agenticrs", timeout_s: float = 120.0) -> None:
    """Import ``package`` on every alive node (one zero-CPU task per node).

    Raises:
        RayStartError: a node cannot import it, or has another version than this process (one line).
    """
    import importlib

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    def probe(name: str) -> str:  # nested: pickled by value, so it runs where `package` is missing
        import importlib as il

        try:
            return str(getattr(il.import_module(name), "__version__", "?"))
        except Exception as e:  # noqa: BLE001 - reported to the driver
            return f"!{type(e).__name__}: {e}"

    task = ray.remote(num_cpus=0, max_retries=0)(probe)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs = [task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(package)
            for n in nodes]
    try:
        versions = ray.get(refs, timeout=timeout_s)
    except Exception as e:  # noqa: BLE001 - a dead node or a timeout: one line
        raise RayStartError(f"could not check the Ray cluster's nodes for {package}: {type(e).__name__}: "
                            f"{(str(e).strip().splitlines() or [''])[0]}") from None
    try:
        mine = str(getattr(importlib.import_module(package), "__version__", "?"))
    except ImportError:
        mine = "?"
    for node, version in zip(nodes, versions):
        ip = node.get("NodeManagerAddress", "?")
        if version.startswith("!"):
            raise RayStartError(f"the Ray cluster's node {ip} cannot import {package} ({version[1:]}); install it on "
                                f"every node (`pip install {package}` in the Python that runs `ray start`)")
        if version != mine:
            raise RayStartError(f"the Ray cluster's node {ip} has {package} {version}, this process {mine}; "
                                f"install the same version on every node")
