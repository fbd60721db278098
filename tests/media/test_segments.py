"""Segment re-use in the encoder: content keys from the lazy stream, cached closed-GOP
segments, and MP4s that decode to the same frames as a render from scratch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from reelgraph.engine import Cache, DiskCache, Engine, MemoryCache
from reelgraph.engine.media.records import Cue
from reelgraph.engine.media.video import ProceduralVideo
from reelgraph.media import (
    EncodeSettings,
    SegmentStore,
    encode_segment,
    encode_video,
    plan_segments,
)
from reelgraph.nodes.subtitles import burn_in
from reelgraph.nodes.video import concat, fade, image_to_clip, overlay_text

FPS = 24.0
W, H = 96, 64


def card(seed: int) -> torch.Tensor:
    """A 1-image batch with detail the encoder has to work for."""
    g = np.random.default_rng(seed)
    base = g.integers(0, 255, (1, 3, 4, 3)).astype(np.float32) / 255
    img = torch.nn.functional.interpolate(
        torch.from_numpy(base).permute(0, 3, 1, 2), size=(H, W), mode="bilinear"
    )
    return img.permute(0, 2, 3, 1).contiguous()


class Counting:
    """Wraps clips so the test sees how many frames of each were rendered."""

    def __init__(self) -> None:
        self.rendered: dict[int, int] = {}

    def wrap(self, k: int, clip: ProceduralVideo) -> ProceduralVideo:
        inner = clip._render_fn

        def render(a: int, b: int) -> torch.Tensor:
            self.rendered[k] = self.rendered.get(k, 0) + (b - a)
            return inner(a, b)

        out = ProceduralVideo(
            render, fps=clip.fps, width=clip.width, height=clip.height, frame_count=clip.frame_count
        )
        out._key = clip._key  # the same content: the wrapper only counts
        return out


def explainer_like(seconds: list[float], seeds: list[int], counter: Counting | None = None):
    """Five cards with Ken Burns motion, crossfaded, with a burned cue and a text overlay
    that both cross scene boundaries, and a fade in/out: the explainer's structure."""
    clips = []
    for k, (sec, seed) in enumerate(zip(seconds, seeds, strict=True)):
        c = image_to_clip(card(seed), duration=sec, fps=FPS, zoom_end=1.2, pan_x=0.3)
        clips.append(counter.wrap(k, c) if counter is not None else c)
    v = concat(clips, transition="crossfade", transition_seconds=0.5)
    starts = v.starts
    # A cue from the middle of scene 2 into scene 3, an overlay from scene 1 into scene 2.
    cue = Cue((starts[2] - 10) / FPS, (starts[2] + 12) / FPS, "across the cut")
    v = burn_in(v, [cue], size=0.2)
    v = overlay_text(v, "Label", start=0.5, end=(starts[1] + 8) / FPS, size=0.15)
    return fade(v, fade_in=0.2, fade_out=0.3)


