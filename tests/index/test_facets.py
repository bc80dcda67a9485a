"""Facet columns: the practice-type column made from ids is the one made from items."""

import numpy as np

from index.facets import MultiColumn


def _same(a: MultiColumn, b: MultiColumn) -> None:
    assert list(a.values) == list(b.values) and list(a.keys) == list(b.keys)
    for x, y in ((a.per_row, b.per_row), (a.by_key, b.by_key)):
        assert np.array_equal(np.asarray(x.offsets), np.asarray(y.offsets))
        assert np.array_equal(np.asarray(x.rows), np.asarray(y.rows))


def test_a_column_of_ids_equals_the_column_of_id_items(index):
    membership = index.practice_scheme().membership
    rows = [membership.get(m["id"]) or [] for m in index.measures]
    assert sum(map(len, rows)) > len(rows) / 2  # the bundled plans' measures have practice types
    _same(MultiColumn.of_ids(rows), MultiColumn.of([[{"id": t} for t in ts] for ts in rows], by_name=False))


def test_repeated_empty_and_missing_ids_are_handled_as_items_are():
    rows = [["b", "a", "b"], [], ["", "c"], ["a"], ()]
    col = MultiColumn.of_ids(rows)
    _same(col, MultiColumn.of([[{"id": t} for t in ts] for ts in rows], by_name=False))
    assert [list(col.per_row.get(r)) for r in range(5)] == [[0, 1], [], [2], [1], []]
    assert list(col.values) == ["b", "a", "c"]
    empty = MultiColumn.of_ids([[], []])
    assert len(empty.values) == 0 and len(empty.per_row) == 2
