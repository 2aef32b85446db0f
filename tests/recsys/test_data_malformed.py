"""A corpus of malformed data files, one per way a user's file goes wrong, in every format.

Each case is written to ``tmp_path`` and must fail with exactly one ``DataFormatError`` whose
one-line message is ``FILE, line N: PROBLEM`` (``FILE: PROBLEM`` when no line is at fault).
Cases a format legitimately accepts are at the end, with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agenticrs.recsys.data import DataFormatError, load_dataset

NOT_ID = "is not a plain integer id (ASCII digits 0-9, no sign, underscore or leading zero)"
TOO_LARGE = "is too large (ids must be below 2^63)"
NOT_NUMBER = "is not a number (ASCII decimal, e.g. 12 or 3.5)"
TWICE = "give each user one line, or one 'user item' pair per line with a user's lines together"
RB = "user_id:token\titem_id:token\ttimestamp:float\n"
RB_SEQ = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
SEQ = {"s.txt": "1 2 3\n2 3 4\n"}
RB_OK = {"d.inter": RB + "u\ti\t1\n"}
ML_OK = {"u.data": "1\t2\t3\t4\n"}
ML_CSV = "userId,movieId,rating,timestamp\n"
FLAGS = "|".join(["0"] * 19)

# name: (scheme, {file: content}, file at fault, line or None, the exact problem)
CORPUS: dict[str, tuple[str, dict[str, str | bytes], str, int | None, str]] = {
    # ---- SASRec sequence file: ids are plain integers, one line per user
    "sasrec-plus-sign": ("sasrec", {"s.txt": "1 2 3\n+1 2 3\n"}, "s.txt", 2, f"user id '+1' {NOT_ID}"),
    "sasrec-leading-zero": ("sasrec", {"s.txt": "01 2 3\n"}, "s.txt", 1, f"user id '01' {NOT_ID}"),
    "sasrec-underscore": ("sasrec", {"s.txt": "1 2 0_1\n"}, "s.txt", 1, f"item id '0_1' {NOT_ID}"),
    "sasrec-full-width-digit": ("sasrec", {"s.txt": "1 2 3\n\uff11 2 3\n"}, "s.txt", 2, f"user id '\uff11' {NOT_ID}"),
    "sasrec-arabic-indic-digit": ("sasrec", {"s.txt": "1 \u0661 3\n"}, "s.txt", 1, f"item id '\u0661' {NOT_ID}"),
    "sasrec-negative-item": ("sasrec", {"s.txt": "1 2 -3\n"}, "s.txt", 1, f"item id '-3' {NOT_ID}"),
    "sasrec-decimal-item": ("sasrec", {"s.txt": "1 2 3.0\n"}, "s.txt", 1, f"item id '3.0' {NOT_ID}"),
    "sasrec-non-integer-item": ("sasrec", {"s.txt": "1 2 3\n2 3 x4\n"}, "s.txt", 2, f"item id 'x4' {NOT_ID}"),
    "sasrec-non-integer-user": ("sasrec", {"s.txt": "u1 2 3\n"}, "s.txt", 1, f"user id 'u1' {NOT_ID}"),
    "sasrec-user-2-63": ("sasrec", {"s.txt": "9223372036854775808 1 2\n"}, "s.txt", 1,
                         f"user id '9223372036854775808' {TOO_LARGE}"),
    "sasrec-huge-item": ("sasrec", {"s.txt": "1 2 3\n2 99999999999999999999999 3\n"}, "s.txt", 2,
                         f"item id '99999999999999999999999' {TOO_LARGE}"),
    "sasrec-user-without-items": ("sasrec", {"s.txt": "1 2 3\n\n7\n"}, "s.txt", 3,
                                  "wrong column count: expected 'user item [item ...]', got 1 column"),
    "sasrec-user-listed-twice": ("sasrec", {"s.txt": "1 2 3\n2 3 4\n1 5 6\n"}, "s.txt", 3,
                                 f"user 1 is listed twice (first at line 1); {TWICE}"),
    "sasrec-duplicated-line": ("sasrec", {"s.txt": "1 2 3\n1 2 3\n"}, "s.txt", 2,
                               f"user 1 is listed twice (first at line 1); {TWICE}"),
    "sasrec-pair-layout-user-split": ("sasrec", {"s.txt": "1 2\n2 3\n1 4\n"}, "s.txt", 3,
                                      f"user 1 is listed twice (first at line 1); {TWICE}"),
    "sasrec-empty-file": ("sasrec", {"s.txt": "\n  \n"}, "s.txt", None, "empty file"),
    "sasrec-not-utf8": ("sasrec", {"s.txt": b"1 2 3\n2 \xff 3\n"}, "s.txt", 2,
                        "not valid utf-8 text (invalid start byte)"),
    # ---- SASRec items.tsv (titles)
    "titles-non-integer-id": ("sasrec", {**SEQ, "items.tsv": "item_id\tasin\ttitle\n2\ta\tt\nzz\tb\tt\n"}, "items.tsv", 3,
                              f"item id 'zz' {NOT_ID}"),
    "titles-leading-zero": ("sasrec", {**SEQ, "items.tsv": "item_id\tasin\ttitle\n02\ta\tt\n"}, "items.tsv", 2,
                            f"item id '02' {NOT_ID}"),
    "titles-column-count": ("sasrec", {**SEQ, "items.tsv": "item_id\tasin\ttitle\n2\ta\n"}, "items.tsv", 2,
                            "wrong column count: expected 3 tab-separated columns, got 2"),
    "titles-item-twice": ("sasrec", {**SEQ, "items.tsv": "item_id\tasin\ttitle\n2\ta\tt\n2\tb\tu\n"}, "items.tsv", 3,
                          "item id 2 is listed twice (first at line 2)"),
    "titles-header-repeated": ("sasrec", {**SEQ, "items.tsv": "item_id\tasin\ttitle\n2\ta\tt\nitem_id\tasin\ttitle\n"},
                               "items.tsv", 3, f"item id 'item_id' {NOT_ID}"),
    "titles-wrong-header": ("sasrec", {**SEQ, "items.tsv": "id\tasin\ttitle\n2\ta\tt\n"}, "items.tsv", 1,
                            "expected a header 'item_id<TAB>asin<TAB>title', got 'id\\tasin\\ttitle'"),
    # ---- SASRec item_attributes.json
    "attributes-invalid-json": ("sasrec", {**SEQ, "item_attributes.json": '{"2": [1],\n "3": [2,]}'},
                                "item_attributes.json", 2, "invalid JSON (Expecting value)"),
    "attributes-strings": ("sasrec", {**SEQ, "item_attributes.json": '{"2": ["a"]}'}, "item_attributes.json", 1,
                           "item '2': attributes must be a list of integers, got [\"a\"]"),
    "attributes-booleans": ("sasrec", {**SEQ, "item_attributes.json": '{"2": [1],\n"3": [true]}'},
                            "item_attributes.json", 2, "item '3': attributes must be a list of integers, got [true]"),
    "attributes-negative": ("sasrec", {**SEQ, "item_attributes.json": '{"2": [1],\n "3": [4, -1]}'},
                            "item_attributes.json", 2, "item '3': attribute id -1 is negative"),
    "attributes-huge": ("sasrec", {**SEQ, "item_attributes.json": '{"2": [18446744073709551616]}'},
                        "item_attributes.json", 1, f"item '2': attribute id 18446744073709551616 {TOO_LARGE}"),
    "attributes-item-twice": ("sasrec", {**SEQ, "item_attributes.json": '{"2": [1],\n "2": [3]}'},
                              "item_attributes.json", 2, "item id '2' is listed twice"),
    "attributes-key-not-id": ("sasrec", {**SEQ, "item_attributes.json": '{\n"+2": [1]}'}, "item_attributes.json", 2,
                              f"item id '+2' {NOT_ID}"),
    "attributes-huge-key": ("sasrec", {**SEQ, "item_attributes.json": '{"99999999999999999999": [1]}'},
                            "item_attributes.json", 1, f"item id '99999999999999999999' {TOO_LARGE}"),
    "attributes-not-an-object": ("sasrec", {**SEQ, "item_attributes.json": "[[2, 1]]"}, "item_attributes.json", None,
                                 'expected a JSON object {"item_id": [attribute ids]}'),
    # ---- RecBole atomic files: ids are tokens
    "recbole-missing-column": ("recbole", {"d.inter": "user_id:token\trating:float\nu\t1\n"}, "d.inter", 1,
                               "missing required column 'item_id' (header has user_id:token, rating:float)"),
    "recbole-untyped-header": ("recbole", {"d.inter": "user_id\titem_id\nu\ti\n"}, "d.inter", 1,
                               "expected a RecBole header of 'name:type' columns, got 'user_id'"),
    "recbole-column-twice": ("recbole", {"d.inter": "user_id:token\tuser_id:token\titem_id:token\nu\tu\ti\n"},
                             "d.inter", 1, "column 'user_id' appears twice in the header"),
    "recbole-header-twice": ("recbole", {"d.inter": RB + RB + "u\ti\t1\n"}, "d.inter", 2,
                             "the header line is repeated here (files concatenated?)"),
    "recbole-header-mid-file": ("recbole", {"d.inter": RB + "u\ti\t1\n" + RB + "v\ti\t2\n"}, "d.inter", 3,
                                "the header line is repeated here (files concatenated?)"),
    "recbole-column-count": ("recbole", {"d.inter": RB + "u\ti\t1\nu\ti\n"}, "d.inter", 3,
                             "wrong column count: expected 3 tab-separated columns, got 2"),
    "recbole-bad-timestamp": ("recbole", {"d.inter": RB + "u\ti\tyesterday\n"}, "d.inter", 2,
                              f"timestamp 'yesterday' {NOT_NUMBER}"),
    "recbole-infinite-timestamp": ("recbole", {"d.inter": RB + "u\ti\t1\nu\tj\tinf\n"}, "d.inter", 3,
                                   "timestamp 'inf' is not a finite number"),
    "recbole-full-width-timestamp": ("recbole", {"d.inter": RB + "u\ti\t\uff11\n"}, "d.inter", 2,
                                     f"timestamp '\uff11' {NOT_NUMBER}"),
    "recbole-empty-user": ("recbole", {"d.test.inter": RB_SEQ + "0\t1 2\t3\n \t1\t2\n"}, "d.test.inter", 3,
                           "empty user id"),
    "recbole-empty-item": ("recbole", {"d.inter": RB + "u\t \t1\n"}, "d.inter", 2, "empty item id"),
    "recbole-empty-file": ("recbole", {"d.inter": ""}, "d.inter", None, "empty file"),
    "recbole-text-missing-column": ("recbole", {**RB_OK, "d.text": "item_id:token\tdescription:token_seq\ni\tx\n"},
                                    "d.text", 1,
                                    "missing required column 'text' (header has item_id:token, description:token_seq)"),
    "recbole-item2index-columns": ("recbole", {**RB_OK, "d.text": "item_id:token\ttext:token_seq\nA\tx\n",
                                               "d.item2index": "A\t1\textra\n"}, "d.item2index", 1,
                                   "wrong column count: expected 'original_id<TAB>index', got 3 columns"),
    "recbole-item2index-twice": ("recbole", {**RB_OK, "d.text": "item_id:token\ttext:token_seq\nA\tx\n",
                                             "d.item2index": "A\t1\nA\t2\n"}, "d.item2index", 2,
                                 "original id 'A' is listed twice"),
    "recbole-item-file-columns": ("recbole", {**RB_OK, "d.item": "item_id:token\ttitle:token_seq\ni\tT\tx\n"},
                                  "d.item", 2, "wrong column count: expected 2 tab-separated columns, got 3"),
    # ---- MovieLens
    "movielens-column-count": ("movielens", {"u.data": "1\t2\t3\t4\n1\t2\t3\n"}, "u.data", 2,
                               "wrong column count: expected 4 '\\t'-separated columns (user, movie, rating, timestamp), "
                               "got 3"),
    "movielens-rating-five": ("movielens", {"ratings.dat": "1::2::5::10\n1::3::five::11\n"}, "ratings.dat", 2,
                              f"rating 'five' {NOT_NUMBER}"),
    "movielens-movie-not-id": ("movielens", {"ratings.dat": "1::2::5::10\n1::b::5::10\n"}, "ratings.dat", 2,
                               f"movie id 'b' {NOT_ID}"),
    "movielens-user-plus-sign": ("movielens", {"u.data": "+1\t2\t3\t4\n"}, "u.data", 1, f"user id '+1' {NOT_ID}"),
    "movielens-user-2-63": ("movielens", {"u.data": "1\t2\t3\t4\n9223372036854775808\t2\t3\t4\n"}, "u.data", 2,
                            f"user id '9223372036854775808' {TOO_LARGE}"),
    "movielens-bad-timestamp": ("movielens", {"u.data": "1\t2\t3\tnoon\n"}, "u.data", 1, f"timestamp 'noon' {NOT_NUMBER}"),
    "movielens-movies-columns": ("movielens", {"ratings.dat": "1::2::5::10\n", "movies.dat": "2::T::Drama\n3::T\n"},
                                 "movies.dat", 2,
                                 "wrong column count: expected 3 '::'-separated columns (id, title, genres), got 2"),
    "movielens-u-item-columns": ("movielens", {**ML_OK, "u.item": "2|T|d||u|0|1\n"}, "u.item", 1,
                                 "wrong column count: expected 24 '|'-separated columns (id, title, dates, URL, "
                                 "19 genre flags), got 7"),
    "movielens-u-item-id": ("movielens", {**ML_OK, "u.item": f"2|T|d||u|{FLAGS}\n02|U|d||u|{FLAGS}\n"}, "u.item", 2,
                            f"movie id '02' {NOT_ID}"),
    "movielens-genre-number": ("movielens", {**ML_OK, "u.item": f"2|T|d||u|{FLAGS}\n", "u.genre": "unknown|0\nAction|x\n"}, "u.genre", 2,
                               f"genre number 'x' {NOT_ID}"),
    "movielens-csv-header-repeated": ("movielens", {"ratings.csv": ML_CSV + "1,2,3,4\n" + ML_CSV}, "ratings.csv", 3,
                                      "the header row is repeated here (files concatenated?)"),
    "movielens-csv-rating": ("movielens", {"ratings.csv": ML_CSV + "1,2,3.5,4\n1,3,x,5\n"}, "ratings.csv", 3,
                             f"rating 'x' {NOT_NUMBER}"),
    "movielens-csv-missing-column": ("movielens", {"ratings.csv": "userId,movieId,timestamp\n1,2,3\n"}, "ratings.csv", 1,
                                     "missing required column(s) rating (header has userId, movieId, timestamp)"),
    "movielens-movies-csv-unterminated-quote": (
        "movielens", {"ratings.csv": ML_CSV + "1,2,3,4\n", "movies.csv": 'movieId,title,genres\n1,"Toy Story,Drama\n2,X,Y\n'},
        "movies.csv", 2, "unterminated quoted field: a '\"' opened on this line is never closed"),
    # ---- CSV interaction log: ids are tokens
    "csv-missing-column": ("csv", {"l.csv": "user,product\n1,2\n"}, "l.csv", 1,
                           "missing required column 'item' (also accepted: item_id, itemid); header has user, product"),
    "csv-role-twice": ("csv", {"l.csv": "user,user_id,item\n1,1,2\n"}, "l.csv", 1,
                       "several columns mean 'user': user, user_id"),
    "csv-column-count": ("csv", {"l.csv": "user,item\n1,2\n1,2,3\n"}, "l.csv", 3, "wrong column count: expected 2, got 3"),
    "csv-header-mid-file": ("csv", {"l.csv": "user,item\n1,2\nuser,item\n3,4\n"}, "l.csv", 3,
                            "the header row is repeated here (files concatenated?)"),
    "csv-unterminated-quote": ("csv", {"l.csv": 'user,item\n1,2\n"3,4\n5,6\n'}, "l.csv", 3,
                               "unterminated quoted field: a '\"' opened on this line is never closed"),
    "csv-character-after-quote": ("csv", {"l.csv": 'user,item\n1,"2"x\n'}, "l.csv", 2,
                                  "malformed quoting (',' expected after '\"')"),
    "csv-id-spans-lines": ("csv", {"l.csv": 'user,item\n"a\nb",2\n'}, "l.csv", 2,
                           "user id spans several lines (a quote left open?)"),
    "csv-bad-timestamp": ("csv", {"l.csv": "user,item,timestamp\n1,2,3\n1,2,noon\n"}, "l.csv", 3,
                          f"timestamp 'noon' {NOT_NUMBER}"),
    "csv-nan-timestamp": ("csv", {"l.csv": "user,item,timestamp\n1,2,nan\n"}, "l.csv", 2,
                          "timestamp 'nan' is not a finite number"),
    "csv-underscore-timestamp": ("csv", {"l.csv": "user,item,timestamp\n1,2,1_000\n"}, "l.csv", 2,
                                 f"timestamp '1_000' {NOT_NUMBER}"),
    "csv-empty-id": ("csv", {"l.csv": "user,item\n1,\n"}, "l.csv", 2, "empty item id"),
    "csv-not-utf8": ("csv", {"l.csv": b"user,item\n1,2\n\xff\xfe,3\n"}, "l.csv", 3, "not valid utf-8 text (invalid start byte)"),
}


def _write(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def _uri(scheme: str, folder: Path, files: dict[str, str | bytes]) -> str:
    return f"{scheme}:{folder if scheme in ('movielens', 'recbole') else folder / next(iter(files))}"


def test_the_corpus_covers_every_format() -> None:
    assert len(CORPUS) >= 40
    formats = {s for s, *_ in CORPUS.values()}
    side_files = {bad for _, _, bad, *_ in CORPUS.values()}
    assert formats == {"sasrec", "recbole", "movielens", "csv"}
    assert {"items.tsv", "item_attributes.json", "d.text", "d.item2index", "d.item", "u.item", "movies.dat",
            "movies.csv", "u.genre"} <= side_files


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_malformed_file_is_one_line_naming_file_line_and_problem(tmp_path: Path, case: str) -> None:
    scheme, files, bad_file, line, problem = CORPUS[case]
    _write(tmp_path, files)
    with pytest.raises(DataFormatError) as info:
        load_dataset(_uri(scheme, tmp_path, files), min_count=0, cache=False)
    where = f"{tmp_path / bad_file}, line {line}" if line is not None else f"{tmp_path / bad_file}"
    assert str(info.value) == f"{where}: {problem}"
    assert "\n" not in str(info.value)
    assert (info.value.file, info.value.line, info.value.problem) == (str(tmp_path / bad_file), line, problem)


@pytest.mark.parametrize("case", ["sasrec-user-2-63", "attributes-huge", "movielens-user-2-63"])
def test_malformed_file_fails_the_same_through_the_cache(tmp_path: Path, case: str) -> None:
    """The cache path (key hashing, then parsing) raises the same error, not OverflowError."""
    scheme, files, bad_file, line, problem = CORPUS[case]
    _write(tmp_path, files)
    with pytest.raises(DataFormatError, match=problem.replace("^", r"\^").replace("(", r"\(").replace(")", r"\)")):
        load_dataset(_uri(scheme, tmp_path, files), min_count=0, cache=tmp_path / "cache")


def test_an_unreadable_file_is_a_data_format_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seq = tmp_path / "s.txt"
    seq.write_text("1 2 3\n")
    real = Path.read_bytes

    def denied(self: Path) -> bytes:  # chmod does not stop root, so the refusal is simulated
        if self == seq:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(DataFormatError) as info:
        load_dataset(f"sasrec:{seq}", min_count=0, cache=tmp_path / "cache")
    assert str(info.value) == f"{seq}: cannot read file (Permission denied)"


# ---------------------------------------------------------------------- legitimately accepted
def _orig(ds) -> dict[str, list[str]]:
    return {str(ds.user_ids[u]): [str(ds.item_ids[i]) for i in ds.sequence(u)] for u in range(ds.n_users)}


def test_sasrec_pair_layout_groups_consecutive_lines(tmp_path: Path) -> None:
    """The original SASRec files hold one ``user item`` pair per line, a user's lines together."""
    seq = tmp_path / "Beauty.txt"
    seq.write_text("1 5\n1 6\n1 7\n2 6\n2 5\n")
    assert _orig(load_dataset(f"sasrec:{seq}", min_count=0, cache=False)) == {"1": ["5", "6", "7"], "2": ["6", "5"]}


