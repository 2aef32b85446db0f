"""Layered rewards of ``AgenticRS-v0``: inner and outer terms, five coupling modes, a dual-ascent multiplier.

Per round, each agent ``i`` has *inner* terms (its own module's local improvement, see
:class:`~agenticrs.envs.agentic.core.AgenticCore`) and all agents share the *outer*
objective ``O = ab + sla``:

* ``ab``: the simulated A/B of the round's pipeline against the incumbent pipeline
  (:func:`~agenticrs.recsys.serving.ab.simulate_ab` on their test ``pos@1..10`` shares):
  treatment minus control clicks per request / the control's expected CTR (a relative
  click lift, with a 95% CI and a revenue lift in ``info``);
* ``sla``: ``-sla_weight * (max(0, p99 / latency_sla - 1) + max(0, memory / budget - 1))``.

Coupling (``coupling=``), with the terms reported in ``info[agent]["reward_terms"]`` and
summing to the reward *exactly* in every mode:

| mode | reward of agent i | terms |
|------|-------------------|-------|
| ``inner`` | ``inner_i`` | ``inner/*`` |
| ``outer`` | ``O`` | ``outer/ab``, ``outer/sla`` |
| ``layered`` | ``inner_i + w * O`` | ``inner/*``, ``outer/ab`` = w ab, ``outer/sla`` = w sla |
| ``lagrangian`` | ``inner_i + lambda * (O - target)`` | ``inner/*``, ``lagrange/ab``, ``lagrange/sla``, ``lagrange/target`` |
| ``difference`` | ``O(joint) - O(joint with i's part at its default)`` | ``outer/ab``, ``outer/sla``, ``counterfactual/ab``, ``counterfactual/sla`` |

``lagrangian`` is the Lagrangian of "maximise inner_i subject to O >= target" (RCPO /
MAPPO-Lagrangian style): :class:`DualAscent` updates ``lambda <- clip(lambda - lr * (mean O -
target), 0, lambda_max)``, so the multiplier rises while the outer objective is below target
and falls (to 0) while it is above. ``difference`` rewards evaluate the counterfactual
pipeline with common random numbers (the same A/B draw), so an agent already at its default
gets exactly 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from agenticrs.recsys.serving.ab import _bernoulli_var

COUPLINGS = ("inner", "outer", "layered", "lagrangian", "difference")
Z95 = 1.96
REVENUE_PER_CLICK = math.exp(3.0 + 0.8**2 / 2)
"""Mean of the A/B's log-normal(3, 0.8) revenue per click."""

class DualAscent:
    """A Lagrange multiplier updated by projected dual ascent on ``O >= target``.

    Args:
        target: the outer objective's lower bound.
        lr: dual step size.
        init / max_value: initial value and projection bound (``0 <= lambda <= max_value``).
    """

    def __init__(self, target: float = 0.0, lr: float = 0.5, init: float = 1.0, max_value: float = 100.0):
        if not (lr >= 0 and 0 <= init <= max_value):
            raise ValueError(f"DualAscent: need lr >= 0 and 0 <= init <= max_value, got lr={lr}, init={init}, "
                             f"max_value={max_value}")
        self.target, self.lr, self.init, self.max_value = float(target), float(lr), float(init), float(max_value)
        self.value = self.init
        self._sum, self._n = 0.0, 0

    def observe(self, outer: float) -> None:
        """Record one round's outer objective (for the next :meth:`update`)."""
        self._sum += float(outer)
        self._n += 1

    def update(self) -> float:
        """One ascent step on the recorded rounds' mean (no-op without any); returns the new value."""
        if self._n:
            g = self._sum / self._n - self.target  # constraint slack: > 0 satisfied, < 0 violated
            self.value = float(np.clip(self.value - self.lr * g, 0.0, self.max_value))
        self._sum, self._n = 0.0, 0
        return self.value

    def restart(self) -> None:
        self.value = self.init
        self._sum, self._n = 0.0, 0

    def set(self, value: float) -> None:
        """Set the multiplier (e.g. averaged over env runners by a callback), projected to ``[0, max]``."""
        self.value = float(np.clip(value, 0.0, self.max_value))


def outer_terms(ab_rel_lift: float, p99_ms: float, memory_mb: float, latency_sla_ms: float, memory_budget_mb: float,
                sla_weight: float = 1.0) -> dict[str, float]:
    """``{"ab": relative click lift, "sla": -weight * (latency + memory violations)}``."""
    sla = max(0.0, p99_ms / latency_sla_ms - 1.0) + max(0.0, memory_mb / memory_budget_mb - 1.0)
    return {"ab": float(ab_rel_lift), "sla": -sla_weight * sla}


