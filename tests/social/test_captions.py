"""Social captions: balanced lines, pages from real Piper word timings, the spoken word
highlighted, burned-in timing equal to the SRT and the soft track, and nothing in the
platform UI of a vertical frame."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from reelgraph import NodeInputError
from reelgraph.nodes.captions import balanced_lines, build_pages, page_lines, pages_to_cues

from ..media.helpers import link, workflow

W, H, FPS = 360, 640, 24.0
GREY = 90
YELLOW = "#ffd400"


def test_balanced_lines_balance_instead_of_filling_greedily():
    words = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]
    assert balanced_lines(words, 30, 2) == [4, 5]  # greedy would give 6 + 3 words
    assert balanced_lines(words, 60, 2) == [9]  # one line when it fits
    assert balanced_lines(["incomprehensibilities"], 10, 2) is None
    assert balanced_lines(["a", "b", "c", "d", "e", "f"], 3, 3) == [2, 2, 2]


def test_word_pages_hold_one_to_three_words_and_stop_at_sentence_ends():
    text = "One two three four. Five six, seven eight nine ten eleven!"
    words = [(w, i * 0.3, i * 0.3 + 0.25) for i, w in enumerate(text.split())]
    for n in (1, 2, 3):
        pages = build_pages(words, mode="words", words_per_caption=n, max_chars=20)
        assert all(1 <= len(p["words"]) <= n for p in pages)
        assert [w[0] for p in pages for w in p["words"]] == text.split()
        for p in pages:  # a sentence end is always the last word of its page
            assert not any(w[0].endswith(".") for w in p["words"][:-1])
        for a, b in itertools.pairwise(pages):
            assert a["end"] <= b["start"]  # never two captions at once
    lines = build_pages(words, mode="lines", max_chars=14, max_lines=2)
    for p in lines:
        assert all(len(" ".join(ln)) <= 14 for ln in page_lines(p)) and len(p["lines"]) <= 2
    cues = pages_to_cues(lines)
    assert [(c.start, c.end) for c in cues] == [(p["start"], p["end"]) for p in lines]


def _render(engine, tmp_path, speech_words=None, **burn):
    """Burn captions of real speech over a flat grey vertical clip; encode with a soft
    track; save the SRT. Returns (outputs, frames [N,H,W,3])."""
    import av

    wf = workflow(
        {
            "fmt": ("format.Preset", {"preset": "custom", "width": W, "height": H, "fps": FPS}),
            "speak": (
                "tts.Speak",
                {
                    "text": "Short videos need captions. People watch them without sound, so every single word counts!"
                },
            ),
            "bg": ("image.Solid", {"width": W, "height": H, "color": "#5a5a5a"}),
            "clip": (
                "video.ImageToClip",
                {
                    "image": link("bg", "image"),
                    "audio": link("speak", "audio"),
                    "fps": link("fmt", "fps"),
                    "zoom_end": 1.0,
                    "pan_x": 0.0,
                },
            ),
            "caps": (
                "captions.FromSpeech",
                {
                    "timings": link("speak", "timings"),
                    "clips": link("clip", "video"),
                    "words_per_caption": 3,
                    "max_chars": 14,
                },
            ),
            "burn": (
                "captions.Burn",
                {
                    "video": link("clip", "video"),
                    "captions": link("caps", "captions"),
                    "safe_area": link("fmt", "safe_area"),
                    "highlight_color": YELLOW,
                    "size": 0.06,
                    **burn,
                },
            ),
            "enc": (
                "video.Encode",
                {
                    "video": link("burn", "video"),
                    "subtitles": link("caps", "subtitles"),
                    "filename": "caps",
                    "crf": 12,
                },
            ),
            "srt": ("subtitles.Save", {"subtitles": link("caps", "subtitles"), "filename": "caps"}),
            "vtt": (
                "subtitles.Save",
                {"subtitles": link("caps", "subtitles"), "filename": "caps", "format": "vtt"},
            ),
        }
    )
    res = engine.run(wf, out_dir=tmp_path, targets=["enc", "srt", "vtt", "caps", "fmt", "burn"])
    assert res.status == "finished", res.failed
    with av.open(res.outputs["enc"]["path"]) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])
    return res.outputs, frames


@pytest.fixture(scope="module")
def burned(engine, tmp_path_factory):
    return _render(engine, tmp_path_factory.mktemp("captions"))


def _ink(frames):
    """Where a frame differs clearly from the flat grey background."""
    return np.abs(frames.astype(np.int16) - GREY).max(axis=3) > 40


def test_burned_caption_frames_are_exactly_the_srt_cue_frames(burned):
    from reelgraph.nodes.subtitles import parse_srt

    out, frames = burned
    cues = parse_srt(Path(out["srt"]["path"]).read_text())
    pages = out["caps"]["captions"]
    assert [(round(c.start, 3), round(c.end, 3)) for c in cues] == [
        (p["start"], p["end"]) for p in pages
    ]
    vtt = parse_srt(Path(out["vtt"]["path"]).read_text())
    assert [(c.start, c.end, c.text) for c in vtt] == [(c.start, c.end, c.text) for c in cues]
    shown = _ink(frames).any(axis=(1, 2))
    expected = np.zeros(len(frames), bool)
    for c in cues:
        expected[round(c.start * FPS) : round(c.end * FPS)] = True
    assert shown.sum() > 0
    assert (shown == expected).all(), np.flatnonzero(shown != expected)


def test_soft_subtitle_track_has_the_same_cues(burned):
    import av

    out, _ = burned
    cues = out["caps"]["subtitles"]
    with av.open(out["enc"]["path"]) as c:
        s = c.streams.subtitles[0]
        # mov_text fills the gaps with empty samples (just the 2-byte length)
        packets = [p for p in c.demux(s) if p.size and p.size > 2]
        starts = [float(p.pts * p.time_base) for p in packets]
        ends = [float((p.pts + p.duration) * p.time_base) for p in packets]
    assert starts == pytest.approx([q.start for q in cues], abs=1e-3)
    assert ends == pytest.approx([q.end for q in cues], abs=1e-3)


def test_the_spoken_word_is_highlighted_and_moves_along(burned):
    out, frames = burned
    yellow = (frames[..., 0] > 190) & (frames[..., 1] > 160) & (frames[..., 2] < 90)
    pages = out["caps"]["captions"]
    checked = 0
    for p in pages:
        if len(p["words"]) < 2:
            continue
        centres = []
        for _, start, end in p["words"]:
            i = round(start * FPS) + 1
            if i >= round(min(end, p["end"]) * FPS):
                continue
            ys, xs = np.nonzero(yellow[i])
            assert xs.size, f"no highlight at frame {i}"
            centres.append((ys.mean(), xs.mean()))
        # the highlight follows reading order: along a line, then down to the next
        for (y0, x0), (y1, x1) in itertools.pairwise(centres):
            assert (abs(y1 - y0) < 10 and x1 > x0) or y1 > y0 + 10, centres
        checked += len(centres) >= 2
    assert checked >= 1


def test_captions_stay_in_the_safe_area_clear_of_the_like_column(burned):
    out, frames = burned
    area = out["fmt"]["safe_area"]
    ink = _ink(frames).any(axis=0)
    ys, xs = np.nonzero(ink)
    assert xs.size
    assert xs.min() >= area["x0"] - 2 and xs.max() < area["x1"] + 2
    assert ys.min() >= area["y0"] - 2 and ys.max() < area["y1"] + 2
    for region in ("like_column", "description", "top_bar"):
        x0, y0, x1, y1 = area["ui"][region]
        assert not ink[y0:y1, x0:x1].any(), region


def test_burn_is_lazy_and_uint8(burned):
    from reelgraph.media import MappedVideo

    out, _ = burned
    v = out["burn"]["video"]
    assert isinstance(v, MappedVideo)
    chunk = next(v.chunks(4))
    assert str(chunk.dtype) == "torch.uint8"


def test_a_caption_wider_than_the_frame_is_a_clear_error(engine, tmp_path, speech):
    import torch

    from reelgraph.media import TensorVideo
    from reelgraph.nodes.captions import burn
    from reelgraph.nodes.formats import PRESETS, safe_area

    video = TensorVideo(torch.zeros(4, 128, 72, 3, dtype=torch.uint8), fps=24.0)
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    pages = build_pages([(word, 0.0, 0.1)])
    with pytest.raises(NodeInputError, match="safe area") as e:
        burn(video, pages, safe_area=safe_area(PRESETS["vertical_720p"]), size=0.1)
    assert e.value.input == "captions"
    with pytest.raises(NodeInputError, match="no font"):
        burn(video, build_pages([("hi", 0.0, 0.1)]), font="/nowhere/NoSuch.ttf")
