from __future__ import annotations

import math
import wave

import pytest
import torch

from reelgraph.engine.media import AudioClip, Cue, Scene, SpeechTimings, WordTiming
from reelgraph.engine.serialize import packb, unpackb
from reelgraph.media import read_wav_comment
from reelgraph.nodes.audio import (
    concat,
    integrated_loudness,
    load,
    mix,
    normalize,
    resample,
    silence,
    wav_bytes,
)


def tone(freq, seconds, rate=48000, amp=0.1, channels=1):
    t = torch.arange(round(seconds * rate)) / rate
    return AudioClip((amp * torch.sin(2 * math.pi * freq * t))[None].repeat(channels, 1), rate)


def test_loudness_matches_bs1770_reference_tones():
    # a 1 kHz sine at -20 dBFS peak is -23.0 LUFS in one channel, -20.0 in two
    assert integrated_loudness(tone(1000, 3)) == pytest.approx(-23.0, abs=0.1)
    assert integrated_loudness(tone(1000, 3, channels=2)) == pytest.approx(-20.0, abs=0.1)
    # K-weighting: the same level at 100 Hz counts as quieter
    assert integrated_loudness(tone(100, 3)) < -24


def test_normalize_hits_target_and_respects_peak():
    out, before = normalize(tone(1000, 3), target_lufs=-16.0, peak_db=-0.1)
    assert before == pytest.approx(-23.0, abs=0.1)
    assert integrated_loudness(out) == pytest.approx(-16.0, abs=0.1)
    # a mono sine at -5 LUFS would peak at -2 dBFS: the -3 dB ceiling wins
    loud, _ = normalize(tone(1000, 3), target_lufs=-5.0, peak_db=-3.0)
    assert float(loud.samples.abs().max()) == pytest.approx(10 ** (-3 / 20), rel=1e-3)
    with pytest.raises(Exception) as err:
        normalize(silence(1.0))
    assert getattr(err.value, "input", None) == "audio"


def test_concat_with_gaps_and_mixed_formats():
    a, b = tone(440, 1.0, 16000), tone(440, 0.5, 48000, channels=2)
    out = concat([a, b], gap=0.25)
    assert out.sample_rate == 48000 and out.channels == 2
    assert out.duration == pytest.approx(1.75, abs=1e-3)
    gap = out.samples[:, 48000 : 48000 + 12000]
    assert float(gap.abs().max()) == 0


def test_mix_ducks_music_under_voice():
    rate = 16000
    voice = torch.zeros(1, rate * 4)
    voice[:, rate : rate * 2] = tone(300, 1.0, rate, amp=0.3).samples  # talking in second 1..2
    music = tone(1000, 1.0, rate, amp=0.5)  # looped under everything
    out = mix(
        AudioClip(voice, rate),
        music,
        music_gain_db=-6.0,
        duck_db=-20.0,
        attack=0.02,
        release=0.2,
        fit="loop",
        fade_out=0.0,
    )
    assert out.duration == pytest.approx(4.0)
    bed = out.samples[0] - voice[0]

    def rms(a, b):
        return float(bed[int(a * rate) : int(b * rate)].pow(2).mean().sqrt())

    quiet, loud = rms(1.3, 1.9), rms(0.2, 0.8)
    assert loud == pytest.approx(0.5 * 10 ** (-6 / 20) / math.sqrt(2), rel=0.05)
    assert quiet < loud * 10 ** (-17 / 20)  # ducked by about 20 dB
    assert rms(3.3, 3.9) == pytest.approx(loud, rel=0.05)  # released again


def test_resample_keeps_tone_and_duration():
    a = tone(440, 1.0, 44100)
    b = resample(a, sample_rate=16000, channels=2)
    assert b.sample_rate == 16000 and b.channels == 2 and b.duration == pytest.approx(1.0, abs=1e-3)
    spec = torch.fft.rfft(b.samples[0]).abs()
    assert int(spec.argmax()) == pytest.approx(440, abs=2)


def test_wav_round_trip_with_comment(tmp_path):
    a = tone(440, 0.5, 22050, amp=0.5, channels=2)
    data = wav_bytes(a, '{"workflow": true}')
    p = tmp_path / "x.wav"
    p.write_bytes(data)
    with wave.open(str(p)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, 22050, a.frames)
    assert read_wav_comment(data) == '{"workflow": true}'
    back, dur = load(str(p))
    assert dur == pytest.approx(0.5, abs=1e-3)
    assert torch.allclose(back.samples, a.samples, atol=1e-3)


def test_values_survive_the_disk_cache_codec():
    a = tone(440, 0.1)
    values = [
        a,
        Scene(1, "T", "n", "v", 0.0),
        Cue(0.0, 1.5, "hi"),
        SpeechTimings(
            "a b", 1.0, (WordTiming("a", 0.0, 0.4), WordTiming("b", 0.5, 0.9)), ((0.0, 0.9),)
        ),
    ]
    back = unpackb(packb(values))
    assert torch.equal(back[0].samples, a.samples) and back[0].sample_rate == a.sample_rate
    assert back[1:] == values[1:]


def test_resample_many_channels_and_alignment():
    a = tone(440, 0.5, 44100, channels=3)
    b = a.resampled(22050)
    assert b.channels == 3 and b.frames == 11025
    # FFmpeg's resampler keeps the signal in place (no delay): the tone's phase lines up
    m = tone(440, 1.0, 22050)
    up = m.resampled(48000)
    ref = tone(440, 1.0, 48000)
    assert torch.allclose(up.samples[:, 2000:-2000], ref.samples[:, 2000:-2000], atol=0.01)
