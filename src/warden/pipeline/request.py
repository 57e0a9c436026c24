"""The request view over a parsed JSON body."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from warden.pipeline.types import TextSlot

SlotWalker = Callable[[Any], Iterator[TextSlot]]


class JsonRequestView:
    """A :class:`~warden.pipeline.types.RequestView` over a JSON body.

    ``walker`` is the protocol's knowledge of where the agent's text lives;
    ``replace`` writes through the slot's path and marks the body dirty.
    """

    def __init__(self, body: Any, operation: str, walker: SlotWalker) -> None:
        self._body = body
        self._operation = operation
        self._walker = walker
        self.dirty = False

    @property
    def json(self) -> Any:
        return self._body

    @property
    def operation(self) -> str:
        return self._operation

    def slots(self) -> Iterator[TextSlot]:
        if self._body is None:
            return iter(())
        return self._walker(self._body)

    def replace(self, slot: TextSlot, text: str) -> None:
        if text == slot.text:
            return
        *parents, last = slot.path
        target: Any = self._body
        for key in parents:
            target = target[key]
        if target[last] != slot.text:
            raise ValueError(f"slot {slot.describe()} changed since it was read")
        target[last] = text
        slot.text = text
        self.dirty = True
