"""The shared real datasets; skipped when ../shared/data (or $AGENTICRS_DATA) is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from agenticrs.recsys.data import data_roots, load_dataset


def _root_with(sub: str) -> Path | None:
    return next((r for r in data_roots() if (r / sub).is_dir()), None)


needs_beauty = pytest.mark.skipif(_root_with("amazon-beauty") is None, reason="shared Amazon Beauty data absent")
needs_scientific = pytest.mark.skipif(_root_with("amazon-scientific") is None, reason="shared Amazon Scientific data absent")


@needs_beauty
def test_beauty_counts_text_and_attributes(tmp_path: Path) -> None:
    ds = load_dataset("beauty", cache=str(tmp_path))
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (22363, 12101, 198502)
    # Already dense and 5-core: ids are unchanged by the re-indexing.
    assert ds.item_ids[1] == "1" and ds.item_ids[-1] == "12101" and ds.user_ids[0] == "1"
    assert ds.sequence(0).tolist() == [1, 2, 3, 4, 5]
    assert ds.item_text[1].startswith("OPI Nail Lacquer")
    assert sum(not t for t in ds.item_text[1:]) == 7  # the 7 empty titles of items.tsv
    assert ds.item_attributes[4].tolist() == [1, 2, 3]
    assert load_dataset("beauty", cache=str(tmp_path)).fingerprint() == ds.fingerprint()


@needs_scientific
def test_scientific_full_histories_and_text() -> None:
    raw = load_dataset("scientific", min_count=0, cache=False)
    assert (raw.n_users, raw.n_items, raw.n_interactions) == (8442, 4385, 59384)
    assert raw.sequence(0).tolist() == list(range(1, 15))  # test.inter: history 0..12 + target 13
    assert raw.item_text[1].startswith("eSUN Bronze filament")
    # The default 5-core only trims the few items that fall below 5 once histories are cut at 50.
    ds = load_dataset("scientific", cache=False)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (8438, 4382, 59356)
