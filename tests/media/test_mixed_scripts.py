"""Text that mixes Latin with a CJK name (a batch row such as "Zoë 東京") is drawn
with a face that has both: the CJK characters are glyphs, not boxes."""

from __future__ import annotations

import pytest

from reelgraph.nodes.typography import font_script, load_font


def _draws(font, ch: str) -> bytes:
    return bytes(font.getmask(ch))


@pytest.mark.parametrize(
    "text,script",
    [("Zoë 東京", "han"), ("Hi Yuki さん", "kana"), ("Café 서울", "hangul"), ("Zoë", "latin")],
)
def test_a_latin_line_with_a_cjk_name_gets_a_face_for_both(text: str, script: str) -> None:
    assert font_script(text) == script
    font = load_font("bold", 40, text)
    glyphs = [_draws(font, ch) for ch in text if not ch.isspace()]
    # a face without a character draws the same .notdef box for each missing one
    assert len(set(glyphs)) == len(set(ch for ch in text if not ch.isspace()))


def test_captions_brand_cards_and_slides_pick_the_face_for_their_text() -> None:
    """They name their fonts by style (caption_font): the style's face for the text."""
    from reelgraph.nodes.captions import caption_font

    text = "Hi Zoë 東京!"
    font = caption_font("bold", 40, text=text)
    assert _draws(font, "東") != _draws(font, "京")
