"""Every script renders: the font picked for a text has a real glyph for each of its
characters (never the missing-glyph box), Arabic and Devanagari are shaped, Arabic
runs right to left, and Chinese lines break between characters."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from reelgraph.nodes.typography import font_file, has_raqm, load_font, wrap_text

SAMPLES = {
    "en": ("Gardens Change Cities", "Neighbours grow food together on empty lots."),
    "es": ("Los jardines cambian la ciudad", "Los vecinos cultivan alimentos en solares vacíos."),
    "de": ("Gärten verändern Städte", "Nachbarn bauen gemeinsam Gemüse auf leeren Flächen an."),
    "ar": ("الحدائق تغير المدن", "يزرع الجيران الطعام معا في الأراضي الفارغة."),
    "hi": ("बगीचे शहरों को बदलते हैं", "पड़ोसी खाली ज़मीन पर मिलकर सब्ज़ियाँ उगाते हैं।"),
    "zh": ("社区花园改变城市", "邻居们在空地上一起种植蔬菜，分享收获，彼此认识。"),
}
NOT_A_CHARACTER = "\U0010fffe"  # no font maps it: it draws the font's .notdef glyph


def _mask(font, text: str) -> tuple[tuple[int, int], bytes]:
    m = font.getmask(text)
    return m.size, bytes(m)


def missing_glyphs(font, text: str) -> list[str]:
    """Characters that draw as the font's missing-glyph box."""
    notdef = _mask(font, NOT_A_CHARACTER)
    return [
        ch
        for ch in dict.fromkeys(text)
        if not ch.isspace()
        and unicodedata.category(ch)[0] != "M"  # marks draw on a base, not alone
        and _mask(font, ch) == notdef
    ]


def test_the_check_catches_boxes():
    from PIL import ImageFont

    roboto = ImageFont.truetype(str(font_file("bold")), 40)
    assert missing_glyphs(roboto, "社区花园") == list("社区花园")
    assert missing_glyphs(roboto, "الحدائق")  # Roboto has no Arabic
    assert missing_glyphs(roboto, "Gardens") == []


@pytest.mark.parametrize("lang", list(SAMPLES))
def test_title_card_and_subtitle_fonts_cover_each_language(lang):
    from reelgraph.media import TensorVideo, WordTiming
    from reelgraph.nodes.script.sentences import spoken_words
    from reelgraph.nodes.slides import render_card
    from reelgraph.nodes.subtitles import build_cues, burn_in

    title, body = SAMPLES[lang]
    for style in ("bold", "regular", "medium"):
        assert missing_glyphs(load_font(style, 40, title + body), title + body) == [], style
    card = render_card(
        title, body, width=640, height=360, background="solid", color1="#000000",
        color2="#000000", accent="#000000", text_color="#ffffff", decorate=False,
    )  # fmt: skip
    bright = card.max(axis=2) > 200
    # text drawn where a start-aligned card puts it: the left, or the right for Arabic
    start = slice(640 // 2, None) if lang == "ar" else slice(None, 640 // 2)
    assert bright[:, start].sum() > 400
    import torch

    words = [WordTiming(w, i * 0.3, i * 0.3 + 0.25) for i, w in enumerate(spoken_words(body, lang))]
    cues = build_cues(words, limit=60)
    frames = torch.zeros((1, 360, 640, 3), dtype=torch.uint8)
    out = next(iter(burn_in(TensorVideo(frames, 1.0), cues[:1]).chunks(1)))[0].numpy()
    assert (out[240:, :, :].max(axis=2) > 200).sum() > 200  # the cue is on the lower third
    assert missing_glyphs(load_font("medium", 18, cues[0].text), cues[0].text) == []


def _draw(text: str, font, **kw) -> np.ndarray:
    from PIL import Image, ImageDraw

    img = Image.new("L", (900, 120))
    ImageDraw.Draw(img).text((10, 10), text, font=font, fill=255, **kw)
    return np.asarray(img)


@pytest.mark.skipif(not has_raqm(), reason="Pillow without libraqm")
def test_arabic_is_shaped_and_right_to_left():
    from PIL import ImageFont

    text = SAMPLES["ar"][0]
    font = load_font("bold", 48, text)
    assert font.layout_engine == ImageFont.Layout.RAQM
    auto = _draw(text, font)
    assert np.array_equal(auto, _draw(text, font, direction="rtl"))  # detected, not forced
    # the first word read is drawn at the right-hand end of the line
    first = _draw(text.split()[0], font)
    cols = np.flatnonzero(first.max(axis=0) > 0)
    word = first[:, cols[0] : cols[-1] + 1] > 127
    ink = np.flatnonzero(auto.max(axis=0) > 0)
    w = word.shape[1]
    right = auto[:, ink[-1] - w + 1 : ink[-1] + 1] > 127
    left = auto[:, ink[0] : ink[0] + w] > 127

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        return (a & b).sum() / max(1, (a | b).sum())

    assert iou(right, word) > 0.6 and iou(right, word) > 2 * iou(left, word)
    basic = ImageFont.truetype(font.path, 48, layout_engine=ImageFont.Layout.BASIC)
    # letters joined into their connected forms: unshaped text looks different
    assert not np.array_equal(auto, _draw(text, basic))


@pytest.mark.skipif(not has_raqm(), reason="Pillow without libraqm")
def test_devanagari_is_shaped():
    from PIL import ImageFont

    text = "सब्ज़ियाँ"  # conjunct + nukta + candrabindu: wrong without shaping
    font = load_font("regular", 48, text)
    basic = ImageFont.truetype(font.path, 48, layout_engine=ImageFont.Layout.BASIC)
    assert not np.array_equal(_draw(text, font), _draw(text, basic))


def test_chinese_wraps_between_characters_never_before_closing_marks():
    text = SAMPLES["zh"][1] * 2
    font = load_font("regular", 24, text)
    lines = wrap_text(text, font, 200)
    assert len(lines) > 3 and "".join(lines) == text
    assert all(ln[0] not in "，。、" for ln in lines)
    assert all(font.getlength(ln) <= 200 for ln in lines)


def test_subtitle_lines_follow_the_script():
    from reelgraph.nodes.subtitles import display_len, join_words, wrap_cue

    zh = "邻居们在空地上一起种植蔬菜，分享收获，彼此认识。"
    two = wrap_cue(zh, 42).split("\n")
    assert len(two) == 2 and "".join(two) == zh and all(display_len(x) <= 42 for x in two)
    assert join_words(["我", "们", "AI", "很", "好。"]) == "我们AI很好。"
    assert join_words(["Hola", "a", "todos."]) == "Hola a todos."


def test_right_to_left_cards_start_at_the_right_edge():
    import numpy as np

    from reelgraph.nodes.slides import render_card

    def text_columns(title: str, body: str) -> tuple[int, int]:
        a = render_card(
            title, body, width=640, height=360, background="solid", color1="#102030",
            color2="#102030", accent="#ffb300", text_color="#ffffff", decorate=False,
        )  # fmt: skip
        cols = np.where((a.min(axis=2) > 230).any(axis=0))[0]
        return int(cols.min()), int(cols.max())

    ar_left, ar_right = text_columns("مرحبا بكم في المدينة", "الحدائق تغير مدننا ببطء")
    en_left, en_right = text_columns("Welcome to the city", "Gardens change our cities")
    margin = int(640 * 0.08)
    assert en_left <= margin + 4 and en_right < 400  # left-to-right starts at the left
    assert ar_right >= 640 - margin - 4 and ar_left > 240  # Arabic starts at the right