def decoded_hashes(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [
            hashlib.md5(f.to_ndarray(format="rgb24").tobytes()).hexdigest()
            for f in c.decode(video=0)
        ]


def disk_store(folder: Path) -> SegmentStore:
    return SegmentStore(Cache(MemoryCache(), DiskCache(folder)))


def test_keys_follow_structure_not_position():
    a = explainer_like([1.0, 1.5, 1.0, 1.2, 1.0], [1, 2, 3, 4, 5])
    b = explainer_like([1.7, 1.5, 1.0, 1.2, 1.0], [9, 2, 3, 4, 5])  # scene 1 longer, new
    shift = b.frame_count - a.frame_count
    assert shift > 0
    ranges_a = plan_segments(a)
    ranges_b = plan_segments(b)
    keys_a = {a.segment_key(s, e) for s, e in ranges_a}
    keys_b = [b.segment_key(s, e) for s, e in ranges_b]
    assert None not in keys_a and None not in keys_b
    # Everything from scene 3 on is the same content, only later: same keys.
    src_b = b.source.source.source  # fade <- overlay <- burn <- concat
    from_scene3 = [
        k for (s, _e), k in zip(ranges_b, keys_b, strict=True) if s >= src_b.starts[2] + 8
    ]
    assert from_scene3 and all(k in keys_a for k in from_scene3)
    # Scene 1 and the transition into scene 2 changed.
    assert keys_b[0] not in keys_a
    # The segments the crossfade and the overlay reach are split at the window edges.
    cuts = src_b.cut_points()
    assert all(c in {s for s, _ in ranges_b} for c in cuts)


def test_overlay_text_change_changes_only_the_frames_it_covers():
    base = explainer_like([1.0, 1.0, 1.0, 1.0, 1.0], [1, 2, 3, 4, 5])
    other = overlay_text(base, "Hello", start=2.0, end=2.5)
    moved = overlay_text(base, "Hullo", start=2.0, end=2.5)
    a, b = round(2.0 * FPS), round(2.5 * FPS)
    assert other.segment_key(0, a) == base.segment_key(0, a)
    assert other.segment_key(b, other.frame_count) == base.segment_key(b, base.frame_count)
    assert other.segment_key(a, b) != moved.segment_key(a, b)
    assert other.segment_key(a, b) != base.segment_key(a, b)


def test_unkeyed_streams_have_no_segment_keys():
    from reelgraph.engine.media.video import MappedVideo

    v = explainer_like([1.0, 1.0, 1.0, 1.0, 1.0], [1, 2, 3, 4, 5])
    assert MappedVideo(v, lambda c, i: c).segment_key(0, 10) is None
    plain = ProceduralVideo(
        lambda a, b: torch.zeros(b - a, H, W, 3, dtype=torch.uint8),
        fps=FPS,
        width=W,
        height=H,
        frame_count=10,
    )
    assert plain.segment_key(0, 10) is None


@pytest.mark.slow
def test_one_changed_scene_of_five_renders_and_encodes_only_that_scene(tmp_path):
    seconds = [1.0, 1.5, 1.0, 1.2, 1.0]
    first = Counting()
    va = explainer_like(seconds, [1, 2, 3, 4, 5], first)
    store = disk_store(tmp_path / "cache")
    sa = encode_video(va, tmp_path / "a.mp4", preset="ultrafast", store=store)
    store.cache.flush()
    assert sa.encoded_frames == va.frame_count and sa.reused_frames == 0

    # Variant: scene 3 of 5 is another card (same length); nothing else changes.
    second = Counting()
    vb = explainer_like(seconds, [1, 2, 30, 4, 5], second)
    sb = encode_video(vb, tmp_path / "b.mp4", preset="ultrafast", store=store)
    store.cache.flush()
    scene = vb.source.source.source.clips[2].frame_count
    half = round(0.5 * FPS) // 2
    # Scene 3 plus the two crossfade windows on its sides, nothing more.
    assert sb.encoded_frames <= scene + 2 * half
    assert sb.encoded_frames + sb.reused_frames == vb.frame_count
    # Scenes 1 and 5 were not rendered at all; 2 and 4 only their frames in the
    # crossfade windows (and the one boundary frame a blend reads).
    assert second.rendered.get(0, 0) == 0 and second.rendered.get(4, 0) == 0
    assert second.rendered.get(1, 0) <= half + 1 and second.rendered.get(3, 0) <= half + 1

    # The result decodes to the same frames as the variant rendered from scratch.
    cold = encode_video(
        explainer_like(seconds, [1, 2, 30, 4, 5]),
        tmp_path / "b_cold.mp4",
        preset="ultrafast",
        store=disk_store(tmp_path / "fresh"),
    )
    assert cold.reused_frames == 0
    hb, hcold = decoded_hashes(sb.path), decoded_hashes(cold.path)
    assert len(hb) == vb.frame_count and hb == hcold

    # The same variant again: everything is copied, nothing rendered.
    third = Counting()
    sc = encode_video(
        explainer_like(seconds, [1, 2, 30, 4, 5], third),
        tmp_path / "c.mp4",
        preset="ultrafast",
        store=store,
    )
    assert sc.encoded_frames == 0 and sum(third.rendered.values()) == 0
    assert decoded_hashes(sc.path) == hb


def test_renders_side_by_side_encode_each_shared_segment_once(tmp_path):
    """Two variants encoded at once on one store (a batch's rows in threads): a segment
    both need is encoded by one of them while the other waits for its packets."""
    import threading

    seconds = [1.0, 1.5, 1.0, 1.2, 1.0]
    store = SegmentStore(Cache(MemoryCache()))
    counters = [Counting(), Counting()]
    videos = [
        explainer_like(seconds, [s, 2, 3, 4, 5], c) for s, c in zip((1, 10), counters, strict=True)
    ]
    stats: list = [None, None]
    start = threading.Barrier(2)

    def encode(k: int) -> None:
        start.wait()
        stats[k] = encode_video(
            videos[k], tmp_path / f"{k}.mp4", preset="ultrafast", store=store, lanes=1
        )

    threads = [threading.Thread(target=encode, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = stats
    # Only scene 1 and the crossfade after it differ: everything else, encoded once.
    ranges = plan_segments(videos[0])
    assert ranges == plan_segments(videos[1])
    same = [r for r in ranges if videos[0].segment_key(*r) == videos[1].segment_key(*r)]
    shared = sum(y - x for x, y in same)
    assert 0 < shared < videos[0].frame_count
    assert a.encoded_frames + b.encoded_frames == 2 * videos[0].frame_count - shared
    assert a.reused_frames + b.reused_frames == shared
    for k in (0, 1):
        cold = encode_video(
            explainer_like(seconds, [(1, 10)[k], 2, 3, 4, 5]),
            tmp_path / f"cold{k}.mp4",
            preset="ultrafast",
        )
        assert decoded_hashes(stats[k].path) == decoded_hashes(cold.path)


@pytest.mark.slow
def test_segmented_file_decodes_like_its_segments_and_close_to_the_source(tmp_path):
    v = explainer_like([1.0, 0.6, 1.3, 0.8, 1.0], [1, 2, 3, 4, 5])
    stats = encode_video(v, tmp_path / "v.mp4", crf=12, preset="ultrafast")
    assert stats.segments >= 9  # five scenes, four crossfade windows
    with av.open(str(stats.path)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == v.frame_count
    src = torch.cat(list(v.chunks(16))).numpy()
    mse = np.mean((np.stack(decoded).astype(np.float32) - src.astype(np.float32)) ** 2)
    assert 10 * np.log10(255**2 / mse) > 35  # right frames, in the right order
    # A segment encoded on its own (another process could do this) is what got muxed.
    s, e = plan_segments(v)[3]
    settings = EncodeSettings(W, H, FPS, 12, "ultrafast")
    seg = encode_segment(v, s, e, settings)
    assert seg.frames == e - s and seg.packets[0][2]  # starts on a keyframe
    with av.open(str(stats.path)) as c:
        packets = [bytes(p) for p in c.demux(video=0) if p.size]
    assert packets  # muxed into one stream


def demuxed_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def test_segments_encoded_side_by_side_give_the_same_file_as_one_at_a_time(tmp_path):
    v = explainer_like([1.0, 0.6, 1.3, 0.8, 1.0], [1, 2, 3, 4, 5])
    seen: dict[int, list[int]] = {1: [], 2: []}
    one = encode_video(
        v,
        tmp_path / "one.mp4",
        preset="ultrafast",
        lanes=1,
        progress=lambda k, n: seen[1].append(k),
    )
    two = encode_video(
        v,
        tmp_path / "two.mp4",
        preset="ultrafast",
        lanes=2,
        progress=lambda k, n: seen[2].append(k),
    )
    assert one.segments == two.segments >= 9 and two.encoded_frames == v.frame_count
    assert demuxed_packets(one.path) == demuxed_packets(two.path)
    for reports in seen.values():  # never backwards, ending at every frame
        assert reports == sorted(reports) and reports[-1] == v.frame_count
    # Re-used segments between fresh ones come back in their place with two lanes too.
    store = disk_store(tmp_path / "cache")
    encode_video(v, tmp_path / "warm.mp4", preset="ultrafast", store=store, lanes=2)
    w = explainer_like([1.0, 0.6, 1.3, 0.8, 1.0], [1, 9, 3, 8, 5])
    mixed = encode_video(w, tmp_path / "mixed.mp4", preset="ultrafast", store=store, lanes=2)
    alone = encode_video(w, tmp_path / "alone.mp4", preset="ultrafast", lanes=1)
    assert 0 < mixed.reused_segments < mixed.segments
    assert demuxed_packets(mixed.path) == demuxed_packets(alone.path)


def test_a_lane_that_fails_fails_the_encode_and_writes_nothing(tmp_path):
    v = explainer_like([1.0, 0.6, 1.3, 0.8, 1.0], [1, 2, 3, 4, 5])
    bad_from = v.frame_count // 2

    def render(a: int, b: int) -> torch.Tensor:
        if b > bad_from:
            raise RuntimeError(f"frame {bad_from} cannot be drawn")
        return torch.cat(list(v.chunks(b - a, a, b)))

    class Broken(ProceduralVideo):
        def cut_points(self) -> list[int]:
            return v.cut_points()  # the same segments, so several lanes run

    broken = Broken(render, fps=v.fps, width=v.width, height=v.height, frame_count=v.frame_count)
    with pytest.raises(RuntimeError, match="cannot be drawn"):
        encode_video(broken, tmp_path / "out.mp4", preset="ultrafast", lanes=2)
    assert list(tmp_path.iterdir()) == []


def _workflow(titles: list[str]) -> dict:
    text = "\n\n".join(f"# {t}\nSome words about {t}." for t in titles)
    return {
        "format": "reelgraph.workflow",
        "version": 1,
        "name": "segments",
        "nodes": {
            "script": {"type": "text.Script", "inputs": {"text": text}},
            "split": {
                "type": "text.SplitScenes",
                "inputs": {"text": {"from": "script", "output": "text"}, "mode": "headings"},
            },
            "card": {
                "type": "slides.TitleCard",
                "inputs": {
                    "scene": {"from": "split", "output": "scenes"},
                    "width": 160,
                    "height": 96,
                },
            },
            "clip": {
                "type": "video.ImageToClip",
                "inputs": {"image": {"from": "card", "output": "image"}, "duration": 0.75},
            },
            "concat": {
                "type": "video.Concat",
                "inputs": {"clips": {"from": "clip", "output": "video"}},
            },
            "encode": {
                "type": "video.Encode",
                "inputs": {
                    "video": {"from": "concat", "output": "video"},
                    "filename": "seg",
                    "preset": "ultrafast",
                },
            },
        },
    }


@pytest.mark.slow
def test_engine_reports_encoded_frames_and_a_new_out_folder_reencodes_nothing(tmp_path, registry):
    from reelgraph.engine import load_workflow

    folder = tmp_path / "cache"
    titles = ["One", "Two", "Three", "Four", "Five"]
    wf_path = tmp_path / "wf.json"
    wf_path.write_text(json.dumps(_workflow(titles)))
    with Engine(registry, Cache(MemoryCache(), DiskCache(folder))) as eng:
        first = eng.run(load_workflow(wf_path), out_dir=tmp_path / "out1")
        assert first.ok, first.failed
        enc = first.outputs["encode"]
        total = enc["encoded_frames"]
        assert total > 0 and enc["reused_frames"] == 0
    # A new process would start here: a fresh memory tier over the same disk folder.
    with Engine(registry, Cache(MemoryCache(), DiskCache(folder))) as eng:
        again = eng.run(load_workflow(wf_path), out_dir=tmp_path / "out2")
        assert again.ok, again.failed
        enc2 = again.outputs["encode"]
        assert enc2["encoded_frames"] == 0 and enc2["reused_frames"] == total
        assert decoded_hashes(Path(enc2["path"])) == decoded_hashes(Path(enc["path"]))
        # One changed title of five: only that scene's segments (and its crossfades).
        wf_path.write_text(json.dumps(_workflow(["One", "Two", "Other", "Four", "Five"])))
        third = eng.run(load_workflow(wf_path), out_dir=tmp_path / "out3")
        enc3 = third.outputs["encode"]
        window = round(0.5 * 24) // 2  # half of Concat's default 0.5 s crossfade
        assert 0 < enc3["encoded_frames"] <= total / 5 + 2 * window
