"""AUDIO: float32 samples [C, N] plus a sample rate."""

from __future__ import annotations

from typing import Any


class AudioClip:
    """Audio held in memory: `array` is a float32 numpy array [channels, frames] in -1..1.

    `samples` is the same memory as a torch tensor (zero copy) for code written against
    tensors; code that needs no tensors reads `array` and never imports torch."""

    __slots__ = ("__weakref__", "array", "sample_rate")

    def __init__(self, samples: Any, sample_rate: int):
        import numpy as np

        if type(samples).__module__.startswith("torch"):
            samples = samples.detach().cpu()  # np.asarray views a CPU tensor
        a = np.asarray(samples, dtype=np.float32)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2:
            raise ValueError(
                f"audio samples must be [channels, frames], got shape {tuple(a.shape)}"
            )
        if int(sample_rate) <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self.array = np.ascontiguousarray(a)
        self.sample_rate = int(sample_rate)

    @property
    def samples(self) -> Any:
        """The samples as a float32 torch tensor [C, N] sharing `array`'s memory."""
        import torch

        return torch.from_numpy(self.array)

    @property
    def channels(self) -> int:
        return int(self.array.shape[0])

    @property
    def frames(self) -> int:
        return int(self.array.shape[1])

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def nbytes(self) -> int:
        """Bytes held (the memory cache budgets by this)."""
        return int(self.array.nbytes)

    @classmethod
    def silence(cls, seconds: float, sample_rate: int = 48000, channels: int = 1) -> AudioClip:
        import numpy as np

        return cls(
            np.zeros((channels, max(0, round(seconds * sample_rate))), np.float32), sample_rate
        )

    def with_channels(self, channels: int) -> AudioClip:
        """Mono <-> stereo: mono is repeated, more channels are averaged down."""
        import numpy as np

        if channels == self.channels:
            return self
        mono = self.array if self.channels == 1 else self.array.mean(axis=0, keepdims=True)
        return AudioClip(np.repeat(mono, channels, axis=0), self.sample_rate)

    def resampled(self, sample_rate: int) -> AudioClip:
        """The same sound at another sample rate: FFmpeg's resampler (via PyAV) for mono
        and stereo, a windowed-sinc low-pass plus linear interpolation otherwise."""
        sample_rate = int(sample_rate)
        if sample_rate == self.sample_rate:
            return self
        if self.frames == 0:
            return AudioClip(self.array, sample_rate)
        if self.channels <= 2:
            return self._resampled_av(sample_rate)
        return self._resampled_sinc(sample_rate)

    def _resampled_av(self, sample_rate: int) -> AudioClip:
        import av
        import numpy as np

        layout = "mono" if self.channels == 1 else "stereo"
        rs = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        src = self.array
        out = []
        step = 1 << 16
        for a in range(0, src.shape[1], step):
            fr = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(src[:, a : a + step]), format="fltp", layout=layout
            )
            fr.sample_rate = self.sample_rate
            fr.pts = a
            out += [f.to_ndarray() for f in rs.resample(fr)]
        out += [f.to_ndarray() for f in rs.resample(None)]
        data = np.concatenate(out, axis=1) if out else np.zeros((self.channels, 0), np.float32)
        want = round(self.frames * sample_rate / self.sample_rate)
        if data.shape[1] < want:
            data = np.pad(data, ((0, 0), (0, want - data.shape[1])))
        return AudioClip(np.ascontiguousarray(data[:, :want]), sample_rate)

    def _resampled_sinc(self, sample_rate: int) -> AudioClip:
        import numpy as np

        x = self.array
        ratio = sample_rate / self.sample_rate
        if ratio < 1:  # low-pass before decimating, to avoid aliasing
            cutoff = 0.5 * ratio
            half = 32
            n = np.arange(-half, half + 1, dtype=np.float32)
            window = 0.5 + 0.5 * np.cos(np.pi * n / (half + 1))
            kernel = (2 * cutoff * np.sinc(2 * cutoff * n) * window).astype(np.float32)
            kernel /= kernel.sum()
            padded = np.pad(x, ((0, 0), (half, half)), mode="edge")
            x = np.stack([np.convolve(c, kernel[::-1], mode="valid") for c in padded])
        new_frames = max(1, round(self.frames * ratio))
        pos = np.arange(new_frames, dtype=np.float64) / ratio
        i0 = np.clip(np.floor(pos).astype(np.int64), 0, self.frames - 1)
        i1 = np.minimum(i0 + 1, self.frames - 1)
        frac = (pos - i0).astype(np.float32)
        return AudioClip(x[:, i0] * (1 - frac) + x[:, i1] * frac, sample_rate)

    def __repr__(self) -> str:
        return f"AudioClip({self.channels}ch, {self.sample_rate} Hz, {self.duration:.3f}s)"
