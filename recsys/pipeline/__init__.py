"""Agent pipelines: recall agents -> candidate merge -> ranking agent -> re-ranking agent.

* :mod:`~agenticrs.recsys.pipeline.components`: fitted recommenders (cached per process), item embeddings;
* :mod:`~agenticrs.recsys.pipeline.agents`: ``RecallAgent``, ``RankAgent``, ``MMRReranker``;
* :mod:`~agenticrs.recsys.pipeline.merge`: merge strategies (``rrf``, ``round_robin``, ``score``);
* :mod:`~agenticrs.recsys.pipeline.pipeline`: ``PipelineConfig``, ``build_pipeline``, ``evaluate_pipeline``.

Example::

    cfg = PipelineConfig(recall=(RecallSpec(ComponentSpec.make("itemknn"), 100),
                                 RecallSpec(ComponentSpec.make("pop"), 50)),
                         merge="rrf", rank=ComponentSpec.make("sasrec", epochs=10, loss="ce"),
                         rerank="mmr", mmr_weight=0.8)
    pipe = build_pipeline(dataset, split, cfg)
    print(evaluate_pipeline(pipe, split.valid, dataset).metrics)
"""

from agenticrs.recsys.pipeline.agents import Candidates, MMRReranker, RankAgent, RecallAgent
from agenticrs.recsys.pipeline.components import ComponentSpec, clear_cache, fit_component
from agenticrs.recsys.pipeline.merge import list_merges, merge, register_merge
from agenticrs.recsys.pipeline.pipeline import (
    Pipeline,
    PipelineConfig,
    PipelineEval,
    RecallSpec,
    build_pipeline,
    evaluate_pipeline,
)

__all__ = ["Candidates", "ComponentSpec", "MMRReranker", "Pipeline", "PipelineConfig", "PipelineEval", "RankAgent",
           "RecallAgent", "RecallSpec", "build_pipeline", "clear_cache", "evaluate_pipeline", "fit_component",
           "list_merges", "merge", "register_merge"]
