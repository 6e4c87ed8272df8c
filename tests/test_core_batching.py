"""benchmark.core.batching: a failing batch is retried item by item, and only the bad item fails."""

from __future__ import annotations

from benchmark.core.batching import CountMismatch, batch_then_single


def test_a_bad_item_fails_alone_and_the_others_keep_their_results():
    calls = []

    def square(batch):
        calls.append(list(batch))
        if 3 in batch:
            raise ValueError("cannot square 3")
        return [x * x for x in batch]

    got = batch_then_single(square, [1, 2, 3, 4])
    assert got[:2] == [1, 4] and got[3] == 16
    assert isinstance(got[2], ValueError) and str(got[2]) == "cannot square 3"
    assert calls == [[1, 2, 3, 4], [1], [2], [3], [4]]
    calls.clear()
    assert batch_then_single(square, [5, 6]) == [25, 36] and calls == [[5, 6]]   # one call


def test_a_miscount_is_an_error_and_a_single_item_is_not_called_twice():
    calls = []

    def drops_last(batch):
        calls.append(len(batch))
        return batch[:-1] if len(batch) > 1 else batch

    assert batch_then_single(drops_last, ["a", "b"]) == ["a", "b"] and calls == [2, 1, 1]
    calls.clear()

    def always_short(batch):
        calls.append(len(batch))
        return []

    (err,) = batch_then_single(always_short, ["a"], "system")
    assert isinstance(err, CountMismatch) and str(err) == "system returned 0 results for 1 items"
    assert calls == [1]
    assert batch_then_single(always_short, []) == []
