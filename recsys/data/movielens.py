"""``movielens:DIR``: the GroupLens MovieLens releases, every rating as one implicit interaction.

The release is recognised by the files in ``DIR``:

- ML-100K: ``u.data`` (tab-separated ``user item rating timestamp``) and ``u.item`` (``|``-separated,
  latin-1: id, title, dates, URL, then 19 genre flags; genre names from ``u.genre`` when present);
- ML-1M / ML-10M: ``ratings.dat`` (``user::movie::rating::timestamp``) and ``movies.dat``
  (``movie::title::Genre|Genre``);
- ML-20M / 25M / latest: ``ratings.csv`` and ``movies.csv`` (``userId,movieId,rating,timestamp``).

Item text is ``"Title (year). Genre, Genre."``. Each user's ratings are ordered by timestamp.

Grammar: user and movie ids are plain integers ``0|[1-9][0-9]*`` below 2^63 (ASCII digits, no
sign, underscore or leading zero); the rating and the timestamp are finite ASCII decimal
numbers (a rating is checked although every rating counts as one interaction: ``five`` means
the file is not what it claims to be); CSV releases follow RFC 4180 quoting strictly.
"""

from __future__ import annotations

from pathlib import Path

from agenticrs.recsys.data.csv_loader import csv_rows
from agenticrs.recsys.data.errors import DataFormatError, parse_float, parse_id, read_lines
from agenticrs.recsys.data.preprocess import Interactions

# u.genre's order, used when the file is missing.
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip

_LAYOUTS = (("u.data", "u.item"), ("ratings.dat", "movies.dat"), ("ratings.csv", "movies.csv"))


def _layout(arg: str) -> tuple[Path, Path]:
    folder = Path(arg).expanduser()
    if not folder.is_dir():
        raise DataFormatError("MovieLens folder not found" if not folder.exists() else "not a folder", folder)
    for ratings, movies in _LAYOUTS:
        if (folder / ratings).is_file():
            return folder / ratings, folder / movies
    tried = ", ".join(r for r, _ in _LAYOUTS)
    raise DataFormatError(f"no MovieLens ratings file in this folder (looked for {tried})", folder)


def movielens_files(arg: str) -> list[Path]:
    """The ratings file and, when present, the movies and genre files (the cache key's inputs)."""
    ratings, movies = _layout(arg)
    return [p for p in (ratings, movies, ratings.with_name("u.genre")) if p == ratings or p.is_file()]


def load_movielens(arg: str) -> Interactions:
    """Parse a MovieLens folder (100K, 1M, 10M or the CSV releases)."""
    ratings, movies = _layout(arg)
    log = Interactions(str(ratings))
    if ratings.suffix == ".csv":
        for n, row in _csv_rows(ratings, ("userId", "movieId", "rating", "timestamp")):
            user, item, rating, ts = row
            parse_float(rating, ratings, n, "rating")
            log.add(parse_id(user, ratings, n, "user id"), parse_id(item, ratings, n, "movie id"),
                    parse_float(ts, ratings, n, "timestamp"))  # fmt: skip
    else:
        sep = "\t" if ratings.name == "u.data" else "::"
        for n, line in enumerate(read_lines(ratings, "latin-1"), start=1):
            if not line.strip():
                continue
            cols = line.split(sep)
            if len(cols) != 4:
                raise DataFormatError(f"wrong column count: expected 4 {sep!r}-separated columns "
                                      f"(user, movie, rating, timestamp), got {len(cols)}", ratings, n)  # fmt: skip
            parse_float(cols[2], ratings, n, "rating")
            log.add(parse_id(cols[0], ratings, n, "user id"), parse_id(cols[1], ratings, n, "movie id"),
                    parse_float(cols[3], ratings, n, "timestamp"))  # fmt: skip
    if movies.is_file():
        log.item_text = {
            ".item": _read_u_item, ".dat": _read_movies_dat, ".csv": _read_movies_csv
        }[movies.suffix](movies)
    return log


def _text(title: str, genres: list[str]) -> str:
    genres = [g for g in genres if g and g != "(no genres listed)"]
    return f"{title.strip()}. {', '.join(genres)}." if genres else f"{title.strip()}."


def _read_u_item(path: Path) -> dict[int, str]:
    genre_path = path.with_name("u.genre")
    genres = list(ML100K_GENRES)
    if genre_path.is_file():
        numbered = []
        for n, line in enumerate(read_lines(genre_path, "latin-1"), start=1):
            if line.strip():
                name, sep, number = line.partition("|")
                if not sep:
                    raise DataFormatError("expected 'genre|number'", genre_path, n)
                numbered.append((parse_id(number, genre_path, n, "genre number"), name))
        genres = [name for _, name in sorted(numbered)]
    text: dict[int, str] = {}
    for n, line in enumerate(read_lines(path, "latin-1"), start=1):
        if not line.strip():
            continue
        cols = line.split("|")
        if len(cols) < 5 + len(genres):
            raise DataFormatError(f"wrong column count: expected {5 + len(genres)} '|'-separated columns "
                                  f"(id, title, dates, URL, {len(genres)} genre flags), got {len(cols)}", path, n)  # fmt: skip
        flags = cols[5 : 5 + len(genres)]
        text[parse_id(cols[0], path, n, "movie id")] = _text(cols[1], [g for g, f in zip(genres, flags) if f.strip() == "1"])
    return text


def _read_movies_dat(path: Path) -> dict[int, str]:
    text: dict[int, str] = {}
    for n, line in enumerate(_read_any(path), start=1):
        if not line.strip():
            continue
        cols = line.split("::")
        if len(cols) != 3:
            raise DataFormatError(f"wrong column count: expected 3 '::'-separated columns (id, title, genres), got {len(cols)}", path, n)
        text[parse_id(cols[0], path, n, "movie id")] = _text(cols[1], cols[2].split("|"))
    return text


def _read_any(path: Path) -> list[str]:
    """ML-1M's movies.dat is latin-1, ML-10M's is UTF-8: try UTF-8 first (latin-1 never fails)."""
    try:
        return read_lines(path)
    except DataFormatError as e:
        if "not valid utf-8" not in e.problem:
            raise
        return read_lines(path, "latin-1")


def _read_movies_csv(path: Path) -> dict[int, str]:
    return {
        parse_id(movie, path, n, "movie id"): _text(title, genres.split("|"))
        for n, (movie, title, genres) in _csv_rows(path, ("movieId", "title", "genres"))
    }


def _csv_rows(path: Path, wanted: tuple[str, ...]):
    """``(line, [values of the wanted columns])`` for each row of a headed CSV file."""
    rows = csv_rows(path, read_lines(path))
    header = next(rows)[1]
    missing = [w for w in wanted if w not in header]
    if missing:
        raise DataFormatError(f"missing required column(s) {', '.join(missing)} (header has {', '.join(header)})", path, 1)
    index = [header.index(w) for w in wanted]
    for n, row in rows:
        yield n, [row[k] for k in index]
