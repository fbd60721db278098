"""Values a long render holds stay compact and exact: big 8-bit images are held packed
(title cards while the narration is spoken), and a video's joined and faded audio is
read block by block instead of copied whole. Same pixels, same samples, same keys."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from reelgraph.engine import Cache, DiskCache, Engine, MemoryCache
from reelgraph.engine.cache import Result
from reelgraph.engine.media.pixels import PACK_MIN_BYTES, content_digest, pack_frame, unpack_frame
from reelgraph.media import (
    AudioClip,
    ConcatVideo,
    FadedAudio,
    JoinedAudio,
    PixelImage,
    ProceduralVideo,
    concat_audio,
)
from reelgraph.nodes.video import image_to_clip

from .helpers import link, workflow


def card_like(h: int = 720, w: int = 1280, seed: int = 0) -> np.ndarray:
    """A gradient with +-1 dither and a block of 'text': what a title card looks like."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = (x * 180 // w + y * 60 // h)[..., None] + np.array([10, 40, 80])
    img = base + rng.integers(-1, 2, (h, w, 1))
    img[h // 3 : h // 3 + 40, w // 8 : w // 2] = 255
    return np.clip(img, 0, 255).astype(np.uint8)


def test_pack_frame_is_lossless_on_any_bytes():
    rng = np.random.default_rng(4)
    for frame in (card_like(90, 160), rng.integers(0, 256, (33, 47, 3), dtype=np.uint8)):
        frame = np.ascontiguousarray(frame)
        assert np.array_equal(unpack_frame(pack_frame(frame), frame.shape), frame)


def test_a_big_image_is_held_packed_and_reads_back_exactly():
    px = card_like()
    assert px.nbytes >= PACK_MIN_BYTES
    img = PixelImage(px)
    assert img.packed and img.shape == (1, 720, 1280, 3)
    assert img.nbytes < px.nbytes / 2  # what the memory tier budgets: the packed bytes
    assert np.array_equal(img.pixels[0], px) and np.array_equal(img.frame(0), px)
    assert not img.frame(0).flags.writeable  # inputs are immutable
    small = PixelImage(px[:90, :160])
    assert not small.packed and small.nbytes == 90 * 160 * 3


def test_packed_images_go_to_disk_packed_and_come_back_unchanged(tmp_path):
    px = np.stack([card_like(seed=1), card_like(seed=2)])
    disk = DiskCache(tmp_path)
    assert disk.write_now("p" * 32, Result((PixelImage(px),)))
    stored = disk.path("p" * 32).stat().st_size
    assert stored < px.nbytes / 2  # the packed frames, not the pixels
    back = DiskCache(tmp_path).get("p" * 32).values[0]
    assert isinstance(back, PixelImage) and back.packed and np.array_equal(back.pixels, px)
    # the digests packing kept come back too, and key the frames as their pixels do
    assert [back.frame_digest(i) for i in range(2)] == [content_digest(f) for f in px]
    # an entry written before digests were kept reads back and is keyed the same
    shape, frames, _digests = PixelImage(px).to_value()
    old = PixelImage.from_value([shape, frames])
    assert [old.frame_digest(i) for i in range(2)] == [content_digest(f) for f in px]


def test_motion_from_a_packed_card_equals_motion_from_its_pixels(monkeypatch):
    import reelgraph.engine.media.pixels as pixels

    px = card_like()
    packed = image_to_clip(PixelImage(px), duration=0.5, fps=8.0, width=640, height=360)
    monkeypatch.setattr(pixels, "PACK_MIN_BYTES", 1 << 40)
    plain_image = PixelImage(px)
    assert not plain_image.packed
    plain = image_to_clip(plain_image, duration=0.5, fps=8.0, width=640, height=360)
    assert np.array_equal(packed.render_array(0, 4), plain.render_array(0, 4))
    assert packed.segment_key(0, 4) == plain.segment_key(0, 4)


def test_title_cards_are_held_packed_between_the_card_and_motion_nodes(registry):
    wf = workflow(
        {
            "card": ("slides.TitleCard", {"title": "Packed", "width": 1280, "height": 720}),
            "clip": (
                "video.ImageToClip",
                {"image": link("card", "image"), "duration": 0.25, "fps": 8.0},
            ),
        }
    )
    with Engine(registry, Cache(MemoryCache())) as eng:
        res = eng.run(wf, targets=["card", "clip"])
    assert res.status == "finished", res.failed
    card = res.outputs["card"]["image"]
    assert card.packed and card.nbytes < 1280 * 720 * 3 / 2
    assert res.outputs["clip"]["video"].frame_count == 2


def tone(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> AudioClip:
    rng = np.random.default_rng(seed)
    return AudioClip(
        (rng.standard_normal((channels, round(seconds * rate))) * 0.1).astype(np.float32), rate
    )


def test_joined_audio_reads_the_same_samples_as_the_joined_buffer():
    tracks = [tone(0.5, 8000), None, tone(0.3, 8000, 2, 1), tone(0.2, 16000, 1, 2)]
    durations = [0.4, 0.25, 0.35, 0.2]
    whole = concat_audio(tracks, durations)
    from reelgraph.media import joined_audio

    lazy = joined_audio(tracks, durations)
    assert isinstance(lazy, JoinedAudio)
    assert (lazy.frames, lazy.channels, lazy.sample_rate) == (whole.frames, 2, 16000)
    assert np.array_equal(lazy.array, whole.array)
    blocks = [lazy.read(a, a + 777) for a in range(0, lazy.frames, 777)]
    assert np.array_equal(np.concatenate(blocks, axis=1), whole.array)


def test_faded_audio_matches_fading_a_copy():
    src = tone(1.0, 8000, 2)
    for fade_in, fade_out in ((160, 2400), (0, 800), (6000, 6000), (9000, 0)):
        expect = src.array.copy()
        m = expect.shape[1]
        a, b = min(m, fade_in), min(m, fade_out)
        if a:
            expect[:, :a] *= np.linspace(0, 1, a, dtype=np.float32)
        if b:
            expect[:, m - b :] *= np.linspace(1, 0, b, dtype=np.float32)
        lazy = FadedAudio(src, fade_in, fade_out)
        assert np.array_equal(lazy.array, expect)
        blocks = [lazy.read(s, s + 1000) for s in range(0, m, 1000)]
        assert np.array_equal(np.concatenate(blocks, axis=1), expect)


def test_lazy_audio_pickles_by_its_sources():
    lazy = FadedAudio(JoinedAudio([tone(0.2, 8000), tone(0.1, 8000)], [1600, 1000]), 10, 50)
    back = pickle.loads(pickle.dumps(lazy))
    assert np.array_equal(back.array, lazy.array) and back.sample_rate == 8000
    assert lazy.nbytes < 1024  # the memory tier counts the sources, not a copy


def test_a_concat_s_audio_is_lazy_and_equals_the_clips_tracks():
    def clip(seconds: float, seed: int) -> ProceduralVideo:
        n = round(seconds * 10)
        return ProceduralVideo(
            lambda a, b: np.zeros((b - a, 4, 4, 3), np.uint8),
            fps=10.0,
            width=4,
            height=4,
            frame_count=n,
            audio=tone(seconds, 8000, 1, seed),
        )

    clips = [clip(0.5, 1), clip(0.3, 2)]
    cat = ConcatVideo(clips, "crossfade", 2)
    assert isinstance(cat.audio, JoinedAudio)
    expect = np.concatenate([c.audio.array for c in clips], axis=1)
    assert np.array_equal(cat.audio.array, expect)


@pytest.mark.parametrize("n", [1, 3])
def test_pixel_image_batches_pack_per_frame(n):
    px = np.stack([card_like(seed=s) for s in range(n)])
    img = PixelImage(px)
    assert img.packed and np.array_equal(img.pixels, px)
    assert np.array_equal(img.frame(n - 1), px[n - 1])


@pytest.mark.slow
def test_the_explainer_renders_the_same_frames_and_audio_with_compact_values(registry, monkeypatch):
    """The explainer's finished picture (what its Encode node gets) on two scenes of the
    long article, with cards packed and the joined audio lazy, against cards held as
    pixels and the track joined in one buffer: every frame, every sample and every
    segment key equal."""
    import hashlib
    from pathlib import Path

    import reelgraph.engine.media.pixels as pixels
    import reelgraph.engine.media.video as media_video
    from reelgraph.engine import loads_workflow

    root = Path(__file__).resolve().parents[2]
    doc = (root / "reelgraph" / "workflows" / "explainer.json").read_text()
    article = (root / "bench" / "data" / "long_article.md").read_text()
    parts = [p for p in ("\n" + article).split("\n# ") if p.strip()][:2]
    script = "\n\n".join("# " + p.strip() for p in parts) + "\n"

    def render() -> tuple[str, str, str]:
        with Engine(registry, Cache(MemoryCache())) as eng:
            res = eng.run(loads_workflow(doc), params={"script": script}, targets=["fade"])
        assert res.status == "finished", res.failed
        v = res.outputs["fade"]["video"]
        frames = hashlib.sha256()
        for chunk in v.arrays(16):
            frames.update(chunk.tobytes())
        keys = b"".join(
            v.segment_key(s, min(s + 48, v.frame_count)) or b"-"
            for s in range(0, v.frame_count, 48)
        )
        audio = hashlib.sha256(v.audio.array.tobytes()).hexdigest()
        return frames.hexdigest(), audio, hashlib.sha256(keys).hexdigest()

    compact = render()
    monkeypatch.setattr(pixels, "PACK_MIN_BYTES", 1 << 40)  # cards held as pixels

    lazy_join = media_video.joined_audio

    def whole_track(tracks, durations):  # the joined track in one buffer
        joined = lazy_join(tracks, durations)
        return None if joined is None else AudioClip(joined.array.copy(), joined.sample_rate)

    monkeypatch.setattr(media_video, "joined_audio", whole_track)
    assert render() == compact


def test_16_bit_audio_is_held_as_codes_and_reads_as_exact_floats():
    from reelgraph.media import Pcm16Audio

    rng = np.random.default_rng(7)
    x = np.clip(rng.normal(0, 0.3, (1, 5000)), -1.2, 1.2).astype(np.float32)
    clip = Pcm16Audio.quantized(x, 22050)
    assert clip.codes.dtype == np.int16 and clip.nbytes == 2 * 5000
    codes = np.clip(np.rint(x * 32768), -32768, 32767)
    assert np.array_equal(clip.array, codes.astype(np.float32) / np.float32(32768))
    assert np.abs(clip.array - np.clip(x, -1, 1)).max() <= 1 / 32768
    assert np.array_equal(clip.read(100, 2100), clip.array[:, 100:2100])
    assert (clip.channels, clip.frames, clip.sample_rate) == (1, 5000, 22050)
    assert not clip.codes.flags.writeable  # inputs are immutable
    back = pickle.loads(pickle.dumps(clip))
    assert isinstance(back, Pcm16Audio) and np.array_equal(back.array, clip.array)
    with pytest.raises(ValueError, match="int16"):
        Pcm16Audio(x, 22050)


def test_16_bit_audio_goes_to_disk_as_codes_and_comes_back_unchanged(tmp_path):
    from reelgraph.media import Pcm16Audio

    x = np.sin(np.linspace(0, 300, 40000, dtype=np.float32))[None, :] * np.float32(0.5)
    clip = Pcm16Audio.quantized(x, 22050)
    disk = DiskCache(tmp_path)
    assert disk.write_now("a" * 32, Result((clip,)))
    assert disk.path("a" * 32).stat().st_size < x.nbytes * 0.6  # the codes, not floats
    back = DiskCache(tmp_path).get("a" * 32).values[0]
    assert isinstance(back, Pcm16Audio) and np.array_equal(back.array, clip.array)
    # a float clip whose samples are 16-bit codes reads back as the same samples
    plain = AudioClip(clip.array, 22050)
    assert disk.write_now("b" * 32, Result((plain,)))
    assert np.array_equal(DiskCache(tmp_path).get("b" * 32).values[0].array, plain.array)


def test_a_joined_track_reads_16_bit_scenes_as_their_floats():
    from reelgraph.media import Pcm16Audio

    rng = np.random.default_rng(3)
    a = Pcm16Audio.quantized(rng.uniform(-1, 1, (1, 3000)).astype(np.float32), 22050)
    b = Pcm16Audio.quantized(rng.uniform(-1, 1, (1, 2000)).astype(np.float32), 22050)
    joined = JoinedAudio([a, b], [3500, 2000])
    want = np.concatenate([a.array, np.zeros((1, 500), np.float32), b.array], axis=1)
    assert np.array_equal(joined.array, want)
    assert np.array_equal(joined.read(2900, 3600), want[:, 2900:3600])


def test_normalised_speech_keeps_only_its_codes_and_equals_scaling_a_copy(tmp_path):
    from reelgraph.media import Pcm16Audio, ScaledAudio
    from reelgraph.nodes.audio import normalize

    t = np.arange(30000, dtype=np.float32) / np.float32(22050)
    voice = np.sin(2 * np.pi * 220 * t) * (0.2 + 0.1 * np.sin(2 * np.pi * 2 * t))
    speech = Pcm16Audio.quantized(voice[None, :].astype(np.float32), 22050)
    out, measured = normalize(speech, -16.0, -1.5)
    assert isinstance(out, ScaledAudio) and out.source is speech
    gain = np.float32(out.gain)
    assert np.array_equal(out.array, speech.array * gain)  # what a copy held before
    blocks = [out.read(a, a + 4096) for a in range(0, out.frames, 4096)]
    assert np.array_equal(np.concatenate(blocks, axis=1), out.array)
    assert out.nbytes >= speech.nbytes  # the memory tier counts what it keeps alive
    disk = DiskCache(tmp_path)
    assert disk.write_now("n" * 32, Result((out, measured)))
    assert disk.path("n" * 32).stat().st_size < speech.frames * 3  # codes + gain
    back = DiskCache(tmp_path).get("n" * 32).values[0]
    assert isinstance(back, ScaledAudio) and isinstance(back.source, Pcm16Audio)
    assert np.array_equal(back.array, out.array)
    again = pickle.loads(pickle.dumps(out))
    assert np.array_equal(again.array, out.array)
