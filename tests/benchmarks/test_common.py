"""What every benchmark records about its machine, and how a table prints it."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import torch

import agenticrs.benchmarks.common as common
from agenticrs.benchmarks.common import invoked_command, machine_info, machine_line
from agenticrs.recsys.training import cpu_bf16_native


def test_machine_info_records_simd_level_and_native_bf16() -> None:
    m = machine_info()
    assert m["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert m["cpu_bf16"] is cpu_bf16_native()
    line = machine_line(m)
    assert f"({m['cpu_capability']}, native bf16: {'yes' if m['cpu_bf16'] else 'no'})" in line
    assert f"{m['cores']} cores" in line and f"({m['torch_threads']} threads)" in line


def test_machine_line_reads_run_files_written_before_the_capability_keys() -> None:
    old = {"cpu": "AMD EPYC", "cores": 2, "memory_gb": 23.5, "gpu": None, "torch": "2.13.0+cpu",
           "torch_threads": 1}
    assert machine_line(old) == "AMD EPYC, 2 cores, 23.5 GiB, GPU: none, torch 2.13.0+cpu (1 threads)"
    new = {**old, "cpu_capability": "AVX2", "cpu_bf16": False}
    assert machine_line(new).startswith("AMD EPYC (AVX2, native bf16: no), 2 cores")


def test_invoked_command_quotes_arguments_so_they_paste_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A benchmark run with a JSON and a URI argument records a command that a shell splits back the same."""
    args = ["--variant", 'evo-t8=evolution:{"tournament": 8}', "--data", "subsample:scientific?users=10,part=1"]
    monkeypatch.setattr("sys.argv", [str(Path(common.__file__).with_name("design_search.py")), *args])
    command = invoked_command()
    assert command.startswith("python -m agenticrs.benchmarks.design_search ")
    assert shlex.split(command)[3:] == args
