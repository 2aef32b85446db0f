"""Every malformed source raises DataFormatError naming the file and, when it has one, the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agenticrs.recsys.data import DataFormatError, load_dataset

# Malformed file contents (file, line and problem per case) are in test_data_malformed.py's corpus.


@pytest.mark.parametrize(
    "uri, words",
    [
        ("sasrec:{tmp}/missing.txt", "sequence file not found"),
        ("csv:{tmp}", "not a regular file"),
        ("recbole:{tmp}/Nothing", "RecBole interaction file not found"),
        ("recbole:{tmp}", "no RecBole .inter file"),
        ("movielens:{tmp}", "no MovieLens ratings file"),
        ("movielens:{tmp}/absent", "MovieLens folder not found"),
    ],
)
def test_missing_files(tmp_path: Path, uri: str, words: str) -> None:
    with pytest.raises(DataFormatError, match=words) as info:
        load_dataset(uri.format(tmp=tmp_path), cache=False)
    assert str(tmp_path) in str(info.value)


def test_unknown_scheme_and_name_list_the_known_ones() -> None:
    with pytest.raises(DataFormatError, match=r"unknown dataset scheme 'parquet'.*csv.*sasrec"):
        load_dataset("parquet:/x.pq")
    with pytest.raises(DataFormatError, match=r"unknown dataset '/data/x.csv'.*a path needs a scheme"):
        load_dataset("/data/x.csv")


def test_k_core_leaving_nothing_names_the_source(tmp_path: Path) -> None:
    seq = tmp_path / "s.txt"
    seq.write_text("1 1 2 3\n2 4 5 6\n")
    with pytest.raises(DataFormatError, match=r"no users left after 5-core filtering \(2 users, 6 items") as info:
        load_dataset(f"sasrec:{seq}", cache=False)
    assert info.value.file == str(seq)


@pytest.mark.parametrize(
    "options, words",
    [
        ("colour=3", "unknown synthetic option 'colour'; valid fields: users, items"),
        ("users=many", "users='many': expected an integer"),
        ("skew=-1", "SyntheticConfig.skew must be >= 0"),
        ("items=10", "SyntheticConfig.max_length must be < items"),
        ("users", "not of the form field=value"),
    ],
)
def test_bad_synthetic_options(options: str, words: str) -> None:
    with pytest.raises(DataFormatError, match=words) as info:
        load_dataset(f"synthetic:{options}")
    assert info.value.file == f"synthetic:{options}"
