"""What every benchmark records beside its numbers: machine, date, command, versions."""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import os
import platform
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any, Iterator

from agenticrs.io import write_json_atomic, write_text_atomic  # noqa: F401  (re-exported for benchmarks)

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def data_slug(data: str) -> str:
    """A dataset name or URI as a file-name part: ``"synthetic:users=9,items=5"`` -> ``"synthetic_users=9_items=5"``."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", data)


def machine_info() -> dict[str, Any]:
    """The machine a result was measured on. ``cpu_capability`` (torch's SIMD level, e.g. ``AVX2``)
    and ``cpu_bf16`` matter because bf16 runs are several times slower on CPUs without native bf16."""
    import torch

    from agenticrs.recsys.training import cpu_bf16_native

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16": cpu_bf16_native(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def machine_line(m: dict[str, Any]) -> str:
    """``machine_info()`` as one line for a results table (older run files lack the CPU-capability keys)."""
    cpu = m["cpu"]
    if m.get("cpu_capability"):
        cpu += f" ({m['cpu_capability']}, native bf16: {'yes' if m.get('cpu_bf16') else 'no'})"
    return (f"{cpu}, {m['cores']} cores, {m['memory_gb']} GiB, GPU: {m['gpu'] or 'none'}, "
            f"torch {m['torch']} ({m['torch_threads']} threads)")


def invoked_command() -> str:
    """How this process was started, as ``python -m agenticrs.benchmarks.NAME ARGS`` when it runs a
    benchmark module (``sys.argv[0]`` is then the module's file path), else ``sys.argv`` joined;
    arguments are shell-quoted (``shlex.join``), so a JSON or URI argument pastes back as it ran."""
    head, *rest = sys.argv or [""]
    if head.endswith(".py") and Path(head).resolve().parent == Path(__file__).resolve().parent:
        return " ".join([f"python -m agenticrs.benchmarks.{Path(head).stem}", shlex.join(rest)]).rstrip()
    return shlex.join([head, *rest])


def run_header(command: str | None = None) -> dict[str, Any]:
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command or invoked_command(),
        "machine": machine_info(),
    }


def checkpoint_path(run_file: Path) -> Path:
    """Where the training checkpoint of ``run_file``'s run lives until the run file is written:
    ``<cache>/checkpoints/<runs dir>/<run>-<hash of the run file's absolute path>.pt``, outside the
    repository (a checkpoint of Beauty LWGR is tens of MB), one per run file."""
    from agenticrs.recsys.text.cache import cache_root

    where = hashlib.sha256(str(run_file.resolve()).encode()).hexdigest()[:10]
    return cache_root() / "checkpoints" / run_file.parent.name / f"{run_file.stem}-{where}.pt"


def parked_path(run_file: Path) -> Path:
    """Where ``agenticrs.benchmarks.park`` keeps the checkpoint of ``run_file``'s unfinished run
    inside the repository: ``<runs dir>/parked/<run>.pt``. A run longer than one session cannot
    rely on the cache, since the next session may get another machine; a parked checkpoint is
    committed with the work, and the run's own command resumes from it (``run_checkpoint``)."""
    return run_file.parent / "parked" / f"{run_file.stem}.pt"


def checkpoint_epoch(path: Path) -> int | None:
    """The last finished epoch of the checkpoint at ``path`` (``None`` when there is none).

    Raises:
        CheckpointError: the file is not a whole checkpoint (say a truncated copy, or a Git LFS
            pointer where a parked checkpoint was expected).
    """
    import torch

    from agenticrs.recsys.training.checkpoint import CheckpointError

    if not path.exists():
        return None
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}: not a whole "
                              "checkpoint written by agenticrs); delete it, or rerun with --force") from exc


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temporary file and a rename: never half a checkpoint."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f"{dst.name}.tmp{os.getpid()}")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def run_checkpoint(run_file: Path, fresh: bool = False) -> Iterator[Path]:
    """The checkpoint of ``run_file``'s run, for a block that trains the run and writes ``run_file``.

    ``fresh`` (``--force``) deletes an existing checkpoint first, parked or not: a rerun from
    scratch, not the continuation of an interrupted run. Otherwise a parked checkpoint
    (``parked_path``) that is further along than the cached one is copied into the cache, so the
    run resumes from it on a machine that never saw the run. Both are deleted when the block
    finishes, since the run file then holds everything they were kept for; an interrupted block
    leaves them to resume from.
    """
    from agenticrs.recsys.training.checkpoint import remove

    path, parked = checkpoint_path(run_file), parked_path(run_file)
    if fresh:
        remove(path)
        remove(parked)
    elif parked.exists() and (checkpoint_epoch(path) or 0) < (checkpoint_epoch(parked) or 0):
        copy_atomic(parked, path)
    yield path
    remove(path)
    remove(parked)
