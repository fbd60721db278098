"""H.264 + AAC MP4 from a VIDEO stream, in closed-GOP segments that are cached by key.

The pictures are encoded in segments: each one is its own x264 session (it starts
with an IDR frame and references nothing outside itself), aligned to the stream's
cut points (scene cuts, the edges of crossfade windows) and at most
`max_segment_frames` long. A segment's packets are stored in the value cache under
a key made of the stream's `segment_key` for its frame range and the encoder
settings, so a variant that changes one scene renders and encodes only the
segments that scene's frames reach; the others are copied as packets. The packets
of all segments are then muxed into one MP4 with their timestamps rebased.

Audio is encoded in a head and a tail (see `audio_split`): the tail after the first
scene join that follows silence is cached by its samples, so a variant whose first
scene changed re-encodes only that scene's audio; the rest of the track is streamed
from the source clip in blocks.

`encode_segment` renders and encodes one range and needs nothing but the stream
and the settings, so another process (a Ray worker) can run it and hand back the
`EncodedSegment`; `encode_video(..., run_segments=...)` takes such a runner.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from .heap import keep_big_buffers_off_the_heap
from .video import VideoStream, digest

AUDIO_RATE = 48000
# Part of every segment's key: raised when the bytes a segment holds for the same
# frames change. 2: frames with an odd chroma height (H = 270, 1350) are laid out
# right (they had a band of wrong colour at the top), so their cached segments are
# not re-used.
SEGMENT_FORMAT = 3  # 3: x264 kept off AVX-512 (`x264_cpu_limit`): segments cached
# on such a machine before may hold packets of a run that went wrong there.
MAX_SEGMENT_FRAMES = 240

_ASS_HEADER = b"""[Script Info]
ScriptType: v4.00+
PlayResX: 384
PlayResY: 288

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Roboto,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
"""


def fps_fraction(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


@dataclass(frozen=True)
class EncodeSettings:
    """What the bitstream of a segment depends on besides its frames. `threads` is
    fixed (not "auto") so the same frames give the same packets on any machine; one
    thread, because segments are encoded side by side instead (`encode_lanes`)."""

    width: int
    height: int
    fps: float
    crf: int = 20
    preset: str = "veryfast"
    threads: int = 1

    def options(self) -> dict[str, str]:
        # Each segment is its own session, so it is closed by construction; scenecut is
        # off so a segment's GOP layout depends on its length only.
        return {
            "crf": str(self.crf),
            "preset": self.preset,
            "threads": str(self.threads),
            "x264-params": "scenecut=0:open-gop=0",
        }

    def codec_options(self) -> dict[str, str]:
        """`options` as x264 gets them: with the CPU limit of this machine, which is
        not in the key (x264 gives the same packets whatever instructions it uses)."""
        opts = self.options()
        if limit := x264_cpu_limit():
            opts["x264-params"] += f":asm={limit}"
        return opts

    def key(self) -> bytes:
        import av

        return digest(
            b"x264-segment",
            SEGMENT_FORMAT,
            self.width,
            self.height,
            str(fps_fraction(self.fps)),
            sorted(self.options().items()),
            av.__version__,
            av.library_versions.get("libavcodec"),
        )


@functools.cache
def x264_cpu_limit() -> str:
    """The x264 `asm` setting for this machine: "AVX2" where the CPU has AVX-512,
    else "" (x264 picks its instructions itself).

    On an AMD EPYC with AVX-512 (the machine this was built on), x264's AVX-512 code
    gave different packets for the same frames from one encode to the next, more
    often with other threads busy: two local batches of the same 4 rows at 160x90
    differed in 8-19 of each video's 29 frames in every try. Kept to AVX2 (which
    every AVX-512 CPU has) the packets were the same in every run, which the segment
    cache and the same-frames promise (a re-run, Ray against local) rest on. Linux
    only: elsewhere x264 is left as it is."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return "AVX2" if "avx512f" in line.split() else ""
    except OSError:
        pass
    return ""


@dataclass
class EncodedSegment:
    """One segment's H.264 packets (Annex B, SPS/PPS in its first packet), with pts
    and dts in frames from the segment's first frame."""

    frames: int
    packets: list[tuple[int, int, bool, bytes]] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(len(p[3]) for p in self.packets) + 64 * len(self.packets)

    def to_value(self) -> list[Any]:
        return [SEGMENT_FORMAT, self.frames, [list(p) for p in self.packets]]

    @classmethod
    def from_value(cls, value: Any) -> EncodedSegment:
        fmt, frames, packets = value
        if fmt != SEGMENT_FORMAT:
            raise ValueError(f"segment format {fmt}, expected {SEGMENT_FORMAT}")
        return cls(int(frames), [(int(a), int(b), bool(k), bytes(d)) for a, b, k, d in packets])


