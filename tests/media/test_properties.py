"""Property tests: cue layout rules and scene bounds hold for any input."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from reelgraph.engine.media import WordTiming
from reelgraph.nodes.subtitles import build_cues
from reelgraph.nodes.text import parse_scenes

word = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1, max_size=12
)
punct = st.sampled_from(["", "", "", ",", ".", "!", "?"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(word, punct, st.floats(0.05, 0.6), st.floats(0.0, 0.5)), min_size=1, max_size=60
    )
)
def test_cues_keep_layout_rules(items):
    t, words = 0.0, []
    for w, p, dur, gap in items:
        words.append(WordTiming(w + p, t, t + dur))
        t += dur + gap
    limit = t + 0.5
    cues = build_cues(words, limit=limit)
    assert " ".join(c.text.replace("\n", " ") for c in cues) == " ".join(w.word for w in words)
    for c in cues:
        lines = c.text.split("\n")
        assert len(lines) <= 2 and all(len(ln) <= 42 for ln in lines)
        assert c.end > c.start
    for a, b in itertools.pairwise(cues):
        assert a.end <= b.start
    assert cues[-1].end <= max(limit, words[-1].end) + 1e-6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(word, punct), min_size=1, max_size=200), st.integers(1, 40))
def test_scenes_respect_max_words_and_keep_every_word(items, max_words):
    text = " ".join(w + p for w, p in items)
    scenes = parse_scenes(text, "paragraphs", max_words)
    assert all(len(s.narration.split()) <= max_words for s in scenes)
    assert " ".join(s.narration for s in scenes).split() == text.split()