def couple(mode: str, inner: Mapping[str, float], outer: Mapping[str, float],
           counterfactual: Mapping[str, float] | None = None, *, weight: float = 1.0, multiplier: float = 0.0,
           target: float = 0.0) -> dict[str, float]:
    """The reward terms of one agent under ``mode`` (their sum is the reward).

    Args:
        inner: the agent's unweighted inner terms.
        outer: ``{"ab", "sla"}`` of the round's pipeline.
        counterfactual: ``{"ab", "sla"}`` with the agent's part at its default (``difference``).
    """
    if mode == "inner":
        return {f"inner/{k}": v for k, v in inner.items()}
    if mode == "outer":
        return {f"outer/{k}": v for k, v in outer.items()}
    if mode == "layered":
        return {**{f"inner/{k}": v for k, v in inner.items()}, **{f"outer/{k}": weight * v for k, v in outer.items()}}
    if mode == "lagrangian":
        return {**{f"inner/{k}": v for k, v in inner.items()},
                **{f"lagrange/{k}": multiplier * v for k, v in outer.items()}, "lagrange/target": -multiplier * target}
    if mode == "difference":
        if counterfactual is None:
            raise ValueError("couple: difference rewards need the counterfactual outer terms")
        return {**{f"outer/{k}": v for k, v in outer.items()},
                **{f"counterfactual/{k}": -v for k, v in counterfactual.items()}}
    raise ValueError(f"coupling must be one of {COUPLINGS}, got {mode!r}")


@dataclass(frozen=True)
class OuterOutcome:
    """The simulated A/B of a pipeline against the incumbent, and its outer terms.

    Attributes:
        terms: ``{"ab", "sla"}`` (:func:`outer_terms`); ``value`` is their sum, the outer objective.
        lift / ci_low / ci_high: relative click lift and its 95% CI (divided by the control's expected CTR).
        revenue_lift: treatment minus control revenue per request.
    """

    terms: Mapping[str, float]
    lift: float = 0.0
    ci_low: float = 0.0
    ci_high: float = 0.0
    revenue_lift: float = 0.0

    @property
    def value(self) -> float:
        return float(sum(self.terms.values()))


def simulate_outer(result: Any, incumbent: Any, seed: int | np.ndarray, *, ab_share: float = 0.5,
                   ab_requests: int = 20000, latency_sla_ms: float = 30.0, memory_budget_mb: float = 0.6,
                   sla_weight: float = 1.0) -> OuterOutcome:
    """The outer objective of ``result`` (a :class:`~agenticrs.envs.agentic.assemble.PipelineResult`)
    against ``incumbent``: one A/B period plus the SLA term. A failed pipeline loses every
    click: ``ab = -1``.

    The A/B is :func:`~agenticrs.recsys.serving.ab.simulate_ab`'s model: ``ab_share`` of
    ``ab_requests`` requests go to the treatment; each arm's clicks are ``Binomial(n, p)`` with
    ``p`` the position mixture of ``CLICK_PROB``; Welch 95% CI on the lift. The two click
    counts are drawn by the binomial's normal approximation from two standard normals
    (``seed``: an int, or the round's ``[2]`` normals), so counterfactual pipelines evaluated
    with the same normals get common random numbers exactly (with thousands of requests per
    arm and ``n p`` in the hundreds, the approximation is far inside the A/B's own noise).
    The revenue lift is the expected one (``p`` x the mean log-normal revenue per click).
    """
    if not result.ok:
        return OuterOutcome({"ab": -1.0, "sla": 0.0}, -1.0, -1.0, -1.0, 0.0)
    z = ab_normals(seed) if not isinstance(seed, np.ndarray) else seed
    n_t = max(1, int(round(ab_share * ab_requests)))
    n_c = max(1, ab_requests - n_t)
    c_clicks = _clicks(n_c, incumbent.click_prob, float(z[0]))
    t_clicks = _clicks(n_t, result.click_prob, float(z[1]))
    lift = t_clicks / n_t - c_clicks / n_c
    se = (math.sqrt(_bernoulli_var(t_clicks, n_t) / n_t + _bernoulli_var(c_clicks, n_c) / n_c)
          if min(n_t, n_c) > 1 else math.inf)
    ref = max(incumbent.ctr, 1e-6)
    terms = outer_terms(lift / ref, result.p99_ms, result.memory_mb, latency_sla_ms, memory_budget_mb, sla_weight)
    revenue = (result.click_prob - incumbent.click_prob) * REVENUE_PER_CLICK
    return OuterOutcome(terms, lift / ref, (lift - Z95 * se) / ref, (lift + Z95 * se) / ref, revenue)


def ab_normals(seed: int) -> np.ndarray:
    """The ``[2]`` standard normals (control, treatment) of one A/B period."""
    return np.random.default_rng(seed).standard_normal(2)


def _clicks(n: int, p: float, z: float) -> int:
    """``Binomial(n, p)`` by its normal approximation at standard normal ``z``, rounded and clipped to ``[0, n]``."""
    p = min(max(p, 0.0), 1.0)
    return int(min(max(round(n * p + z * math.sqrt(n * p * (1.0 - p))), 0), n))


def mode_rewards(inner: float, outer: float, counterfactual_outer: float, *, weight: float, multiplier: float,
                 target: float) -> dict[str, float]:
    """Every coupling's reward from the sums (what :func:`couple`'s terms add up to), cheaply."""
    return {"inner": inner, "outer": outer, "layered": inner + weight * outer,
            "lagrangian": inner + multiplier * (outer - target), "difference": outer - counterfactual_outer}
