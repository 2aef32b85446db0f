"""Dataset URIs: the registry of schemes and names behind ``load_dataset``.

A URI is ``scheme:argument`` (``sasrec:/data/seq.txt``, ``synthetic:users=500``) or a bare
name (``beauty``). Both live in one registry:

- a **loader** entry (``register_dataset("myscheme", fn)``) handles ``myscheme:ARG`` by calling
  ``fn(ARG)`` (and the bare ``myscheme`` with ``ARG = ""``); ``fn`` returns an ``Interactions``
  log, which ``load_dataset`` filters, re-indexes and caches, or a finished ``Dataset``, used as is;
- an **alias** entry (``register_dataset("beauty", "sasrec:{data}/amazon-beauty/sequences.txt")``)
  stands for another URI; ``{data}`` is replaced by the first data root where the files exist
  (``$AGENTICRS_DATA`` if set, else ``../shared/data`` next to the project, then from the cwd).
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, Union

from agenticrs.recsys.data import cache as _cache
from agenticrs.recsys.data.csv_loader import csv_files, load_csv
from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.data.errors import DataFormatError
from agenticrs.recsys.data.movielens import load_movielens, movielens_files
from agenticrs.recsys.data.preprocess import Interactions, preprocess
from agenticrs.recsys.data.recbole import load_recbole, recbole_files
from agenticrs.recsys.data.sasrec import load_sasrec, sasrec_files
from agenticrs.recsys.data.subsample import load_subsample
from agenticrs.recsys.data.synthetic import SyntheticConfig, generate_synthetic

Loader = Callable[[str], Union[Interactions, Dataset]]
"""``loader(argument) -> Interactions | Dataset``; the argument is the URI after ``scheme:``."""

_NAME = re.compile(r"^[a-z][a-z0-9_.+-]*$")


@dataclass(frozen=True)
class DatasetEntry:
    """One registered scheme or name.

    Attributes:
        name: the scheme or name, lower case.
        loader: the function behind a scheme, or ``None`` for an alias.
        uri: the URI an alias stands for (may contain ``{data}``), or ``None`` for a loader.
        files: for a loader, ``files(argument) -> [Path]``: the source files whose bytes key the
            cache (``None``: results are not cached). Raises ``DataFormatError`` if they are missing.
        description: one line for ``agenticrs datasets``.
    """

    name: str
    loader: Loader | None = None
    uri: str | None = None
    files: Callable[[str], list[Path]] | None = None
    description: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    """A row of ``list_datasets()``; fields read as attributes or dict-style (``info["name"]``).

    Attributes:
        name: the dataset name.
        uri: the URI it resolves to (with the data root filled in when found).
        available: whether its files were found (and, with stats, whether it loaded).
        stats: ``Dataset.stats()`` when available and requested, else ``None``.
        description: what it is.
        problem: why it is unavailable (the paths tried, or the load error), or ``""``.
    """

    name: str
    uri: str
    available: bool
    stats: dict[str, float] | None
    description: str
    problem: str

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.__dataclass_fields__ else default

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_REGISTRY: dict[str, DatasetEntry] = {}


def register_dataset(
    name: str,
    target: Loader | str | None = None,
    *,
    files: Callable[[str], list[Path]] | None = None,
    description: str = "",
    replace: bool = False,
) -> Callable[[Loader], Loader] | DatasetEntry:
    """Register a scheme (a loader function) or a name (an alias for a URI).

    Use it directly, ``register_dataset("mine", "csv:/data/mine.csv")``, or as a decorator:

    .. code-block:: python

        @register_dataset("myscheme", files=lambda arg: [Path(arg)])
        def load_mine(arg: str) -> Interactions:
            log = Interactions(arg)
            ...  # log.add(user, item, timestamp)
            return log

        load_dataset("myscheme:/data/mine.bin")

    Args:
        name: the scheme or name (lower case letters, digits, ``_.+-``; starts with a letter).
        target: a loader ``fn(arg) -> Interactions | Dataset``, or a URI string for an alias.
        files: for loaders, the source files to hash for the cache (without it: no caching).
        description: one line shown by ``agenticrs datasets``.
        replace: allow replacing an existing entry (otherwise an error: a name never silently
            changes meaning).

    Returns:
        the entry, or a decorator when ``target`` is omitted.
    """
    if target is None:

        def decorator(fn: Loader) -> Loader:
            register_dataset(name, fn, files=files, description=description, replace=replace)
            return fn

        return decorator
    key = name.lower()
    if not _NAME.match(key):
        raise ValueError(f"dataset name {name!r} must be letters, digits and _.+- and start with a letter")
    if key in _REGISTRY and not replace:
        raise ValueError(f"dataset {key!r} is already registered; pass replace=True to replace it")
    if isinstance(target, str):
        if files is not None:
            raise ValueError("files= is for loaders; an alias uses its target's files")
        entry = DatasetEntry(key, uri=target, description=description)
    elif callable(target):
        entry = DatasetEntry(key, loader=target, files=files, description=description)
    else:
        raise TypeError(f"register_dataset target must be a loader function or a URI string, got {type(target).__name__}")
    _REGISTRY[key] = entry
    return entry


def unregister_dataset(name: str) -> None:
    """Remove a registered scheme or name (mainly for tests)."""
    _REGISTRY.pop(name.lower(), None)


# ---------------------------------------------------------------------- data roots
def data_roots() -> list[Path]:
    """Where ``{data}`` may point, in order: ``$AGENTICRS_DATA`` alone if set, else
    ``../shared/data`` from the project root (the package source's parent), then from the cwd."""
    env = os.environ.get("AGENTICRS_DATA")
    if env:
        return [Path(env).expanduser()]
    project = Path(__file__).resolve().parents[2]
    roots: list[Path] = []
    for base in (project, Path.cwd()):
        root = (base / ".." / "shared" / "data").resolve()
        if root not in roots:
            roots.append(root)
    return roots


def _split(uri: str) -> tuple[DatasetEntry, str]:
    scheme, sep, arg = uri.partition(":")
    entry = _REGISTRY.get(scheme.strip().lower())
    if entry is None:
        known = ", ".join(sorted(_REGISTRY))
        what = f"unknown dataset scheme {scheme!r}" if sep else f"unknown dataset {uri!r}"
        raise DataFormatError(f"{what}; known schemes and names: {known} (a path needs a scheme, e.g. csv:PATH)")
    if entry.uri is not None and sep:
        raise DataFormatError(f"dataset name {entry.name!r} takes no ':argument' (got {uri!r})")
    return entry, arg.strip()


def resolve(uri: str) -> tuple[DatasetEntry, str, str]:
    """Follow aliases to a loader: ``(entry, argument, resolved URI)``.

    Raises:
        DataFormatError: unknown scheme or name, an alias loop, or an alias whose files are found
            under none of the data roots (the message lists every path tried).
    """
    seen: list[str] = []
    entry, arg = _split(uri)
    while entry.uri is not None:
        if entry.name in seen:
            raise DataFormatError(f"dataset aliases form a loop: {' -> '.join(seen + [entry.name])}")
        seen.append(entry.name)
        uri = _fill_root(entry)
        entry, arg = _split(uri)
    return entry, arg, uri


def _fill_root(alias: DatasetEntry) -> str:
    assert alias.uri is not None
    if "{data}" not in alias.uri:
        return alias.uri
    tried: list[str] = []
    for root in data_roots():
        uri = alias.uri.replace("{data}", str(root))
        entry, arg = _split(uri)
        if entry.files is None or entry.uri is not None:
            return uri
        try:
            entry.files(arg)
            return uri
        except DataFormatError as e:
            tried.append(e.file or arg)
    hint = "set $AGENTICRS_DATA to the folder holding it" if not os.environ.get("AGENTICRS_DATA") else "check $AGENTICRS_DATA"
    raise DataFormatError(f"dataset {alias.name!r} not found; tried {', '.join(tried)} ({hint})")


# ---------------------------------------------------------------------- loading
def load_dataset(uri: str, *, min_count: int = 5, cache: bool | str = True) -> Dataset:
    """Load a dataset from a URI or a registered name, filtered, re-indexed and cached.

    Examples: ``load_dataset("synthetic:")``, ``load_dataset("synthetic:users=500,seed=1")``,
    ``load_dataset("beauty")``, ``load_dataset("sasrec:/data/seq.txt")``,
    ``load_dataset("recbole:/data/Scientific")``, ``load_dataset("movielens:/data/ml-1m")``,
    ``load_dataset("csv:/data/log.csv", min_count=2)``.

    Args:
        uri: ``scheme:argument`` or a registered name (see ``list_datasets()``).
        min_count: k-core threshold for users and items (``0``/``1``: no filtering). Loaders
            that return a finished ``Dataset`` (``synthetic:``) ignore it.
        cache: ``True`` for the default cache folder (``$AGENTICRS_CACHE/datasets`` or
            ``~/.cache/agenticrs/datasets``), a folder path, or ``False`` for no cache.

    Raises:
        DataFormatError: unknown scheme, missing or malformed files (with file and line), or no
            user left after the k-core filtering.
    """
    if min_count < 0:
        raise ValueError(f"min_count must be >= 0, got {min_count}")
    name = uri.strip()
    entry, arg, _ = resolve(name)
    assert entry.loader is not None
    files = entry.files(arg) if entry.files is not None else None
    cache_path = key = None
    if cache is not False and files is not None:
        folder = _cache.default_cache_dir() if cache is True else Path(cache).expanduser()
        _cache.clean_stale_temporaries(folder)
        key = _cache.cache_key(files, {"scheme": entry.name, "min_count": min_count})
        cache_path = folder / f"{entry.name}-{key}.npz"
        cached = _cache.load_cached(cache_path, key, name)
        if cached is not None:
            return cached
    result = entry.loader(arg)
    if isinstance(result, Dataset):
        return result
    if not isinstance(result, Interactions):
        raise TypeError(f"loader for {entry.name!r} returned {type(result).__name__}, not Interactions or Dataset")
    dataset = preprocess(result, min_count=min_count, name=name)
    if cache_path is not None and key is not None:
        _cache.save_cached(cache_path, key, dataset, source=name)
    return dataset


def list_datasets(stats: bool = True, *, min_count: int = 5) -> list[DatasetInfo]:
    """Every registered name (aliases, plus ``synthetic``, the embedded default), for the CLI.

    Args:
        stats: load each available dataset (through the cache) to report ``Dataset.stats()``.
        min_count: the k-core threshold used for those stats.
    """
    rows: list[DatasetInfo] = []
    names = [e for e in _REGISTRY.values() if e.uri is not None or e.name == "synthetic"]
    for entry in sorted(names, key=lambda e: (e.name != "synthetic", e.name)):
        try:
            _, _, uri = resolve(entry.name)
        except DataFormatError as e:
            rows.append(DatasetInfo(entry.name, entry.uri or entry.name, False, None, entry.description, str(e)))
            continue
        info = None
        problem = ""
        if stats:
            try:
                info = load_dataset(entry.name, min_count=min_count).stats()
            except (DataFormatError, ValueError) as e:
                problem = str(e)
        rows.append(DatasetInfo(entry.name, uri, not problem, info, entry.description, problem))
    return rows


# ---------------------------------------------------------------------- built-ins
def _synthetic(arg: str) -> Dataset:
    try:
        cfg = SyntheticConfig.from_options(arg)
    except ValueError as e:
        raise DataFormatError(str(e), f"synthetic:{arg}") from None
    return generate_synthetic(cfg, name=f"synthetic:{arg}")


_BUILTINS: Sequence[tuple[str, Loader | str, Callable[[str], list[Path]] | None, str]] = (
    ("synthetic", _synthetic, None, "embedded generator (no files); options: synthetic:users=2000,items=1000,seed=0,..."),
    ("sasrec", load_sasrec, sasrec_files, "one line per user 'user item item ...' (+ items.tsv, item_attributes.json)"),
    ("recbole", load_recbole, recbole_files, "RecBole atomic files PREFIX.inter or PREFIX.test.inter (+ .text)"),
    ("movielens", load_movielens, movielens_files, "MovieLens 100K / 1M / 10M / 20M folder"),
    ("csv", load_csv, csv_files, "headed CSV: user,item[,timestamp][,title]"),
    ("subsample", load_subsample, None, "a documented cut of another dataset: subsample:URI?users=N,part=P,seed=S,"
     "window=last50pct,attribute=ID,text=WORD,items=N,min_history=K,text_keep=F"),
    ("beauty", "sasrec:{data}/amazon-beauty/sequences.txt", None, "Amazon Beauty 5-core (SASRec files, titles, attributes)"),
    ("scientific", "recbole:{data}/amazon-scientific/Scientific", None, "Amazon Industrial & Scientific (RecBole, item text)"),
)
for _name, _target, _files, _description in _BUILTINS:
    register_dataset(_name, _target, files=_files, description=_description)
