"""VIDEO: a streamed sequence of uint8 RGB frames.

A `VideoStream` knows its fps, size and frame count up front and hands out its
frames in chunks: `arrays(n)` -> uint8 numpy arrays [t, H, W, 3], the native form
(no torch import); `chunks(n)` gives the same frames as uint8 torch tensors (zero
copy) for code written against tensors. It can be iterated any number of times and
never holds all frames in memory unless it is a `TensorVideo`. Implementations:

- `TensorVideo`: frames already in a tensor (short clips, tests);
- `FileVideo`: a file decoded lazily with PyAV, optionally skipping, capping
  and taking every n-th frame;
- `MappedVideo`: a per-chunk transform of another video (overlays, burn-in, resize);
- `IndexedVideo`: a monotonic selection of another video's frames (trim, fps change);
- `ProceduralVideo`: frames rendered on demand by a function (Ken Burns, titles);
- `ConcatVideo`: clips one after another with cut / crossfade / fade-through-black.

Segment keys: `segment_key(start, stop)` is a content key for frames [start, stop)
that is computed from the stream's structure without rendering anything, the way
node keys come from the graph: a leaf knows what it shows (a procedural clip its
render function and parameters, a file its fingerprint, a tensor its bytes), and a
transform or a concat mixes its own parameters into its sources' keys for the
frames that range reads. Keys are position independent where the frames are (a
scene that moves later in the video keeps its key), and None where nothing is
known (an unkeyed transform, a nondeterministic source). `cut_points()` are the
frame indices where content is independent on both sides (scene cuts, the edges of
transition windows): the encoder aligns its closed-GOP segments to them.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .audio import AudioClip, JoinedAudio

# A range key that says "this transform leaves these frames untouched".
IDENTITY = b""


def digest(*parts: Any) -> bytes:
    """A 16-byte blake2b of the parts (bytes as they are, anything else by repr)."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        b = p if isinstance(p, bytes) else repr(p).encode()
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.digest()


def function_key(fn: Any, _depth: int = 0) -> bytes:
    """What a function does, from its bytecode and constants (not its file or line
    numbers): editing a render function's code changes the keys of what it drew."""
    code = getattr(fn, "__code__", fn)
    if not hasattr(code, "co_code") or _depth > 8:
        return digest(getattr(fn, "__qualname__", type(fn).__qualname__))
    consts = []
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            consts.append(function_key(c, _depth + 1))
        elif isinstance(c, frozenset):
            consts.append(repr(sorted(repr(x) for x in c)).encode())
        else:
            consts.append(repr(c).encode())
    # Helpers a closure calls (a render function's per-frame step) count too.
    cells = [
        function_key(c.cell_contents, _depth + 1)
        for c in getattr(fn, "__closure__", None) or ()
        if callable(getattr(c, "cell_contents", None)) and hasattr(c.cell_contents, "__code__")
    ]
    return digest(code.co_code, *consts, *code.co_names, *cells)


def mix_key(kind: bytes, own: bytes | None, *sources: bytes | None) -> bytes | None:
    """One key from a transform's own key and its sources' keys; None if any is unknown."""
    if own is None or any(s is None for s in sources):
        return None
    return digest(kind, own, *sources)


