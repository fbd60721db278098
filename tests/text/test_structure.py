"""Structure and scenes: any text becomes clean scenes, headings never read aloud."""

from __future__ import annotations

import re

import pytest

from reelgraph.nodes.script.assemble import EmptyScript, analyse
from reelgraph.nodes.script.structure import NotText

SECTION_HEADINGS = [
    "Where It Started",
    "Why Cities Need Green Space",
    "Growing Food Together",
    "Building Community Trust",
    "Problems Along the Way",
    "Lessons From Other Places",
    "The Role of Local Government",
    "What Comes Next",
]


def test_article_with_plain_line_headings_is_one_scene_per_section(article):
    assert len(article.split()) >= 1500
    a = analyse(article)
    assert [s.title for s in a.scenes] == SECTION_HEADINGS
    for s in a.scenes:
        assert not any(h in s.narration for h in SECTION_HEADINGS), s.title  # never read aloud
        assert s.narration[0].isupper() and s.narration.endswith(".")
        assert "…" not in s.title
        assert s.visual and s.visual != s.narration and len(s.keywords) >= 3
        assert s.language == "en" and s.tone in ("upbeat", "warm", "neutral", "serious", "somber")
        assert 40 < s.seconds <= 90
    assert a.headings[0] == "How Neighbourhood Gardens Are Changing Our Cities"  # the title
    # every word of the body is narrated, in order
    body = [ln for ln in article.splitlines() if len(ln.split()) > 12]
    assert " ".join(s.narration for s in a.scenes).split() == " ".join(body).split()


def test_heading_pasted_on_the_line_above_its_paragraph():
    text = (
        "Entertainment Industry\n"
        "In film, television and games, small studios now compete with big ones. "
        "Cheap tools changed who can make a story.\n\n"
        "Education\n"
        "Teachers use short videos to explain hard ideas, and students make their own.\n"
    )
    scenes = analyse(text).scenes
    assert [s.title for s in scenes] == ["Entertainment Industry", "Education"]
    assert scenes[0].narration.startswith("In film")


def test_markdown_visual_lines_and_tiny_pieces_merge():
    text = "# Intro\nVisual: a logo\nHello there. This is the first scene.\n\n# Word\nOk\n\n# Last\nThe end of it all, really.\n"
    scenes = analyse(text).scenes
    assert [s.title for s in scenes] == ["Intro", "Last"]
    assert scenes[0].visual == "a logo"
    assert scenes[0].narration == "Hello there. This is the first scene. Ok."
    # the case: a title line followed by a one-word line
    scenes = analyse("# Title\nWord\n\n# Next\nMore text here, and more of it.").scenes
    assert len(scenes) == 1 and scenes[0].narration.split()[0] == "Word."


def test_bullets_become_sentences():
    text = "Launch checklist\n- check the fuel lines\n- brief the crew on weather\n- open the hangar doors\n"
    (s,) = analyse(text).scenes
    assert s.title == "Launch checklist"
    assert s.narration == "check the fuel lines. brief the crew on weather. open the hangar doors."


def test_one_sentence_and_one_word():
    (s,) = analyse("The city planted four hundred trees along the river this spring.").scenes
    assert s.title and s.title != s.narration and len(s.title.split()) <= 7
    (w,) = analyse("Hello").scenes
    assert (w.title, w.narration, w.language) == ("Hello", "Hello", "en")


def test_subtitles_in_srt_and_vtt():
    srt = "1\n00:00:01,000 --> 00:00:02,500\nWelcome to the <i>garden</i>.\n\n2\n00:00:03,000 --> 00:00:05,000\nToday we plant beans.\n"
    (s,) = analyse(srt).scenes
    assert s.narration == "Welcome to the garden. Today we plant beans."
    vtt = "WEBVTT\n\n00:01.000 --> 00:02.500\nWelcome to the garden.\n\n00:03.000 --> 00:05.000\nToday we plant beans.\n"
    assert analyse(vtt).scenes[0].narration == s.narration


def test_long_section_splits_into_even_parts_at_sentence_ends(article):
    a = analyse(article, seconds=30)
    assert len(a.scenes) > 16
    for s in a.scenes:
        assert s.seconds <= 30 * 1.05 + 2 and re.search(r"[.!?]$", s.narration)
    assert a.scenes[0].title == "Where It Started" and a.scenes[1].title != "Where It Started"


def test_bad_input():
    with pytest.raises(EmptyScript):
        analyse("  \n\n ")
    with pytest.raises(EmptyScript):
        analyse("# Only a heading\n")
    junk = bytes(range(256)).decode("latin-1") * 20
    with pytest.raises(NotText, match="binary"):
        analyse(junk)
    # a little junk inside real text is dropped, not fatal
    (s,) = analyse("A clean\x00 sentence with a stray byte\x07 in it.").scenes
    assert "\x00" not in s.narration


