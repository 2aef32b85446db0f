"""Serving: quantised embedding tables, a serving loop with measured latency and memory, simulated A/B tests.

* :mod:`~agenticrs.recsys.serving.quantize`: ``QuantizedTable`` (fp32 / fp16 / int8);
* :mod:`~agenticrs.recsys.serving.serve`: ``ServingConfig``, ``serve`` (candidates, precision,
  history length, batch size, nearline refresh);
* :mod:`~agenticrs.recsys.serving.ab`: ``simulate_ab`` (position-based clicks, revenue, CI).
"""

from agenticrs.recsys.serving.ab import ABResult, expected_ctr, simulate_ab
from agenticrs.recsys.serving.quantize import PRECISIONS, QuantizedTable, quantize_rows
from agenticrs.recsys.serving.serve import ServeResult, ServingConfig, serve, user_states

__all__ = ["ABResult", "PRECISIONS", "QuantizedTable", "ServeResult", "ServingConfig", "expected_ctr", "quantize_rows",
           "serve", "simulate_ab", "user_states"]
