"""The default, offline text encoder: hashed n-gram TF-IDF reduced with truncated SVD (LSA).

Needs nothing but scikit-learn and no download. Hashing (rather than a fitted vocabulary)
keeps memory bounded on any corpus; the SVD is fitted on the corpus given to ``fit`` (the
item texts) and then applies to any string, e.g. the KAR-style user templates of LWGR.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from agenticrs.recsys.text.base import TextEncoder, l2_normalise, register_encoder


@register_encoder("tfidf")
class TfidfSVDEncoder(TextEncoder):
    """Hashed TF-IDF n-grams -> TruncatedSVD(``dim``) -> L2-normalised rows.

    Args:
        dim: output dimension; when the corpus has rank below ``dim`` the extra columns are zero.
        analyzer: ``word`` or ``char_wb`` (character n-grams inside word boundaries, robust
            to brand spellings and morphology).
        ngram_min, ngram_max: n-gram range of the analyzer.
        n_features: hashing space size.
        seed: SVD randomisation seed (same seed, same vectors).
    """

    def __init__(self, dim: int | str = 64, analyzer: str = "word", ngram_min: int | str = 1,
                 ngram_max: int | str = 2, n_features: int | str = 2**18, seed: int | str = 0):
        self._dim, self.analyzer = int(dim), str(analyzer)
        self.ngram = (int(ngram_min), int(ngram_max))
        self.n_features, self.seed = int(n_features), int(seed)
        if self._dim < 1:
            raise ValueError(f"tfidf: dim must be >= 1, got {self._dim}")
        if self.analyzer not in ("word", "char", "char_wb"):
            raise ValueError(f"tfidf: analyzer must be word, char or char_wb, got {self.analyzer!r}")
        if not 1 <= self.ngram[0] <= self.ngram[1]:
            raise ValueError(f"tfidf: need 1 <= ngram_min <= ngram_max, got {self.ngram}")
        self._pipeline: Any = None

    @property
    def dim(self) -> int:
        return self._dim

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self._dim, "analyzer": self.analyzer, "ngram": list(self.ngram),
                "n_features": self.n_features, "seed": self.seed}

    def fit(self, texts: Sequence[str]) -> "TfidfSVDEncoder":
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

        hashing = HashingVectorizer(analyzer=self.analyzer, ngram_range=self.ngram, n_features=self.n_features,
                                    alternate_sign=False, norm=None, lowercase=True)
        tfidf = TfidfTransformer(sublinear_tf=True)
        x = tfidf.fit_transform(hashing.transform(list(texts)))
        # Only hash buckets the corpus uses can carry SVD weight: dropping the others makes the
        # randomised SVD work on [n_docs, n_used] instead of [n_docs, 2**18] (seconds -> ms).
        used = np.unique(x.indices)
        x = x[:, used]
        # TruncatedSVD needs n_components < n_features of the (non-empty) matrix.
        n_components = max(1, min(self._dim, min(x.shape) - 1))
        svd = TruncatedSVD(n_components=n_components, algorithm="randomized", n_iter=5, random_state=self.seed)
        if x.nnz:
            svd.fit(x)
        self._pipeline = (hashing, tfidf, used, svd if x.nnz else None)
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._pipeline is None:
            raise RuntimeError("tfidf: call fit(corpus) before encode()")
        hashing, tfidf, used, svd = self._pipeline
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        if svd is not None and len(texts):
            z = svd.transform(tfidf.transform(hashing.transform(list(texts)))[:, used])
            out[:, : z.shape[1]] = z
        return l2_normalise(out)
