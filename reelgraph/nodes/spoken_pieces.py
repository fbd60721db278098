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
import hashlib
import os
from collections.abc import Callable
from typing import Any

from reelgraph import MemoryCache, Result, SingleFlight

SPOKEN_PIECES_BYTES = 16 << 20
# "0": every piece is spoken by the model (to compare, or to rule the reuse out)
SPOKEN_PIECES_ENV = "REELGRAPH_SPOKEN_PIECES"


def piece_key(voice: Any, text: str, cfg: Any, threads: int) -> str | None:
    """What a piece's audio depends on (the voice, the text, every synthesis setting,
    the model call's threads), or None when it is not the same twice (noise)."""
    if getattr(cfg, "noise_scale", None) != 0.0 or getattr(cfg, "noise_w_scale", None) != 0.0:
        return None
    settings = tuple((f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg))
    material = repr((id(voice), text, settings, threads)).encode()
    return hashlib.blake2b(material, digest_size=16).hexdigest()


def _nbytes(chunks: list[Any]) -> int:
    total = 0
    for c in chunks:
        total += 256 + int(getattr(c.audio_float_array, "nbytes", 0))
        samples = getattr(c, "phoneme_id_samples", None)
        total += int(getattr(samples, "nbytes", 0))
        total += 64 * len(getattr(c, "phoneme_alignments", None) or ())
    return total


class SpokenPieces:
    """Pieces' model output (Piper's chunks) in a byte-bounded LRU (the engine's
    MemoryCache), thread-safe. A piece being spoken by one caller is waited for by the
    others that need it (rows side by side in a batch greet the same name at once),
    not spoken twice (the engine's SingleFlight).

    The chunks are shared by every caller: they must be read, never changed (tts
    scales and joins copies of the samples)."""

    def __init__(self, max_bytes: int = SPOKEN_PIECES_BYTES):
        # every piece is far below the memory tier's "large" size (1 MiB: ~12 s)
        self._memory = MemoryCache(max_bytes, max_large_bytes=max_bytes)
        self._flights = SingleFlight()
        self.misses = 0  # pieces the model spoke and that were kept

    @property
    def max_bytes(self) -> int:
        return self._memory.max_bytes

    @property
    def bytes(self) -> int:
        return self._memory.bytes

    def _kept(self, hit: Result | None, voice: Any) -> list[Any] | None:
        # the voice object itself, not only its id: a voice loaded anew is another one
        return hit.values[1] if hit is not None and hit.values[0] is voice else None

    def get_or_speak(
        self, key: str | None, voice: Any, speak: Callable[[], list[Any]]
    ) -> list[Any]:
        """The chunks for `key`: kept, being spoken by another caller (waited for), or
        spoken now by `speak()` and kept. A None key is spoken and not kept."""
        if key is None or os.environ.get(SPOKEN_PIECES_ENV, "1") == "0":
            return speak()
        chunks = self._kept(self._memory.get(key), voice)
        if chunks is not None:
            return chunks
        with self._flights.claim(key, self._memory.get, lambda: False) as other:
            chunks = self._kept(other, voice)
            if chunks is not None:
                return chunks
            chunks = speak()
            self._memory.put(key, Result((voice, chunks)), nbytes=_nbytes(chunks))
            self.misses += 1
            return chunks

    def clear(self) -> None:
        self._memory.clear()


SPOKEN = SpokenPieces()