def test_one_megabyte_of_text_is_split_sensibly():
    para = (
        "Engineers in Lisbon tested the new tram line on Tuesday. "
        "The ride was quiet, and the passengers were pleased. "
    )
    text = "\n\n".join(para * 6 for _ in range(1_000_000 // (len(para) * 6) + 1))
    assert len(text) >= 1_000_000
    a = analyse(text)
    assert len(a.scenes) > 100
    assert all(s.narration and s.seconds <= 90 * 1.05 + 2 for s in a.scenes)


def test_mixed_languages_get_a_language_per_section():
    text = (
        "The garden\nNeighbours met on an empty lot and cleared away the broken glass together.\n\n"
        "El jardín\nLos vecinos se reunieron en un solar vacío y limpiaron juntos los cristales rotos.\n\n"
        "Der Garten\nDie Nachbarn trafen sich auf einem leeren Grundstück und räumten gemeinsam die Scherben weg.\n"
    )
    assert [s.language for s in analyse(text).scenes] == ["en", "es", "de"]


@pytest.mark.parametrize(
    ("text", "lang", "n"),
    [
        ("今天我们讨论城市花园。花园改变了社区！邻居们一起种菜。", "zh", 3),
        ("الحدائق تغير المدن. يزرع الجيران الطعام معا في الأراضي الفارغة؟ نعم", "ar", 3),
        ("बगीचे शहरों को बदलते हैं। पड़ोसी मिलकर सब्ज़ियाँ उगाते हैं।", "hi", 2),
    ],
)
def test_sentences_follow_the_language(text, lang, n):
    from reelgraph.nodes.script.sentences import split_sentences

    (s,) = analyse(text).scenes
    assert s.language == lang
    assert len(split_sentences(s.narration, lang)) == n


def test_tone_sets_delivery():
    sad = analyse(
        "The flood destroyed the village. Families lost their homes, and many people died. "
        "It was a terrible, tragic week."
    ).scenes[0]
    happy = analyse(
        "The festival was a wonderful success! Everyone loved the music and the food. "
        "It was a great, happy day for the whole town."
    ).scenes[0]
    assert sad.tone in ("somber", "serious") and happy.tone in ("upbeat", "warm")
    assert sad.rate < 1.0 < happy.rate
    assert sad.pause > happy.pause
    assert sad.mood != happy.mood


def test_scene_records_keep_their_analysis_through_the_disk_cache():
    import reelgraph.engine.media  # noqa: F401  (registers the media codecs)
    from reelgraph.engine.serialize import packb, unpackb
    from reelgraph.media import Scene

    (s,) = analyse("The festival was a wonderful success! Everyone loved the music.").scenes
    back = unpackb(packb([s]))[0]
    assert type(back) is Scene and back == s and back.keywords == s.keywords
    assert (back.tone, back.rate, back.mood, back.language) == (s.tone, s.rate, s.mood, "en")
    old = Scene(0, "t", "n", "v")  # a record without analysis (older cache entries)
    assert unpackb(packb(old)) == old and old.rate == 1.0 and old.tone == "neutral"


SHORT_SENTENCES = [
    ("Welcome to our channel! Today we look at three tips.", "en"),
    ("Willkommen auf unserem Kanal! Heute zeigen wir drei Tipps.", "de"),
    ("Commandez aujourd'hui et profitez de la livraison gratuite.", "fr"),
    ("Pide hoy y recibe el envío gratis.", "es"),
    ("Obrigado por assistir, até a próxima semana.", "pt"),
    ("Zamów dzisiaj i otrzymaj darmową wysyłkę.", "pl"),
    ("Закажите сегодня и получите бесплатную доставку.", "ru"),
]


def test_a_short_sentence_is_told_without_the_accurate_models(monkeypatch):
    """A sentence too short for lingua's trigram-only rule (what a Speak node with the
    `auto` voice is given) is placed by the trigram models when they are sure, without
    the accurate detector's 1- to 5-gram models (~2 s and ~260 MB per process); an
    unsure one still gets the accurate answer."""
    from reelgraph.nodes.script import languages

    monkeypatch.setattr(languages, "_DETECTORS", {})
    assert [languages.detect_language(t) for t, _ in SHORT_SENTENCES] == [
        lang for _, lang in SHORT_SENTENCES
    ]
    assert False not in languages._DETECTORS  # the accurate detector was never built
    # Sure or not, the answer is the accurate detector's on these sentences.
    accurate = languages._detector(False)
    for text, lang in SHORT_SENTENCES:
        found = accurate.detect_language_of(languages._letters_sample(text))
        assert languages._BY_LINGUA[found.name] == lang
