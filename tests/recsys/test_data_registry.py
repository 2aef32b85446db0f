"""Registering schemes and names, data-root resolution, and list_datasets()."""

from __future__ import annotations

from pathlib import Path

import pytest

from agenticrs.recsys.data import (
    DataFormatError,
    Dataset,
    Interactions,
    data_roots,
    list_datasets,
    load_dataset,
    register_dataset,
    unregister_dataset,
)


@pytest.fixture
def cleanup():
    names: list[str] = []
    yield names
    for name in names:
        unregister_dataset(name)


def test_register_a_scheme_with_a_decorator(tmp_path: Path, cleanup) -> None:
    cleanup.append("pairs")
    src = tmp_path / "x.pairs"
    src.write_text("a>1 a>2 b>1 a>3 b>2")

    @register_dataset("pairs", files=lambda arg: [Path(arg)], description="user>item tokens")
    def load_pairs(arg: str) -> Interactions:
        log = Interactions(arg)
        for token in Path(arg).read_text().split():
            user, item = token.split(">")
            log.add(user, int(item))
        return log

    ds = load_dataset(f"pairs:{src}", min_count=0, cache=str(tmp_path / "c"))
    assert ds.name == f"pairs:{src}"
    assert [[int(ds.item_ids[i]) for i in s] for s in ds.sequences()] == [[1, 2, 3], [1, 2]]
    assert len(list((tmp_path / "c").iterdir())) == 1  # cached because files= was given
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("pairs", load_pairs)
    register_dataset("pairs", load_pairs, replace=True)


def test_a_loader_may_return_a_finished_dataset(cleanup) -> None:
    cleanup.append("tiny")
    register_dataset("tiny", lambda arg: Dataset.from_sequences([[1, 2, 3]] * int(arg or 1), name="tiny"))
    assert load_dataset("tiny").n_users == 1 and load_dataset("tiny:4").n_users == 4


def test_aliases_with_the_data_root(tmp_path: Path, monkeypatch, cleanup) -> None:
    cleanup += ["mine", "mine2", "absent"]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "s.txt").write_text("1 1 2 3\n")
    monkeypatch.setenv("AGENTICRS_DATA", str(tmp_path))
    assert data_roots() == [tmp_path]
    register_dataset("mine", "sasrec:{data}/sub/s.txt")
    register_dataset("mine2", "mine")  # an alias of an alias
    assert load_dataset("MINE2", min_count=0, cache=False).n_interactions == 3
    register_dataset("absent", "sasrec:{data}/nope/s.txt", description="not there")
    with pytest.raises(DataFormatError, match=rf"dataset 'absent' not found; tried {tmp_path}/nope/s.txt"):
        load_dataset("absent")
    with pytest.raises(DataFormatError, match="takes no ':argument'"):
        load_dataset("mine:extra")
    rows = {r.name: r for r in list_datasets(stats=False)}
    assert rows["mine"].available and rows["mine"].uri == f"sasrec:{tmp_path}/sub/s.txt"
    assert not rows["absent"].available and "nope" in rows["absent"].problem
    assert rows["synthetic"].available and not rows["beauty"].available  # beauty is not under tmp_path


def test_alias_loops_and_bad_names_are_refused(cleanup) -> None:
    cleanup += ["loop-a", "loop-b"]
    register_dataset("loop-a", "loop-b")
    register_dataset("loop-b", "loop-a")
    with pytest.raises(DataFormatError, match="loop"):
        load_dataset("loop-a")
    with pytest.raises(ValueError, match="must be letters"):
        register_dataset("9lives", "synthetic:")
    with pytest.raises(TypeError, match="loader function or a URI"):
        register_dataset("num", 3)  # type: ignore[arg-type]


def test_list_datasets_reports_stats(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AGENTICRS_DATA", str(tmp_path))  # no real data here: only synthetic loads
    rows = list_datasets()
    assert rows[0].name == "synthetic" and rows[0].stats["users"] == 2000
    assert {"beauty", "scientific"} <= {r.name for r in rows}
    assert all(r.stats is None for r in rows if not r.available)


def test_dataset_info_reads_as_attributes_and_as_a_mapping(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AGENTICRS_DATA", str(tmp_path))
    row = list_datasets(stats=False)[0]
    assert row["name"] == row.name == "synthetic" and row.get("stats") is None and row.get("nope", 1) == 1
    assert row.as_dict()["available"] is True
    with pytest.raises(KeyError):
        row["nope"]