@dataclass
class EncodeStats:
    """What an encode did: `encoded_frames` were rendered and encoded, `reused_frames`
    came from cached segments."""

    path: Path
    frames: int = 0
    encoded_frames: int = 0
    reused_frames: int = 0
    segments: int = 0
    remote_segments: int = 0  # encoded by a segment runner (other workers)
    reused_segments: int = 0
    reused_audio_seconds: float = 0.0  # the AAC tail came from the cache

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "frames": self.frames,
            "encoded_frames": self.encoded_frames,
            "reused_frames": self.reused_frames,
            "segments": self.segments,
            "reused_segments": self.reused_segments,
            "reused_audio_seconds": round(self.reused_audio_seconds, 3),
        }


def plan_segments(
    video: VideoStream, max_frames: int = MAX_SEGMENT_FRAMES
) -> list[tuple[int, int]]:
    """Frame ranges covering the video: split at its cut points, then long pieces into
    equal parts of at most `max_frames` (equal parts of a piece depend on its length
    only, so an unchanged scene splits the same way wherever it sits)."""
    n = video.frame_count
    bounds = [0, *(c for c in video.cut_points() if 0 < c < n), n]
    out: list[tuple[int, int]] = []
    for a, b in itertools.pairwise(bounds):
        if b <= a:
            continue
        parts = max(1, -(-(b - a) // max(1, max_frames)))
        edges = [a + (b - a) * i // parts for i in range(parts + 1)]
        out += [(x, y) for x, y in itertools.pairwise(edges) if y > x]
    return out


def segment_cache_key(
    video: VideoStream, start: int, stop: int, settings: EncodeSettings
) -> str | None:
    k = video.segment_key(start, stop)
    if k is None:
        return None
    return digest(b"segment", settings.key(), k, stop - start).hex()


def _frames_i420(
    video: VideoStream, W: int, H: int, start: int, stop: int, chunk: int
) -> Iterator[Any]:
    """Chunks of I420 frames [t, H*3/2, W], made on a worker thread so that rendering the
    frames (numpy / OpenCV, which release the GIL) overlaps with x264 encoding them."""
    import cv2
    import numpy as np

    # One chunk in the queue while the next renders: enough to keep x264 fed, and at
    # 1080p each 8-frame RGB chunk is 50 MB, so a deeper queue is memory for nothing.
    q: queue.Queue[Any] = queue.Queue(maxsize=1)
    halt = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for arr in video.arrays(chunk, start, stop):
                if arr.shape[1] != H or arr.shape[2] != W:
                    arr = np.ascontiguousarray(arr[:, :H, :W])
                out = np.empty((arr.shape[0], H * 3 // 2, W), np.uint8)
                for i, f in enumerate(arr):
                    cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420, dst=out[i])
                while not halt.is_set():
                    try:
                        q.put(out, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if halt.is_set():
                    return
            q.put(end)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    worker = threading.Thread(target=produce, name="reelgraph-encode-frames", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        halt.set()
        worker.join()


def encode_segment(
    video: VideoStream,
    start: int,
    stop: int,
    settings: EncodeSettings,
    *,
    chunk: int = 8,
    progress: Callable[[int], None] | None = None,
) -> EncodedSegment:
    """Render frames [start, stop) and encode them as one closed x264 session."""
    import av

    cc = av.CodecContext.create("libx264", "w")
    cc.width, cc.height, cc.pix_fmt = settings.width, settings.height, "yuv420p"
    rate = fps_fraction(settings.fps)
    cc.framerate = rate
    cc.time_base = 1 / rate
    cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 6, 6, 6, 1  # smpte170m, tv
    cc.options = settings.codec_options()
    seg = EncodedSegment(stop - start)

    def take(packets: Any) -> None:
        for p in packets:
            seg.packets.append((int(p.pts), int(p.dts), bool(p.is_keyframe), bytes(p)))

    done = 0
    for yuv in _frames_i420(video, settings.width, settings.height, start, stop, chunk):
        for f in yuv:
            frame = _yuv_frame(av, f)
            # cv2's I420 is BT.601, limited range: say so, or players guess BT.709 for HD
            frame.colorspace, frame.color_range = 6, 1
            frame.pts = done
            take(cc.encode(frame))
            done += 1
        if progress is not None:
            progress(done)
    take(cc.encode(None))
    if done != stop - start:
        raise RuntimeError(
            f"the video promised frames {start}..{stop} but gave {done} of {stop - start}"
        )
    return seg


def _yuv_frame(av: Any, plane: Any) -> Any:
    """An I420 frame [H*3/2, W] as an AVFrame over the array itself (no copy: x264
    copies the picture in when it is sent); a copy where PyAV cannot wrap it.

    Only for H a multiple of 4: with an odd chroma height (H = 270, 1350: the feed
    preset) PyAV's wrapper takes the frame as 2 rows shorter and its chroma planes
    start in the wrong place, which painted an 8-row band of wrong colour at the top.
    from_ndarray lays the planes out right for every even H."""
    if plane.shape[0] % 6 == 0:  # H*3/2 rows with H % 4 == 0
        try:
            return av.VideoFrame.from_numpy_buffer(plane, format="yuv420p")
        except (AttributeError, ValueError, TypeError):
            pass
    return av.VideoFrame.from_ndarray(plane, format="yuv420p")


class SegmentStore:
    """Encoded segments in a value cache (a `Cache`): on disk when it has a disk tier
    (written atomically, shared by processes on the same folder), else in memory."""

    def __init__(self, cache: Any):
        self.cache = cache

    def get(self, key: str) -> EncodedSegment | None:
        value = self.get_value(key)
        if value is None:
            return None
        try:
            return EncodedSegment.from_value(value)
        except (ValueError, TypeError, IndexError):
            return None

    def put(self, key: str, seg: EncodedSegment) -> None:
        self.put_value(key, seg.to_value(), seg.nbytes)

    def _result(self, key: str) -> Any:
        disk = getattr(self.cache, "disk", None)
        hit = disk.get(key) if disk is not None else self.cache.get(key)
        return hit if hit is not None and hit.values else None

    def get_value(self, key: str) -> Any:
        """A plain value stored with `put_value` (an encoded audio tail), or None."""
        hit = self._result(key)
        return hit.values[0] if hit is not None else None

    def claim(self, key: str) -> contextlib.AbstractContextManager[Any]:
        """`with store.claim(key) as hit:` hit is what another render stored under `key`
        while this one waited for it to finish encoding it, or None: then encode and
        put it inside the block (renders side by side share a cache's flights: a
        batch's rows encode a shared segment once)."""
        flights = getattr(self.cache, "flights", None)
        if flights is None:
            return contextlib.nullcontext(None)
        return flights.claim(key, self._result, lambda: False)

    def put_value(self, key: str, value: Any, nbytes: int) -> None:
        from ..cache import Result

        result = Result((value,))
        disk = getattr(self.cache, "disk", None)
        if disk is not None:
            disk.put(key, result)  # not the memory tier: packets are cheap to read back
        else:
            self.cache.put(key, result, nbytes=nbytes)


class SegmentRunner(Protocol):
    """Encodes frame ranges of a video elsewhere (other processes, a cluster), each as
    its own closed segment, and gives them back in order; `progress(frames)` is told
    how many frames are done so far."""

    def __call__(
        self,
        video: VideoStream,
        ranges: Sequence[tuple[int, int]],
        settings: EncodeSettings,
        progress: Callable[[int], None] | None = None,
    ) -> Sequence[EncodedSegment]: ...


def encode_video(
    video: VideoStream,
    path: str | Path,
    *,
    crf: int = 20,
    preset: str = "veryfast",
    audio_bitrate: int = 160,
    metadata: dict[str, str] | None = None,
    cues: list[Any] | None = None,
    chunk: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    store: SegmentStore | None = None,
    max_segment_frames: int = MAX_SEGMENT_FRAMES,
    run_segments: SegmentRunner | None = None,
    threads: int = 1,
    lanes: int | None = None,
) -> EncodeStats:
    """Stream `video` (and its audio) into an MP4 at `path`, atomically, re-using the
    segments `store` holds. Segments are muxed as they are ready and then dropped, so
    memory does not grow with the length. `run_segments(video, ranges, settings)` may
    encode the missing ranges elsewhere (in parallel); by default they are encoded here,
    `lanes` at a time (`encode_lanes()`: one per core, at most two), each segment by
    an x264 session of `threads` threads."""
    keep_big_buffers_off_the_heap()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    W, H = video.width - video.width % 2, video.height - video.height % 2
    if W < 2 or H < 2:
        raise ValueError(f"frame size {video.width}x{video.height} is too small to encode")
    n = video.frame_count
    if n <= 0:
        raise ValueError("the video has no frames")
    settings = EncodeSettings(W, H, video.fps, crf, preset, threads)
    ranges = plan_segments(video, max_segment_frames)
    keys = [segment_cache_key(video, a, b, settings) for a, b in ranges]
    stats = EncodeStats(path, frames=n, segments=len(ranges))
    seen = 0

    def report_done(k: int) -> None:
        # never backwards: remote segments report first, then the mux passes them again
        nonlocal seen
        if progress is not None and k > seen:
            seen = k
            progress(k, n)

    def cached(i: int) -> EncodedSegment | None:
        if store is None or keys[i] is None:
            return None
        hit = store.get(keys[i])  # type: ignore[arg-type]
        return hit if hit is not None and hit.frames == ranges[i][1] - ranges[i][0] else None

    remote: dict[int, EncodedSegment] = {}
    if run_segments is not None:
        missing = [i for i in range(len(ranges)) if cached(i) is None]
        if missing:
            made = run_segments(video, [ranges[i] for i in missing], settings, progress=report_done)
            remote = dict(zip(missing, made, strict=True))
            stats.remote_segments = len(made)

    reused: set[int] = set()

    def source(i: int) -> EncodedSegment | None:
        """Segment i from elsewhere (a runner, the store), or None: encode it here."""
        seg = remote.pop(i, None)
        if seg is not None:
            return seg
        seg = cached(i)
        if seg is not None:
            stats.reused_frames += seg.frames
            stats.reused_segments += 1
            reused.add(i)
        return seg

    waited: set[int] = set()  # another render encoded them while this one waited
    stored: set[int] = set()  # put into the store by the lane that encoded them

    def shared(i: int, make: Callable[[], EncodedSegment]) -> EncodedSegment:
        """Segment i, made on a lane unless another render (a batch row beside this
        one) is encoding the same segment now: then its packets, once stored."""
        key = keys[i]
        if store is None or key is None:
            return make()
        with store.claim(key):
            # stored by another render meanwhile: it waited for that one, or that one
            # stored it between this render's look-up and now
            seg = cached(i)
            if seg is not None:
                waited.add(i)
                return seg
            seg = make()
            store.put(key, seg)
            stored.add(i)
            return seg

    def kept(i: int, seg: EncodedSegment) -> EncodedSegment:
        if i in reused:
            return seg
        if i in waited:
            stats.reused_frames += seg.frames
            stats.reused_segments += 1
            return seg
        stats.encoded_frames += seg.frames
        if i not in stored and store is not None and keys[i] is not None:
            store.put(keys[i], seg)  # type: ignore[arg-type]  # a runner's segment
        return seg

    lanes = encode_lanes() if lanes is None else max(1, lanes)
    # frames a lane renders at a time: 8 for one lane, fewer for more, so the frames in
    # flight (at 720p, ~60 MB a lane with 8) stay the same whatever the lanes
    chunk = chunk or max(2, 8 // lanes)
    segs = _in_lanes(video, ranges, settings, source, kept, report_done, lanes, chunk, shared)
    stats.reused_audio_seconds = _mux(
        path, video, segs, ranges, settings, metadata, cues, audio_bitrate, store
    )
    return stats


def encode_lanes() -> int:
    """Segments encoded at once here: one per core, at most two. Each is a one-thread
    x264 session with its own render thread; two of them keep 2 cores busier than one
    session on two x264 threads (frame threads wait on each other and on the render)."""
    env = os.environ.get(LANES_ENV, "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(2, process_cores()))


def process_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


LANES_ENV = "REELGRAPH_ENCODE_LANES"


class _Halted(Exception):
    """A lane stopped because the encode it belongs to ended early."""


def _in_lanes(
    video: VideoStream,
    ranges: list[tuple[int, int]],
    settings: EncodeSettings,
    source: Callable[[int], EncodedSegment | None],
    kept: Callable[[int, EncodedSegment], EncodedSegment],
    report_done: Callable[[int], None],
    lanes: int,
    chunk: int,
    shared: Callable[[int, Callable[[], EncodedSegment]], EncodedSegment] | None = None,
) -> Iterator[EncodedSegment]:
    """The segments in order, those not given by `source` encoded `lanes` at a time on
    worker threads while earlier ones are muxed. `kept(i, seg)` and progress run on
    the consumer's thread; the window ahead is bounded, so memory does not grow with
    the number of segments."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    halt = threading.Event()
    lane_frames: dict[int, int] = {}  # frames each running lane has done so far
    lock = threading.Lock()

    def lanes_done() -> int:
        with lock:
            return sum(lane_frames.values())

    def encode(i: int) -> EncodedSegment:
        a, b = ranges[i]

        def report(k: int) -> None:
            if halt.is_set():
                raise _Halted
            with lock:
                lane_frames[i] = k

        def make() -> EncodedSegment:
            return encode_segment(video, a, b, settings, chunk=chunk, progress=report)

        return shared(i, make) if shared is not None else make()

    ahead: dict[int, EncodedSegment | Future[EncodedSegment]] = {}
    pool = ThreadPoolExecutor(lanes, thread_name_prefix="reelgraph-encode")
    nxt, done = 0, 0

    def running() -> list[Future[EncodedSegment]]:
        return [f for f in ahead.values() if isinstance(f, Future) and not f.done()]

    def fill(i: int) -> None:
        nonlocal nxt
        # sources are looked up in order, at most 2 x lanes ahead of the mux
        while nxt < len(ranges) and nxt < i + 2 * lanes and len(running()) < lanes:
            seg = source(nxt)
            ahead[nxt] = seg if seg is not None else pool.submit(encode, nxt)
            nxt += 1

    try:
        for i in range(len(ranges)):
            fill(i)
            item = ahead.pop(i)
            while isinstance(item, Future) and not item.done():
                wait([item, *running()], timeout=0.25, return_when=FIRST_COMPLETED)
                fill(i + 1)
                report_done(done + lanes_done())
            seg = item.result() if isinstance(item, Future) else item
            with lock:
                lane_frames.pop(i, None)
            done += ranges[i][1] - ranges[i][0]
            report_done(done + lanes_done())
            yield kept(i, seg)
    finally:
        halt.set()
        pool.shutdown(wait=True, cancel_futures=True)


# The dts shift every segment is brought to: x264's B-frame delay is at most 2 frames
# (b-pyramid), and a segment too short for B-frames has less.
DTS_DELAY = 2


def _mux(
    path: Path,
    video: VideoStream,
    segments: Iterator[EncodedSegment],
    ranges: list[tuple[int, int]],
    settings: EncodeSettings,
    metadata: dict[str, str] | None,
    cues: list[Any] | None,
    audio_bitrate: int,
    store: SegmentStore | None = None,
) -> float:
    """Writes the MP4 (staged, then renamed); returns the seconds of audio whose packets
    came from `store`."""
    import av

    reused_audio = 0.0
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.part.mp4")
    rate = fps_fraction(video.fps)
    tb = 1 / rate
    duration = video.frame_count / video.fps
    try:
        c = av.open(
            str(tmp), "w", format="mp4", options={"movflags": "+faststart+use_metadata_tags"}
        )
        try:
            for k, v in (metadata or {}).items():
                c.metadata[k] = v
            vs = c.add_mux_stream("h264", rate=rate, width=settings.width, height=settings.height)
            vs.time_base = tb
            audio = video.audio
            astream = None
            if audio is not None:
                astream = c.add_stream("aac", rate=audio_rate(audio))
                astream.layout = audio_layout(audio)
                astream.bit_rate = audio_bit_rate(audio, audio_bitrate)
                # FFmpeg's default AAC coder (twoloop) searches quantisers in a loop and
                # cost more than the video of a re-used render; "fast" is ~2.5x quicker
                # and transparent at these bit rates. Perceptual noise substitution
                # (noise-like bands sent as a level, not coded) took 30% of the rest
                # for speech and lowered its SNR (41.8 dB against 43.0 without).
                astream.codec_context.options = dict(AAC_OPTIONS)
            sstream = None
            feeder = None
            if cues:
                sstream = c.add_stream("mov_text")
                sstream.codec_context.subtitle_header = _ASS_HEADER
                sstream.codec_context.time_base = Fraction(1, 1000)
                sstream.time_base = Fraction(1, 1000)
            # Codecs open and the header is written here, before the audio thread
            # starts using its codec (the first mux would otherwise open it).
            c.start_encoding()
            feeder = _AudioEncoder(audio, duration, astream, store) if astream is not None else None
            del audio
            last_dts: int | None = None
            for seg, (a, _b) in zip(segments, ranges, strict=True):
                # Segments reorder by different depths (a one-frame segment has no
                # B-frames): shift each one's dts to the same delay, which keeps dts
                # strictly increasing across segment joins.
                d = max(0, -min((p[1] for p in seg.packets), default=0))
                if d > DTS_DELAY:
                    raise RuntimeError(f"segment at frame {a} reorders {d} frames deep")
                for pts, dts, key, data in seg.packets:
                    pk = av.Packet(data)
                    pk.pts = pts + a
                    pk.dts = dts + a - (DTS_DELAY - d)
                    if last_dts is not None and pk.dts <= last_dts:
                        raise RuntimeError(f"segment packets out of order at frame {a}")
                    last_dts = pk.dts
                    pk.is_keyframe = key
                    pk.duration = 1
                    pk.time_base = tb
                    pk.stream = vs
                    c.mux(pk)
                if feeder is not None:
                    for pk in feeder.take((a + seg.frames) / video.fps):
                        c.mux(pk)
            if feeder is not None:
                for pk in feeder.take(float("inf")):
                    c.mux(pk)
            if sstream is not None:
                _mux_cues(c, sstream, cues or [], duration)
        finally:
            if feeder is not None:
                feeder.close()
                reused_audio = feeder.reused_seconds
            c.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return reused_audio


AAC_OPTIONS = {"aac_coder": "fast", "aac_pns": "0"}


def audio_bit_rate(audio: Any, kbps: int) -> int:
    """Bits per second for the AAC track: `kbps` is the stereo figure, and a mono track
    gets half. FFmpeg's coder cannot spend more than ~100 kbit/s on mono 22 kHz speech
    anyway; asked for 160 it writes the same bytes as at 96, at twice the CPU."""
    return kbps * 1000 // (2 if audio_layout(audio) == "mono" else 1)


def audio_layout(audio: Any) -> str:
    """Mono narration stays mono (half the AAC work, plays everywhere); anything with
    two or more channels is encoded as stereo."""
    return "mono" if audio.channels == 1 else "stereo"


# Rates AAC in MP4 carries that every player decodes; audio made at one of them (Piper
# speaks at 22,050 Hz) is encoded as it is, since resampling up adds work and no sound.
AAC_RATES = (22050, 24000, 32000, 44100, 48000)


def audio_rate(audio: Any) -> int:
    return audio.sample_rate if audio.sample_rate in AAC_RATES else AUDIO_RATE


# Audio in two parts. AAC codes AAC_FRAME samples a packet, each over a window that
# overlaps the next, on one grid from the track's start; a track whose first scene
# changed puts every later packet off that grid, so a whole-track encode could
# re-use nothing. Where a scene's audio starts after AUDIO_PREROLL samples of
# digital silence (a narration's padding) the track is cut in two there (the first
# such join, `audio_split`): the tail is encoded on its own, from AUDIO_PREROLL
# samples before the join (all zeros, so its packets depend on the tail alone) and
# cached by its samples; the head is encoded with as many zeros before the track
# as put the join on the head's grid, and the MP4's edit list skips them with the
# encoder's priming (1024 + up to 1023 samples, where players honour it as they do
# the priming). The two parts also encode side by side. A head is fed AUDIO_TAIL
# samples past the join, so its last packets are final, not flushed to silence.
AAC_FRAME = 1024
AUDIO_PREROLL = 2 * AAC_FRAME
AUDIO_TAIL = 4 * AAC_FRAME
# A join closer than this to either end is not worth a part of its own.
AUDIO_MIN_PART_S = 1.0
AUDIO_TAIL_FORMAT = 1  # raised when what a cached tail holds changes


def audio_split(audio: Any, want: int) -> int | None:
    """The sample where the AAC track is cut in two: the first join of `audio`'s
    tracks (`cut_points`) with AUDIO_PREROLL samples of exact silence before it and
    AUDIO_MIN_PART_S seconds or more on each side; None where there is none (one
    part, on the grid from the start)."""
    import numpy as np

    least = max(AUDIO_PREROLL, round(AUDIO_MIN_PART_S * audio.sample_rate))
    for c in audio.cut_points():
        if c < least or c > min(want, audio.frames) - least:
            continue
        if not np.any(audio.read(c - AUDIO_PREROLL, c)):
            return c
    return None


class _AudioEncoder:
    """Encodes the audio track on threads of its own while the video segments are
    encoded and muxed: the two overlap on two cores, and the audio no longer adds to
    the wall time of a render whose video segments came from the cache. The track is
    one part, or a head and a tail (`audio_split`) encoded side by side, the tail
    taken from `store` when a render before made the same one. The source is read
    block by block (a lazy track, joined or faded, is never made whole; no
    full-length stereo copy). `take(t)` hands over the packets up to t seconds, so
    the muxer still interleaves audio with the video it has written."""

    STEP = 1 << 14

    def __init__(self, audio: Any, duration: float, stream: Any, store: Any = None):
        self.audio, self.frames = audio, audio.frames
        self.rate = audio.sample_rate
        self.want = round(duration * self.rate)
        self.layout = audio_layout(audio)
        self.width = 1 if self.layout == "mono" else 2
        self.stream = stream
        self.store = store
        self.time_base = Fraction(1, audio_rate(audio))
        self.reused_seconds = 0.0
        # A resampled track has another clock than its samples: one part.
        cut = audio_split(audio, self.want) if self.rate == audio_rate(audio) else None
        # Parts: (first input sample, zeros fed before it, first kept pts, kept pts end)
        # on the track's clock. The head's priming packet is kept (pts < 0).
        if cut is None:
            self._parts = [(0, 0, -AAC_FRAME, 1 << 62)]
        else:
            shift = -cut % AAC_FRAME
            self._parts = [
                (0, shift, -AAC_FRAME - shift, cut),
                (cut - AUDIO_PREROLL, 0, cut, 1 << 62),
            ]
        self._ready: list[list[tuple[int, int, bytes]]] = [[] for _ in self._parts]
        self._until = [0.0 for _ in self._parts]  # seconds of each part encoded
        self._done = [False for _ in self._parts]
        self._first = 0  # the part take() is in
        self._stop = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._run, args=(k,), name=f"reelgraph-aac-{k}", daemon=True)
            for k in range(len(self._parts))
        ]
        for t in self._threads:
            t.start()

    def _codec(self) -> Any:
        """An encoder set up as the stream's (the same bitstream settings)."""
        import av

        src = self.stream.codec_context
        cc = av.CodecContext.create("aac", "w")
        cc.sample_rate, cc.layout, cc.format = src.sample_rate, self.layout, "fltp"
        cc.bit_rate, cc.time_base = src.bit_rate, self.time_base
        cc.options = dict(AAC_OPTIONS)
        cc.open()
        return cc

    def _block(self, a: int, b: int) -> Any:
        import numpy as np

        out = np.zeros((self.width, b - a), np.float32)
        # read block by block: a lazy track (joined, faded) is never made whole
        have = self.audio.read(a, min(b, self.frames)) if a < self.frames else None
        if have is not None and have.shape[1]:
            if have.shape[0] in (1, 2):
                out[:, : have.shape[1]] = have
            else:
                out[:, : have.shape[1]] = have.mean(axis=0)
        return out

    def _padded_block(self, a: int, b: int) -> Any:
        """Samples [a, b) with a < 0: zeros before the track, then its first samples."""
        import numpy as np

        zeros = np.zeros((self.width, -a), np.float32)
        return np.concatenate([zeros, self._block(0, b)], axis=1) if b > 0 else zeros[:, : b - a]

    def _tail_key(self, first: int) -> str:
        """The cached tail's key: what it was encoded from (every sample fed, the
        zeros before the join included) and how."""
        import hashlib

        import av

        h = hashlib.blake2b(digest_size=16)
        for a in range(first, self.want, self.STEP):
            h.update(self._block(a, min(self.want, a + self.STEP)).tobytes())
        cc = self.stream.codec_context
        return digest(
            b"aac-tail",
            AUDIO_TAIL_FORMAT,
            self.want - first,
            AUDIO_PREROLL,
            cc.sample_rate,
            self.layout,
            cc.bit_rate,
            sorted(AAC_OPTIONS.items()),
            av.__version__,
            av.library_versions.get("libavcodec"),
            h.digest(),
        ).hex()

    def _run(self, k: int) -> None:
        try:
            key = self._tail_key(self._parts[k][0]) if k and self.store is not None else None
            if key is None:
                self._encode(k, keep=False)
                return
            # One render encodes a tail at a time: a batch row beside this one that
            # is encoding the same tail is waited for, and its packets taken.
            with self.store.claim(key):
                if not self._reuse(k, key):
                    made = self._encode(k, keep=True)
                    if made is not None:
                        keep_from = self._parts[k][2]
                        value = [AUDIO_TAIL_FORMAT, [[p - keep_from, n, d] for p, n, d in made]]
                        self.store.put_value(key, value, sum(len(d) + 32 for _, _, d in made))
        except BaseException as e:  # handed to the muxing thread by take()
            with self._cond:
                self._error = e
                self._done[k] = True
                self._cond.notify_all()

    def _reuse(self, k: int, key: str) -> bool:
        """Part k's packets from the store, if a render before encoded the same tail."""
        hit = self.store.get_value(key)
        if not (isinstance(hit, list) and len(hit) == 2 and hit[0] == AUDIO_TAIL_FORMAT):
            return False
        keep_from = self._parts[k][2]
        packets = [(int(p) + keep_from, int(n), bytes(d)) for p, n, d in hit[1]]
        self.reused_seconds = (self.want - keep_from) / self.rate
        self._publish(k, packets, float("inf"), done=True)
        return True

    def _encode(self, k: int, keep: bool) -> list[tuple[int, int, bytes]] | None:
        """Encodes part k, publishing its packets as they come; with `keep`, returns
        them all (a tail to store; a long track's other parts are not held twice).
        None when stopped early."""
        import av

        first, zeros, keep_from, keep_to = self._parts[k]
        stop = self.want if keep_to > self.want else min(self.want, keep_to + AUDIO_TAIL)
        cc = self._codec()
        rate = self.time_base.denominator
        resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=rate)
        made: list[tuple[int, int, bytes]] = []

        def kept(packets: Any) -> list[tuple[int, int, bytes]]:
            # (pts on the track's clock, duration, data) of this part's packets
            out = []
            for p in packets:
                pts = int(p.pts) + first - zeros
                if keep_from <= pts < keep_to:
                    out.append((pts, int(p.duration or AAC_FRAME), bytes(p)))
            return out

        pos = first - zeros  # the next sample fed (below 0: a zero before the track)
        while pos < stop:
            if self._stop:
                return None
            b = min(stop, pos + self.STEP)
            block = self._block(pos, b) if pos >= 0 else self._padded_block(pos, b)
            fr = av.AudioFrame.from_ndarray(block, format="fltp", layout=self.layout)
            fr.sample_rate = self.rate
            fr.pts = pos - first + zeros
            fr.time_base = Fraction(1, self.rate)
            packets = kept(p for rf in resampler.resample(fr) for p in cc.encode(rf))
            pos = b
            if keep:
                made += packets
            self._publish(k, packets, pos / self.rate)
        packets = kept(p for rf in resampler.resample(None) for p in cc.encode(rf))
        packets += kept(cc.encode(None))
        if keep:
            made += packets
        self._publish(k, packets, float("inf"), done=True)
        return made

    def _publish(self, k: int, packets: list[Any], until: float, done: bool = False) -> None:
        with self._cond:
            self._ready[k].extend(packets)
            self._until[k], self._done[k] = until, done
            self._cond.notify_all()

    def _reached(self, until_s: float) -> bool:
        """Every packet before `until_s` is encoded (or something failed)."""
        if self._error is not None:
            return True
        for k in range(self._first, len(self._parts)):
            if not self._done[k]:
                return self._until[k] >= until_s
            if self._parts[k][3] >= until_s * self.rate:  # what follows is later
                return True
        return True

    def take(self, until_s: float) -> list[Any]:
        """The encoded packets that start before `until_s` (all of them once the
        track is done), waiting for the encoder threads to get that far."""
        import av

        limit = until_s * self.rate
        out: list[tuple[int, int, bytes]] = []
        with self._cond:
            self._cond.wait_for(lambda: self._reached(until_s))
            if self._error is not None:
                raise self._error
            while self._first < len(self._parts):
                ready = self._ready[self._first]
                n = 0
                while n < len(ready) and ready[n][0] < limit:
                    n += 1
                out += ready[:n]
                del ready[:n]
                if ready or not self._done[self._first]:
                    break
                self._first += 1
        packets = []
        for pts, duration, data in out:
            pk = av.Packet(data)
            pk.pts = pk.dts = pts
            pk.duration = duration
            pk.time_base = self.time_base
            pk.stream = self.stream
            packets.append(pk)
        return packets

    def close(self) -> None:
        """Stops the threads (early, when the mux failed) and waits for them."""
        with self._cond:
            self._stop = True
        for t in self._threads:
            t.join()


def _mux_cues(c: Any, sstream: Any, cues: list[Any], duration: float) -> None:
    from av.subtitles.subtitle import SubtitleSet

    for i, cue in enumerate(cues):
        a_ms, b_ms = round(cue.start * 1000), round(min(cue.end, duration) * 1000)
        if b_ms <= a_ms:
            continue
        text = cue.text.replace("\n", "\\N")
        sub = SubtitleSet.create(
            f"{i},0,Default,,0,0,0,,{text}".encode(), 0, b_ms - a_ms, pts=a_ms * 1000
        )
        pk = sstream.codec_context.encode_subtitle(sub)
        pk.stream = sstream
        pk.pts = pk.dts = a_ms
        pk.duration = b_ms - a_ms
        pk.time_base = Fraction(1, 1000)
        c.mux(pk)


def encode_mp4(video: VideoStream, path: str | Path, **kwargs: Any) -> Path:
    """`encode_video`, returning the path."""
    return encode_video(video, path, **kwargs).path
