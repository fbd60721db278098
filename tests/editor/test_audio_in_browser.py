"""Chromium plays the AAC of a two-part track in place: the edit list that skips the
head's extra leading zeros (with the encoder's priming) is honoured, so the decoded
samples line up with the source as a one-part file's do."""

from __future__ import annotations

import base64

import numpy as np

from reelgraph.engine.media.audio import Pcm16Audio
from reelgraph.media import encode_video
from tests.media.joined_speech import RATE, snr_db, spoken, track, video_with

DECODE = """async (b64) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const ctx = new OfflineAudioContext(1, 22050, 22050);
    const buf = await ctx.decodeAudioData(bytes.buffer);
    return {rate: buf.sampleRate, data: Array.from(buf.getChannelData(0))};
}"""


def lag(decoded: np.ndarray, source: np.ndarray) -> int:
    """The shift that lines the decoded samples up with the source best."""
    a, b = 30000, 60000
    return max(range(-3000, 3001), key=lambda k: float(np.dot(decoded[a + k : b + k], source[a:b])))


def test_chromium_decodes_a_two_part_track_in_place(browser, tmp_path):
    two = track(spoken(1.15, 9), spoken(2.2, 2), spoken(1.8, 3))  # a head shifted 0-1023
    one = track(Pcm16Audio.quantized(two.array, RATE))  # the same sound with no join
    page = browser.new_page()
    try:
        page.goto("about:blank")
        for name, audio in (("one.mp4", one), ("two.mp4", two)):
            path = tmp_path / name
            encode_video(video_with(audio), path)
            got = page.evaluate(DECODE, base64.b64encode(path.read_bytes()).decode())
            decoded, source = np.array(got["data"], np.float32), audio.array[0]
            assert got["rate"] == RATE
            assert lag(decoded, source) == 0, name
            assert snr_db(decoded, source) > 25, name
    finally:
        page.close()
