"""``agenticrs validate``: a table episode reproduces on the table, surrogate and live backends; others fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import ENV, TINY, run_cli

from agenticrs.envs.core import TrialConfig
from agenticrs.envs.replay import Episode, record_episode
from agenticrs.envs.spaces import AutoTrainSpace
from agenticrs.envs.table_builder import build_table

# Closed-form models: a live re-run gives the same metrics, so a live replay must reproduce.
CONFIGS = [TrialConfig.make("pop"), TrialConfig.make("itemknn", max_len=20)]


@pytest.fixture(scope="module")
def live_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("table") / "tiny.jsonl.gz"
    build_table([(c, 1.0) for c in CONFIGS], TINY.tasks, (0, 1), out, workers=1, progress=False, timeout_s=120)
    return out


@pytest.fixture
def episode(tmp_path: Path, live_table: Path) -> Path:
    space = AutoTrainSpace()
    actions = [space.encode(c).tolist() for c in (CONFIGS[0], CONFIGS[1], CONFIGS[0])]
    path = tmp_path / "episode.json"
    ep = record_episode(ENV, actions, seed=3, task="tiny", path=path,
                        kwargs={"backend": "table", "backend_kwargs": {"table": str(live_table)}, "suite": "cli-tiny"})
    assert len(ep.rewards) == 3 and ep.rewards[1] > 0  # itemknn beats pop: a positive inner reward
    return path


def test_table_episode_reproduces_on_table_and_surrogate(episode: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(capsys, "validate", episode, "--json", tmp_path / "report.json")
    assert rc == 0, out + err
    assert "3 steps, rewards reproduce (max |diff| 0" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] is True and report["expected"] == report["got"]
    rc, out, _ = run_cli(capsys, "validate", episode, "--backend", "surrogate")
    assert rc == 0 and "rewards reproduce" in out


def test_table_episode_reproduces_live(episode: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from agenticrs.envs.backends.live import LiveBackend

    trained = []

    def spy(self: LiveBackend, *args: object) -> object:
        trained.append(evaluate(self, *args))
        return trained[-1]

    evaluate = LiveBackend.evaluate
    monkeypatch.setattr(LiveBackend, "evaluate", spy)
    rc, out, err = run_cli(capsys, "validate", episode, "--backend", "live")
    assert rc == 0, out + err
    assert [r.source for r in trained] == ["live"] * 3  # really retrained, not looked up
    assert "backend live" in out and "rewards reproduce" in out and "rtol 0.1" in out


def test_tampered_rewards_and_other_backends_fail(episode: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(episode.read_text())
    data["rewards"][2] += 0.5
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    rc, out, _ = run_cli(capsys, "validate", tampered)
    assert rc == 1 and "rewards differ from step 2" in out
    rc, out, _ = run_cli(capsys, "validate", episode, "--backend", "cli-fake")  # other metrics
    assert rc == 1 and "rewards differ from step 0" in out


def test_bad_input_exits_2(episode: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(capsys, "validate", tmp_path / "missing.json")
    assert rc == 2 and "missing.json does not exist" in err
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "agenticrs.episode",\n oops}')
    rc, _, err = run_cli(capsys, "validate", broken)
    assert rc == 2 and "broken.json: line 2: not valid JSON" in err
    unknown = Episode.load(episode)
    unknown.env_id = "nope/Nothing-v0"
    rc, _, err = run_cli(capsys, "validate", unknown.save(tmp_path / "unknown.json"))
    assert rc == 2 and "unknown env 'nope/Nothing-v0'" in err
    rc, _, err = run_cli(capsys, "validate", episode, "--table", tmp_path / "no-table.jsonl.gz")
    assert rc == 2 and "no table at" in err


def test_live_episode_replays_live_with_its_own_backend_kwargs(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    actions = [AutoTrainSpace().encode(c).tolist() for c in CONFIGS]
    path = tmp_path / "live.json"
    record_episode(ENV, actions, seed=1, task="tiny", path=path,
                   kwargs={"backend": "live", "backend_kwargs": {"isolate": False}, "suite": "cli-tiny"})
    rc, out, err = run_cli(capsys, "validate", path)
    assert rc == 0, out + err
    assert "backend live" in out and "rewards reproduce" in out and "rtol 0.1" in out
