"""The README's custom-env example runs as written (in a fresh interpreter: its registrations stay there)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- custom-env-example -->"


def readme_example() -> str:
    text = README.read_text()
    m = re.search(re.escape(MARKER) + r"\s*```python\n(.+?)\n```", text, flags=re.S)
    assert m, f"README.md must show the custom-env example in a python block after {MARKER}"
    return m.group(1)


def test_readme_custom_env_example_runs(tmp_path: Path) -> None:
    code = readme_example()
    for needed in ("register_dataset", "register_model", "register_reward_term", "register_suite",
                   "register_env", "gym.make"):
        assert needed in code, f"the README example no longer shows {needed}"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, last = proc.stdout.strip().splitlines()[-2:]
    assert first.startswith("ring-30 ") and "'fast': 1.0" in first
    assert last.startswith("outer objective") and float(last.split()[-1]) > 0.9
