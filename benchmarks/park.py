"""Park the checkpoints of unfinished benchmark runs in the repository, so they survive the machine.

A benchmark run checkpoints every epoch into the cache (``common.checkpoint_path``), and the same
command resumes it there. A run longer than a session (Beauty LWGR in fp32 on a 2-core CPU takes
about 3 hours) needs more: the next session may be handed another machine with an empty cache.
This command copies each unfinished run's checkpoint to ``<runs dir>/parked/<run>.pt`` beside the
run file it will become; commit it with the work. On any machine, the run's own command then
resumes from the parked checkpoint (``common.run_checkpoint`` copies it into the cache when it is
further along than the cached one) and deletes it once the run file is written::

    python -m agenticrs.benchmarks.park generative_beauty_dropout_fp32_kw0.5

A checkpoint is parked only for a run of this checkout (the cache file's name carries a hash of
the run file's absolute path) whose run file does not exist yet; one already parked at the same
or a later epoch is left as it is. Nothing to park is an error (exit 1), naming where it looked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agenticrs.benchmarks.common import (
    RESULTS_DIR, checkpoint_epoch, checkpoint_path, copy_atomic, parked_path,
)


def park(runs_dir: Path) -> list[str]:
    """Park every unfinished run's checkpoint of ``runs_dir``; one line per checkpoint found."""
    from agenticrs.recsys.text.cache import cache_root

    lines = []
    for cached in sorted((cache_root() / "checkpoints" / runs_dir.name).glob("*.pt")):
        run_file = runs_dir / f"{cached.stem.rsplit('-', 1)[0]}.json"
        if checkpoint_path(run_file) != cached:
            lines.append(f"skipped {cached}: written by a checkout in another folder")
            continue
        if run_file.exists():
            lines.append(f"skipped {cached}: its run finished ({run_file} exists)")
            continue
        parked, epoch = parked_path(run_file), checkpoint_epoch(cached)
        parked_epoch = checkpoint_epoch(parked)
        if parked_epoch is not None and parked_epoch >= (epoch or 0):
            lines.append(f"kept {parked}: already parked at epoch {parked_epoch}")
            continue
        copy_atomic(cached, parked)
        lines.append(f"parked {parked}: epoch {epoch}, {parked.stat().st_size / 2**20:.0f} MiB")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="+", help="benchmark --name of each run directory (<out>/NAME_runs)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder holding the run directories")
    args = p.parse_args(argv)
    parked = 0
    for name in args.names:
        runs_dir = args.out / f"{name}_runs"
        lines = park(runs_dir)
        for line in lines or [f"no checkpoint of {runs_dir} in the cache"]:
            print(line)
        parked += sum(line.startswith(("parked", "kept")) for line in lines)
    return 0 if parked else 1


if __name__ == "__main__":
    raise SystemExit(main())
