"""A simulated online A/B experiment between two served configurations.

Users are the task's test users; each request's user sees the served list and clicks with a
position-based model: ``P(click) = ctr[position of the user's target] * propensity``, where
``ctr`` decays with the position (0 outside the top 10) and the per-request ``propensity``
(mean 1, Gamma-distributed) makes users heterogeneous. Each click brings log-normal revenue.
The position distribution of each arm is its measured ``pos@1..10`` shares on the test split,
so drawing a request's position is drawing a test user. Requests are i.i.d., so each arm is
simulated from its sufficient statistics (a binomial click count, one revenue draw per click).

Traffic: ``requests`` per period, ``share`` of it to the treatment. The lift (treatment minus
control clicks per request) comes with a normal-approximation confidence interval (Welch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from agenticrs.recsys.serving.serve import POSITIONS

CTR = tuple(0.35 / (p + 1) ** 0.8 for p in range(POSITIONS))
"""Click-through rate by served position (position 1 first) for a relevant item."""


@dataclass(frozen=True)
class ABResult:
    """One period of an A/B experiment.

    Attributes:
        control_ctr / treatment_ctr: observed clicks per request in each arm.
        lift / ci_low / ci_high: treatment minus control clicks per request and its CI.
        revenue_lift: treatment minus control revenue per request.
        n_control / n_treatment: requests per arm.
    """

    control_ctr: float
    treatment_ctr: float
    lift: float
    ci_low: float
    ci_high: float
    revenue_lift: float
    n_control: int
    n_treatment: int

    @property
    def significant(self) -> int:
        """+1 if the CI is above 0, -1 if below, 0 otherwise."""
        return 1 if self.ci_low > 0 else (-1 if self.ci_high < 0 else 0)


def expected_ctr(positions: Mapping[str, float]) -> float:
    """Expected clicks per request of an arm from its ``pos@1..10`` shares."""
    return float(sum(CTR[p] * positions.get(f"pos@{p + 1}", 0.0) for p in range(POSITIONS)))


PROPENSITY_SHAPE, PROPENSITY_SCALE = 4, 0.25
"""Per-request propensity ``G ~ Gamma(4, 0.25)``: mean 1, sd 0.5 (heterogeneous users)."""


def _gamma_sf(shape: int, x: float) -> float:
    """``P(Gamma(shape, 1) >= x)`` for an integer shape (Erlang): ``exp(-x) * sum_{i<shape} x^i / i!``."""
    term, total = 1.0, 0.0
    for i in range(shape):
        total += term
        term *= x / (i + 1)
    return math.exp(-x) * total


def _click_prob(ctr: float) -> float:
    """``E[min(ctr * G, 1)]``: the exact click probability of one request at a position of rate ``ctr``.

    With ``t = 1 / ctr``: ``ctr * E[G; G < t] + P(G >= t)``, and ``E[G; G < t] = k theta P(Gamma(k+1) < t)``.
    """
    if ctr <= 0.0:
        return 0.0
    x = 1.0 / (ctr * PROPENSITY_SCALE)
    k, mean = PROPENSITY_SHAPE, PROPENSITY_SHAPE * PROPENSITY_SCALE
    return ctr * mean * (1.0 - _gamma_sf(k + 1, x)) + _gamma_sf(k, x)


CLICK_PROB = np.asarray([_click_prob(c) for c in CTR] + [0.0])
"""Click probability by position (propensity integrated out); the last entry: target not in the top 10."""


def click_rate(positions: Mapping[str, float]) -> float:
    """Clicks per request of an arm from its ``pos@1..10`` shares: the position mixture of :data:`CLICK_PROB`.

    Shares are clipped at 0; what they leave of 1 is the "target not in the top 10" mass. A
    function of the arm alone, so a caller serving the same arm again can keep it
    (:func:`simulate_ab_rates`).
    """
    probs = np.asarray([positions.get(f"pos@{p + 1}", 0.0) for p in range(POSITIONS)], dtype=np.float64)
    probs = np.clip(probs, 0.0, None)
    miss = max(0.0, 1.0 - probs.sum())
    p = float(np.append(probs, miss) @ CLICK_PROB / (probs.sum() + miss))
    return min(max(p, 0.0), 1.0)


def _arm(rate: float, n: int, rng: np.random.Generator) -> tuple[int, float]:
    """Clicks and total revenue of ``n`` requests to one arm of :func:`click_rate` ``rate``,
    drawn from their sufficient statistics.

    Requests are i.i.d. (position, propensity, click) draws, so the click count is exactly
    ``Binomial(n, rate)``, and the revenue is a sum of one log-normal per click: the same
    distribution as simulating every request, at O(clicks) instead of O(requests) draws. Clicks
    are 0/1, so the count also fixes their variance.
    """
    clicks = int(rng.binomial(n, rate))
    revenue = float(rng.lognormal(3.0, 0.8, size=clicks).sum())
    return clicks, revenue


def _bernoulli_var(k: int, n: int) -> float:
    """Sample variance (ddof=1) of ``n`` 0/1 values of which ``k`` are 1."""
    return k * (n - k) / (n * (n - 1))


def simulate_ab(control: Mapping[str, float], treatment: Mapping[str, float], share: float, requests: int,
                rng: np.random.Generator, z: float = 1.96) -> ABResult:
    """One experiment period; ``control`` / ``treatment`` are the arms' ``pos@K`` shares."""
    return simulate_ab_rates(click_rate(control), click_rate(treatment), share, requests, rng, z)


def simulate_ab_rates(control_rate: float, treatment_rate: float, share: float, requests: int,
                      rng: np.random.Generator, z: float = 1.96) -> ABResult:
    """:func:`simulate_ab` from the arms' :func:`click_rate` values (the same draws, bit for bit):
    for callers that serve the same arms period after period and keep their rates."""
    if not 0.0 < share <= 1.0:
        raise ValueError(f"simulate_ab: share must lie in (0, 1], got {share}")
    n_t = max(1, int(round(share * requests)))
    n_c = max(1, requests - n_t)
    c_clicks, c_rev = _arm(control_rate, n_c, rng)
    t_clicks, t_rev = _arm(treatment_rate, n_t, rng)
    c_ctr, t_ctr = c_clicks / n_c, t_clicks / n_t
    lift = t_ctr - c_ctr
    se = (math.sqrt(_bernoulli_var(t_clicks, n_t) / n_t + _bernoulli_var(c_clicks, n_c) / n_c)
          if min(n_t, n_c) > 1 else math.inf)
    return ABResult(c_ctr, t_ctr, lift, lift - z * se, lift + z * se, t_rev / n_t - c_rev / n_c, n_c, n_t)