def test_sasrec_accepts_zero_and_the_largest_int64_id(tmp_path: Path) -> None:
    seq = tmp_path / "s.txt"
    seq.write_text("0 9223372036854775807 1\n")
    (tmp_path / "item_attributes.json").write_text(json.dumps({"1": [0, 2**63 - 1]}))
    ds = load_dataset(f"sasrec:{seq}", min_count=0, cache=False)
    assert _orig(ds) == {"0": ["9223372036854775807", "1"]}
    assert [a.tolist() for a in ds.item_attributes] == [[], [0, 2**63 - 1], []]


def test_token_formats_keep_differently_spelled_ids_apart(tmp_path: Path) -> None:
    """RecBole tokens and CSV ids are strings (ASINs, hashes...): ``01``, ``+1`` and ``1`` differ."""
    (tmp_path / "d.inter").write_text("user_id:token\titem_id:token\n1\ta\n01\tb\n+1\tc\n")
    assert _orig(load_dataset(f"recbole:{tmp_path}", min_count=0, cache=False)) == {"1": ["a"], "01": ["b"], "+1": ["c"]}
    log = tmp_path / "l.csv"
    log.write_text('user,item,title\n1,a,"multi\nline title"\n01,a,\n')
    ds = load_dataset(f"csv:{log}", min_count=0, cache=False)
    assert _orig(ds) == {"1": ["a"], "01": ["a"]} and ds.item_text == ["", "multi\nline title"]


def test_a_custom_loaders_huge_ids_are_a_data_format_error_not_an_overflow() -> None:
    from agenticrs.recsys.data import Interactions, preprocess

    log = Interactions("mine.bin")
    log.add_sequence(2**64, [1, 2])
    with pytest.raises(DataFormatError, match=r"^mine.bin: an integer id does not fit in 64 bits"):
        preprocess(log, min_count=0)
    log = Interactions("mine.bin")
    log.add_sequence(1, [1, 2])
    log.item_attributes = {1: [2**70]}
    with pytest.raises(DataFormatError, match=r"^mine.bin: item attributes must be lists of 64-bit integers"):
        preprocess(log, min_count=0)
