"""Notes that count cells per column add up when batches or parts are merged (issue 30, item 10b)."""
import json
import pickle

import pytest

from adgdm.modalities.notes import CountNote, from_jsonable, to_jsonable, total


def test_count_notes_of_one_kind_sum_per_column_and_plain_notes_stay_once():
    a = CountNote("blank", {"b": 3}, who="diffusion")
    b = CountNote("blank", {"b": 3, "c": 2}, who="diffusion")
    u1 = CountNote("unseen", {"site": 2}, examples={"site": ["x", "y"]})
    u2 = CountNote("unseen", {"site": 1, "kind": 4}, examples={"site": ["z"], "kind": ["q"]})
    out = total(["fitted rows", a, u1, "fitted rows", b, u2])
    assert [type(n) for n in out] == [str, CountNote, CountNote]
    assert out[1].counts == {"b": 6, "c": 2} and out[1].startswith("8 blank numeric cells imputed by diffusion")
    assert out[2].counts == {"site": 3, "kind": 4} and "site: 3 (x, y, z)" in out[2]
    assert str(out[2]).startswith("7 cells held categories never seen at fit")


def test_count_notes_travel_as_json_and_pickle_with_their_counts():
    n = CountNote("blank", {"b": 3}, who="diffusion")
    back = from_jsonable(json.loads(json.dumps(to_jsonable([n, "plain"]))))
    assert back[0].counts == {"b": 3} and back[0] == n and back[1] == "plain"
    assert pickle.loads(pickle.dumps(n)).counts == {"b": 3}
    assert json.dumps([n]) == json.dumps([str(n)])  # a str: summaries print it as its text
    with pytest.raises(ValueError, match="unknown note kind"):
        CountNote("rows", {"a": 1})
