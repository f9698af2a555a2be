"""When an idle consumer is checked for records it is owed, and what it is owed; when a group
membership that does not settle makes it start a new Kafka client."""

from __future__ import annotations

import pytest

from consumers.stall import SettleWatch, StallWatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_check_is_due_only_after_a_quiet_spell_and_then_at_most_that_often():
    clock = Clock()
    watch = StallWatch(10.0, clock=clock)
    clock.now += 9.9
    assert not watch.due()
    clock.now += 0.2
    assert watch.due()
    assert not watch.due()  # the check just made counts
    clock.now += 10.0
    assert watch.due()


def test_records_arriving_start_the_quiet_spell_again():
    clock = Clock()
    watch = StallWatch(10.0, clock=clock)
    clock.now += 9.0
    watch.progressed()
    clock.now += 9.0
    assert not watch.due()
    clock.now += 1.0
    assert watch.due()


def test_records_owed_run_from_the_stored_offset_to_the_log_end():
    assert StallWatch.waiting(["a", "b"], stored={"a": 7, "b": 9}, begin={"a": 0, "b": 0},
                              end={"a": 10, "b": 9}) == {"a": 3}


def test_nothing_stored_means_the_whole_log_is_owed():
    assert StallWatch.waiting(["a"], stored={}, begin={"a": 4}, end={"a": 6}) == {"a": 2}


def test_records_deleted_by_retention_are_not_owed():
    # The stored offset fell behind the log's start: only what is still in the log can arrive.
    assert StallWatch.waiting(["a"], stored={"a": 2}, begin={"a": 50}, end={"a": 50}) == {}
    assert StallWatch.waiting(["a"], stored={"a": 2}, begin={"a": 50}, end={"a": 53}) == {"a": 3}


def test_a_partition_the_broker_gave_no_end_for_is_left_out():
    assert StallWatch.waiting(["a", "b"], stored={}, begin={}, end={"b": 1}) == {"b": 1}


def test_stalls_that_rejoining_does_not_cure_are_checked_ever_less_often():
    clock = Clock()
    watch = StallWatch(10.0, max_after_s=35.0, clock=clock)
    waits = []
    for _ in range(4):
        waited = 0.0
        while not watch.due():
            clock.now += 1.0
            waited += 1.0
        waits.append(waited)
        watch.stalled()
        watch.restart()  # the rejoin's new assignment
    assert waits == [10.0, 20.0, 35.0, 35.0]
    watch.progressed()
    clock.now += 10.0
    assert watch.due()


@pytest.mark.parametrize("watch", [StallWatch, SettleWatch])
def test_the_interval_must_be_positive_and_within_its_cap(watch):
    with pytest.raises(ValueError, match="after_s"):
        watch(0.0)
    with pytest.raises(ValueError, match="after_s"):
        watch(60.0, max_after_s=30.0)


def test_a_membership_unsettled_for_the_interval_asks_for_a_new_client():
    clock = Clock()
    watch = SettleWatch(10.0, clock=clock)
    assert not watch.observe(settled=False)  # the spell starts
    clock.now += 9.9
    assert not watch.observe(settled=False)
    clock.now += 0.2
    assert watch.observe(settled=False)


def test_a_membership_that_settles_starts_the_spell_again():
    clock = Clock()
    watch = SettleWatch(10.0, clock=clock)
    watch.observe(settled=False)
    clock.now += 9.0
    assert not watch.observe(settled=True)
    clock.now += 9.0
    assert not watch.observe(settled=False)  # a new spell starts here
    clock.now += 9.0
    assert not watch.observe(settled=False)
    clock.now += 1.0
    assert watch.observe(settled=False)


def test_new_clients_that_do_not_settle_either_wait_ever_longer_until_one_settles():
    clock = Clock()
    watch = SettleWatch(10.0, max_after_s=35.0, clock=clock)
    watch.observe(settled=False)
    waits = []
    for _ in range(4):
        waited = 0.0
        while not watch.observe(settled=False):
            clock.now += 1.0
            waited += 1.0
        waits.append(waited)
    assert waits == [10.0, 20.0, 35.0, 35.0]
    assert not watch.observe(settled=True)
    watch.observe(settled=False)
    clock.now += 10.0
    assert watch.observe(settled=False)


def test_a_broker_out_of_reach_does_not_count_towards_the_spell():
    clock = Clock()
    watch = SettleWatch(10.0, clock=clock)
    watch.observe(settled=False)
    clock.now += 60.0
    watch.pause()  # the loop pauses the watch while the broker is unreachable
    assert not watch.observe(settled=False)
    clock.now += 9.0
    assert not watch.observe(settled=False)
    clock.now += 1.0
    assert watch.observe(settled=False)
