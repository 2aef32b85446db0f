"""``evolution``: regularised (aging) evolution on the program tree (Real et al., AAAI 2019), with
the design language's mutation operators and a block-list crossover."""

from __future__ import annotations

from collections import deque

from agenticrs.policies.proposers.base import ProgramProposer, Told
from agenticrs.recsys.design import Program, crossover
from agenticrs.recsys.design.grammar import mutate


class EvolutionProposer(ProgramProposer):
    """Aging evolution: the first ``population`` programs are random draws from the grammar (with
    ``seed_with_base``: the task's base program, its mutants and random draws); then each child is a mutation of a tournament winner, or (with
    probability ``p_crossover``) a crossover of two winners followed by a mutation, or (with
    probability ``p_immigrant``) a fresh random draw, a *random immigrant* (Grefenstette 1992) that
    joins the population like a child. Members age out in order of arrival, whatever their fitness.

    Args:
        population: population size (capped at half the program budget so a short budget still evolves).
        sample: tournament size.
        p_crossover: share of children made by crossover.
        n_ops: mutation operators applied per child.
        seed_with_base: start the population from the task's base program and its mutants as well as
            random draws (default: random draws only, as Real et al.; on short training budgets the
            library's SASRec base starts far below random programs, see benchmarks/results/design).
        balance: how :func:`~agenticrs.recsys.design.grammar.mutate` draws operators (``"section"``:
            each part of the program equally often; ``"operator"``: uniform over the 72 operators).
        p_immigrant: share of children after the initial population that are random draws instead.
            0 (default) is Real et al.'s algorithm. The design landscape is heavy-tailed: a
            child is one edit from its parent (median 0.97x its score), while the best of a search is
            usually a fresh draw from the tail, which immigrants keep drawing. Measured (pre-registered,
            fresh seeds, 20 pairs of 30-program searches): 0.5 ties random search (-0.005 validation
            NDCG@10, p 0.72), so it stays off by default (benchmarks/results/design/README.md).

    Budget: evolution pays only on longer searches. On the design-search tasks (2-epoch programs) it
    trails random search at 30 programs (-10%) and leads it at 100 (+8%, 13 of 20 pairs, p 0.11);
    at 100 programs ``sample=8, p_immigrant=0.5`` (the parent is the population's best; half the
    children are fresh draws) led by +15% (15 of 20 pairs, p 0.021, fresh seeds) but trains slower
    programs (benchmarks/results/design/README.md). Give it well over the population size in programs.

    Mutations never draw the operators whose edits the task's fixed training fields undo
    (:meth:`~agenticrs.policies.proposers.base.DesignTask.overridden_operators`): such a child is
    its parent again, refused as a duplicate, and the draw is wasted.
    """

    name = "evolution"

    def __init__(self, population: int = 8, sample: int = 3, p_crossover: float = 0.3, n_ops: int = 1,
                 seed_with_base: bool = False, balance: str = "section", max_resample: int = 8,
                 p_immigrant: float = 0.0):
        super().__init__(max_resample)
        if population < 1 or sample < 1 or not 0 <= p_crossover <= 1 or n_ops < 1 or not 0 <= p_immigrant <= 1:
            raise ValueError(f"evolution: population ({population}), sample ({sample}) and n_ops ({n_ops}) must be "
                             f">= 1, p_crossover ({p_crossover}) and p_immigrant ({p_immigrant}) in [0, 1]")
        self.population, self.sample, self.p_crossover, self.n_ops = population, sample, p_crossover, n_ops
        self.p_immigrant = p_immigrant
        if balance not in ("section", "operator"):
            raise ValueError(f"evolution: balance must be 'section' or 'operator', got {balance!r}")
        self.seed_with_base, self.balance = seed_with_base, balance

    def _setup(self) -> None:
        self._size = max(2, min(self.population, self.budget.max_trials // 2))
        self._members: deque[Told] = deque(maxlen=self._size)
        for told in self.history[-self._size:]:  # a warm start from the KnowledgeStore
            self._members.append(told)
        self._initial = 0
        self._exclude = self.task.overridden_operators()

    def _mutate(self, program: Program) -> Program:
        t = self.task
        return mutate(program, self.rng, t.limits, t.n_items, n_ops=self.n_ops, exclude=self._exclude,
                      balance=self.balance)

    def _tournament(self) -> Program:
        members = list(self._members)
        picks = self.rng.choice(len(members), size=min(self.sample, len(members)), replace=False)
        return max((members[i] for i in picks), key=lambda m: m.value).program

    def _propose(self) -> tuple[Program, str]:
        t = self.task
        if len(self._members) < self._size:
            self._initial += 1
            base = t.finalise(t.base)
            if self.seed_with_base and self._initial == 1 and not self.taken(base):
                return base, "base"
            if self.seed_with_base and self._initial % 2 == 0:
                return self._mutate(base), "mutation"
            return self.random_unseen(), "random"
        if self.p_immigrant and self.rng.random() < self.p_immigrant:
            return self.random_unseen(), "immigrant"
        parent = self._tournament()
        if self.rng.random() < self.p_crossover:
            child = crossover(parent, self._tournament(), self.rng, t.limits, t.n_items)
            if child is not None:
                return self._mutate(child), "crossover"
        return self._mutate(parent), "mutation"

    def _tell(self, told: Told) -> None:
        # Screening results enter too: a low-fidelity score ranks children until the full one arrives.
        self._members.append(told)
