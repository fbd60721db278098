"""The AAC track's bit rate: the encoder's figure is for stereo, and mono narration
gets half (FFmpeg's coder cannot spend more on mono speech, only more time)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from reelgraph.engine.media import AudioClip
from reelgraph.engine.media.pixels import PixelImage
from reelgraph.nodes.encode import encode_mp4
from reelgraph.nodes.video import image_to_clip


@pytest.mark.parametrize(("channels", "kbps"), [(1, 80), (2, 160)])
def test_mono_narration_gets_half_the_stereo_bit_rate(
    tmp_path: Path, channels: int, kbps: int
) -> None:
    rng = np.random.default_rng(7)
    # noise: the hardest sound to compress, so the coder spends what it is given
    noise = rng.uniform(-0.5, 0.5, (channels, 22050 * 3)).astype(np.float32)
    audio = AudioClip(noise, 22050)
    image = PixelImage(rng.integers(0, 256, (1, 36, 64, 3), dtype=np.uint8))
    clip = image_to_clip(image, audio=audio, fps=12, width=64, height=36)
    asked = kbps if channels == 2 else 2 * kbps
    path = encode_mp4(clip, tmp_path / "v.mp4", audio_bitrate=asked)
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        assert (a.channels, a.sample_rate) == (channels, 22050)
        # the coder's average lands 10-15 % under its target on noise
        assert 0.8 * kbps * 1000 < a.codec_context.bit_rate <= kbps * 1000
