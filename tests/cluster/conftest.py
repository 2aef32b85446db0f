"""A real local Ray cluster for the tests: a head node and worker nodes as separate ``ray start`` processes.

Every node gets ``--num-cpus 1``; the head listens on a free port and keeps its session under a
temporary directory named after that port, so teardown finds exactly this cluster's processes
(by that directory or port in their command lines) and kills them, whatever the test did. Ray's
token auth is off for these throwaway clusters (``RAY_AUTH_MODE=disabled``): the nodes are
started without a shared token. ``ray stop`` is never used: it would stop every Ray on the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

RAY = str(Path(sys.executable).with_name("ray"))
START_TIMEOUT_S = 120
"""Bound on each ``ray start`` (a loaded 2-core machine takes 10-20 s)."""

NODE_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


@dataclass
class LocalCluster:
    """A head node plus worker nodes on this machine; ``address`` is what ``--ray-address`` takes."""

    port: int
    temp_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _ray_start(self, *args: str) -> None:
        proc = subprocess.run([RAY, "start", *args], env=self.env, capture_output=True, text=True,
                              timeout=START_TIMEOUT_S)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")

    def start_head(self) -> None:
        self._ray_start("--head", "--port", str(self.port), "--num-cpus", "1", "--include-dashboard", "false",
                        "--disable-usage-stats", "--temp-dir", str(self.temp_dir),
                        "--ray-client-server-port", str(free_port()), "--dashboard-port", str(free_port()),
                        "--dashboard-agent-listen-port", str(free_port()))

    def add_worker(self) -> None:
        self._ray_start("--address", self.address, "--num-cpus", "1", "--dashboard-agent-listen-port",
                        str(free_port()))
        self.workers += 1
        self.wait_for_nodes(1 + self.workers)

    def wait_for_nodes(self, n: int, timeout_s: float = 60.0) -> None:
        """Until the GCS lists ``n`` alive nodes (asked from a subprocess: the test process stays Ray-free)."""
        code = ("import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False, logging_level='ERROR'); "
                "print(sum(1 for n in ray.nodes() if n['Alive']))")
        deadline = time.monotonic() + timeout_s
        while True:
            out = subprocess.run([sys.executable, "-c", code, self.address], env=self.env, capture_output=True,
                                 text=True, timeout=timeout_s).stdout.strip().splitlines()
            if out and out[-1].isdigit() and int(out[-1]) >= n:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster at {self.address} has not got {n} alive nodes after {timeout_s:g} s")
            time.sleep(1.0)

    def processes(self) -> list[int]:
        """PIDs of this cluster's processes (GCS, raylets, agents, workers)."""
        import psutil

        marks = (str(self.temp_dir), f":{self.port}", f"={self.port}")
        pids = []
        for p in psutil.process_iter(["pid", "cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if "ray" in cmd and any(m in cmd for m in marks):
                pids.append(p.info["pid"])
        return pids

    def worker_raylets(self) -> list[int]:
        """PIDs of the worker nodes' raylets (the head's raylet has ``--head``)."""
        import psutil

        return [pid for pid in self.processes()
                if (cmd := " ".join(psutil.Process(pid).cmdline())).split()[0].endswith("/raylet")
                and "--head" not in cmd]

    def stop(self) -> None:
        import psutil

        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.processes():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            psutil.wait_procs([psutil.Process(p) for p in self.processes() if psutil.pid_exists(p)], timeout=5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def start_cluster(workers: int = 1) -> LocalCluster:
    port = free_port()
    cluster = LocalCluster(port, Path(f"/tmp/arsray_{port}"), {**os.environ, **NODE_ENV})
    try:
        cluster.start_head()
        for _ in range(workers):
            cluster.add_worker()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="package")
def ray_cluster() -> Iterator[LocalCluster]:
    """A head and one worker node, 1 CPU each, shared by the package's tests (started once, ~20-40 s)."""
    cluster = start_cluster(workers=1)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture()
def fresh_cluster() -> Iterator[LocalCluster]:
    """A cluster of its own (for tests that kill a node)."""
    cluster = start_cluster(workers=1)
    try:
        yield cluster
    finally:
        cluster.stop()
