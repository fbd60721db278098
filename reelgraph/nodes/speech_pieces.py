"""Long sentences cut at clause boundaries into the pieces a voice model speaks.

A Piper call's memory grows with the audio it makes (~0.9 MB a character of text,
~5 MB a word, on one thread): a 130-character sentence of bench/data/long_article.md
took ~125 MB, and two such calls side by side put the long render's peak in its
speech phase. Speaking a long sentence clause by clause bounds every call. The cut
is where the voice pauses anyway (after , ; : and dashes), the piece keeps its
punctuation, so the model still speaks the pause and the rising tone of a clause;
the pieces' audio is joined as it comes (each starts and ends in silence).
"""

from __future__ import annotations

import math
import re

# A sentence longer than this is spoken clause by clause (~90 MB a call at most for
# a piece this long). Not lower: a sentence spoken in pieces loses some of its one
# intonation, and sentences of up to ~18 words (every one of the shipped explainer's)
# are spoken whole. At 60 the long article's speech peak was ~30 MB lower, but 4 of
# the explainer's 10 sentences were cut at their commas.
PIECE_CHARS = 100
# A clause longer than this with no clause mark is cut between words (there the cut
# adds a short pause the voice would not make, so only past this length).
HARD_PIECE_CHARS = 150

# After a clause mark and the space that follows it; CJK marks need no space.
_CLAUSE_CUT = re.compile(r"(?<=[,;:—–،؛])\s+|(?<=[，；：、])\s*")


def _clause_spans(sentence: str) -> list[tuple[int, int]]:
    """(start, end) of each clause: the sentence cut after each clause mark, the
    whitespace after the mark left between clauses."""
    out, start = [], 0
    for m in _CLAUSE_CUT.finditer(sentence):
        if m.start() > start and m.end() < len(sentence):
            out.append((start, m.start()))
            start = m.end()
    out.append((start, len(sentence)))
    return out


def _word_cuts(sentence: str, span: tuple[int, int], limit: int) -> list[tuple[int, int]]:
    """A clause with no clause mark cut at spaces into parts of about equal length,
    none over `limit` where its words allow."""
    a, b = span
    parts = math.ceil((b - a) / limit)
    spaces = [a + m.start() for m in re.finditer(r" ", sentence[a:b])]
    out, start = [], a
    for k in range(1, parts):
        goal = a + (b - a) * k // parts
        cut = min((s for s in spaces if s > start), key=lambda s: abs(s - goal), default=None)
        if cut is None:
            break
        out.append((start, cut))
        start = cut + 1
    out.append((start, b))
    return out


def synthesis_pieces(
    sentence: str, limit: int = PIECE_CHARS, hard_limit: int = HARD_PIECE_CHARS
) -> list[str]:
    """The pieces a voice model speaks for one sentence, in order: the sentence itself
    when it is at most `limit` characters, else its clauses, neighbours merged while
    they fit in `limit`; a clause over `hard_limit` is cut between words. The pieces
    are slices of the sentence; only the whitespace at the cuts is left out."""
    if len(sentence) <= limit:
        return [sentence]
    spans: list[tuple[int, int]] = []
    for span in _clause_spans(sentence):
        spans += _word_cuts(sentence, span, limit) if span[1] - span[0] > hard_limit else [span]
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and b - merged[-1][0] <= limit:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return [sentence[a:b] for a, b in merged]
