from __future__ import annotations

import pytest

from reelgraph.engine import NodeInputError
from reelgraph.nodes.text import format_text, join, parse_scenes, split_scenes, template

SCRIPT = """# Intro
Visual: a logo on a dark background
Hello there. This is the first scene.

# Second
It has one sentence only.
"""


def test_split_by_headings_with_visual_prompt():
    scenes, count, narration, language, rate, pause, mood = split_scenes(SCRIPT)
    assert narration == [s.narration for s in scenes] and language == ["en", "en"]
    assert len(rate) == len(pause) == len(mood) == 2
    assert count == 2
    assert [s.title for s in scenes] == ["Intro", "Second"]
    assert scenes[0].narration == "Hello there. This is the first scene."
    assert scenes[0].visual == "a logo on a dark background"
    assert scenes[1].visual == "It has one sentence only."  # too little to describe: as said
    assert [s.index for s in scenes] == [0, 1]
    assert all(s.language == "en" and s.keywords for s in scenes)


def test_split_by_paragraphs_and_sentences():
    text = "First paragraph here. Still first.\n\nSecond paragraph!"
    paras = parse_scenes(text, "paragraphs")
    assert [s.narration for s in paras] == [
        "First paragraph here. Still first.",
        "Second paragraph!",
    ]
    # its key phrase, never "first six words…"
    assert paras[0].title.lower() in paras[0].narration.lower() and "…" not in paras[0].title
    assert paras[1].title == "Second paragraph"  # a short narration is its own title
    sents = parse_scenes(text, "sentences")
    assert [s.narration for s in sents] == [
        "First paragraph here.",
        "Still first.",
        "Second paragraph!",
    ]
    # no headings: paragraphs are packed into scenes up to the target length
    (auto,) = parse_scenes(text, "auto")
    assert auto.narration == " ".join(s.narration for s in paras)


def test_max_words_splits_at_sentence_ends():
    text = "# Long\n" + " ".join(f"Sentence number {i} is here." for i in range(10))
    scenes = parse_scenes(text, "headings", max_words=12)
    assert len(scenes) > 1
    assert all(len(s.narration.split()) <= 12 for s in scenes)
    assert all(s.narration.endswith(".") for s in scenes)
    assert scenes[0].title == "Long" and scenes[1].title not in ("Long", "")
    assert " ".join(s.narration for s in scenes) == text.split("\n", 1)[1]


def test_one_huge_sentence_is_still_bounded():
    scenes = parse_scenes(" ".join(["word"] * 50), "paragraphs", max_words=20)
    assert [len(s.narration.split()) for s in scenes] == [20, 20, 10]


def test_empty_script_errors_name_the_input():
    with pytest.raises(NodeInputError) as err:
        split_scenes("   \n")
    assert err.value.input == "text"
    with pytest.raises(NodeInputError):
        split_scenes("# Only a heading\n")


def test_template():
    assert template("Hi {name}, {{literal}}", "name=Ada") == "Hi Ada, {literal}"
    assert template("{a}-{b}", '{"a": 1, "b": "x"}') == "1-x"
    with pytest.raises(NodeInputError) as err:
        template("Hi {name} {city}", "name=Ada")
    assert err.value.input == "values" and "{city}" in str(err.value)
    assert template("Hi {name}", "", strict=False) == "Hi {name}"


def test_join_and_format():
    assert join(["a", "b"], "\\n") == "a\nb"
    assert format_text("{a} — {b}", a="x", b="y") == "x — y"
    with pytest.raises(NodeInputError):
        format_text("{zzz}")


def test_sentence_split_keeps_quotes_and_abbreviations():
    from reelgraph.nodes.text import split_sentences

    assert split_sentences('He said "Stop." Then left, e.g. at once. (Yes.) Ok') == [
        'He said "Stop."',
        "Then left, e.g. at once.",
        "(Yes.)",
        "Ok",
    ]
