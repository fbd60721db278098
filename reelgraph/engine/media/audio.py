"""AUDIO: float32 samples [C, N] plus a sample rate."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from .spill import SpilledBytes


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

    def read(self, start: int, stop: int) -> Any:
        """Frames [start, stop) as float32 [C, t] (a view where it can be: read only).
        A lazy track (`JoinedAudio`, `FadedAudio`) makes just these, so a consumer that
        reads block by block (the encoder) never holds a full-length copy."""
        return self.array[:, start:stop]

    def cut_points(self) -> list[int]:
        """Frame indices in (0, frames) where one joined track ends and the next begins
        (a scene's narration and the next one's), ascending: where the encoder may
        split the AAC track (a part after a cut can be re-used on its own)."""
        return []

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


PCM16_SCALE = 32768.0


# 16-bit clips from this size up (6 s of mono speech at 22,050 Hz) wait in a spill file.
SPILL_MIN_BYTES = 256 << 10


class Pcm16Audio(AudioClip):
    """Audio whose samples are 16-bit codes (`codes / 32768`), held as the int16 codes:
    half the bytes of float32, and exact. A voice model's speech is 16-bit at its source,
    and a long script's scenes are held until the encode reads them (10 minutes at
    22,050 Hz: 26 MB, not 53). `array` and `read` give the float32 samples; code that
    reads the whole track gets a fresh copy each time (keep it, as with `LazyAudio`)."""

    __slots__ = ("_codes", "_shape", "_spilled")

    def __init__(self, codes: Any, sample_rate: int):
        import numpy as np

        c = np.asarray(codes)
        if c.dtype != np.int16:
            raise ValueError(f"16-bit audio takes int16 codes, got {c.dtype}")
        if c.ndim == 1:
            c = c[None, :]
        if c.ndim != 2:
            raise ValueError(f"audio codes must be [channels, frames], got shape {tuple(c.shape)}")
        if int(sample_rate) <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self.sample_rate = int(sample_rate)
        self._hold(c)

    def _hold(self, codes: Any) -> None:
        """Keep the codes: a clip of SPILL_MIN_BYTES and more in a spill file (read back
        block by block: the encode reads it once, minutes after it was spoken), a
        shorter one in memory."""
        import numpy as np

        c = np.ascontiguousarray(codes, dtype=np.int16)
        self._shape = (int(c.shape[0]), int(c.shape[1]))
        self._codes, self._spilled = None, None
        if c.nbytes >= SPILL_MIN_BYTES:
            self._spilled = SpilledBytes(c.tobytes())
        else:
            self._codes = c
            self._codes.flags.writeable = False  # inputs are immutable

    @classmethod
    def quantized(cls, samples: Any, sample_rate: int) -> Pcm16Audio:
        """float samples in -1..1 rounded to the nearest 16-bit code (clipped)."""
        import numpy as np

        x = np.asarray(samples, dtype=np.float32)
        codes = np.rint(x * np.float32(PCM16_SCALE))
        np.clip(codes, -PCM16_SCALE, PCM16_SCALE - 1, out=codes)
        return cls(codes.astype(np.int16), sample_rate)

    @property
    def codes(self) -> Any:
        """The int16 codes [C, N] (read only)."""
        if self._codes is not None:
            return self._codes
        c = self._read_codes(0, self._shape[1])
        c.flags.writeable = False
        return c

    def _read_codes(self, start: int, stop: int) -> Any:
        import numpy as np

        channels, n = self._shape
        start, stop = max(0, min(start, n)), max(0, min(stop, n))
        if self._codes is not None:
            return self._codes[:, start:stop]
        out = np.empty((channels, max(0, stop - start)), np.int16)
        if out.size:
            for ch in range(channels):  # each channel's codes are one run of the file
                raw = self._spilled.read_range((ch * n + start) * 2, out.shape[1] * 2)  # type: ignore[union-attr]
                out[ch] = np.frombuffer(raw, np.int16)
        return out

    @property  # type: ignore[override]
    def array(self) -> Any:
        return self.read(0, self._shape[1])

    @property
    def channels(self) -> int:
        return self._shape[0]

    @property
    def frames(self) -> int:
        return self._shape[1]

    @property
    def nbytes(self) -> int:
        return 2 * self._shape[0] * self._shape[1]

    def read(self, start: int, stop: int) -> Any:
        import numpy as np

        # the same float32 samples the disk tier's int16 entries decode to
        return self._read_codes(start, stop).astype(np.float32) / np.float32(PCM16_SCALE)

    def __getstate__(self) -> dict[str, Any]:
        # to another process: the codes themselves, not a path of this one's spill folder
        return {"codes": self.codes, "sample_rate": self.sample_rate}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.sample_rate = state["sample_rate"]
        self._hold(state["codes"])

    def __repr__(self) -> str:
        return f"Pcm16Audio({self.channels}ch, {self.sample_rate} Hz, {self.duration:.3f}s)"


class LazyAudio(AudioClip):
    """An AUDIO value computed block by block from other tracks (`read`); `array` makes
    the whole track each time it is asked for (a node that wants it all keeps it)."""

    __slots__ = ("_channels", "_frames")

    def _setup(self, sample_rate: int, channels: int, frames: int) -> None:
        self.sample_rate, self._channels, self._frames = int(sample_rate), channels, frames

    @property  # type: ignore[override]
    def array(self) -> Any:
        return self.read(0, self._frames)

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def frames(self) -> int:
        return self._frames

    @property
    def nbytes(self) -> int:
        return 256  # what it reads is held by its sources

    def read(self, start: int, stop: int) -> Any:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        # Pickled by its sources, never by `array` (that would make the whole track).
        names = ["sample_rate"]
        for cls in type(self).__mro__[: type(self).__mro__.index(LazyAudio) + 1]:
            names += list(getattr(cls, "__slots__", ()))
        return {k: getattr(self, k) for k in names if hasattr(self, k)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)


class JoinedAudio(LazyAudio):
    """Tracks laid end to end, track k padded with silence or cut to `lengths[k]` frames,
    at the highest rate and channel count among them (others are converted when read,
    one track at a time). None tracks are silence. What `concat_audio` returns, lazily."""

    __slots__ = ("_converted", "_starts", "_tracks")

    def __init__(self, tracks: Sequence[AudioClip | None], lengths: Sequence[int]):
        present = [a for a in tracks if a is not None]
        if not present:
            raise ValueError("no audio to join")
        if len(tracks) != len(lengths):
            raise ValueError(f"{len(tracks)} tracks, {len(lengths)} lengths")
        starts = [0]
        for n in lengths:
            starts.append(starts[-1] + int(n))
        self._tracks = list(tracks)
        self._starts = starts
        self._converted: tuple[int, AudioClip] | None = None
        self._setup(
            max(a.sample_rate for a in present), max(a.channels for a in present), starts[-1]
        )

    def _track(self, k: int) -> AudioClip:
        a = self._tracks[k]
        assert a is not None
        if a.sample_rate == self.sample_rate and a.channels == self._channels:
            return a
        held = self._converted
        if held is None or held[0] != k:
            held = self._converted = (
                k,
                a.resampled(self.sample_rate).with_channels(self._channels),
            )
        return held[1]

    def cut_points(self) -> list[int]:
        out = set(self._starts[1:-1])
        for k, a in enumerate(self._tracks):
            if a is not None and a.sample_rate == self.sample_rate:
                inner = a.cut_points()
                out.update(
                    self._starts[k] + c for c in inner if c < self._starts[k + 1] - self._starts[k]
                )
        return sorted(c for c in out if 0 < c < self._frames)

    def read(self, start: int, stop: int) -> Any:
        import numpy as np

        start, stop = max(0, start), min(stop, self._frames)
        out = np.zeros((self._channels, max(0, stop - start)), np.float32)
        if stop <= start:
            return out
        k = max(0, bisect.bisect_right(self._starts, start) - 1)
        while k < len(self._tracks) and self._starts[k] < stop:
            t0, t1 = self._starts[k], self._starts[k + 1]
            lo, hi = max(start, t0), min(stop, t1)
            if self._tracks[k] is not None and lo < hi:
                src = self._track(k).read(lo - t0, hi - t0)
                out[:, lo - start : lo - start + src.shape[1]] = src
            k += 1
        return out


class FadedAudio(LazyAudio):
    """`source` faded in over its first `fade_in` frames and out over its last
    `fade_out`: the same samples as multiplying a copy by `np.linspace(0, 1, fade_in)`
    and then its end by `np.linspace(1, 0, fade_out)` (float32), made block by block."""

    __slots__ = ("_fade_in", "_fade_out", "_source")

    def __init__(self, source: AudioClip, fade_in: int, fade_out: int):
        self._source = source
        n = source.frames
        self._fade_in, self._fade_out = min(n, max(0, fade_in)), min(n, max(0, fade_out))
        self._setup(source.sample_rate, source.channels, n)

    def cut_points(self) -> list[int]:
        return self._source.cut_points()

    def read(self, start: int, stop: int) -> Any:
        import numpy as np

        start, stop = max(0, start), min(stop, self._frames)
        out = np.array(self._source.read(start, stop), np.float32, copy=True)
        a, b, m = self._fade_in, self._fade_out, self._frames
        if a and start < a:
            ramp = np.linspace(0, 1, a, dtype=np.float32)
            out[:, : min(stop, a) - start] *= ramp[start : min(stop, a)]
        if b and stop > m - b:
            ramp = np.linspace(1, 0, b, dtype=np.float32)
            lo = max(start, m - b)
            out[:, lo - start :] *= ramp[lo - (m - b) : stop - (m - b)]
        return out


class ScaledAudio(LazyAudio):
    """`source` times a gain, block by block: the same float32 samples as
    `source.array * np.float32(gain)`, without a second full-length copy (loudness
    normalisation of a scene's 16-bit speech keeps only the codes)."""

    __slots__ = ("_gain", "_source")

    def __init__(self, source: AudioClip, gain: float):
        import numpy as np

        self._source = source
        self._gain = np.float32(gain)
        self._setup(source.sample_rate, source.channels, source.frames)

    @property
    def source(self) -> AudioClip:
        return self._source

    @property
    def gain(self) -> float:
        return float(self._gain)

    @property
    def nbytes(self) -> int:
        # Usually the only holder of its source (a scene's speech once the speech
        # node's list is released): the memory tier counts what it keeps alive.
        return self._source.nbytes + 256

    def cut_points(self) -> list[int]:
        return self._source.cut_points()

    def read(self, start: int, stop: int) -> Any:
        start, stop = max(0, start), min(stop, self._frames)
        return self._source.read(start, max(start, stop)) * self._gain
