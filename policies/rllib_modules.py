"""RLlib (new API stack) PPO modules and the action distribution for our MultiDiscrete spaces.

* :class:`TorchPaddedMultiCategorical`: a MultiDiscrete action distribution over padded logits
  ``[..., K, max(nvec)]`` with one batched kernel per operation (RLlib's own builds one
  ``Categorical`` per dimension: a third of a sampling step on AutoTrain).
* :class:`PPOModule`: RLlib's default PPO torch module without the per-step mode switches (RLlib
  wraps every env step's forward in ``eval()`` ... ``train()``, each a walk over all submodules).
* :class:`MultiDiscretePPOModule`: :class:`PPOModule` with that distribution; its
  exploration forward also samples the action and its log-probability in the module (Gumbel-max
  on the padded logits), so RLlib's ``GetActions`` connector builds no distribution object per
  env step (it early-outs when ``actions`` are present).
* :class:`ActionMaskingPPOModule`: the same, with logits masked by an action mask that comes
  either as ``Dict(observations, action_mask)`` or as the tail of a flat ``Box`` observation
  ``[observations | mask]`` (:data:`MASK_TAIL`; the layout :class:`FlatMaskObservation` makes,
  cheaper per step than a ``Dict`` in RLlib's connectors and episodes).
* :func:`module_spec` picks one from an agent's spaces (usable per module of a multi-agent spec).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.distribution import Distribution
from ray.rllib.core.distribution.torch.torch_distribution import TorchDeterministic
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.torch_utils import FLOAT_MIN

MASK_TAIL = "action_mask_tail"
"""``model_config`` key: the last ``n`` entries of a flat observation are the action mask."""


def has_mask(space: gym.Space) -> bool:
    """True for a ``Dict(observations, action_mask)`` observation space."""
    return isinstance(space, gym.spaces.Dict) and {"observations", "action_mask"} <= set(space.spaces)


# ---------------------------------------------------------------------- padded logits
_PAD: dict[tuple[tuple[int, ...], str], tuple[torch.Tensor, torch.Tensor]] = {}


def _pad_index(lens: tuple[int, ...], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(index [K * W], valid [K, W])`` with ``W = max(lens)``: positions of each dimension's
    choices in the flat ``[sum(lens)]`` logits, row by row (padding points at a valid position
    and is replaced through ``valid``)."""
    key = (lens, str(device))
    if key not in _PAD:
        index = torch.zeros((len(lens), max(lens)), dtype=torch.long)
        valid = torch.zeros((len(lens), max(lens)), dtype=torch.bool)
        start = 0
        for k, n in enumerate(lens):
            index[k, :n] = torch.arange(start, start + n)
            valid[k, :n] = True
            start += n
        _PAD[key] = (index.reshape(-1).to(device), valid.to(device))
    return _PAD[key]


def pad_logits(logits: torch.Tensor, lens: tuple[int, ...]) -> torch.Tensor:
    """Flat logits ``[..., sum(lens)]`` -> ``[..., K, max(lens)]``; padding gets ``FLOAT_MIN``
    (probability 0, and finite, so no ``0 * inf`` in entropy or KL). ``index_select`` (backward:
    ``index_add``) is half the forward time of advanced indexing on a minibatch."""
    index, valid = _pad_index(lens, logits.device)
    return torch.where(valid, logits.index_select(-1, index).view(*logits.shape[:-1], *valid.shape), FLOAT_MIN)


def sample_padded(padded: torch.Tensor) -> torch.Tensor:
    """One choice per dimension ``[..., K]`` drawn from ``softmax(padded)``: Gumbel-max
    (``argmax(logits - log E)``, ``E ~ Exp(1)``), an exact sample with no normalisation."""
    return (padded - torch.empty_like(padded).exponential_().log()).argmax(-1)


