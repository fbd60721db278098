"""Which voice-model calls may run at once: a count (one per core) and a text budget.

A call's memory grows with its text (~0.9 MB a character for the default voice, one
thread: the decoder's activations over the whole piece), so two long pieces side by
side cost twice one: measured on the long article's pieces, one call at a time peaked
~95 MB over the floor and two at once ~200 MB. Calls run side by side while their texts together fit in the budget;
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

# A full piece alone, or two shorter ones side by side (a call runs on two threads, so
# a lone one still has both cores): two 110-character pieces at once peaked ~200 MB
# over the floor (one alone ~96 MB), and on the long article, whose pieces mostly run
# 40-100 characters, pairs of them set the whole render's peak in its speech phase,
# when every spoken scene and card is held. Measured on the long article (two-thread
# calls): 160 characters at once peaked at 578 MB with 49 s of speech, 120 at 489 MB
# with 55 s; the explainer's narration took the same 3.9 s with either.
CHARS_AT_ONCE = PIECE_CHARS + 20


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
