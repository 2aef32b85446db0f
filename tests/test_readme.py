"""README.md stays a short page a user reads, and its links (and the results page's) point at real files."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results" / "README.md"
MAX_LINES = 250
"""Long narratives belong in benchmarks/results/README.md (issue 31: the README had grown to 691 lines)."""

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def local_links(page: Path) -> list[str]:
    """Markdown link targets of ``page`` that are files in the repository (no URLs, no in-page anchors)."""
    targets = [t for t in _LINK.findall(page.read_text()) if not re.match(r"^[a-z][a-z0-9+.-]*:|^#", t)]
    return [t.split("#", 1)[0] for t in targets]


def test_readme_is_at_most_250_lines() -> None:
    n = len(README.read_text().splitlines())
    assert n <= MAX_LINES, (f"README.md has {n} lines (limit {MAX_LINES}): move results and long narratives to "
                            "benchmarks/results/README.md and link them")


def test_readme_links_to_the_results_page() -> None:
    assert "benchmarks/results/README.md" in local_links(README)


@pytest.mark.parametrize("page", [README, RESULTS], ids=lambda p: str(p.relative_to(ROOT)))
def test_links_to_repository_files_exist(page: Path) -> None:
    links = local_links(page)
    missing = [t for t in links if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_link_check_sees_relative_links_and_skips_urls(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("[a](docs/x.md#part) [b](https://example.org) [c](#anchor) [d](mailto:a@b.c) [e](./y.py)")
    assert local_links(page) == ["docs/x.md", "./y.py"]


def test_setup_cfg_long_description_is_the_readme() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg["metadata"]["long_description"].strip() == "file: README.md"
    assert cfg["metadata"]["long_description_content_type"].strip() == "text/markdown"
    README.read_text(encoding="utf-8")  # setuptools reads it as UTF-8
