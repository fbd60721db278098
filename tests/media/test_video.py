"""Streamed VIDEO values and the motion / edit nodes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reelgraph.engine.media import AudioClip, TensorVideo
from reelgraph.engine.media.video import (
    ConcatVideo,
    FileVideo,
    IndexedVideo,
    MappedVideo,
    concat_audio,
)
from reelgraph.nodes.encode import encode_mp4
from reelgraph.nodes.video import (
    concat,
    image_to_clip,
    info,
    load_video,
    overlay_text,
    resize,
    set_audio,
    set_fps,
    trim,
)


def solid_video(n, color, fps=24.0, size=(32, 48), audio=None):
    frames = torch.empty(n, size[0], size[1], 3, dtype=torch.uint8)
    frames[:] = torch.tensor(color, dtype=torch.uint8)
    return TensorVideo(frames, fps, audio)


def collect(v, n=5):
    parts = list(v.chunks(n))
    assert all(p.dtype == torch.uint8 and p.shape[1:] == (v.height, v.width, 3) for p in parts)
    return torch.cat(parts) if parts else torch.zeros(0)


def test_chunks_reiterable_and_owned():
    v = solid_video(10, (10, 20, 30))
    a, b = collect(v, 3), collect(v, 4)
    assert torch.equal(a, b) and a.shape[0] == 10
    next(iter(v.chunks(4)))[:] = 0  # a caller may draw on its chunk...
    assert torch.equal(collect(v), a)  # ...without touching the source


def test_mapped_and_indexed():
    v = TensorVideo(torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1).expand(12, 2, 2, 3), 12)
    m = MappedVideo(v, lambda c, start: c + 100)
    assert collect(m, 5)[:, 0, 0, 0].tolist() == [100 + i for i in range(12)]
    ix = IndexedVideo(v, [0, 0, 3, 7, 11], fps=5)
    assert collect(ix, 2)[:, 0, 0, 0].tolist() == [0, 0, 3, 7, 11]
    assert ix.fps == 5 and ix.frame_count == 5
    with pytest.raises(ValueError):
        IndexedVideo(v, [3, 1])


def test_an_indexed_run_of_frames_reads_its_source_range_in_owned_chunks():
    v = TensorVideo(torch.arange(12, dtype=torch.uint8).view(12, 1, 1, 1).expand(12, 2, 2, 3), 12)
    run = IndexedVideo(v, range(3, 10))
    assert collect(run, 3)[:, 0, 0, 0].tolist() == list(range(3, 10))
    parts = list(run.arrays(4, 1, 6))  # frames 1..5 of the run: source frames 4..8
    assert [len(p) for p in parts] == [4, 1]
    assert [int(f[0, 0, 0]) for p in parts for f in p] == [4, 5, 6, 7, 8]
    parts[0][:] = 0  # a caller may draw on its chunk without touching the source
    assert collect(run, 3)[:, 0, 0, 0].tolist() == list(range(3, 10))


def test_concat_keeps_timeline_and_centres_crossfade():
    a, b = solid_video(20, (0, 0, 0)), solid_video(20, (200, 200, 200))
    cut = ConcatVideo([a, b], "crossfade", 8)
    frames = collect(cut, 7)[:, 0, 0, 0].float().numpy()
    assert len(frames) == 40 and cut.duration == pytest.approx(40 / 24)
    assert frames[0] == 0 and frames[-1] == 200
    assert frames[15] == 0 and frames[24] == 200  # outside the 8-frame window: untouched
    assert np.all(np.diff(frames[16:24]) > 0)  # a monotonic ramp across the cut
    assert frames[19] < 100 < frames[20]  # the 50% point lies exactly at the cut
    assert frames[19] + frames[20] == pytest.approx(200, abs=2)
    black = collect(ConcatVideo([b, b], "fade_black", 8), 7)[:, 0, 0, 0].float().numpy()
    assert black[19] < 60 and black[20] < 60 and black[10] == 200


def test_concat_audio_cumulative_rounding():
    clips = [AudioClip(torch.ones(1, 1000), 1000), None, AudioClip(torch.ones(2, 300), 1000)]
    out = concat_audio(clips, [1 / 3, 1 / 3, 1 / 3])
    assert out.frames == 1000 and out.channels == 2
    assert out.samples[:, 334:666].abs().sum() == 0


def test_image_to_clip_lasts_audio_plus_tail_in_whole_frames():
    img = torch.rand(1, 90, 160, 3)
    speech = AudioClip(torch.randn(1, 22050) * 0.1, 22050)  # 1.0 s
    clip = image_to_clip(img, audio=speech, tail=0.3, fps=24, width=64, height=36)
    assert clip.frame_count == 32  # ceil(1.3 * 24)
    assert clip.audio.duration == pytest.approx(32 / 24, abs=1 / 22050)
    frames = collect(clip, 8)
    assert frames.shape == (32, 36, 64, 3)
    assert not torch.equal(frames[0], frames[-1])  # it moves


def test_ken_burns_zoom_is_eased_and_centred():
    # a centred white square grows as the camera zooms in
    img = torch.zeros(1, 100, 100, 3)
    img[:, 40:60, 40:60] = 1
    clip = image_to_clip(img, duration=2.0, fps=10, zoom_start=1.0, zoom_end=2.0, pan_x=0.0)
    area = [(f[..., 0] > 127).sum().item() for f in collect(clip)]
    assert area[0] == pytest.approx(400, rel=0.1) and area[-1] == pytest.approx(1600, rel=0.1)
    steps = np.diff(area)
    assert steps[0] < steps[len(steps) // 2] and steps[-1] < steps[len(steps) // 2]  # ease in-out


def test_nodes_trim_fps_resize_info_audio():
    v = solid_video(48, (50, 60, 70), audio=AudioClip(torch.ones(1, 16000), 8000))
    t = trim(v, start=0.5, end=1.5)
    assert t.frame_count == 24 and t.audio.duration == pytest.approx(1.0)
    f = set_fps(v, fps=12)
    assert f.frame_count == 24 and f.fps == 12 and f.duration == pytest.approx(v.duration)
    r = resize(v, width=20, height=0, mode="contain")
    assert (r.width, r.height) == (20, 14) and collect(r).shape[1:3] == (14, 20)
    assert info(v) == (24.0, 48, 32, 48, 2.0, True)
    s = set_audio(
        solid_video(24, (0, 0, 0)), AudioClip(torch.ones(1, 100), 100), fit="loop", fade_out=0.5
    )
    assert s.audio.duration == pytest.approx(1.0) and float(s.audio.samples[0, -1]) < 0.05
    c = concat([v, v], transition="crossfade", transition_seconds=0.5)
    assert c.frame_count == 96 and c.audio.duration == pytest.approx(4.0)


def test_overlay_text_draws_only_in_its_time_range():
    v = solid_video(24, (0, 0, 0), size=(72, 128))
    o = overlay_text(v, "Hi", start=0.25, end=0.5, fade=0.0, box_opacity=0.0)
    lit = [int(f.sum() > 0) for f in collect(o)]
    assert lit == [0] * 6 + [1] * 6 + [0] * 12


def test_file_video_is_lazy_and_selects_frames(tmp_path):
    n = 30
    frames = torch.zeros(n, 48, 64, 3, dtype=torch.uint8)
    for i in range(n):
        frames[i, :, : 2 + 2 * i] = 255  # frame i: a white bar 2+2i pixels wide
    t = torch.arange(44100) / 44100
    tone = AudioClip(torch.sin(2 * torch.pi * 440 * t)[None] * 0.5, 44100)
    src = TensorVideo(frames, 30, tone)
    path = encode_mp4(src, tmp_path / "bars.mp4", crf=10, preset="ultrafast")
    fv = FileVideo(path)
    assert (fv.frame_count, fv.width, fv.height, fv.fps) == (30, 64, 48, 30)
    assert fv._audio is None  # nothing decoded yet
    got = collect(fv, 7)
    widths = [(f[24, :, 0] > 127).sum().item() for f in got]
    assert widths == pytest.approx([2 + 2 * i for i in range(n)], abs=1)
    sel = FileVideo(path, skip=3, every_nth=2, max_frames=5)
    widths = [(f[24, :, 0] > 127).sum().item() for f in collect(sel, 2)]
    assert sel.fps == 15 and widths == pytest.approx([2 + 2 * i for i in (3, 5, 7, 9, 11)], abs=1)
    assert fv.audio.duration == pytest.approx(1.0, abs=0.05)
    v, a = load_video(str(path), force_fps=10, width=32)
    assert (v.frame_count, v.width, v.height) == (10, 32, 24) and a.duration == pytest.approx(
        1.0, abs=0.05
    )


def test_concat_renders_each_frame_once():
    """Streaming a concat pulls every source frame once (plus each next clip's first
    frame for the transition), never a whole clip again for its last frame."""
    from reelgraph.engine.media.video import ProceduralVideo

    rendered = []

    def make(value):
        def render(a, b):
            rendered.append(b - a)
            out = torch.empty(b - a, 8, 8, 3, dtype=torch.uint8)
            out[:] = value
            return out

        return ProceduralVideo(render, fps=24, width=8, height=8, frame_count=30)

    cut = ConcatVideo([make(0), make(100), make(200)], "crossfade", 10)
    frames = collect(cut, 8)
    assert frames.shape[0] == 90
    assert sum(rendered) == 90 + 2  # + the first frame of clips 1 and 2


def test_fade_in_and_out():
    from reelgraph.nodes.video import fade

    v = solid_video(24, (200, 200, 200), audio=AudioClip(torch.ones(1, 1000), 1000))
    f = fade(v, fade_in=0.25, fade_out=0.25, audio_fade_in=0.1, audio_fade_out=0.25)
    lum = collect(f, 5)[:, 0, 0, 0].tolist()
    assert lum[0] < lum[3] < lum[6] == 200 and lum[-1] < lum[-4] < lum[-7] == 200
    assert f.frame_count == 24 and f.audio.duration == pytest.approx(1.0)
    s = f.audio.samples[0]
    assert float(s[0]) == 0 and float(s[500]) == 1 and float(s[-1]) == 0


def test_encode_crops_to_even_size_and_skips_missing_audio(tmp_path):
    import av

    v = solid_video(12, (10, 200, 30), size=(25, 33))
    path = encode_mp4(
        v, tmp_path / "odd.mp4", crf=18, preset="ultrafast", metadata={"comment": "x"}
    )
    with av.open(str(path)) as c:
        assert [s.type for s in c.streams] == ["video"]
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height, s.codec_context.pix_fmt) == (
            32,
            24,
            "yuv420p",
        )
        frame = next(c.decode(s)).to_ndarray(format="rgb24")
    assert (
        np.abs(frame[12, 16].astype(int) - [10, 200, 30]).max() <= 6
    )  # colours survive (BT.601 tagged)
    assert [p.name for p in tmp_path.iterdir()] == ["odd.mp4"]  # no temp file left


def test_encode_failure_leaves_no_file(tmp_path):
    from reelgraph.engine.media.video import ProceduralVideo

    def render(a, b):
        if a >= 8:
            raise RuntimeError("renderer broke")
        return torch.zeros(b - a, 16, 16, 3, dtype=torch.uint8)

    v = ProceduralVideo(render, fps=24, width=16, height=16, frame_count=24)
    with pytest.raises(RuntimeError, match="renderer broke"):
        encode_mp4(v, tmp_path / "never.mp4", preset="ultrafast", chunk=4)
    assert list(tmp_path.iterdir()) == []
