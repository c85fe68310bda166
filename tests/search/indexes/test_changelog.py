"""Change-log bookkeeping (pure) and the one-writer lock."""

from __future__ import annotations

from pathlib import Path

from kb.search.indexes.changelog import GAP_TIMEOUT, LogState, advance, changed_keys, covers
from kb.search.indexes.locks import WriteLock


def test_advance_moves_to_the_newest_id() -> None:
    assert advance(LogState(3), [4, 5, 6], now=100.0) == LogState(6, {})


def test_skipped_ids_become_gaps_until_seen() -> None:
    state = advance(LogState(3), [4, 7], now=100.0)
    assert state == LogState(7, {5: 100.0, 6: 100.0})
    later = advance(state, [6, 8], now=110.0)
    assert later == LogState(8, {5: 100.0})


def test_gaps_expire() -> None:
    state = LogState(7, {5: 100.0})
    assert advance(state, [], now=100.0 + GAP_TIMEOUT - 1) == state
    assert advance(state, [], now=100.0 + GAP_TIMEOUT) == LogState(7, {})


def test_state_round_trips_through_json_shape() -> None:
    state = LogState(9, {4: 1.5})
    assert LogState.from_dict(state.to_dict()) == state
    assert LogState.from_dict({}) == LogState()


def test_changed_keys_once_each_in_log_order() -> None:
    assert changed_keys([(1, "guide:1"), (2, "note:3"), (3, "guide:1")]) == ["guide:1", "note:3"]


def test_write_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    first, second = WriteLock(tmp_path / "write.lock"), WriteLock(tmp_path / "write.lock")
    with first.hold(1.0) as held:
        assert held
        with second.hold(0) as other:
            assert not other  # busy: a searcher would skip, not fail
        with second.hold(0.2) as other:
            assert not other  # waited, then gave up quietly
    with second.hold(0) as other:
        assert other


def test_covers_only_when_current_and_without_gaps() -> None:
    assert covers(LogState(5), 5) and covers(LogState(6), 5)
    assert not covers(LogState(4), 5)
    assert not covers(LogState(5, {3: 0.0}), 5)  # a late transaction may still fill id 3
    assert covers(LogState(), 0)
