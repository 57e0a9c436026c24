from __future__ import annotations

import threading
from collections import deque

import pytest

from warden.audit.inbox import Inbox


def test_items_are_numbered_in_order() -> None:
    inbox: Inbox[str] = Inbox(10)
    assert [inbox.put(x) for x in "abc"] == [1, 2, 3]
    assert inbox.take(10, 0.0, 0.0) == [(1, "a"), (2, "b"), (3, "c")]
    assert inbox.last_number == 3


def test_a_full_inbox_refuses_without_blocking() -> None:
    inbox: Inbox[int] = Inbox(2)
    assert inbox.put(1) and inbox.put(2)
    assert inbox.put(3) == 0
    assert len(inbox) == 2


def test_take_returns_at_most_max_items() -> None:
    inbox: Inbox[int] = Inbox(10)
    for i in range(5):
        inbox.put(i)
    assert [n for n, _ in inbox.take(2, 0.0, 0.0)] == [1, 2]
    assert [n for n, _ in inbox.take(10, 0.0, 0.0)] == [3, 4, 5]


def test_take_on_an_idle_inbox_returns_nothing() -> None:
    inbox: Inbox[int] = Inbox(10)
    assert inbox.take(10, 0.0, 0.0) == []


def test_a_flush_cuts_the_linger_short() -> None:
    inbox: Inbox[int] = Inbox(10)
    number = inbox.put(7)
    taken: list[list[tuple[int, int]]] = []
    worker = threading.Thread(target=lambda: taken.append(inbox.take(10, 3600.0, 3600.0)))
    worker.start()
    inbox.flush(number)
    worker.join(60)
    assert not worker.is_alive()
    assert taken == [[(1, 7)]]


def test_a_full_batch_does_not_linger() -> None:
    inbox: Inbox[int] = Inbox(10)
    for i in range(3):
        inbox.put(i)
    assert len(inbox.take(3, 3600.0, 3600.0)) == 3


def test_close_wakes_the_writer_and_drains() -> None:
    inbox: Inbox[int] = Inbox(10)
    inbox.put(1)
    inbox.close()
    assert inbox.put(2) == 0
    assert inbox.take(10, 3600.0, 3600.0) == [(1, 1)]
    assert inbox.take(10, 3600.0, 3600.0) == []


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Inbox(0)


def test_a_full_inbox_does_not_linger() -> None:
    inbox: Inbox[int] = Inbox(2)
    inbox.put(1)
    inbox.put(2)
    # Producers are waiting for room: the batch goes at once, even if small.
    assert len(inbox.take(1000, 3600.0, 3600.0)) == 2


def test_a_put_wakes_an_idle_writer() -> None:
    inbox: Inbox[int] = Inbox(10)
    taken: list[list[tuple[int, int]]] = []
    worker = threading.Thread(target=lambda: taken.append(inbox.take(10, 0.0, 3600.0)))
    worker.start()
    inbox.put(7)
    worker.join(60)
    assert not worker.is_alive()
    assert taken == [[(1, 7)]]


def test_a_put_racing_the_writer_going_to_sleep_still_wakes_it() -> None:
    # put() takes no lock. Land a put exactly between the writer finding the
    # inbox empty and it saying it waits: it must still be taken at once.
    inbox: Inbox[int] = Inbox(10)
    race = [lambda: inbox.put(7)]

    class Racing(deque[tuple[int, int]]):
        def __len__(self) -> int:
            n = super().__len__()
            if n == 0 and race:
                race.pop()()  # the producer's put, right after this look
            return n  # what the writer saw: nothing

    inbox._items = Racing()
    taken: list[list[tuple[int, int]]] = []
    worker = threading.Thread(target=lambda: taken.append(inbox.take(10, 0.0, 3600.0)), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the writer slept through a put"
    assert taken == [[(1, 7)]]
