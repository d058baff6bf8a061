"""Notes that count: a note about cells of some columns (blank cells imputed, categories unseen at
fit) carries its counts per column, so the notes of batches or parts add up to one note with the
totals instead of one line per part (merged by text, equal lines of two parts were one).

:class:`CountNote` is a ``str`` (it prints, joins and goes into JSON as its text) with ``kind``,
``counts`` (column -> cells), ``who`` and ``examples``; :func:`total` merges a list of notes.

Example
-------
>>> a = CountNote("blank", {"b": 3, "c": 1}, who="diffusion")
>>> b = CountNote("blank", {"b": 3}, who="diffusion")
>>> merged = total(["fitted on rows", a, b, "fitted on rows"])
>>> len(merged), merged[1].counts, merged[1][:28]
(2, {'b': 6, 'c': 1}, '7 blank numeric cells impute')
"""
from __future__ import annotations

__all__ = ["CountNote", "total", "to_jsonable", "from_jsonable"]


def _blank(counts: dict, who: str, examples: dict) -> str:
    cols = ", ".join(f"{c}: {n}" for c, n in counts.items())
    return (f"{sum(counts.values())} blank numeric cells imputed by {who} from the nearest training rows on each "
            f"row's observed cells ({cols})")


def _unseen(counts: dict, who: str, examples: dict) -> str:
    cols = "; ".join(f"{c}: {n} ({', '.join(examples.get(c, []))})" for c, n in counts.items())
    return f"{sum(counts.values())} cells held categories never seen at fit (scored as evidence): {cols}"


TEXTS = {"blank": _blank, "unseen": _unseen}
EXAMPLES = 5  # values shown per column


class CountNote(str):
    """A note counting cells per column (``kind``: ``"blank"`` or ``"unseen"``); its text is
    made from the counts, so merged notes say the totals."""

    def __new__(cls, kind: str, counts: dict, who: str = "", examples: dict | None = None):
        if kind not in TEXTS:
            raise ValueError(f"unknown note kind {kind!r}; one of {sorted(TEXTS)}")
        counts = {str(c): int(n) for c, n in counts.items() if int(n) > 0}
        examples = {str(c): sorted({str(v) for v in vs})[:EXAMPLES] for c, vs in (examples or {}).items()}
        self = super().__new__(cls, TEXTS[kind](counts, who, examples))
        self.kind, self.counts, self.who, self.examples = kind, counts, who, examples
        return self

    def __reduce__(self):  # pickled (Ray) by its parts, not its text
        return (CountNote, (self.kind, self.counts, self.who, self.examples))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "counts": dict(self.counts), "who": self.who, "examples": dict(self.examples)}


def total(notes) -> list:
    """``notes`` in first-seen order, plain ones once each, the :class:`CountNote` of one kind (and
    ``who``) summed into one at the place of the first."""
    out, slots = [], {}
    for n in notes:
        if isinstance(n, CountNote):
            key = (n.kind, n.who)
            if key not in slots:
                slots[key] = len(out)
                out.append(n)
                continue
            prev = out[slots[key]]
            counts = dict(prev.counts)
            for c, k in n.counts.items():
                counts[c] = counts.get(c, 0) + k
            examples = {c: list(prev.examples.get(c, [])) + list(n.examples.get(c, []))
                        for c in set(prev.examples) | set(n.examples)}
            out[slots[key]] = CountNote(n.kind, counts, n.who, examples)
        elif str(n) not in out:
            out.append(str(n))
    return out


def to_jsonable(notes) -> list:
    """Notes as JSON values: text, or a count note's dict (:func:`from_jsonable` reads them back)."""
    return [n.to_dict() if isinstance(n, CountNote) else str(n) for n in notes]


def from_jsonable(items) -> list:
    return [CountNote(**x) if isinstance(x, dict) else str(x) for x in items]
