"""Episodes saved as JSON replay to the same rewards; tampered or malformed files are reported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from autotrain_fakes import FakeBackend

import agenticrs  # noqa: F401
from agenticrs.envs.backends import register_backend
from agenticrs.envs.replay import Episode, record_episode, replay

ENV = "agenticrs/AutoTrain-v0"


class ShiftedBackend(FakeBackend):
    """Like ``fake`` but every metric 10% higher: replaying on it must not reproduce."""

    kind = "fake-shifted"

    def evaluate(self, task, config, fidelity, seed):
        r = super().evaluate(task, config, fidelity, seed)
        import dataclasses

        return dataclasses.replace(r, valid={k: 1.1 * v for k, v in r.valid.items()})


register_backend("fake-shifted", overwrite=True)(ShiftedBackend)


def random_policy(seed: int):
    rng = np.random.default_rng(seed)

    def policy(obs, env):
        return rng.integers(0, env.action_space.nvec)

    return policy


@pytest.fixture
def episode_file(tmp_path):
    path = tmp_path / "ep.json"
    ep = record_episode(ENV, random_policy(0), seed=4, task="syn-long", kwargs={"backend": "fake", "max_trials": 6},
                        path=path)
    assert len(ep.actions) == len(ep.rewards) == 6 and ep.task == "syn-long"
    return path


def test_replay_reproduces(episode_file):
    report = replay(episode_file)
    assert report.ok, str(report)
    assert report.steps == 6 and report.max_abs_diff == 0.0
    assert "reproduce" in str(report)
    assert json.loads(json.dumps(report.to_dict()))["ok"] is True


def test_task_drawn_from_seed_is_recorded(tmp_path):
    ep = record_episode(ENV, random_policy(1), seed=9, kwargs={"backend": "fake", "max_trials": 3})
    assert ep.task in {"syn-sequential", "syn-popular", "syn-sparse", "syn-long"}
    assert replay(ep).ok


def test_tampered_rewards_are_reported(episode_file):
    data = json.loads(episode_file.read_text())
    data["rewards"][3] += 0.01
    episode_file.write_text(json.dumps(data))
    report = replay(episode_file)
    assert not report.ok and report.first_mismatch == 3
    assert report.max_abs_diff == pytest.approx(0.01)
    assert "differ from step 3" in str(report)
    assert replay(episode_file, atol=0.02).ok  # within a loose tolerance


def test_other_backend_does_not_reproduce(episode_file):
    report = replay(episode_file, backend="fake-shifted")
    assert not report.ok and report.first_mismatch is not None


def test_too_many_actions_is_an_error(episode_file):
    data = json.loads(episode_file.read_text())
    data["kwargs"]["max_trials"] = 2
    report = replay(Episode.from_dict(data))
    assert not report.ok and "ended after 2 of 6 actions" in report.error


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d.pop("seed"), "missing field 'seed'"),
    (lambda d: d.update(format="other"), "'format' must be"),
    (lambda d: d.update(version=99), "unsupported 'version'"),
    (lambda d: d["actions"].__setitem__(0, [0.5] * 9), r"actions\[0\] must be a list of integers"),
    (lambda d: d["rewards"].pop(), "6 actions but 5 rewards"),
    (lambda d: d.update(kwargs=[]), "field 'kwargs' must be dict"),
])
def test_malformed_episode_files(episode_file, mutate, match):
    data = json.loads(episode_file.read_text())
    mutate(data)
    episode_file.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=match) as e:
        Episode.load(episode_file)
    assert str(episode_file) in str(e.value)


def test_invalid_json_names_file_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "agenticrs.episode",\n "version": 1,,\n}')
    with pytest.raises(ValueError, match=r"bad.json: line 2"):
        Episode.load(path)
    with pytest.raises(FileNotFoundError):
        Episode.load(tmp_path / "missing.json")


def test_non_json_kwargs_are_refused():
    with pytest.raises(ValueError, match="JSON-serialisable"):
        record_episode(ENV, [], kwargs={"backend": FakeBackend()})


def test_invalid_action_in_file_is_reported(episode_file):
    data = json.loads(episode_file.read_text())
    data["actions"][1] = [99] * 9
    report = replay(Episode.from_dict(data))
    assert not report.ok and "out of range" in report.error
