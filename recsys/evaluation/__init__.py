"""Full-ranking evaluation (Recall/NDCG/MRR@K) and cost figures."""

from agenticrs.recsys.evaluation.cost import Cost, count_parameters, peak_memory_mb
from agenticrs.recsys.evaluation.evaluator import DEFAULT_KS, EvalResult, evaluate
from agenticrs.recsys.evaluation.metrics import metrics_from_ranks, target_ranks

__all__ = ["Cost", "DEFAULT_KS", "EvalResult", "count_parameters", "evaluate", "metrics_from_ranks",
           "peak_memory_mb", "target_ranks"]
