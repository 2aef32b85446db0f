"""Every malformed source raises DataFormatError naming the file and, when it has one, the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from agenticrs.recsys.data import DataFormatError, load_dataset

RB_ATOMIC = "user_id:token\titem_id:token\ttimestamp:float\n"
RB_SEQ = "user_id:token\titem_id_list:token_seq\titem_id:token\n"

# (scheme, {file name: content}, file the error must name, line or None, words the problem must contain)
CASES = {
    "sasrec-non-integer-item": ("sasrec", {"s.txt": "1 2 3\n2 3 x4\n"}, "s.txt", 2, "'x4' is not an integer"),
    "sasrec-non-integer-user": ("sasrec", {"s.txt": "u1 2 3\n"}, "s.txt", 1, "user id 'u1'"),
    "sasrec-user-without-items": ("sasrec", {"s.txt": "1 2 3\n\n7\n"}, "s.txt", 3, "wrong column count"),
    "sasrec-empty-file": ("sasrec", {"s.txt": "\n  \n"}, "s.txt", None, "empty file"),
    "sasrec-bad-title-id": (
        "sasrec",
        {"s.txt": "1 2 3\n", "items.tsv": "item_id\tasin\ttitle\n2\ta\tt\nzz\tb\tt\n"},
        "items.tsv", 3, "'zz' is not an integer",
    ),
    "sasrec-title-columns": (
        "sasrec", {"s.txt": "1 2 3\n", "items.tsv": "item_id\tasin\ttitle\n2\ta\n"}, "items.tsv", 2, "wrong column count"
    ),
    "sasrec-bad-json": (
        "sasrec", {"s.txt": "1 2 3\n", "item_attributes.json": '{"2": [1],\n "3": [2,]}'}, "item_attributes.json", 2, "invalid JSON"
    ),
    "sasrec-bad-attributes": (
        "sasrec", {"s.txt": "1 2 3\n", "item_attributes.json": '{"2": ["a"]}'}, "item_attributes.json", None, "list of integers"
    ),
    "recbole-missing-column": (
        "recbole", {"d.inter": "user_id:token\trating:float\nu\t1\n"}, "d.inter", 1, "missing required column 'item_id'"
    ),
    "recbole-untyped-header": ("recbole", {"d.inter": "user_id\titem_id\nu\ti\n"}, "d.inter", 1, "name:type"),
    "recbole-column-count": ("recbole", {"d.inter": RB_ATOMIC + "u\ti\t1\nu\ti\n"}, "d.inter", 3, "wrong column count"),
    "recbole-bad-timestamp": ("recbole", {"d.inter": RB_ATOMIC + "u\ti\tyesterday\n"}, "d.inter", 2, "'yesterday' is not a number"),
    "recbole-empty-user": ("recbole", {"d.test.inter": RB_SEQ + "0\t1 2\t3\n \t1\t2\n"}, "d.test.inter", 3, "empty user id"),
    "recbole-empty": ("recbole", {"d.inter": ""}, "d.inter", None, "empty file"),
    "movielens-column-count": ("movielens", {"u.data": "1\t2\t3\t4\n1\t2\t3\n"}, "u.data", 2, "wrong column count"),
    "movielens-non-integer": ("movielens", {"ratings.dat": "1::2::5::10\n1::b::5::10\n"}, "ratings.dat", 2, "movie id 'b'"),
    "movielens-movies": (
        "movielens", {"ratings.dat": "1::2::5::10\n", "movies.dat": "2::T::Drama\n3::T\n"}, "movies.dat", 2, "wrong column count"
    ),
    "csv-missing-column": ("csv", {"l.csv": "user,product\n1,2\n"}, "l.csv", 1, "missing required column 'item'"),
    "csv-column-count": ("csv", {"l.csv": "user,item\n1,2\n1,2,3\n"}, "l.csv", 3, "wrong column count"),
    "csv-bad-timestamp": ("csv", {"l.csv": "user,item,timestamp\n1,2,3\n1,2,noon\n"}, "l.csv", 3, "'noon' is not a number"),
    "csv-nan-timestamp": ("csv", {"l.csv": "user,item,timestamp\n1,2,nan\n"}, "l.csv", 2, "not a finite number"),
    "csv-empty-id": ("csv", {"l.csv": "user,item\n1,\n"}, "l.csv", 2, "empty item id"),
    "csv-not-utf8": ("csv", {"l.csv": b"user,item\n1,2\n\xff\xfe,3\n"}, "l.csv", 3, "not valid utf-8"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_source_names_file_and_line(tmp_path: Path, case: str) -> None:
    scheme, files, bad_file, line, words = CASES[case]
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    first = tmp_path / next(iter(files))
    arg = {"movielens": tmp_path, "recbole": tmp_path}.get(scheme, first)
    with pytest.raises(DataFormatError) as info:
        load_dataset(f"{scheme}:{arg}", min_count=0, cache=False)
    err = info.value
    assert err.file is not None and Path(err.file).name == bad_file
    assert err.line == line
    assert words in err.problem
    assert str(err).startswith(str(tmp_path / bad_file))
    assert isinstance(err, ValueError)


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
