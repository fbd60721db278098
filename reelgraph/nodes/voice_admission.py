"""Which voice-model calls may run at once: a count (one per core) and a text budget.

A call's memory grows with its text (~15 MB + ~0.75 MB a character for the default
voice, one thread), so two long pieces side by side cost twice one: measured on the
long article's pieces, one call at a time peaked ~95 MB over the floor and two at
once ~190 MB. Calls run side by side while their texts together fit in the budget;
a call that does not fit waits for the others, and one larger than the whole budget
runs alone. Calls are admitted in the order they ask (a long piece is not passed
over forever by short ones).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from .speech_pieces import PIECE_CHARS

# Two full pieces (any two of the shipped explainer's sentences fit side by side);
# two of the long article's longest clause-less pieces do not.
CHARS_AT_ONCE = 2 * PIECE_CHARS + 10


class VoiceAdmission:
    def __init__(self, calls: int, chars: int = CHARS_AT_ONCE):
        self.calls, self.chars = max(1, calls), max(1, chars)
        self._running_calls = 0
        self._running_chars = 0
        self._queue: deque[object] = deque()
        self._changed = threading.Condition()

    def _fits(self, cost: int) -> bool:
        if self._running_calls == 0:
            return True  # alone, any call runs (a long piece must run sometime)
        return self._running_calls < self.calls and self._running_chars + cost <= self.chars

    @contextmanager
    def admit(self, cost: int) -> Iterator[None]:
        """Hold a place for one model call of `cost` characters while the block runs."""
        ticket = object()
        with self._changed:
            self._queue.append(ticket)
            while self._queue[0] is not ticket or not self._fits(cost):
                self._changed.wait()
            self._queue.popleft()
            self._running_calls += 1
            self._running_chars += cost
            self._changed.notify_all()  # the next in line may fit too
        try:
            yield
        finally:
            with self._changed:
                self._running_calls -= 1
                self._running_chars -= cost
                self._changed.notify_all()
