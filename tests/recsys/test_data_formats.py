"""Each file format, parsed from tiny files written to tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agenticrs.recsys.data import load_dataset


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


def _seqs(ds) -> list[list[int]]:
    return [s.tolist() for s in ds.sequences()]


def _orig(ds) -> list[list[str]]:
    """Sequences in original item ids, keyed by original user id (independent of re-indexing)."""
    return {str(ds.user_ids[u]): [str(ds.item_ids[i]) for i in ds.sequence(u)] for u in range(ds.n_users)}


# ---------------------------------------------------------------------- sasrec
def test_sasrec_with_titles_and_attributes(tmp_path: Path) -> None:
    seq = _write(tmp_path / "sequences.txt", "1 10 20 30\n2 20 30 40 10\n\n3 30 40\n")
    _write(tmp_path / "items.tsv", "item_id\tasin\ttitle\n10\tA10\tTen\n20\tA20\t\n30\tA30\tThirty, with\ttab\n")
    _write(tmp_path / "item_attributes.json", json.dumps({"10": [1, 2], "40": [3]}))
    ds = load_dataset(f"sasrec:{seq}", min_count=0, cache=False)
    assert ds.n_users == 3 and ds.n_items == 4 and ds.n_interactions == 9
    # Integer ids keep their numeric order: 10 -> 1, 20 -> 2, 30 -> 3, 40 -> 4.
    assert ds.item_ids.tolist() == ["", "10", "20", "30", "40"]
    assert _seqs(ds) == [[1, 2, 3], [2, 3, 4, 1], [3, 4]]
    assert ds.item_text == ["", "Ten", "", "Thirty, with\ttab", ""]
    assert [a.tolist() for a in ds.item_attributes] == [[], [1, 2], [], [], [3]]
    assert ds.timestamps is None


def test_sasrec_without_side_files_and_k_core(tmp_path: Path) -> None:
    seq = _write(tmp_path / "s.txt", "1 1 2 3\n2 1 2 3\n3 1 2 4\n")
    ds = load_dataset(f"sasrec:{seq}", min_count=2, cache=False)
    # Item 4 occurs once -> dropped; user 3 keeps [1, 2].
    assert ds.item_text is None and ds.item_attributes is None
    assert _orig(ds) == {"1": ["1", "2", "3"], "2": ["1", "2", "3"], "3": ["1", "2"]}


# ---------------------------------------------------------------------- recbole
def test_recbole_atomic_with_timestamps_and_item_file(tmp_path: Path) -> None:
    _write(
        tmp_path / "ml" / "ml.inter",
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "u1\ti2\t5\t300\nu1\ti1\t4\t100\nu2\ti3\t3\t50\nu1\ti3\t1\t200\nu2\ti1\t2\t50\n",
    )
    _write(tmp_path / "ml" / "ml.item", "item_id:token\tmovie_title:token_seq\tclass:token_seq\ni1\tAlpha\tDrama\ni3\tGamma\t\n")
    for arg in (tmp_path / "ml", tmp_path / "ml" / "ml", tmp_path / "ml" / "ml.inter"):
        ds = load_dataset(f"recbole:{arg}", min_count=0, cache=False)
        assert _orig(ds) == {"u1": ["i1", "i3", "i2"], "u2": ["i3", "i1"]}  # ties (u2 at 50) keep file order
        np.testing.assert_array_equal(ds.timestamps, [100, 200, 300, 50, 50])
        text = dict(zip(ds.item_ids.tolist(), ds.item_text))
        assert text == {"": "", "i1": "Alpha. Drama.", "i2": "", "i3": "Gamma."}


def test_recbole_presplit_with_text_and_item2index(tmp_path: Path) -> None:
    prefix = tmp_path / "Sci"
    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
    _write(Path(f"{prefix}.train.inter"), header + "0\t0 1\t2\n0\t0\t1\n1\t3\t4\n")
    _write(Path(f"{prefix}.test.inter"), header + "0\t0 1 2\t3\n1\t3 4 0\t1\n")
    _write(Path(f"{prefix}.item2index"), "ASIN0\t0\nASIN1\t1\nASIN3\t3\n")
    _write(Path(f"{prefix}.text"), "item_id:token\ttext:token_seq\nASIN0\tZero. Tools.\nASIN3\tThree.\nASIN9\tNot used.\n")
    ds = load_dataset(f"recbole:{prefix}", min_count=0, cache=False)
    assert _orig(ds) == {"0": ["0", "1", "2", "3"], "1": ["3", "4", "0", "1"]}
    text = dict(zip(ds.item_ids.tolist(), ds.item_text))
    assert text == {"": "", "0": "Zero. Tools.", "1": "", "2": "", "3": "Three.", "4": ""}
    # Naming the train file directly reads it: the longest row per user is kept.
    train = load_dataset(f"recbole:{prefix}.train.inter", min_count=0, cache=False)
    assert _orig(train) == {"0": ["0", "1", "2"], "1": ["3", "4"]}


# ---------------------------------------------------------------------- movielens
def test_movielens_100k(tmp_path: Path) -> None:
    d = tmp_path / "ml-100k"
    _write(d / "u.data", "1\t10\t5\t300\n1\t20\t3\t100\n2\t10\t4\t50\n1\t30\t1\t200\n")
    flags = ["0"] * 19
    action, comedy = flags.copy(), flags.copy()
    action[1] = "1"
    comedy[5] = comedy[1] = "1"
    _write(
        d / "u.item",
        f"10|Caf\xe9 (1995)|01-Jan-1995||http://x|{'|'.join(action)}\n20|Toy (1995)|||u|{'|'.join(comedy)}\n",
        encoding="latin-1",
    )
    ds = load_dataset(f"movielens:{d}", min_count=0, cache=False)
    assert _orig(ds) == {"1": ["20", "30", "10"], "2": ["10"]}
    text = dict(zip(ds.item_ids.tolist(), ds.item_text))
    assert text["10"] == "Café (1995). Action." and text["20"] == "Toy (1995). Action, Comedy." and text["30"] == ""


def test_movielens_1m(tmp_path: Path) -> None:
    d = tmp_path / "ml-1m"
    _write(d / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    _write(d / "movies.dat", "1193::One Flew (1975)::Drama\n661::James (1996)::Animation|Children's|Musical\n", "latin-1")
    ds = load_dataset(f"movielens:{d}", min_count=0, cache=False)
    assert _orig(ds) == {"1": ["1193", "661"], "2": ["1193"]}
    assert dict(zip(ds.item_ids.tolist(), ds.item_text))["661"] == "James (1996). Animation, Children's, Musical."


def test_movielens_csv_release(tmp_path: Path) -> None:
    d = tmp_path / "ml-latest"
    _write(d / "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,20\n1,1,4.0,10\n")
    _write(d / "movies.csv", 'movieId,title,genres\n1,"Toy Story, The (1995)",Adventure|Animation\n2,X,(no genres listed)\n')
    ds = load_dataset(f"movielens:{d}", min_count=0, cache=False)
    assert _orig(ds) == {"1": ["1", "2"]}
    assert ds.item_text == ["", "Toy Story, The (1995). Adventure, Animation.", "X."]


# ---------------------------------------------------------------------- csv
def test_csv_sorted_per_user_stably_with_titles(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "log.csv",
        'user_id,item_id,timestamp,title\nbob,b,5,"Bee, the"\nann,a,3,\nbob,a,1,Ay\nann,c,3,See\nann,b,1,\n',
    )
    ds = load_dataset(f"csv:{path}", min_count=0, cache=False)
    # String ids follow first appearance; ann's two rows at t=3 keep their file order (a before c).
    assert ds.user_ids.tolist() == ["bob", "ann"] and ds.item_ids.tolist() == ["", "b", "a", "c"]
    assert _orig(ds) == {"bob": ["a", "b"], "ann": ["b", "a", "c"]}
    assert ds.item_text == ["", "Bee, the", "Ay", "See"]
    np.testing.assert_array_equal(ds.timestamps, [1, 5, 1, 3, 3])


def test_csv_tab_separated_without_timestamp(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.tsv", "User\tItem\tExtra\n1\tx\t?\n1\ty\t?\n2\tx\t?\n")
    ds = load_dataset(f"csv:{path}", min_count=0, cache=False)
    assert _orig(ds) == {"1": ["x", "y"], "2": ["x"]} and ds.timestamps is None and ds.item_text is None


def test_leave_one_out_split_of_a_loaded_dataset(tmp_path: Path) -> None:
    seq = _write(tmp_path / "s.txt", "1 1 2 3 4 5\n2 5 4 3\n")
    split = load_dataset(f"sasrec:{seq}", min_count=0, cache=False).split()
    assert [t.tolist() for t in split.train] == [[1, 2, 3], [5]]
    assert split.valid.targets.tolist() == [4, 4] and split.test.targets.tolist() == [5, 3]
    assert [h.tolist() for h in split.test.histories] == [[1, 2, 3, 4], [5, 4]]