class VideoStream:
    """Base class of VIDEO values. Subclasses implement `render` and/or `chunks`."""

    fps: float
    width: int
    height: int
    frame_count: int
    _audio: AudioClip | None = None
    # Audio that passes through from another stream is read from it, not copied: a
    # chain of overlays holds one track, not one reference-pinned copy per step.
    _audio_source: VideoStream | None = None

    @property
    def audio(self) -> AudioClip | None:
        if self._audio_source is not None:
            return self._audio_source.audio
        return self._audio

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def nbytes(self) -> int:
        """Bytes held in memory (the memory cache budgets by this): the audio, plus the
        frames for a TensorVideo; a lazy stream holds no frames."""
        a = self._audio
        return 4096 + (a.nbytes if a is not None else 0)

    def arrays(self, n: int = 16, start: int = 0, stop: int | None = None) -> Iterator[Any]:
        """Yield frames [start, stop) as uint8 numpy arrays [t<=n, H, W, 3].

        Every chunk is a fresh, contiguous buffer that the caller owns: a transform may
        draw on it in place (which is how overlays avoid copying whole frames). The
        default walks `render_array`; a stream written against tensors (it overrides
        `chunks`) is read through its chunks."""
        import numpy as np

        if _overrides(self, "chunks"):
            for c in self.chunks(n, start, stop):
                yield np.asarray(c)
            return
        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        n = max(1, int(n))
        for a in range(max(0, start), stop, n):
            yield self.render_array(a, min(stop, a + n))

    def render_array(self, start: int, stop: int) -> Any:
        """Frames [start, stop) as one uint8 numpy array [t, H, W, 3]."""
        import numpy as np

        if _overrides(self, "render") and not _overrides(self, "chunks"):
            return np.asarray(self.render(start, stop))
        parts = list(self.arrays(max(1, stop - start), start, stop))
        if not parts:
            return np.zeros((0, self.height, self.width, 3), np.uint8)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def chunks(self, n: int = 16, start: int = 0, stop: int | None = None) -> Iterator[Any]:
        """`arrays` as uint8 torch tensors [t<=n, H, W, 3] (zero copy; imports torch)."""
        import torch

        for a in self.arrays(n, start, stop):
            yield torch.from_numpy(a)

    def render(self, start: int, stop: int) -> Any:
        """Frames [start, stop) as a uint8 torch tensor [t, H, W, 3]."""
        import torch

        return torch.from_numpy(self.render_array(start, stop))

    def frame_array(self, i: int) -> Any:
        """Frame `i` as a uint8 numpy array [H, W, 3] (negative counts from the end)."""
        if i < 0:
            i += self.frame_count
        if not 0 <= i < self.frame_count:
            raise IndexError(f"frame {i} out of range (video has {self.frame_count})")
        return self.render_array(i, i + 1)[0]

    def frame(self, i: int) -> Any:
        """Frame `i` as a uint8 torch tensor [H, W, 3] (negative counts from the end)."""
        import torch

        return torch.from_numpy(self.frame_array(i))

    def segment_key(self, start: int, stop: int) -> bytes | None:
        """A content key for frames [start, stop), found without rendering them; None
        when the stream cannot tell (the encoder then renders and encodes the range)."""
        return None

    def cut_points(self) -> list[int]:
        """Frame indices in (0, frame_count) where the content on either side is
        independent (scene cuts, edges of transition windows), ascending."""
        return []

    def with_audio(self, audio: AudioClip | None) -> VideoStream:
        """The same frames with another audio track (a shallow copy; frames are not touched)."""
        out = copy.copy(self)
        out._audio = audio
        out._audio_source = None
        return out

    def __repr__(self) -> str:
        a = f", audio {self._audio!r}" if self._audio is not None else ""
        return (
            f"{type(self).__name__}({self.width}x{self.height}, {self.fps:g} fps, "
            f"{self.frame_count} frames{a})"
        )


def _overrides(stream: VideoStream, name: str) -> bool:
    return getattr(type(stream), name) is not getattr(VideoStream, name)


def _check_geometry(fps: float, width: int, height: int, frame_count: int) -> None:
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be positive, got {fps}")
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    if frame_count < 0:
        raise ValueError(f"frame count must not be negative, got {frame_count}")


