"""The voice model's working memory: kept between short calls, given back when it rests.

A Piper call's working memory grows with its text (~0.5 MB a phoneme id, ~1 MB a
character, see speech_pieces.py). onnxruntime's CPU arena keeps the most it has held
for the life of the process: eight scenes of bench/data/long_article.md left 250 MB
in it through the whole encode that follows. Shrinking the arena at the end of every
call gives that back, but then every call maps its buffers anew and the kernel
zero-fills each page on first touch: on a 2-core AMD EPYC that was 14-16% of the
voice's CPU time for short sentences (one or two threads a call) and ~5% of a 20-row
batch's.

So a call of up to `KEEP_IDS` phoneme ids (a sentence of up to ~70 characters: a
batch row's greeting, a short line) runs without shrinkage, and once the voice has had
no call for `RELEASE_AFTER_S`, one tiny call with shrinkage gives the arena back (a
few phonemes: a few ms). A longer call shrinks the arena when it ends, as every call
did before, and first gives back what short calls kept; while it runs, nothing is
kept. Kept for every call, the arena held the largest pair of long sentences through
each render's speech and into its encode (the long article peaked at 627 MB instead
of 450, the explainer at 481 instead of 366); kept for short calls only, the long
article's long sentences stacked on the buffers of the short ones (519 MB); as it is
now, 465 and 371. The samples do not depend on any of this: only where the buffers
come from changes.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from typing import Any

# No call for this long: the voice rests and its arena is given back. Longer than the
# gaps between the calls of a batch's two rows side by side, short beside an encode
# that follows a render's speech.
RELEASE_AFTER_S = 0.25
# Calls of up to this many phoneme ids keep their buffers (~75 MB a call at most).
KEEP_IDS = 150
# The release call speaks this many phoneme ids of the first call's input.
_TINY_IDS = 8
_SHRINK = "memory.enable_memory_arena_shrinkage"

_OPEN: weakref.WeakSet[ReleasingSession] = weakref.WeakSet()


def tiny_feeds(feeds: dict[str, Any]) -> dict[str, Any] | None:
    """A Piper call's inputs cut to its first few phoneme ids (the rest as they are),
    or None for a model whose inputs are not Piper's (its calls then shrink each)."""
    import numpy as np

    ids, lengths = feeds.get("input"), feeds.get("input_lengths")
    if not (isinstance(ids, np.ndarray) and ids.ndim == 2 and isinstance(lengths, np.ndarray)):
        return None
    k = min(_TINY_IDS, ids.shape[1])
    return {
        **feeds,
        "input": np.ascontiguousarray(ids[:1, :k]),
        "input_lengths": np.array([k], dtype=lengths.dtype),
    }


def _ids(feeds: dict[str, Any]) -> int:
    ids = feeds.get("input")
    return int(ids.size) if ids is not None else 1 << 30


class ReleasingSession:
    """An onnxruntime session that keeps its CPU arena between short calls and gives it
    back once no call has run for `release_after_s` (module docstring). While a long
    call runs, nothing is kept: it first hands back what short calls kept, and every
    call that ends beside it shrinks the arena, so a long call's memory never stacks
    on kept buffers. Thread-safe, as the session is; a run with options of its own is
    passed through as it is. `releases` counts the arena's hand-backs."""

    def __init__(self, session: Any, release_after_s: float = RELEASE_AFTER_S):
        import onnxruntime

        self._session = session
        self._release_after_s = release_after_s
        self._keep = onnxruntime.RunOptions()
        self._shrink = onnxruntime.RunOptions()
        self._shrink.add_run_config_entry(_SHRINK, "cpu:0")
        self._lock = threading.Lock()
        self._rested = threading.Condition(self._lock)  # a release on the timer ended
        self._resting = False  # a release on the timer is in progress
        self._running = 0  # calls in progress, a release on the timer included
        self._long = 0  # calls in progress over KEEP_IDS
        self._held = False  # calls since the last release left buffers in the arena
        self._last_end = 0.0
        self._tiny: dict[str, Any] | None = None
        self._fits = True  # whether the calls' inputs are Piper's (tiny_feeds)
        self._timer: threading.Timer | None = None
        self._closed = False
        self.releases = 0
        _OPEN.add(self)

    def run(self, output_names: Any, feeds: Any, run_options: Any = None) -> Any:
        if run_options is not None:
            return self._session.run(output_names, feeds, run_options)
        long = _ids(feeds) > KEEP_IDS
        with self._lock:
            if self._fits and self._tiny is None:
                self._tiny = tiny_feeds(feeds)
                self._fits = self._tiny is not None
            keep = self._fits and not self._closed and not long and not self._long
            self._running += 1
            self._long += long
            flush, self._held = self._held and long, self._held and not long
        try:
            if flush:  # what short calls kept goes back before a long call takes its own
                self._release()
            return self._session.run(output_names, feeds, self._keep if keep else self._shrink)
        finally:
            with self._lock:
                self._running -= 1
                self._long -= long
                self._held = self._held or keep
                flush = self._held and self._long > 0
                if flush:
                    self._held = False
                elif self._running == 0:
                    self._last_end = time.monotonic()
                    self._arm(self._release_after_s)
            if flush:  # a long call is running: nothing stays kept beside it
                self._release()

    def _release(self) -> None:
        """One tiny call that shrinks the arena: every free buffer goes back."""
        try:
            self._session.run(None, self._tiny, self._shrink)
        except Exception:
            return  # the next release tries again; the samples never depend on it
        with self._lock:
            self.releases += 1

    def _arm(self, delay: float) -> None:
        """A timer for the release, unless one is waiting (under the lock)."""
        if self._closed or not self._held or self._timer is not None:
            return
        timer = threading.Timer(delay, self._rest)
        timer.name, timer.daemon = "reelgraph-voice-arena", True
        self._timer = timer
        timer.start()

    def _rest(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed or not self._held or self._running:
                return  # a call in progress arms a timer again when it ends
            wait = self._last_end + self._release_after_s - time.monotonic()
            if wait > 0.001:
                self._arm(wait)
                return
            self._held = False
            self._running += 1
            self._resting = True
        try:
            self._release()
        finally:
            with self._lock:
                self._running -= 1
                self._resting = False
                self._rested.notify_all()
                if self._running == 0:
                    self._arm(self._release_after_s)

    def close(self) -> None:
        """No more timers; waits for a release in progress (the interpreter must not
        stop while onnxruntime runs on a timer's thread). Later calls shrink each."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
            if timer is not None:
                timer.cancel()
            # the timer that fired is no longer in _timer: wait for its release itself
            self._rested.wait_for(lambda: not self._resting, timeout=5.0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


@atexit.register
def _close_all() -> None:
    for session in list(_OPEN):
        session.close()
