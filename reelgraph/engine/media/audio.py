"""AUDIO: float32 samples [C, N] plus a sample rate."""

from __future__ import annotations

from typing import Any


class AudioClip:
    """Audio held in memory: `samples` is a float32 torch tensor [channels, frames] in -1..1."""

    __slots__ = ("__weakref__", "sample_rate", "samples")

    def __init__(self, samples: Any, sample_rate: int):
        import torch

        t = torch.as_tensor(samples, dtype=torch.float32)
        if t.ndim == 1:
            t = t.unsqueeze(0)
        if t.ndim != 2:
            raise ValueError(
                f"audio samples must be [channels, frames], got shape {tuple(t.shape)}"
            )
        if int(sample_rate) <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self.samples = t.contiguous()
        self.sample_rate = int(sample_rate)

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def nbytes(self) -> int:
        """Bytes held (the memory cache budgets by this)."""
        return int(self.samples.element_size() * self.samples.nelement())

    @classmethod
    def silence(cls, seconds: float, sample_rate: int = 48000, channels: int = 1) -> AudioClip:
        import torch

        return cls(torch.zeros(channels, max(0, round(seconds * sample_rate))), sample_rate)

    def with_channels(self, channels: int) -> AudioClip:
        """Mono <-> stereo: mono is repeated, more channels are averaged down."""
        if channels == self.channels:
            return self
        if self.channels == 1:
            return AudioClip(self.samples.expand(channels, -1), self.sample_rate)
        mono = self.samples.mean(dim=0, keepdim=True)
        return AudioClip(mono.expand(channels, -1), self.sample_rate)

    def resampled(self, sample_rate: int) -> AudioClip:
        """The same sound at another sample rate: FFmpeg's resampler (via PyAV) for mono
        and stereo, a windowed-sinc low-pass plus linear interpolation otherwise."""
        sample_rate = int(sample_rate)
        if sample_rate == self.sample_rate:
            return self
        if self.frames == 0:
            return AudioClip(self.samples, sample_rate)
        if self.channels <= 2:
            return self._resampled_av(sample_rate)
        return self._resampled_torch(sample_rate)

    def _resampled_av(self, sample_rate: int) -> AudioClip:
        import av
        import numpy as np

        layout = "mono" if self.channels == 1 else "stereo"
        rs = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        src = self.samples.numpy()
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

    def _resampled_torch(self, sample_rate: int) -> AudioClip:
        import torch

        x = self.samples
        ratio = sample_rate / self.sample_rate
        if ratio < 1:  # low-pass before decimating, to avoid aliasing
            cutoff = 0.5 * ratio
            half = 32
            n = torch.arange(-half, half + 1, dtype=torch.float32)
            window = 0.5 + 0.5 * torch.cos(torch.pi * n / (half + 1))
            kernel = 2 * cutoff * torch.sinc(2 * cutoff * n) * window
            kernel = (kernel / kernel.sum()).view(1, 1, -1)
            x = torch.nn.functional.conv1d(
                torch.nn.functional.pad(x.unsqueeze(1), (half, half), mode="replicate"), kernel
            ).squeeze(1)
        new_frames = max(1, round(self.frames * ratio))
        pos = torch.arange(new_frames, dtype=torch.float64) / ratio
        i0 = pos.floor().long().clamp(0, self.frames - 1)
        i1 = (i0 + 1).clamp(max=self.frames - 1)
        frac = (pos - i0).float()
        return AudioClip(x[:, i0] * (1 - frac) + x[:, i1] * frac, sample_rate)

    def __repr__(self) -> str:
        return f"AudioClip({self.channels}ch, {self.sample_rate} Hz, {self.duration:.3f}s)"
