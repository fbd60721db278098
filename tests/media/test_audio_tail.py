"""The AAC track in a head and a tail: the tail after the first silent join is encoded
on its own and re-used by a render whose first scene changed, and every file decodes
to the source's samples, in place (the edit list skips the head's extra zeros)."""

from __future__ import annotations

import numpy as np

from reelgraph.engine import Cache, MemoryCache
from reelgraph.engine.media.audio import Pcm16Audio
from reelgraph.engine.media.encoder import AUDIO_PREROLL, audio_split
from reelgraph.media import SegmentStore, encode_video

from .joined_speech import RATE, audio_packets, decoded_audio, snr_db, spoken, track, video_with


def test_the_split_is_the_first_join_after_silence():
    scene2, scene3 = spoken(2.0, 2), spoken(2.0, 3)
    a = track(spoken(1.5, 1), scene2, scene3)
    first = spoken(1.5, 1).frames
    assert a.cut_points() == [first, first + scene2.frames]
    assert audio_split(a, a.frames) == first
    assert not np.any(a.read(first - AUDIO_PREROLL, first))
    # A first scene that runs to its end (no padding): the next join is taken.
    loud = spoken(1.5, 1, pause=0.0)
    b = track(loud, scene2, scene3)
    assert audio_split(b, b.frames) == loud.frames + scene2.frames
    # No silent join at all: one part.
    c = track(loud, spoken(2.0, 2, pause=0.0), spoken(2.0, 3))
    assert audio_split(c, c.frames) is None


def test_a_changed_first_scene_reuses_the_encoded_tail_and_decodes_in_place(tmp_path):
    store = SegmentStore(Cache(MemoryCache()))
    scene2, scene3 = spoken(2.2, 2), spoken(1.8, 3)
    first = track(spoken(1.5, 1), scene2, scene3)
    second = track(spoken(1.15, 9), scene2, scene3)  # another length: another AAC phase
    a = encode_video(video_with(first), tmp_path / "a.mp4", store=store)
    b = encode_video(video_with(second), tmp_path / "b.mp4", store=store)
    assert a.reused_audio_seconds == 0.0
    tail_seconds = (scene2.frames + scene3.frames) / RATE
    assert abs(b.reused_audio_seconds - tail_seconds) < 0.01
    for path, source in ((tmp_path / "a.mp4", first), (tmp_path / "b.mp4", second)):
        # in place (a sample early or late would be ~0 dB) and as clean as AAC is here
        assert snr_db(decoded_audio(path), source.array[0]) > 25
    # The tail's packets are the same bytes in both files, only later in `a`.
    pa, pb = audio_packets(tmp_path / "a.mp4"), audio_packets(tmp_path / "b.mp4")
    shift = spoken(1.5, 1).frames - spoken(1.15, 9).frames
    tail_a = [(pts - shift, data) for pts, data in pa if pts >= spoken(1.5, 1).frames]
    tail_b = [(pts, data) for pts, data in pb if pts >= spoken(1.15, 9).frames]
    assert tail_a and tail_a == tail_b


def test_one_part_and_two_parts_decode_alike(tmp_path):
    """A track with no silent join is one part on the usual grid; the same sound with
    a silent join, in two parts, decodes as close to its source."""
    scene2 = spoken(2.0, 2)
    joined = track(spoken(1.5, 1), scene2)
    whole = Pcm16Audio.quantized(joined.array, RATE)  # no joins: one part
    assert audio_split(whole, whole.frames) is None
    one = encode_video(video_with(track(whole)), tmp_path / "one.mp4")
    two = encode_video(video_with(joined), tmp_path / "two.mp4")
    d_one, d_two = decoded_audio(tmp_path / "one.mp4"), decoded_audio(tmp_path / "two.mp4")
    assert abs(d_one.size - d_two.size) <= 1024
    src = joined.array[0]
    assert snr_db(d_two, src) > snr_db(d_one, track(whole).array[0]) - 4
    assert one.reused_audio_seconds == two.reused_audio_seconds == 0.0
