"""Table-backend episodes stay bit-identical to the ones recorded before the per-step speed work.

Every registered single-agent env with a shipped table runs fixed-seed episodes (random
actions, resets included); each reset and step (observation, reward, flags, action mask and
the whole info, results included) must serialise to exactly the recorded JSON line.
"""

from __future__ import annotations

import gzip
import json

import pytest

from episode_reference import ENV_IDS, FIXTURE, SEEDS, inputs_fingerprint, rollout


@pytest.fixture(scope="module")
def reference() -> dict:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as f:
        data = json.load(f)
    assert data["inputs"] == inputs_fingerprint(), (
        "a shipped table or the synthetic suite changed since the reference episodes were recorded; "
        "check the change is intended, then re-record: OMP_NUM_THREADS=1 .venv/bin/python tests/envs/episode_reference.py")
    return data["episodes"]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_episodes_match_the_recorded_reference(reference: dict, env_id: str, seed: int) -> None:
    expected = reference[env_id][str(seed)]
    got = rollout(env_id, seed)
    assert len(got) == len(expected), f"{env_id} seed {seed}: {len(got)} resets+steps, recorded {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"{env_id} seed {seed}, line {i} differs:\n got {g[:600]}\nwant {e[:600]}"