class TensorVideo(VideoStream):
    """Frames held in a uint8 tensor [T, H, W, 3]."""

    def __init__(self, frames: Any, fps: float, audio: AudioClip | None = None):
        import torch

        t = torch.as_tensor(frames)
        if t.dtype != torch.uint8:
            t = (t.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8)
        if t.ndim != 4 or t.shape[-1] != 3:
            raise ValueError(f"expected frames [T,H,W,3], got shape {tuple(t.shape)}")
        self.frames = t.contiguous()
        self.fps = float(fps)
        self.frame_count, self.height, self.width = (int(x) for x in t.shape[:3])
        _check_geometry(self.fps, self.width, self.height, self.frame_count)
        self._audio = audio

    def render_array(self, start: int, stop: int) -> Any:
        return self.frames[max(0, start) : max(0, stop)].numpy().copy()  # callers own chunks

    def segment_key(self, start: int, stop: int) -> bytes | None:
        part = self.frames[max(0, start) : max(0, stop)]
        return digest(b"tensor", tuple(part.shape), part.numpy().tobytes())

    @property
    def nbytes(self) -> int:
        return super().nbytes + int(self.frames.nelement())


class ProceduralVideo(VideoStream):
    """Frames computed on demand: `render_fn(start, stop)` -> uint8 [stop-start, H, W, 3]
    (a numpy array, or a CPU tensor, which is viewed as one).

    `key` names what the function draws (its inputs: an image's hash, the motion
    parameters); with it, ranges have segment keys (mixed with the function's code).
    Leave it None for a nondeterministic renderer."""

    def __init__(
        self,
        render_fn: Callable[[int, int], Any],
        *,
        fps: float,
        width: int,
        height: int,
        frame_count: int,
        audio: AudioClip | None = None,
        key: bytes | None = None,
    ):
        _check_geometry(fps, width, height, frame_count)
        self._render_fn = render_fn
        self.fps, self.width, self.height = float(fps), int(width), int(height)
        self.frame_count = int(frame_count)
        self._audio = audio
        self._key = None if key is None else digest(function_key(render_fn), key)

    def render_array(self, start: int, stop: int) -> Any:
        import numpy as np

        start, stop = max(0, start), min(stop, self.frame_count)
        return np.asarray(self._render_fn(start, max(start, stop)))  # a tensor is viewed

    def segment_key(self, start: int, stop: int) -> bytes | None:
        if self._key is None:
            return None
        return digest(b"proc", self._key, self.width, self.height, max(0, start), stop)


class MappedVideo(VideoStream):
    """A per-chunk transform of another video: `fn(chunk, first_index)` -> chunk, where
    a chunk is a fresh uint8 numpy array [t, H, W, 3] the transform may draw on in
    place (it may return a tensor; it is viewed as an array).

    The transform may change the frame size (give `width`/`height`) but not the
    number of frames. Audio passes through unless `audio` is given.

    `key` says what the transform does, for segment keys: bytes for a transform that
    treats every frame alike (a resize), or `range_key(start, stop)` -> bytes for one
    that depends on the frame index (an overlay shown from 2 s to 5 s, burned cues):
    it returns what is drawn on those frames, relative to `start` where it can so
    that a range keeps its key when it moves, or `IDENTITY` when the range is left
    untouched. No key: the stream's ranges have no segment keys. `cuts` are frame
    indices where the transform's effect starts or stops (for segment alignment).
    """

    _KEEP: Any = object()

    def __init__(
        self,
        source: VideoStream,
        fn: Callable[[Any, int], Any],
        *,
        width: int | None = None,
        height: int | None = None,
        audio: Any = _KEEP,
        key: bytes | Callable[[int, int], bytes | None] | None = None,
        cuts: Sequence[int] = (),
    ):
        self.source = source
        self._fn = fn
        self.fps = source.fps
        self.width = int(width or source.width)
        self.height = int(height or source.height)
        self.frame_count = source.frame_count
        if audio is MappedVideo._KEEP:
            self._audio_source = source
        else:
            self._audio = audio
        self._key = key
        self._code = function_key(fn) if key is not None else b""
        self._cuts = [int(c) for c in cuts if 0 < int(c) < self.frame_count]

    def segment_key(self, start: int, stop: int) -> bytes | None:
        key = self._key
        if key is None:
            return None
        own = key(start, stop) if callable(key) else digest(b"uniform", key)
        if own == IDENTITY and (self.width, self.height) == (self.source.width, self.source.height):
            return self.source.segment_key(start, stop)
        if own is None:
            return None
        src = self.source.segment_key(start, stop)
        return mix_key(b"map", digest(self._code, own, self.width, self.height), src)

    def cut_points(self) -> list[int]:
        return sorted({*self.source.cut_points(), *self._cuts})

    def arrays(self, n: int = 16, start: int = 0, stop: int | None = None) -> Iterator[Any]:
        import numpy as np

        index = max(0, start)
        for chunk in self.source.arrays(n, start, stop):
            yield np.asarray(self._fn(chunk, index))
            index += int(chunk.shape[0])

    def render_array(self, start: int, stop: int) -> Any:
        import numpy as np

        return np.asarray(self._fn(self.source.render_array(start, stop), max(0, start)))


