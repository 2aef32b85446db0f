"""The RLlib PPO modules and distribution for MultiDiscrete / masked actions (no Ray started)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("ray.rllib")

from ray.rllib.core.columns import Columns  # noqa: E402
from ray.rllib.core.distribution.torch.torch_distribution import TorchMultiCategorical  # noqa: E402

from agenticrs.policies.rllib_modules import (  # noqa: E402
    MASK_TAIL,
    ActionMaskingPPOModule,
    MultiDiscretePPOModule,
    PPOModule,
    TorchPaddedMultiCategorical,
    module_spec,
)

NVEC = (6, 2, 3)
N_OBS = 5
ACTION = gym.spaces.MultiDiscrete(NVEC)
OBS = gym.spaces.Box(0.0, 1.0, (N_OBS,), np.float32)
MASK = gym.spaces.Box(0.0, 1.0, (sum(NVEC),), np.float32)
DICT = gym.spaces.Dict({"observations": OBS, "action_mask": MASK})
FLAT = gym.spaces.Box(0.0, 1.0, (N_OBS + sum(NVEC),), np.float32)
CONFIG = {"fcnet_hiddens": [8], "vf_share_layers": False}


def test_padded_distribution_equals_rllibs_multi_categorical():
    torch.manual_seed(0)
    logits, other = torch.randn(7, sum(NVEC)), torch.randn(7, sum(NVEC))
    ours = TorchPaddedMultiCategorical.for_space(ACTION)
    ref = TorchMultiCategorical.get_partial_dist_cls(input_lens=list(NVEC))
    p, q, rp, rq = ours.from_logits(logits), ours.from_logits(other), ref.from_logits(logits), ref.from_logits(other)
    actions = p.sample()
    assert actions.shape == (7, len(NVEC)) and all((actions[:, k] < n).all() for k, n in enumerate(NVEC))
    torch.testing.assert_close(p.logp(actions), rp.logp(actions))
    torch.testing.assert_close(p.entropy(), rp.entropy())
    torch.testing.assert_close(p.kl(q), rp.kl(rq))
    assert TorchPaddedMultiCategorical.required_input_dim(ACTION) == sum(NVEC)
    assert (p.to_deterministic().sample() == torch.stack([t.argmax(-1) for t in logits.split(NVEC, -1)], -1)).all()


def test_gumbel_max_samples_follow_the_softmax():
    torch.manual_seed(1)
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5, 1.0, -3.0, 0.0, 1.0, 0.3, 0.3, -0.2]])
    dist = TorchPaddedMultiCategorical.for_space(ACTION).from_logits(logits.expand(40_000, -1))
    actions = dist.sample()
    for k, part in enumerate(logits[0].split(NVEC)):
        freq = torch.bincount(actions[:, k], minlength=NVEC[k]).double() / len(actions)
        torch.testing.assert_close(freq, torch.softmax(part.double(), 0), atol=0.01, rtol=0)


def _modules():
    """The masking module on the Dict layout and on the flat ``[obs | mask]`` layout, same weights."""
    torch.manual_seed(0)
    as_dict = ActionMaskingPPOModule(observation_space=DICT, action_space=ACTION, model_config=dict(CONFIG))
    flat = ActionMaskingPPOModule(observation_space=FLAT, action_space=ACTION,
                                  model_config={**CONFIG, MASK_TAIL: sum(NVEC)})
    flat.load_state_dict(as_dict.state_dict())
    return as_dict, flat


def test_masking_module_layouts_agree_and_never_sample_a_masked_choice():
    as_dict, flat = _modules()
    assert as_dict.observation_space == DICT and flat.observation_space == FLAT  # what connectors must see
    obs = torch.rand(256, N_OBS)
    mask = torch.ones(256, sum(NVEC))
    mask[:, 1:6] = 0.0  # dimension 0: only choice 0
    mask[::2, 8] = 0.0  # dimension 2: choice 0 masked in every other row
    out_d = as_dict.forward_exploration({Columns.OBS: {"observations": obs, "action_mask": mask}})
    out_f = flat.forward_exploration({Columns.OBS: torch.cat([obs, mask], -1)})
    torch.testing.assert_close(out_d[Columns.ACTION_DIST_INPUTS], out_f[Columns.ACTION_DIST_INPUTS])
    for out in (out_d, out_f):
        actions = out[Columns.ACTIONS]
        assert (actions[:, 0] == 0).all() and (actions[::2, 2] != 0).all()
        dist = flat.get_train_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
        torch.testing.assert_close(out[Columns.ACTION_LOGP], dist.logp(actions))  # the PPO ratio's old logp
    train_d = as_dict.forward_train({Columns.OBS: {"observations": obs, "action_mask": mask}})
    train_f = flat.forward_train({Columns.OBS: torch.cat([obs, mask], -1)})
    torch.testing.assert_close(train_d[Columns.ACTION_DIST_INPUTS], train_f[Columns.ACTION_DIST_INPUTS])
    torch.testing.assert_close(as_dict.compute_values({Columns.OBS: {"observations": obs, "action_mask": mask}}),
                               flat.compute_values({Columns.OBS: torch.cat([obs, mask], -1)}))


def test_module_spec_picks_by_spaces_and_bad_spaces_fail_in_one_line():
    assert module_spec(DICT, ACTION, [8]).module_class is ActionMaskingPPOModule
    spec = module_spec(FLAT, ACTION, [8], mask_tail=sum(NVEC))
    assert spec.module_class is ActionMaskingPPOModule and spec.model_config[MASK_TAIL] == sum(NVEC)
    assert module_spec(OBS, ACTION, [8]).module_class is MultiDiscretePPOModule
    assert module_spec(OBS, gym.spaces.Discrete(3), [8]).module_class is PPOModule
    with pytest.raises(ValueError, match="action_mask"):
        ActionMaskingPPOModule(observation_space=FLAT, action_space=ACTION, model_config=dict(CONFIG))


def test_multidiscrete_module_samples_in_the_module():
    module = MultiDiscretePPOModule(observation_space=OBS, action_space=ACTION, model_config=dict(CONFIG))
    out = module.forward_exploration({Columns.OBS: torch.rand(4, N_OBS)})
    assert out[Columns.ACTIONS].shape == (4, len(NVEC)) and out[Columns.ACTION_LOGP].shape == (4,)
    assert (out[Columns.ACTION_LOGP] <= 0).all()


def test_rllib_env_has_the_flat_mask_layout_and_the_policy_reads_both(table_kwargs):
    from agenticrs.policies.rllib_adapter import RLlibEvolutionEnv, RLlibPolicy

    env = RLlibEvolutionEnv({"env_id": "agenticrs/AutoTrain-v0", **table_kwargs, "obs_mode": "dict"})
    ref = gym.make("agenticrs/AutoTrain-v0", **table_kwargs, obs_mode="dict")
    obs, _ = env.reset(seed=3)
    want, _ = ref.reset(seed=3)
    n_mask = want["action_mask"].shape[0]
    assert env.mask_tail == n_mask and env.observation_space.shape == obs.shape and obs in env.observation_space
    np.testing.assert_array_equal(obs, np.concatenate([want["observations"], want["action_mask"]]))
    action = ref.action_space.sample()
    np.testing.assert_array_equal(env.step(action)[0][-n_mask:], ref.step(action)[0]["action_mask"])
    assert RLlibEvolutionEnv({"env_id": "agenticrs/AutoTrain-v0", **table_kwargs}).mask_tail == 0  # flat env
    # RLlib sees a plain MultiDiscrete (it unpickles the spaces with every batch a remote runner returns).
    assert type(env.action_space) is gym.spaces.MultiDiscrete and type(ref.action_space) is not gym.spaces.MultiDiscrete
    np.testing.assert_array_equal(env.action_space.nvec, ref.action_space.nvec)

    as_dict, flat = _modules()  # an old (Dict) checkpoint's module and a flat one act alike on the env's dicts
    as_dict.eval()
    flat.eval()
    one = {"observations": np.random.rand(N_OBS).astype(np.float32), "action_mask": np.ones(sum(NVEC), np.float32)}
    one["action_mask"][0] = 0.0
    a = RLlibPolicy(as_dict, deterministic=True).act(one)
    assert a[0] != 0 and (a == RLlibPolicy(flat, deterministic=True).act(one)).all()


def test_a_dict_layout_checkpoint_still_loads(tmp_path):
    """Checkpoints written before the flat layout hold the module with its Dict space: it must rebuild."""
    from ray.rllib.core.rl_module.rl_module import RLModule

    from agenticrs.policies.rllib_adapter import RLlibPolicy

    as_dict, flat = _modules()
    as_dict.save_to_path(str(tmp_path / "dict"))
    flat.save_to_path(str(tmp_path / "flat"))
    one = {"observations": np.random.rand(N_OBS).astype(np.float32), "action_mask": np.ones(sum(NVEC), np.float32)}
    for name in ("dict", "flat"):
        loaded = RLModule.from_checkpoint(str(tmp_path / name))
        assert isinstance(loaded, ActionMaskingPPOModule)
        loaded.eval()
        assert (RLlibPolicy(loaded, deterministic=True).act(one) == RLlibPolicy(as_dict, deterministic=True).act(one)).all()


def test_modules_switch_mode_only_when_a_submodule_is_in_the_other_mode():
    module = PPOModule(observation_space=OBS, action_space=gym.spaces.Discrete(3), model_config=dict(CONFIG))
    subs = list(module.modules())
    assert len(subs) > 3 and not any(m.training for m in subs)  # starts in eval mode
    module.forward_exploration({Columns.OBS: torch.rand(2, N_OBS)})
    assert not any(m.training for m in subs)  # RLlib's eval() ... train() wrapper left it as it was
    module.forward_train({Columns.OBS: torch.rand(2, N_OBS)})
    assert all(m.training for m in subs)
    subs[-1].eval()  # one submodule differs: the next switch walks the tree again
    assert module.train() is module and all(m.training for m in subs)
    module.eval()
    assert not any(m.training for m in subs)
