"""What the voice model said for each piece of text, kept in the process and re-used.

A narration is spoken piece by piece (a sentence, or a clause of a long one), and each
piece's audio depends only on the voice, the piece's text, the synthesis settings and
the threads a model call runs on (speech_pieces.py, tts.voice_threads). So a piece
spoken before, in any scene, is the same audio again: a batch's rows repeat their
customers' names and cities ("Hi Ada!" in every Ada's greeting, "in Leeds." in
every Leeds one), and an edit of one word of a scene changes one of its sentences.
The scene's speech (the node's cached result) is made from the pieces as before,
bit for bit; only the model calls for pieces it has already said are skipped.

Only speech without generator noise is kept (with noise every call differs). The
pieces live in memory, least recently used first out, within a byte budget: the
float32 samples are ~88 KB a second at 22 kHz, so the default 16 MB holds about three
minutes of speech. A batch's frequent names and cities are used again and again and
so stay; a long narration, whose pieces rarely repeat, costs at most the budget.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

SPOKEN_PIECES_BYTES = 16 << 20
# "0": every piece is spoken by the model (to compare, or to rule the reuse out)
SPOKEN_PIECES_ENV = "REELGRAPH_SPOKEN_PIECES"


def piece_key(voice: Any, text: str, cfg: Any, threads: int) -> tuple[Any, ...] | None:
    """What a piece's audio depends on (the voice, the text, every synthesis setting,
    the model call's threads), or None when it is not the same twice (noise)."""
    if getattr(cfg, "noise_scale", None) != 0.0 or getattr(cfg, "noise_w_scale", None) != 0.0:
        return None
    settings = tuple((f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg))
    return (id(voice), text, settings, threads)


def _nbytes(chunks: list[Any]) -> int:
    total = 0
    for c in chunks:
        total += 256 + int(getattr(c.audio_float_array, "nbytes", 0))
        samples = getattr(c, "phoneme_id_samples", None)
        total += int(getattr(samples, "nbytes", 0))
        total += 64 * len(getattr(c, "phoneme_alignments", None) or ())
    return total


class SpokenPieces:
    """An LRU of pieces' model output (Piper's chunks), bounded in bytes, thread-safe.
    A piece being spoken by one caller is waited for by the others that need it
    (rows side by side in a batch greet the same name at once), not spoken twice.

    The chunks are shared by every caller: they must be read, never changed (tts
    scales and joins copies of the samples)."""

    def __init__(self, max_bytes: int = SPOKEN_PIECES_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[Any, ...], tuple[Any, list[Any], int]] = OrderedDict()
        self._making: dict[tuple[Any, ...], threading.Event] = {}
        self._lock = threading.Lock()

    def _hit(self, key: tuple[Any, ...], voice: Any) -> list[Any] | None:
        item = self._entries.get(key)
        # the voice object itself, not only its id: a voice loaded anew gets a new one
        if item is None or item[0] is not voice:
            return None
        self._entries.move_to_end(key)
        return item[1]

    def _put(self, key: tuple[Any, ...], voice: Any, chunks: list[Any]) -> None:
        size = _nbytes(chunks)
        if size > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[2]
        self._entries[key] = (voice, chunks, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, _, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped

    def get_or_speak(
        self, key: tuple[Any, ...] | None, voice: Any, speak: Callable[[], list[Any]]
    ) -> list[Any]:
        """The chunks for `key`: kept, being spoken by another caller (waited for), or
        spoken now by `speak()` and kept. A None key is spoken and not kept."""
        if key is None or os.environ.get(SPOKEN_PIECES_ENV, "1") == "0":
            return speak()
        with self._lock:
            hit = self._hit(key, voice)
            if hit is not None:
                self.hits += 1
                return hit
            making = self._making.get(key)
            mine = making is None
            if mine:
                making = self._making[key] = threading.Event()
        assert making is not None
        if not mine:
            making.wait()
            with self._lock:
                hit = self._hit(key, voice)
                if hit is not None:
                    self.hits += 1
                    return hit
            return speak()  # the other caller failed, or its piece is already gone
        try:
            chunks = speak()
            with self._lock:
                self.misses += 1
                self._put(key, voice, chunks)
            return chunks
        finally:
            with self._lock:
                self._making.pop(key, None)
            making.set()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


SPOKEN = SpokenPieces()
