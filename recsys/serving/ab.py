"""A simulated online A/B experiment between two served configurations.

Users are the task's test users; each request's user sees the served list and clicks with a
position-based model: ``P(click) = ctr[position of the user's target] * propensity``, where
``ctr`` decays with the position (0 outside the top 10) and the per-request ``propensity``
(mean 1, Gamma-distributed) makes users heterogeneous. Each click brings log-normal revenue.
The position distribution of each arm is its measured ``pos@1..10`` shares on the test split,
so drawing a request's position is drawing a test user.

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


def _arm(positions: Mapping[str, float], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray([positions.get(f"pos@{p + 1}", 0.0) for p in range(POSITIONS)], dtype=np.float64)
    probs = np.clip(probs, 0.0, None)
    miss = max(0.0, 1.0 - probs.sum())
    pos = rng.choice(POSITIONS + 1, size=n, p=np.append(probs, miss) / (probs.sum() + miss))
    ctr = np.append(np.asarray(CTR), 0.0)[pos]
    propensity = rng.gamma(4.0, 0.25, size=n)  # mean 1, sd 0.5
    clicks = rng.random(n) < np.minimum(ctr * propensity, 1.0)
    revenue = np.where(clicks, rng.lognormal(3.0, 0.8, size=n), 0.0)
    return clicks.astype(np.float64), revenue


def simulate_ab(control: Mapping[str, float], treatment: Mapping[str, float], share: float, requests: int,
                rng: np.random.Generator, z: float = 1.96) -> ABResult:
    """One experiment period; ``control`` / ``treatment`` are the arms' ``pos@K`` shares."""
    if not 0.0 < share <= 1.0:
        raise ValueError(f"simulate_ab: share must lie in (0, 1], got {share}")
    n_t = max(1, int(round(share * requests)))
    n_c = max(1, requests - n_t)
    c_clicks, c_rev = _arm(control, n_c, rng)
    t_clicks, t_rev = _arm(treatment, n_t, rng)
    lift = float(t_clicks.mean() - c_clicks.mean())
    se = math.sqrt(t_clicks.var(ddof=1) / n_t + c_clicks.var(ddof=1) / n_c) if min(n_t, n_c) > 1 else math.inf
    return ABResult(float(c_clicks.mean()), float(t_clicks.mean()), lift, lift - z * se, lift + z * se,
                    float(t_rev.mean() - c_rev.mean()), n_c, n_t)
