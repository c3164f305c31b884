"""A least-recently-used cache bounded by the bytes of what it holds.

Photos, inpainted surfaces, textures and mesh files are pure functions of their key, so
one process keeps them while they fit a memory budget and makes them again after they
are dropped: the results are the same either way, only the time differs.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ByteBudgetCache"]

Value = TypeVar("Value")


class ByteBudgetCache(Generic[Value]):
    """Values made on first use and kept while their bytes fit a budget.

    The least recently used values are dropped first; a single value larger than the
    budget is still returned, and kept alone. Thread-safe; two threads that miss the
    same key at once may both make it, and the first one stored is kept.

    Args:
        budget_bytes: Memory budget in bytes.
        size_of: Bytes a value holds (e.g. ``lambda a: a.nbytes``).
        max_items: At most this many values too (None: no limit by count).
    """

    def __init__(self, budget_bytes: int, size_of: Callable[[Value], int], max_items: int | None = None):
        self.budget_bytes = int(budget_bytes)
        self.max_items = max_items
        self._size_of = size_of
        self._items: collections.OrderedDict[Hashable, Value] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self.misses = 0

    def get(self, key: Hashable, make: Callable[[], Value]) -> Value:
        """The value of ``key``, made by ``make()`` when it is not held."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self.misses += 1
            if key not in self._items:
                self._items[key] = value
                self._bytes += self._size_of(value)
            while self._over_budget():
                _, dropped = self._items.popitem(last=False)
                self._bytes -= self._size_of(dropped)
            return self._items.get(key, value)

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return self._bytes

    def _over_budget(self) -> bool:
        too_many = self.max_items is not None and len(self._items) > self.max_items
        return len(self._items) > 1 and (self._bytes > self.budget_bytes or too_many)

    def items(self) -> list[tuple[Hashable, Value]]:
        """The held (key, value) pairs, least recently used first (a copy)."""
        with self._lock:
            return list(self._items.items())

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