class IndexedVideo(VideoStream):
    """A monotonic (non-decreasing) selection of another video's frames at a new fps.

    Trim, every-n-th frame and fps conversion are all this: output frame j shows
    source frame `indices[j]`. Frames are streamed from the source in order.
    """

    def __init__(
        self,
        source: VideoStream,
        indices: Sequence[int],
        fps: float | None = None,
        audio: Any = MappedVideo._KEEP,
    ):
        idx = list(indices)
        if any(b < a for a, b in itertools.pairwise(idx)):
            raise ValueError("frame indices must not decrease")
        if idx and (idx[0] < 0 or idx[-1] >= source.frame_count):
            raise ValueError("frame indices outside the source video")
        self.source = source
        self.indices = idx
        self.fps = float(fps or source.fps)
        self.width, self.height = source.width, source.height
        self.frame_count = len(idx)
        _check_geometry(self.fps, self.width, self.height, self.frame_count)
        if audio is MappedVideo._KEEP:
            self._audio_source = source
        else:
            self._audio = audio

    def segment_key(self, start: int, stop: int) -> bytes | None:
        wanted = self.indices[max(0, start) : stop]
        if not wanted:
            return digest(b"empty")
        src = self.source.segment_key(wanted[0], wanted[-1] + 1)
        rel = tuple(w - wanted[0] for w in wanted)
        return mix_key(b"indexed", digest(rel), src)

    def cut_points(self) -> list[int]:
        import bisect

        out = {bisect.bisect_left(self.indices, c) for c in self.source.cut_points()}
        return sorted(c for c in out if 0 < c < self.frame_count)

    def arrays(self, n: int = 16, start: int = 0, stop: int | None = None) -> Iterator[Any]:
        import numpy as np

        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        wanted = self.indices[max(0, start) : stop]
        if not wanted:
            return
        n = max(1, int(n))
        if wanted[-1] - wanted[0] + 1 == len(wanted):
            # a run of frames (a trim, a preview's range): the source's own chunks are
            # already fresh buffers; stacking each frame again cost 5 ms a 1080p frame
            yield from self.source.arrays(n, wanted[0], wanted[-1] + 1)
            return
        out: list[Any] = []
        pos = 0
        src_index = wanted[0]
        for chunk in self.source.arrays(max(n, 8), wanted[0], wanted[-1] + 1):
            t = int(chunk.shape[0])
            while pos < len(wanted) and wanted[pos] < src_index + t:
                out.append(chunk[wanted[pos] - src_index])
                pos += 1
                if len(out) == n:
                    yield np.stack(out)
                    out = []
            src_index += t
        if out:
            yield np.stack(out)


