"""The surrogate backend: a regressor fitted on a table predicts configurations it lacks.

Features of a trial (one row):

* one-hot of the model family;
* every config param seen in the table: numbers as they are (booleans 0/1), strings as
  ordinal codes; ``NaN`` where a param does not apply to the family (gradient-boosted trees
  split on missingness natively);
* the fidelity;
* the task's meta-features from the table header (users, items, density, popularity skew...)
  when every task has them, so unseen tasks can be predicted too; else a one-hot of the task.

Targets: every validation and test metric, and ``log1p`` of every cost figure, each fitted by
its own scikit-learn ``HistGradientBoostingRegressor`` on the per-entry means of ``ok``
results. ``evaluate`` returns the table's own result when it has the entry (``source="table"``),
else the prediction plus Gaussian noise with the table's pooled seed-to-seed standard deviation
(per task and target), drawn from an rng seeded by ``(seed, task, config key, fidelity)``:
same seed, same result; ``source="surrogate"``, ``status="ok"``. Results are immutable
(:class:`TrialResult` is frozen, its maps read-only) and :meth:`SurrogateBackend.predict` returns a copy,
so no caller can change what later callers get.

Fitting takes a few seconds on a shipped table and is cached per process and table.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from typing import Any, Iterable, Mapping

import numpy as np

from agenticrs.envs.backends.table import Table, entry_salt, fidelity_key, load_table, repeat_index
from agenticrs.envs.core import Task, TrialConfig, TrialResult

_FIT_CACHE: dict[tuple[Any, ...], "_Model"] = {}


class _Features:
    """Maps (task, config, fidelity) to a fixed-length float vector."""

    def __init__(self, table: Table):
        configs = list(table.configs.values())
        self.models = sorted({c.model for c in configs})
        values: dict[str, set[Any]] = defaultdict(set)
        for c in configs:
            for k, v in c.params:
                values[k].add(v)
        self.params = sorted(values)
        # Strings (and mixed params) get ordinal codes; numbers stay numeric.
        self.codes: dict[str, dict[Any, int]] = {
            k: {v: i for i, v in enumerate(sorted(vs, key=repr))}
            for k, vs in values.items()
            if any(isinstance(v, str) or v is None for v in vs)
        }
        self.tasks = table.tasks
        metas = {t: table.task_meta(t) for t in self.tasks}
        self.meta_keys = sorted(set.intersection(*(set(m) for m in metas.values()))) if metas else []
        if self.meta_keys and all(metas.values()):
            self.task_rows = {t: [float(metas[t][k]) for k in self.meta_keys] for t in self.tasks}
        else:  # no meta-features: one-hot, and only the table's own tasks can be predicted
            self.meta_keys = []
            self.task_rows = {t: [float(t == u) for u in self.tasks] for t in self.tasks}

    def task_row(self, task: str, meta: Mapping[str, float] | None) -> list[float]:
        if task in self.task_rows:
            return self.task_rows[task]
        if meta is not None and self.meta_keys and all(k in meta for k in self.meta_keys):
            return [float(meta[k]) for k in self.meta_keys]
        need = f"meta-features {self.meta_keys}" if self.meta_keys else "a task of the table (it has no meta-features)"
        raise KeyError(f"surrogate cannot predict unseen task {task!r}: it needs {need}; table tasks: {self.tasks}")

    def row(self, task: str, config: TrialConfig, fidelity: float,
            meta: Mapping[str, float] | None = None) -> list[float]:
        out = [float(config.model == m) for m in self.models]
        params = config.param_dict
        for k in self.params:
            v = params.get(k)
            if v is None:
                out.append(math.nan)
            elif k in self.codes:
                out.append(float(self.codes[k].get(v, math.nan)))
            elif isinstance(v, (bool, int, float)):
                out.append(float(v))
            else:
                out.append(math.nan)
        out.append(float(fidelity))
        out.extend(self.task_row(task, meta))
        return out


class _Model:
    """The fitted regressors and noise levels for one table."""

    def __init__(self, table: Table, max_iter: int, seed: int):
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.features = _Features(table)
        rows, targets = [], defaultdict(list)
        noise_sq: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.targets: list[str] = []
        for (task, _key, fid), repeats in table.entries.items():
            ok = [r for r in repeats if r.ok]
            if not ok:
                continue
            for name, vs in self._target_values(ok).items():
                # Columns stay aligned with rows when some entries lack a target (NaN = skip).
                targets[name].extend([math.nan] * (len(rows) - len(targets[name])))
                targets[name].append(float(np.mean(vs)))
                if len(vs) > 1:
                    noise_sq[(task, name)].append(float(np.var(vs, ddof=1)))
            rows.append(self.features.row(task, ok[0].config, fid))
        if len(rows) < 2:
            raise ValueError(f"surrogate needs at least 2 table entries with ok results, got {len(rows)}")
        X = np.asarray(rows, dtype=np.float64)
        leaf = int(min(20, max(2, len(rows) // 10)))
        self.regressors: dict[str, Any] = {}
        with _one_thread():
            for name, ys in sorted(targets.items()):
                y = np.asarray(ys + [math.nan] * (len(rows) - len(ys)), dtype=np.float64)
                keep = np.isfinite(y)
                if keep.sum() < 2:
                    continue
                reg = HistGradientBoostingRegressor(max_iter=max_iter, min_samples_leaf=leaf, random_state=seed)
                self.regressors[name] = reg.fit(X[keep], y[keep])
        # Pooled seed-to-seed standard deviation per task and target (0 when a single seed).
        self.noise = {k: math.sqrt(float(np.mean(v))) for k, v in noise_sq.items()}

    @staticmethod
    def _target_values(ok: list[TrialResult]) -> dict[str, list[float]]:
        values: dict[str, list[float]] = defaultdict(list)
        for r in ok:
            for m, v in r.valid.items():
                values[f"valid/{m}"].append(float(v))
            for m, v in r.test.items():
                values[f"test/{m}"].append(float(v))
            for c, v in r.cost.items():
                values[f"cost/{c}"].append(math.log1p(max(float(v), 0.0)))
        return values

    def predict(self, rows: list[list[float]]) -> dict[str, np.ndarray]:
        """``{target: [len(rows)]}`` predictions for feature rows."""
        X = np.asarray(rows, dtype=np.float64)
        with _one_thread():
            return {name: reg.predict(X) for name, reg in self.regressors.items()}


def _one_thread() -> Any:
    """Limit OpenMP to one thread: on small tables, thread start-up dominates (10-100x slower
    fits and per-row predictions on a busy machine)."""
    global _CONTROLLER
    if _CONTROLLER is None:  # discovering the loaded thread pools is the slow part: do it once
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)


_CONTROLLER: Any = None


class SurrogateBackend:
    """Backend ``kind="surrogate"``: the table where it has the entry, a fitted prediction elsewhere.

    Args:
        table: a :class:`Table` or a table file path.
        use_table: return the table's own result for entries it has (``False``: always predict,
            e.g. to measure the surrogate itself).
        noise: add seeded noise with the table's seed-to-seed spread to predictions.
        max_iter: boosting iterations per regressor.
        task_meta: meta-features of tasks that are not in the table (name -> stats).
        seed: random state of the regressors.
    """

    kind = "surrogate"

    def __init__(self, table: Table | str | os.PathLike[str], *, use_table: bool = True, noise: bool = True,
                 max_iter: int = 200, task_meta: Mapping[str, Mapping[str, float]] | None = None, seed: int = 0):
        self.table = table if isinstance(table, Table) else load_table(table)
        self.use_table, self.noise, self.max_iter, self.seed = use_table, noise, max_iter, seed
        self.task_meta = {k: dict(v) for k, v in (task_meta or {}).items()}
        self._predictions: dict[tuple[str, TrialConfig, float], dict[str, float]] = {}
        self._model: _Model | None = None

    @property
    def model(self) -> _Model:
        """The fitted regressors (fitted on first use; cached per process for file tables)."""
        if self._model is None:
            cache_key = (self.table.path, len(self.table), self.max_iter, self.seed) if self.table.path else None
            model = _FIT_CACHE.get(cache_key) if cache_key else None
            if model is None:
                model = _Model(self.table, self.max_iter, self.seed)
                if cache_key:
                    _FIT_CACHE[cache_key] = model
            self._model = model
        return self._model

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_predictions"] = {}
        return state

    def predict(self, task: Task | str, config: TrialConfig, fidelity: float) -> dict[str, float]:
        """Noise-free predicted targets (``valid/ndcg@10``, ``test/...``, ``cost/seconds`` in log1p).

        A copy: editing it does not change later predictions.
        """
        return dict(self._predict(task if isinstance(task, str) else task.name, config, fidelity))

    def _predict(self, name: str, config: TrialConfig, fidelity: float) -> dict[str, float]:
        """:meth:`predict` without the copy (the cached dict; callers must not edit it)."""
        key = (name, config, fidelity_key(fidelity))
        hit = self._predictions.get(key)
        if hit is None:
            row = self.model.features.row(name, config, fidelity, self.task_meta.get(name))
            hit = self._predictions[key] = {k: float(v[0]) for k, v in self.model.predict([row]).items()}
        return hit

    def evaluate(self, task: Task | str, config: TrialConfig, fidelity: float, seed: int) -> TrialResult:
        name = task if isinstance(task, str) else task.name
        if self.use_table and (name, config.key(), fidelity) in self.table:
            key = config.key()
            repeats = self.table.lookup(name, config, fidelity, key)
            return repeats[repeat_index(seed, entry_salt(name, key, fidelity), len(repeats))]
        pred = self._predict(name, config, fidelity)
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, entry_salt(name, config.key(), fidelity)])
        noise = self.model.noise
        valid, test, cost = {}, {}, {}
        for target, value in pred.items():
            if self.noise:
                value += float(rng.normal(0.0, noise.get((name, target), 0.0)))
            split, metric = target.split("/", 1)
            if split == "cost":
                cost[metric] = math.expm1(max(value, 0.0))
            else:
                (valid if split == "valid" else test)[metric] = min(max(value, 0.0), 1.0)
        return TrialResult(config, name, float(fidelity), int(seed), "ok", valid, test, cost, "", "surrogate")

    def kendall_tau(self, held_out: Iterable[TrialResult], metric: str = "ndcg@10", split: str = "valid",
                    per_task: bool = True) -> float:
        """Rank correlation of noise-free predictions with held-out (live) results.

        Results are averaged over seeds per ``(task, config, fidelity)``; failed ones are skipped.
        ``per_task=True`` averages the tau of each task (how well configs are ranked within a
        task, what a search needs); ``False`` pools all points. ``NaN`` if nothing to rank.
        """
        from scipy.stats import kendalltau

        actual: dict[tuple[str, TrialConfig, float], list[float]] = defaultdict(list)
        for r in held_out:
            values = r.valid if split == "valid" else r.test
            if r.ok and metric in values:
                actual[(r.task, r.config, fidelity_key(r.fidelity))].append(float(values[metric]))
        if not actual:
            return math.nan
        keys = list(actual)
        rows = [self.model.features.row(t, c, f, self.task_meta.get(t)) for t, c, f in keys]
        predicted = self.model.predict(rows)[f"{split}/{metric}"]  # one batch: fast
        groups: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
        for (task, _config, _fid), p in zip(keys, predicted):
            groups[task if per_task else ""][0].append(float(np.mean(actual[(task, _config, _fid)])))
            groups[task if per_task else ""][1].append(float(p))
        taus = [kendalltau(a, p).statistic for a, p in groups.values() if len(a) >= 2]
        taus = [t for t in taus if np.isfinite(t)]
        return float(np.mean(taus)) if taus else math.nan
