"""One colour and marker per policy, the same in every benchmark plot (the one mapping of them).

Known policies have fixed styles; any other name (a user's searcher, ``ppo-mylab``) gets a
style from the spare palette chosen by a stable hash of the name, so it too keeps its colour
from plot to plot and run to run. Names starting with ``ppo`` share PPO's colour family.
"""

from __future__ import annotations

import hashlib
from typing import Any

STYLES: dict[str, dict[str, Any]] = {
    "ppo": {"color": "#d62728", "marker": "o"},
    "ppo-det": {"color": "#ff9896", "marker": "o"},
    "shipped": {"color": "#8c1c13", "marker": "*"},
    "random": {"color": "#7f7f7f", "marker": "s"},
    "grid": {"color": "#bcbd22", "marker": "x"},
    "evolution": {"color": "#2ca02c", "marker": "^"},
    "tpe": {"color": "#1f77b4", "marker": "v"},
    "gp": {"color": "#17becf", "marker": "P"},
    "halving": {"color": "#9467bd", "marker": "D"},
    "best-default-order": {"color": "#ff7f0e", "marker": "h"},
}
"""Fixed styles of the built-in policies (tab10 colours, distinct markers)."""

_SPARE = ["#8c564b", "#e377c2", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"]
_SPARE_MARKERS = ["<", ">", "p", "d", "X", "8", "H", "1"]


def policy_style(name: str) -> dict[str, Any]:
    """``{"color", "marker"}`` of a policy name, identical in every plot."""
    if name in STYLES:
        return dict(STYLES[name])
    if name.startswith("ppo"):
        return {**STYLES["ppo"], "marker": "d"}
    h = int(hashlib.sha256(name.encode()).hexdigest(), 16)  # stable across processes (hash() is salted)
    return {"color": _SPARE[h % len(_SPARE)], "marker": _SPARE_MARKERS[(h // len(_SPARE)) % len(_SPARE_MARKERS)]}