class FileVideo(VideoStream):
    """A video file decoded lazily with PyAV, chunk by chunk.

    `skip` drops the first frames, `every_nth` keeps one frame in n, `max_frames`
    caps the count (0: no cap). The frame count is found by demuxing packets
    (no decoding). Audio is decoded on first access only.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        skip: int = 0,
        every_nth: int = 1,
        max_frames: int = 0,
        load_audio: bool = True,
    ):
        import av

        self.path = Path(path)
        self.skip, self.every_nth = max(0, int(skip)), max(1, int(every_nth))
        with av.open(str(self.path)) as c:
            if not c.streams.video:
                raise ValueError(f"{self.path.name} has no video stream")
            vs = c.streams.video[0]
            rate = vs.average_rate or vs.guessed_rate or vs.base_rate
            src_fps = float(rate) if rate else 0.0
            self.width, self.height = int(vs.codec_context.width), int(vs.codec_context.height)
            total = sum(1 for p in c.demux(vs) if p.size > 0)
            self._has_audio = bool(c.streams.audio)
        if total <= 0:
            raise ValueError(f"{self.path.name} has no video frames")
        self.source_frames = total
        count = len(range(self.skip, total, self.every_nth))
        if max_frames:
            count = min(count, int(max_frames))
        self.frame_count = count
        self.fps = src_fps / self.every_nth
        _check_geometry(self.fps, self.width, self.height, self.frame_count)
        self._load_audio = load_audio
        self._audio_loaded = False
        self._fingerprint: bytes | None = None

    def segment_key(self, start: int, stop: int) -> bytes | None:
        if self._fingerprint is None:
            self._fingerprint = file_fingerprint(self.path)
        return digest(
            b"file", self._fingerprint, self.skip, self.every_nth, self.width, self.height,
            max(0, start), min(stop, self.frame_count),
        )  # fmt: skip

    @property
    def audio(self) -> AudioClip | None:
        if self._load_audio and self._has_audio and not self._audio_loaded:
            from_s = self.skip / (self.fps * self.every_nth)
            self._audio = decode_audio(self.path, start=from_s, duration=self.duration)
            self._audio_loaded = True
        return self._audio

    def with_audio(self, audio: AudioClip | None) -> VideoStream:
        out = super().with_audio(audio)
        out._audio_loaded = True  # type: ignore[attr-defined]
        return out

    def arrays(self, n: int = 16, start: int = 0, stop: int | None = None) -> Iterator[Any]:
        import av
        import numpy as np

        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        start = max(0, start)
        if start >= stop:
            return
        first = self.skip + start * self.every_nth
        last = self.skip + (stop - 1) * self.every_nth
        n = max(1, int(n))
        buf: list[Any] = []
        with av.open(str(self.path)) as c:
            vs = c.streams.video[0]
            vs.thread_type = "AUTO"
            for i, frame in enumerate(c.decode(vs)):
                if i > last:
                    break
                if i < first or (i - self.skip) % self.every_nth:
                    continue
                img = frame.to_ndarray(format="rgb24")
                if img.shape[0] != self.height or img.shape[1] != self.width:
                    import cv2

                    img = cv2.resize(img, (self.width, self.height), interpolation=cv2.INTER_AREA)
                buf.append(img)
                if len(buf) == n:
                    yield np.stack(buf)
                    buf = []
        if buf:
            yield np.stack(buf)


def file_fingerprint(path: Path) -> bytes:
    """Size, mtime and a hash of the head and tail of a file (videos can be huge)."""
    st = path.stat()
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        if st.st_size > 2 << 20:
            f.seek(-(1 << 20), 2)
            h.update(f.read())
    return digest(st.st_size, st.st_mtime_ns, h.digest())


def decode_audio(
    path: str | Path, *, start: float = 0.0, duration: float | None = None
) -> AudioClip | None:
    """The first audio stream of a media file as float32 [C, N] (None if it has none)."""
    import av
    import numpy as np

    chunks: list[Any] = []
    rate = 0
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        stream = c.streams.audio[0]
        rate = int(stream.rate or stream.codec_context.sample_rate)
        layout = "stereo" if (stream.codec_context.channels or 1) >= 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        for frame in c.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((1, 0), np.float32)
    a = round(start * rate)
    b = data.shape[1] if duration is None else a + round(duration * rate)
    return AudioClip(np.ascontiguousarray(data[:, a:b], dtype=np.float32), rate)


TRANSITIONS = ("cut", "crossfade", "fade_black")


class ConcatVideo(VideoStream):
    """Clips one after another. Transitions are centred on each cut, so the timeline
    (and so the sync with the audio) is exactly the sum of the clip lengths: in the
    half-window before a cut the outgoing clip blends towards the incoming clip's
    first frame, after it the incoming clip blends from the outgoing clip's last frame.
    """

    def __init__(
        self,
        clips: Sequence[VideoStream],
        transition: str = "cut",
        transition_frames: int = 0,
        audio: Any = MappedVideo._KEEP,
    ):
        if not clips:
            raise ValueError("no clips to concatenate")
        if transition not in TRANSITIONS:
            raise ValueError(f"unknown transition {transition!r}; use one of {TRANSITIONS}")
        first = clips[0]
        for i, c in enumerate(clips):
            if (c.width, c.height) != (first.width, first.height):
                raise ValueError(
                    f"clip {i} is {c.width}x{c.height}, clip 0 is {first.width}x{first.height}"
                )
            if abs(c.fps - first.fps) > 1e-6:
                raise ValueError(f"clip {i} runs at {c.fps:g} fps, clip 0 at {first.fps:g}")
        self.clips = list(clips)
        self.fps, self.width, self.height = first.fps, first.width, first.height
        self.starts = [0]
        for c in self.clips:
            self.starts.append(self.starts[-1] + c.frame_count)
        self.frame_count = self.starts[-1]
        self.transition = transition if transition_frames > 0 else "cut"
        self.half = max(0, int(transition_frames) // 2)
        # The joined track is lazy (JoinedAudio): it reads the clips' tracks block by
        # block, so a long video's concat, fade and encoder never hold a full-length copy.
        self._joined = audio is MappedVideo._KEEP
        self._audio = None if self._joined else audio

    @property
    def audio(self) -> AudioClip | None:
        if not self._joined:
            return self._audio
        return joined_audio([c.audio for c in self.clips], [c.duration for c in self.clips])

    def with_audio(self, audio: AudioClip | None) -> VideoStream:
        out = super().with_audio(audio)
        out._joined = False  # type: ignore[attr-defined]
        return out

    def _half_for(self, k: int) -> int:
        """Half-window of the cut between clip k-1 and clip k, bounded by both clips."""
        a, b = self.clips[k - 1].frame_count, self.clips[k].frame_count
        return min(self.half, a // 2, b // 2)

    def arrays(self, n: int = 16, start: int = 0, stop: int | None = None) -> Iterator[Any]:
        import numpy as np

        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        streamed_last: Any = None  # the previous clip's last frame, as streamed (unblended)
        for k, clip in enumerate(self.clips):
            c0, c1 = self.starts[k], self.starts[k + 1]
            a, b = max(start, c0) - c0, min(stop, c1) - c0
            if a >= b:
                streamed_last = None
                continue
            head = self._half_for(k) if k > 0 and self.transition != "cut" else 0
            tail = (
                self._half_for(k + 1) if k + 1 < len(self.clips) and self.transition != "cut" else 0
            )
            prev_last = None
            if head and a < head:
                # reuse what we just streamed: asking a file-backed clip for its last frame decodes it all
                prev_last = (
                    streamed_last
                    if streamed_last is not None
                    else self.clips[k - 1].frame_array(-1)
                )
            next_first = (
                self.clips[k + 1].frame_array(0) if tail and b > clip.frame_count - tail else None
            )
            streamed_last = None
            index = a
            for chunk in clip.arrays(n, a, b):
                t = int(chunk.shape[0])
                if index + t == clip.frame_count:
                    streamed_last = chunk[-1].copy()
                pos = np.arange(index, index + t)
                if head and index < head:
                    # alpha of the incoming clip: 0.5 at the cut, 1 at the end of the window
                    w = np.minimum(0.5 + 0.5 * (pos.astype(np.float32) + 0.5) / head, 1.0)
                    chunk = self._blend(chunk, prev_last, w, pos < head, incoming=True)
                if tail and index + t > clip.frame_count - tail:
                    d = clip.frame_count - pos  # frames until the cut (1 = last)
                    w = np.minimum(0.5 + 0.5 * (d.astype(np.float32) - 0.5) / tail, 1.0)
                    chunk = self._blend(chunk, next_first, w, d <= tail, incoming=False)
                yield chunk
                index += t

    def _blend(self, chunk: Any, other: Any, own_weight: Any, mask: Any, *, incoming: bool) -> Any:
        import cv2

        if not bool(mask.any()):
            return chunk
        # chunks are fresh buffers owned by the consumer: blend in place
        for k in mask.nonzero()[0].tolist():
            w = float(own_weight[k])
            if self.transition == "crossfade":
                cv2.addWeighted(chunk[k], w, other, 1.0 - w, 0.0, dst=chunk[k])
            else:  # fade through black: black exactly at the cut
                g = min(1.0, max(0.0, (w - 0.5) * 2))
                cv2.convertScaleAbs(chunk[k], dst=chunk[k], alpha=g)
        return chunk

    def _windows(self, k: int) -> tuple[int, int]:
        """(head, tail): the blended frames at the start and end of clip k."""
        if self.transition == "cut":
            return 0, 0
        head = self._half_for(k) if k > 0 else 0
        tail = self._half_for(k + 1) if k + 1 < len(self.clips) else 0
        return head, tail

    def segment_key(self, start: int, stop: int) -> bytes | None:
        # Per clip: its own key for the local range, plus (only where the range reaches
        # into a transition window) the neighbour's boundary frame and the window. Local
        # coordinates only, so an unchanged scene keeps its keys when an earlier one
        # changes length.
        stop = min(stop, self.frame_count)
        parts: list[bytes | None] = [self.transition.encode()]
        for k, clip in enumerate(self.clips):
            c0, c1 = self.starts[k], self.starts[k + 1]
            a, b = max(start, c0) - c0, min(stop, c1) - c0
            if a >= b:
                continue
            head, tail = self._windows(k)
            parts.append(clip.segment_key(a, b))
            n = clip.frame_count
            if head and a < head:
                prev = self.clips[k - 1]
                parts += [b"head", head, a, prev.segment_key(prev.frame_count - 1, prev.frame_count)]  # fmt: skip
            if tail and b > n - tail:
                parts += [b"tail", tail, n - b, n - a, self.clips[k + 1].segment_key(0, 1)]
        if any(p is None for p in parts):
            return None
        return digest(b"concat", *parts)

    def cut_points(self) -> list[int]:
        out: set[int] = set()
        for k, clip in enumerate(self.clips):
            c0 = self.starts[k]
            head, _ = self._windows(k)
            if k:
                out.update((c0 - head, c0 + head))
            out.update(c0 + c for c in clip.cut_points())
        return sorted(c for c in out if 0 < c < self.frame_count)

    def clip_bounds(self) -> list[tuple[float, float]]:
        """(start, end) of each clip in seconds on the output timeline."""
        return [
            (self.starts[k] / self.fps, self.starts[k + 1] / self.fps)
            for k in range(len(self.clips))
        ]


def _track_lengths(tracks: Sequence[AudioClip | None], durations: Sequence[float]) -> list[int]:
    """Frames of each track on the joined timeline, at the highest rate: cumulative
    rounding, so nothing drifts across clips."""
    rate = max(a.sample_rate for a in tracks if a is not None)
    wants = []
    total = 0.0
    done = 0
    for d in durations:
        total += d
        want = round(total * rate) - done
        done += want
        wants.append(want)
    return wants


def joined_audio(
    tracks: Sequence[AudioClip | None], durations: Sequence[float]
) -> JoinedAudio | None:
    """Audio tracks laid end to end, each padded or cut to its clip's duration, read
    lazily (block by block); None if none."""
    if all(a is None for a in tracks):
        return None
    return JoinedAudio(tracks, _track_lengths(tracks, durations))


def concat_audio(
    tracks: Sequence[AudioClip | None], durations: Sequence[float]
) -> AudioClip | None:
    """Audio tracks laid end to end, each padded or cut to its clip's duration, in one
    buffer; None if none."""
    joined = joined_audio(tracks, durations)
    return None if joined is None else AudioClip(joined.array, joined.sample_rate)
