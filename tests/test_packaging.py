"""The package layout: every source folder is shipped, and CI runs the README's test command."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"agenticrs": "agenticrs", "recsys": "agenticrs.recsys", "envs": "agenticrs.envs",
           "policies": "agenticrs.policies", "benchmarks": "agenticrs.benchmarks"}


def declared_packages() -> set[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return {p.strip() for p in cfg["options"]["packages"].split("\n") if p.strip()}


def test_every_package_folder_is_listed_in_setup_cfg() -> None:
    found = set()
    for folder, name in MAPPING.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    missing = found - declared_packages()
    assert not missing, f"add these to setup.cfg [options] packages: {sorted(missing)}"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", readme)
    assert m, "README.md must show the test command after <!-- test-command -->"
    assert "pytest" in m.group(1)
    assert "torch==2.13.0" in m.group(1), "the CPU torch wheel must be installed before the package"
    ci = (ROOT / ".ci" / "run").read_text()
    assert m.group(1) in ci.splitlines(), ".ci/run must run the README's test command, exactly as written"


def test_pyproject_holds_only_the_build_system() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert re.findall(r"^\[([^\]]+)\]", text, flags=re.M) == ["build-system"]