def logp_padded(padded: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Log-probability ``[...]`` of ``actions [..., K]`` (sum over the independent dimensions)."""
    logp = torch.log_softmax(padded, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    return logp.sum(-1)


class TorchPaddedMultiCategorical(Distribution):
    """A MultiDiscrete action distribution: independent categoricals over padded logits
    ``[..., K, max(nvec)]`` (:func:`pad_logits`), each operation one batched kernel.

    Same distribution and flat logits layout as RLlib's ``TorchMultiCategorical``; sampling,
    log-probabilities, entropy and KL are computed on ``log_softmax`` of the padded logits.
    """

    def __init__(self, padded_logits: torch.Tensor):
        super().__init__()
        self.padded_logits = padded_logits
        self._logp: torch.Tensor | None = None

    @property
    def log_probs(self) -> torch.Tensor:  # [..., K, W]
        if self._logp is None:
            self._logp = torch.log_softmax(self.padded_logits, dim=-1)
        return self._logp

    def sample(self) -> torch.Tensor:  # [..., K]
        return sample_padded(self.padded_logits)

    def rsample(self, sample_shape: Any = ()) -> torch.Tensor:
        raise NotImplementedError("categorical samples are not reparameterisable")

    def logp(self, value: torch.Tensor) -> torch.Tensor:  # [...]
        return self.log_probs.gather(-1, value.long().unsqueeze(-1)).squeeze(-1).sum(-1)

    def entropy(self) -> torch.Tensor:  # [...]
        logp = self.log_probs
        return -(logp.exp() * logp).sum((-1, -2))

    def kl(self, other: "TorchPaddedMultiCategorical") -> torch.Tensor:  # [...]
        logp, logq = self.log_probs, other.log_probs
        return (logp.exp() * (logp - logq)).sum((-1, -2))

    @staticmethod
    def required_input_dim(space: gym.Space, **kwargs: Any) -> int:
        return int(np.sum(space.nvec)) if isinstance(space, gym.spaces.MultiDiscrete) else int(space.n)

    @classmethod
    def from_logits(cls, logits: torch.Tensor, input_lens: tuple[int, ...] = (), **kwargs: Any
                    ) -> "TorchPaddedMultiCategorical":
        return cls(pad_logits(logits, tuple(int(n) for n in input_lens)))

    def to_deterministic(self) -> TorchDeterministic:
        return TorchDeterministic(loc=torch.argmax(self.padded_logits, dim=-1))

    @classmethod
    def for_space(cls, space: gym.Space) -> Any:
        """The partial class RLlib calls ``from_logits(logits)`` on, for a (Multi)Discrete space."""
        return cls.get_partial_dist_cls(input_lens=_lens(space))


def _lens(space: gym.Space) -> tuple[int, ...]:
    return tuple(int(n) for n in np.atleast_1d(space.nvec if isinstance(space, gym.spaces.MultiDiscrete) else space.n))


# ---------------------------------------------------------------------- modules
class PPOModule(DefaultPPOTorchRLModule):
    """RLlib's default PPO torch RLModule (same networks, distributions and outputs) that skips
    mode switches which change nothing.

    RLlib's ``forward_exploration`` / ``forward_inference`` call ``eval()`` before and ``train()``
    after every env step's forward, and ``forward_train`` calls ``train()``: each walks every
    submodule (24) through ``nn.Module.__setattr__``, about 60 us, a sixth of a sampling step.
    This module starts in eval mode (its MLPs have no dropout or batch norm, so the mode changes
    no number) and :meth:`train` returns at once when every submodule already is in the
    requested mode: an env runner's module never switches, a learner's switches once.
    """

    def setup(self) -> None:
        super().setup()
        self._submodules = tuple(self.modules())  # the tree is complete after setup
        self.eval()

    def train(self, mode: bool = True) -> "PPOModule":
        submodules = self.__dict__.get("_submodules")
        if submodules is not None and all(m.training == mode for m in submodules):
            return self
        return super().train(mode)


class MultiDiscretePPOModule(PPOModule):
    """:class:`PPOModule` with :class:`TorchPaddedMultiCategorical` for MultiDiscrete actions
    (same networks and logits).

    Exploration samples inside the module: ``_forward_exploration`` returns ``actions [B, K]``
    and ``action_logp [B]`` beside ``action_dist_inputs [B, sum(nvec)]``, so RLlib's
    ``GetActions`` connector skips building a distribution per env step; the learner still
    uses the distribution class (same log-probabilities). Other action spaces keep RLlib's path.
    """

    def setup(self) -> None:
        super().setup()
        self._lens: tuple[int, ...] = ()
        if isinstance(self.action_space, gym.spaces.MultiDiscrete):
            self._lens = _lens(self.action_space)
            self.action_dist_cls = TorchPaddedMultiCategorical.for_space(self.action_space)

    def _forward_exploration(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        with torch.no_grad():
            out = self._forward(batch, **kwargs)
            if self._lens:
                padded = pad_logits(out[Columns.ACTION_DIST_INPUTS], self._lens)
                actions = sample_padded(padded)
                out[Columns.ACTIONS] = actions
                out[Columns.ACTION_LOGP] = logp_padded(padded, actions)
        return out


class ActionMaskingPPOModule(MultiDiscretePPOModule):
    """PPO torch RLModule whose action logits are masked by an action mask.

    Observation either ``Dict(observations=Box[n_obs], action_mask=Box[sum(nvec)])`` or a flat
    ``Box[n_obs + n_mask]`` whose last ``model_config[MASK_TAIL]`` entries are the mask. The
    networks see the observations only. Masked logits get ``FLOAT_MIN`` added: probability 0 in
    every forward pass, so sampling, the PPO ratio and the entropy ignore masked choices. Nothing
    here assumes one agent: a multi-agent spec can use it per module.
    """

    def __init__(self, *, observation_space: gym.Space | None = None, model_config: Any = None, **kwargs: Any):
        tail = int((model_config or {}).get(MASK_TAIL, 0) or 0)
        if has_mask(observation_space):
            inner = observation_space["observations"]
        elif tail and isinstance(observation_space, gym.spaces.Box) and observation_space.shape[-1] > tail:
            low, high = observation_space.low[..., :-tail], observation_space.high[..., :-tail]
            inner = gym.spaces.Box(low, high, dtype=observation_space.dtype)
        else:
            raise ValueError(f"ActionMaskingPPOModule needs a Dict(observations, action_mask) observation space "
                             f"(AutoTrain: obs_mode='dict') or a Box with model_config[{MASK_TAIL!r}], "
                             f"got {observation_space} ({MASK_TAIL}={tail})")
        self._space_with_mask = observation_space
        self._tail = 0 if has_mask(observation_space) else tail
        super().__init__(observation_space=inner, model_config=model_config, **kwargs)

    def setup(self) -> None:
        super().setup()
        # Networks are built for the inner Box; connectors must see the env's space.
        self.observation_space = self._space_with_mask

    def _split(self, batch: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """``(mask [B, sum(nvec)], batch with obs [B, n_obs])`` without mutating the caller's batch."""
        obs = batch[Columns.OBS]
        if isinstance(obs, dict):
            return obs["action_mask"], {**batch, Columns.OBS: obs["observations"]}
        if self._tail:
            return obs[..., -self._tail:], {**batch, Columns.OBS: obs[..., :-self._tail]}
        return batch["action_mask"], batch

    @staticmethod
    def _masked(out: dict[str, Any], mask: Any) -> dict[str, Any]:
        out[Columns.ACTION_DIST_INPUTS] = out[Columns.ACTION_DIST_INPUTS] + torch.clamp(torch.log(mask), min=FLOAT_MIN)
        return out

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        mask, batch = self._split(batch)
        return self._masked(super()._forward(batch, **kwargs), mask)

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        mask, batch = self._split(batch)
        return self._masked(super()._forward_train(batch, **kwargs), mask)

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> Any:
        if embeddings is None:
            _, batch = self._split(batch)
        return super().compute_values(batch, embeddings)


def module_spec(observation_space: gym.Space, action_space: gym.Space, hiddens: list[int],
                mask_tail: int = 0) -> RLModuleSpec:
    """The PPO ``RLModuleSpec`` for one agent's spaces: the masking module for a
    ``Dict(observations, action_mask)`` observation or a flat one whose last ``mask_tail``
    entries are the mask, the MultiDiscrete module for a MultiDiscrete action, else RLlib's
    default. Spaces are not set here, so the same call serves each module of a multi-agent spec
    (pass ``observation_space``/``action_space`` there)."""
    config: dict[str, Any] = {"fcnet_hiddens": list(hiddens), "vf_share_layers": False}
    if has_mask(observation_space) or mask_tail:
        cls: Any = ActionMaskingPPOModule
        if mask_tail:
            config[MASK_TAIL] = int(mask_tail)
    elif isinstance(action_space, gym.spaces.MultiDiscrete):
        cls = MultiDiscretePPOModule
    else:
        cls = PPOModule
    return RLModuleSpec(module_class=cls, model_config=config)
