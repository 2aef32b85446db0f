"""A design language for sequential recommenders: programs that compile to the suite's models.

Data first, each stage a pure function with its own errors (:mod:`.errors`)::

    program = parse(text)                 # text or JSON -> typed Program   (ParseError, FieldTypeError...)
    validate(program, limits, n_items)    # ranges, limits, combinations    (ValueRangeError, LimitError, IncompatibleError)
    canonical_json(program), program_hash(program)   # identity for caches and the KnowledgeStore
    model = compile_program(program, n_items)        # an ordinary Recommender ("design")
    run_program(dataset, program)                    # the one trainer and evaluator

plus :mod:`.grammar` (seeded sampling, a finite list of mutation operators, crossover) and
:mod:`.library` (SASRec, BERT4Rec, GRU4Rec... as programs). See ``notes/design_api.md``.
"""

from agenticrs._lazy import lazy_getattr

from agenticrs.recsys.design.canonical import canonical_dict, canonical_json, canonicalise, program_hash
from agenticrs.recsys.design.errors import (
    DesignError,
    FieldTypeError,
    IncompatibleError,
    LimitError,
    ParseError,
    UnknownBlockError,
    UnknownFieldError,
    ValueRangeError,
)
from agenticrs.recsys.design.program import (
    BLOCKS,
    GRU,
    MLP,
    Attention,
    Block,
    Conv,
    Filter,
    GatedMLP,
    Inputs,
    Loss,
    MoE,
    Program,
    Readout,
    Train,
    from_dict,
    to_dict,
)
from agenticrs.recsys.design.repair import repair
from agenticrs.recsys.design.size import count_parameters
from agenticrs.recsys.design.text import parse, to_text
from agenticrs.recsys.design.validate import DEFAULT_LIMITS, NO_LIMITS, Limits, find_errors, validate
from agenticrs.recsys.design.library import LIBRARY, get_program
from agenticrs.recsys.design.grammar import (
    OPERATORS,
    Operator,
    crossover,
    mutate,
    sample_program,
)

__all__ = [
    "Attention", "BLOCKS", "Block", "Conv", "DEFAULT_LIMITS", "DesignError", "DesignRecommender", "FieldTypeError",
    "Filter", "GRU", "GatedMLP", "IncompatibleError", "Inputs", "LIBRARY", "LimitError", "Limits", "Loss", "MLP",
    "MoE", "NO_LIMITS", "OPERATORS", "Operator", "ParseError", "Program", "Readout", "Train", "UnknownBlockError",
    "UnknownFieldError", "ValueRangeError", "canonical_dict", "canonical_json", "canonicalise", "compile_program",
    "count_parameters", "crossover", "find_errors", "from_dict", "get_program", "mutate", "parse", "program_hash",
    "repair", "run_program", "sample_program", "to_dict", "to_text", "train_overrides", "validate",
]

_LAZY = {name: "agenticrs.recsys.design.compile"
         for name in ("DesignRecommender", "compile_program", "run_program", "train_overrides")}
"""Names whose module imports torch: loaded on first use, so parsing and validating stay light."""


__getattr__ = lazy_getattr(__name__, _LAZY)
