"""The preprocessed-dataset cache: hits, content keys, atomic writes, corrupt entries."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from agenticrs.recsys.data import cache as data_cache
from agenticrs.recsys.data import load_dataset
from agenticrs.recsys.data import registry


@pytest.fixture
def source(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    d.mkdir()
    (d / "s.txt").write_text("1 1 2 3\n2 2 3 1\n3 3 1 2\n")
    (d / "items.tsv").write_text("item_id\tasin\ttitle\n1\ta\tÉté\n2\tb\tB\n")
    (d / "item_attributes.json").write_text('{"1": [7, 8], "3": []}')
    return d / "s.txt"


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    entry = registry._REGISTRY["sasrec"]
    original = entry.loader

    def counting(arg: str):
        calls.append(arg)
        return original(arg)

    monkeypatch.setitem(registry._REGISTRY, "sasrec", registry.DatasetEntry(**{**entry.__dict__, "loader": counting}))
    return calls


def test_cache_hit_returns_the_same_dataset_without_parsing(tmp_path: Path, source: Path, monkeypatch) -> None:
    calls = _count_parses(monkeypatch)
    folder = tmp_path / "cache"
    first = load_dataset(f"sasrec:{source}", min_count=0, cache=str(folder))
    assert len(calls) == 1 and len(_entries(folder)) == 1
    second = load_dataset(f"sasrec:{source}", min_count=0, cache=str(folder))
    assert len(calls) == 1, "second load must come from the cache"
    assert second.fingerprint() == first.fingerprint()
    assert second.item_text == first.item_text == ["", "Été", "B", ""]
    assert [a.tolist() for a in second.item_attributes] == [[], [7, 8], [], []]
    np.testing.assert_array_equal(second.user_ids, first.user_ids)
    np.testing.assert_array_equal(second.item_ids, first.item_ids)
    # Another min_count is another entry.
    load_dataset(f"sasrec:{source}", min_count=3, cache=str(folder))
    assert len(calls) == 2 and len(_entries(folder)) == 2


def test_key_follows_content_not_mtime(tmp_path: Path, source: Path, monkeypatch) -> None:
    calls = _count_parses(monkeypatch)
    folder = tmp_path / "cache"
    load_dataset(f"sasrec:{source}", min_count=0, cache=str(folder))
    stat = source.stat()
    source.write_text("1 1 2 3\n2 2 3 1\n3 3 1 1\n")  # same size
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime
    changed = load_dataset(f"sasrec:{source}", min_count=0, cache=str(folder))
    assert len(calls) == 2
    assert changed.sequence(2).tolist() == [3, 1, 1]
    # A side file's change also invalidates.
    (source.parent / "items.tsv").write_text("item_id\tasin\ttitle\n1\ta\tSummer\n")
    assert load_dataset(f"sasrec:{source}", min_count=0, cache=str(folder)).item_text[1] == "Summer"
    assert len(calls) == 3


def test_failed_write_leaves_no_file_and_still_loads(tmp_path: Path, source: Path, monkeypatch) -> None:
    folder = tmp_path / "cache"

    def crash(file, **arrays):
        file.write(b"PK\x03\x04 partial")  # something half-written first
        raise OSError("disk full")

    monkeypatch.setattr(data_cache.np, "savez", crash)
    ds = load_dataset(f"sasrec:{source}", min_count=0, cache=str(folder))
    assert ds.n_users == 3
    assert _entries(folder) == [], "neither the entry nor its temporary file may remain"


def test_interrupted_write_leaves_no_file(tmp_path: Path, source: Path, monkeypatch) -> None:
    folder = tmp_path / "cache"

    def interrupt(file, **arrays):
        file.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(data_cache.np, "savez", interrupt)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(f"sasrec:{source}", min_count=0, cache=str(folder))
    assert _entries(folder) == []


def test_failed_preprocessing_writes_nothing(tmp_path: Path, source: Path) -> None:
    folder = tmp_path / "cache"
    with pytest.raises(ValueError, match="no users left"):
        load_dataset(f"sasrec:{source}", min_count=9, cache=str(folder))
    assert _entries(folder) == []


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_entry_is_detected_and_rebuilt(tmp_path: Path, source: Path, monkeypatch, damage: str) -> None:
    folder = tmp_path / "cache"
    good = load_dataset(f"sasrec:{source}", min_count=0, cache=str(folder))
    (entry,) = _entries(folder)
    data = entry.read_bytes()
    entry.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00" * 100, "empty": b""}[damage])
    calls = _count_parses(monkeypatch)
    rebuilt = load_dataset(f"sasrec:{source}", min_count=0, cache=str(folder))
    assert len(calls) == 1 and rebuilt.fingerprint() == good.fingerprint()
    assert entry.read_bytes() == data  # rewritten, whole
    assert load_dataset(f"sasrec:{source}", min_count=0, cache=str(folder)).fingerprint() == good.fingerprint()
    assert len(calls) == 1


def test_cache_false_and_default_folder(tmp_path: Path, source: Path, monkeypatch) -> None:
    monkeypatch.setenv("AGENTICRS_CACHE", str(tmp_path / "env"))
    assert data_cache.default_cache_dir() == tmp_path / "env" / "datasets"
    load_dataset(f"sasrec:{source}", min_count=0, cache=False)
    assert not (tmp_path / "env").exists()
    load_dataset(f"sasrec:{source}", min_count=0)
    assert len(_entries(tmp_path / "env" / "datasets")) == 1


# ---------------------------------------------------------------------- stale temporaries
_KILLED_WRITER = """
import os, sys
from pathlib import Path
from agenticrs.recsys.data import cache, load_dataset
os.fsync = lambda fd: os.kill(os.getpid(), 9)  # die between writing the temporary and the rename
load_dataset("sasrec:" + sys.argv[1], min_count=0, cache=sys.argv[2])
"""


def test_a_writer_killed_mid_write_leaves_a_temporary_the_next_open_removes(source: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = tmp_path / "cache"
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(source), str(folder)],
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    left = [p for p in _entries(folder) if ".tmp" in p.name]
    assert len(left) == 1 and left[0].stat().st_size > 0 and not list(folder.glob("*.npz"))
    ds = load_dataset(f"sasrec:{source}", min_count=0, cache=folder)
    assert ds.n_users == 3
    assert [p.suffix for p in _entries(folder)] == [".npz"]  # the temporary is gone, the entry written


def test_stale_temporaries_go_live_writers_files_stay(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    folder = tmp_path / "cache"
    folder.mkdir()
    files = {
        "dead": folder / f".x.npz.tmp{dead_pid}.ab12",  # save_cached's name, writer gone
        "dead_io": folder / f".y.npy.tmp{dead_pid}",  # agenticrs.io.write_bytes_atomic's name
        "live": folder / f".z.npz.tmp{os.getpid()}.cd34",  # this process: a write in progress
        "old_unowned": folder / ".w.k3j4.tmp",  # an older version's name, a day old
        "new_unowned": folder / ".v.k3j4.tmp",  # the same, just written: maybe a live writer
        "entry": folder / "sasrec-abc.npz",
    }
    for path in files.values():
        path.write_bytes(b"x")
    day_ago = os.path.getmtime(files["old_unowned"]) - data_cache.STALE_AFTER_S - 1
    os.utime(files["old_unowned"], (day_ago, day_ago))
    removed = data_cache.clean_stale_temporaries(folder, force=True)
    assert sorted(removed) == sorted([files["dead"], files["dead_io"], files["old_unowned"]])
    assert {k for k, p in files.items() if p.exists()} == {"live", "new_unowned", "entry"}
