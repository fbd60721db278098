"""Music bed and loudness: looping, trimming, fades, ducking under real speech, and
each destination's loudness measured with pyloudnorm within 0.5 LU."""

from __future__ import annotations

import numpy as np
import pytest

from reelgraph.media import AudioClip
from reelgraph.nodes.music import DESTINATIONS, fit_music, loudness, measure_lufs


def _tone(seconds, rate=22050, freq=220.0, amp=0.3):
    t = np.arange(round(seconds * rate)) / rate
    return AudioClip((amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None], rate)


def test_loop_is_cut_to_length_without_clicks_and_trim_pads_with_silence():
    m = _tone(1.0)
    looped = fit_music(m, 3.5, "loop", 0.0, 0.0).samples.numpy()[0]
    assert looped.shape[0] == round(3.5 * 22050)
    # a seamless loop: no step larger than the tone's own sample-to-sample change
    assert np.abs(np.diff(looped)).max() < 0.3 * 2 * np.pi * 220 / 22050 * 1.5
    trimmed = fit_music(m, 2.0, "trim", 0.0, 0.0).samples.numpy()[0]
    assert trimmed.shape[0] == 44100 and np.abs(trimmed[23000:]).max() == 0
    faded = fit_music(m, 1.0, "trim", 0.5, 0.5).samples.numpy()[0]
    assert abs(faded[0]) < 1e-6 and abs(faded[-1]) < 1e-3
    assert np.abs(faded[10000:12000]).max() > 0.25  # full level in the middle


def test_music_ducks_under_real_speech(speech):
    import torch

    from reelgraph.media import TensorVideo
    from reelgraph.nodes.music import background

    voice, timings = speech
    pad = AudioClip(
        torch.cat([voice.samples, torch.zeros(1, voice.sample_rate * 2)], 1), voice.sample_rate
    )
    n = round(pad.duration * 10)
    video = TensorVideo(torch.zeros(n, 16, 16, 3, dtype=torch.uint8), fps=10.0, audio=pad)
    music = _tone(1.3, rate=voice.sample_rate, freq=3000.0, amp=0.5)
    _, mixed = background(video, music, volume_db=-12.0, duck_db=-12.0, fade_in=0.0, fade_out=0.0)
    bed = mixed.samples.numpy()[0] - pad.samples.numpy()[0]  # the music part of the mix
    rate = voice.sample_rate

    def level(a, b):
        x = bed[round(a * rate) : round(b * rate)]
        return 20 * np.log10(np.sqrt((x * x).mean()) + 1e-12)

    w = timings.words
    talking = level(w[2].start, w[5].end)
    quiet = level(pad.duration - 1.2, pad.duration - 0.2)
    # ducked while the voice speaks (12 dB, less in the short pauses between words)
    assert quiet - talking > 6
    assert quiet == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)) - 12, abs=1.5)


@pytest.mark.parametrize("destination", sorted(DESTINATIONS))
def test_each_destination_measures_within_half_a_lu_of_its_target(speech, destination):
    import pyloudnorm

    voice, _ = speech
    quiet = AudioClip(voice.samples * 0.1, voice.sample_rate)
    out, before, after = loudness(quiet, destination=destination)
    x = out.samples.numpy().astype(np.float64)
    meter = pyloudnorm.Meter(out.sample_rate)  # the real meter, independent of the node
    measured = meter.integrated_loudness(x.T)
    assert measured == pytest.approx(DESTINATIONS[destination], abs=0.5)
    assert after == pytest.approx(measured, abs=1e-6) and before < -25
    assert np.abs(x).max() <= 10 ** (-1 / 20) + 1e-6  # peaks under -1 dBFS


def test_silence_has_no_loudness_to_normalise():
    from reelgraph import NodeInputError

    with pytest.raises(NodeInputError, match="silent"):
        loudness(AudioClip.silence(2.0, 16000))
    assert measure_lufs(np.zeros((1, 100)), 16000) == -np.inf
