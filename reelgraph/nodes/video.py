"""Motion and video nodes. VIDEO values are streamed (engine.media.video): every node
here returns a lazy stream, so nothing holds a whole video in memory."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

from reelgraph import (
    AUDIO,
    BOOL,
    FLOAT,
    IMAGE,
    INT,
    VIDEO,
    Audio,
    Bool,
    Combo,
    Float,
    Image,
    Int,
    NodeInputError,
    Text,
    Video,
    file_fingerprint,
    list_of,
    node,
)
from reelgraph.media import (
    IDENTITY,
    TRANSITIONS,
    AudioClip,
    ConcatVideo,
    FadedAudio,
    FileVideo,
    IndexedVideo,
    JoinedAudio,
    MappedVideo,
    PixelImage,
    ProceduralVideo,
    VideoStream,
    content_digest,
    image_pixels,
)

EASINGS = ("ease_in_out", "linear", "ease_out", "ease_in")


def ease(p: float, kind: str) -> float:
    p = min(1.0, max(0.0, p))
    if kind == "ease_in_out":
        return 0.5 - 0.5 * math.cos(math.pi * p)
    if kind == "ease_out":
        return 1 - (1 - p) ** 2
    if kind == "ease_in":
        return p * p
    return p


def fit_audio(
    audio: AudioClip, seconds: float, mode: str = "pad", fade_out: float = 0.0
) -> AudioClip:
    """Pad with silence (or loop) and cut `audio` to exactly `seconds`, with an optional
    fade-out. Padded or cut only, it stays lazy (read through, not copied): a clip of a
    scene keeps its speech as spoken (16-bit), not a float32 copy, until the encode."""
    import numpy as np

    want = max(0, round(seconds * audio.sample_rate))
    n = min(want, round(fade_out * audio.sample_rate))
    if n <= 0 and not (mode == "loop" and 0 < audio.frames < want):
        return JoinedAudio([audio], [want])
    src = audio.array
    have = src.shape[1]
    s = np.zeros((src.shape[0], want), np.float32)  # one new buffer: padded in place
    if mode == "loop" and 0 < have < want:
        for a in range(0, want, have):
            s[:, a : a + have] = src[:, : want - a]
    else:
        s[:, : min(have, want)] = src[:, :want]
    if n > 0:
        s[:, want - n :] *= np.linspace(1, 0, n, dtype=np.float32)
    return AudioClip(s, audio.sample_rate)


# Sources of Ken Burns clips are held PNG-packed (lossless, about a third of the
# pixels for a title card): a 40-scene video's clips keep every card until the encode
# ends. The few being rendered are unpacked here, shared by the clips in the process.
_UNPACKED: OrderedDict[bytes, Any] = OrderedDict()
_UNPACKED_LOCK = threading.Lock()
PACK_MIN_BYTES = 1 << 20


def _unpacked(key: bytes, unpack: Any) -> Any:
    """The RGBA pixels of a held-packed source, from the few kept unpacked (or made by
    `unpack()` and kept)."""
    with _UNPACKED_LOCK:
        hit = _UNPACKED.get(key)
        if hit is not None:
            _UNPACKED.move_to_end(key)
            return hit
    img = unpack()
    with _UNPACKED_LOCK:
        _UNPACKED[key] = img
        while len(_UNPACKED) > 3:  # this clip, the next one's first frame, a spare
            _UNPACKED.popitem(last=False)
    return img


class PackedImage:
    """A uint8 [H, W, 3] image held as PNG bytes; `rgba()` unpacks it (cached)."""

    def __init__(self, pixels: Any):
        import cv2

        self.shape = tuple(pixels.shape)
        self.key = array_key(pixels)
        # Huffman coding of PNG's filtered rows, no match search: on dithered gradients
        # and text it is both faster (90 ms for a 1600x900 card, not 113) and smaller
        # (a quarter of the pixels, not 30%) than zlib level 1
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
        params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]
        ok, buf = cv2.imencode(".png", pixels[..., ::-1], params)
        if not ok:
            raise ValueError("could not pack the image")
        self.png = buf.tobytes()

    def rgba(self) -> Any:
        """The pixels as uint8 RGBA [H, W, 4] (what the warp reads, see `as_rgba`)."""

        def unpack() -> Any:
            import cv2
            import numpy as np

            return as_rgba(
                cv2.imdecode(np.frombuffer(self.png, np.uint8), cv2.IMREAD_COLOR), bgr=True
            )

        return _unpacked(self.key, unpack)

    def pixels(self) -> Any:
        """The pixels as uint8 RGB [H, W, 3] (a view of the cached RGBA)."""
        return self.rgba()[..., :3]


class PackedFrame:
    """A frame of a PixelImage that holds its frames packed, as a clip's source: the
    value already keeps it compact, so nothing is packed again (a PNG of each card
    cost ~90 ms of the clip node and a second copy of the card for the clip's life)."""

    def __init__(self, image: Any, index: int, key: bytes):
        self.image, self.index, self.key = image, index, key

    def rgba(self) -> Any:
        return _unpacked(self.key, lambda: as_rgba(self.image.frame(self.index)))


def as_rgba(pixels: Any, *, bgr: bool = False) -> Any:
    """uint8 [H, W, 3] as [H, W, 4] with an opaque alpha. OpenCV's bilinear warp has a
    SIMD path for 4 channels and none for 3: warping RGBA and dropping the alpha gives
    the same pixels as warping RGB, in less than half the CPU time (1080p: 7 ms, not 18)."""
    import cv2

    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGBA if bgr else cv2.COLOR_RGB2RGBA)


def ken_burns_renderer(
    src: Any,
    width: int,
    height: int,
    count: int,
    zoom_start: float,
    zoom_end: float,
    pan_x: float,
    pan_y: float,
    easing: str,
    packed: Any = None,
    size: tuple[int, int] | None = None,
) -> Any:
    """A render(start, stop) function: the image cover-fitted to width x height, zooming
    from `zoom_start` to `zoom_end` and drifting by `pan_*` (fractions of the free room).
    `packed`: where the render reads the image from (a `PackedFrame`), not held again;
    then `src` may be None, and `size` is the image's (height, width)."""
    import cv2
    import numpy as np

    sh, sw = size if size is not None else src.shape[:2]
    base = min(sw / width, sh / height)  # source pixels per output pixel at zoom 1 (cover)
    if packed is None and src.nbytes >= PACK_MIN_BYTES:
        packed = PackedImage(src)
    held = None if packed is not None else as_rgba(src)

    def one(i: int) -> Any:
        p = ease(i / (count - 1), easing) if count > 1 else 0.0
        z = zoom_start + (zoom_end - zoom_start) * p
        s = base / z
        cw, ch = width * s, height * s
        room_x, room_y = (sw - cw) / 2, (sh - ch) / 2
        cx = sw / 2 + pan_x * (p - 0.5) * 2 * room_x
        cy = sh / 2 + pan_y * (p - 0.5) * 2 * room_y
        cx = min(max(cx, cw / 2), sw - cw / 2)
        cy = min(max(cy, ch / 2), sh - ch / 2)
        m = np.array(
            [[s, 0, cx - cw / 2 + 0.5 * s - 0.5], [0, s, cy - ch / 2 + 0.5 * s - 0.5]], np.float64
        )
        interp = cv2.INTER_AREA if s > 1.5 else cv2.INTER_LINEAR
        return m, interp

    def render(start: int, stop: int) -> Any:
        out = np.empty((stop - start, height, width, 3), np.uint8)
        image = held if packed is None else packed.rgba()
        warped = np.empty((height, width, 4), np.uint8)
        for k, i in enumerate(range(start, stop)):
            m, interp = one(i)
            cv2.warpAffine(
                image,
                m,
                (width, height),
                dst=warped,
                flags=interp | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
            cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB, dst=out[k])
        return out

    return render


array_key = content_digest  # a content hash of an array's shape, dtype and bytes


def span_key(a: int, b: int, ramp: int, own: bytes) -> Any:
    """The range key of something drawn on frames [a, b) with a `ramp`-frame fade at
    both ends: what a range [s, e) shows of it, relative to s (so it moves freely)."""

    def key(s: int, e: int) -> bytes:
        lo, hi = max(a, s), min(b, e)
        if lo >= hi:
            return IDENTITY
        edges = (min(lo - a, ramp), min(b - hi, ramp)) if ramp else ()
        return repr((lo - s, hi - s, edges)).encode() + own

    return key


def spans_key(spans: list[tuple[int, int]], labels: list[str], style: bytes) -> Any:
    """The range key of stamps drawn on frames [a, b) each (burned cues): the ones a
    range [s, e) shows, relative to s, in drawing order, with what they say."""

    def key(s: int, e: int) -> bytes:
        shown = [
            (max(a, s) - s, min(b, e) - s, labels[k])
            for k, (a, b) in enumerate(spans)
            if a < e and b > s and a < b
        ]
        return repr(shown).encode() + style if shown else IDENTITY

    return key


@node("video.ImageToClip", category="video/motion", outputs={"video": VIDEO}, pixel_images=True)
def image_to_clip(
    image: Image,
    audio: Audio = None,
    duration: Annotated[float, Float(0.0, 3600.0, 0.1)] = 4.0,
    tail: Annotated[float, Float(0.0, 10.0, 0.05)] = 0.4,
    fps: Annotated[float, Float(1.0, 120.0, 1.0)] = 24.0,
    width: Annotated[int, Int(0, 7680, 2)] = 0,
    height: Annotated[int, Int(0, 4320, 2)] = 0,
    zoom_start: Annotated[float, Float(1.0, 4.0, 0.01)] = 1.0,
    zoom_end: Annotated[float, Float(1.0, 4.0, 0.01)] = 1.12,
    pan_x: Annotated[float, Float(-1.0, 1.0, 0.05)] = 0.3,
    pan_y: Annotated[float, Float(-1.0, 1.0, 0.05)] = 0.0,
    easing: Annotated[str, Combo(EASINGS)] = "ease_in_out",
    vary: Annotated[bool, Bool()] = False,
) -> Any:
    """A still image as a clip with Ken Burns motion: zoom from `zoom_start` to
    `zoom_end` and drift (`pan_x`, `pan_y` in -1..1 of the free room), eased.
    With `audio` linked the clip lasts the audio's length plus `tail` seconds of
    silence (rounded up to whole frames, the audio padded to match) and carries it;
    otherwise it lasts `duration`. Width/height 0 keep the image size. `vary` picks
    zoom in or out and the drift direction per clip from what the clip shows (the
    image's pixels, the size, the length and these settings: same clip, same motion),
    so a sequence of cards does not move identically."""
    if image.shape[0] < 1:
        raise NodeInputError("image", "empty image batch")
    packed = isinstance(image, PixelImage) and image.packed
    # A packed card is read packed while rendering and keyed by the digest it was
    # packed with: it is not unpacked here (80 ms for a 1080p card, a card a scene).
    src = None if packed else image_pixels(image)
    sh, sw = (int(x) for x in image.shape[1:3])
    w = width or sw - sw % 2
    h = height or sh - sh % 2
    seconds = (audio.duration + tail) if audio is not None else duration
    if seconds <= 0:
        raise NodeInputError(
            "audio" if audio is not None else "duration",
            "the clip would last 0 seconds: give a duration above 0",
        )
    count = max(1, math.ceil(seconds * fps - 1e-6))
    pixels_key = image.frame_digest(0) if packed else array_key(src)
    if vary:
        rng = _motion_rng(pixels_key, (w, h, count, zoom_start, zoom_end, pan_x, pan_y, easing))
        if rng.random() < 0.5:
            zoom_start, zoom_end = zoom_end, zoom_start
        pan_x = abs(pan_x or 0.3) * rng.choice((-1, 1))
        pan_y = rng.choice((-0.5, 0.0, 0.5)) * abs(pan_x)
    clip_audio = fit_audio(audio, count / fps) if audio is not None else None
    held = PackedFrame(image, 0, pixels_key) if packed else None
    render = ken_burns_renderer(
        src, w, h, count, zoom_start, zoom_end, pan_x, pan_y, easing, packed=held, size=(sh, sw)
    )
    # What the frames show, for the encoder's segment keys: the pixels and the motion.
    key = pixels_key + repr((w, h, count, zoom_start, zoom_end, pan_x, pan_y, easing)).encode()
    return ProceduralVideo(
        render, fps=fps, width=w, height=h, frame_count=count, audio=clip_audio, key=key
    )


def _motion_rng(pixels_key: bytes, settings: tuple[Any, ...]) -> Any:
    """`vary`'s draws for a clip, seeded by what the clip shows. Not the node's seed
    (`ctx.rng`, from its cache key): that covers the code of every node upstream, so
    an edit to the voice's code, say, flipped every card's motion."""
    import hashlib
    import random

    seed = hashlib.blake2b(pixels_key + repr(settings).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(seed, "big"))


@node("video.Concat", category="video/edit", outputs={"video": VIDEO})
def concat(
    clips: list_of(Video),
    transition: Annotated[str, Combo(TRANSITIONS)] = "crossfade",
    transition_seconds: Annotated[float, Float(0.0, 5.0, 0.05)] = 0.5,
) -> Any:
    """Clips one after another (audio too) with a cut, crossfade or fade through black.
    Transitions are centred on each cut so the total length stays the sum of the clips
    and every clip's audio stays in sync with its pictures."""
    if not clips:
        raise NodeInputError("clips", "no clips to join")
    try:
        return ConcatVideo(clips, transition, round(transition_seconds * clips[0].fps))
    except ValueError as exc:
        raise NodeInputError("clips", str(exc)) from None


def _file_fingerprint(values: dict[str, Any]) -> str:
    """Size, mtime and a hash of the head and tail of the file (videos can be huge);
    regular files only, so a FIFO or a device never blocks planning."""
    return file_fingerprint(str(values.get("path", "")))


def _check_file(values: dict[str, Any]) -> list[tuple[str, str]]:
    p = str(values.get("path", ""))
    if not p:
        return [("path", "no file given")]
    if not Path(p).is_file():
        return [("path", f"no such file: {p}")]
    return []


@node(
    "video.Load",
    category="video/io",
    outputs={"video": VIDEO, "audio": AUDIO},
    resource="io",
    fingerprint=_file_fingerprint,
    validate=_check_file,
)
def load_video(
    path: Annotated[str, Text(upload="video")],
    max_frames: Annotated[int, Int(0, 10_000_000)] = 0,
    skip_frames: Annotated[int, Int(0, 10_000_000)] = 0,
    every_nth: Annotated[int, Int(1, 1000)] = 1,
    force_fps: Annotated[float, Float(0.0, 240.0, 1.0)] = 0.0,
    width: Annotated[int, Int(0, 7680, 2)] = 0,
    height: Annotated[int, Int(0, 4320, 2)] = 0,
) -> Any:
    """A video file, decoded lazily with PyAV as frames are needed. `skip_frames`,
    `every_nth` and `max_frames` (0: all) select frames; `force_fps` (0: keep)
    retimes by dropping/repeating frames; width/height (0: keep) resize. The audio
    output is the file's audio (silence when it has none), cut to the selection."""
    try:
        v: VideoStream = FileVideo(
            path, skip=skip_frames, every_nth=every_nth, max_frames=max_frames
        )
    except Exception as exc:
        raise NodeInputError("path", f"cannot read {Path(path).name} as video: {exc}") from None
    if force_fps:
        v = retime(v, force_fps)
    if width or height:
        v = resize_video(v, width, height, "contain")
    audio = v.audio if v.audio is not None else AudioClip.silence(v.duration, 48000)
    return v, audio


def retime(v: VideoStream, fps: float) -> VideoStream:
    n = max(1, round(v.duration * fps))
    idx = [min(v.frame_count - 1, int(j * v.fps / fps + 1e-9)) for j in range(n)]
    audio = fit_audio(v.audio, n / fps) if v.audio is not None else None
    return IndexedVideo(v, idx, fps, audio=audio)


FIT_MODES = ("contain", "cover", "stretch")


def resize_frames(frames: Any, width: int, height: int, mode: str) -> Any:
    """uint8 numpy [t,h,w,3] -> [t,height,width,3]: stretch, cover (crop) or contain (pad black)."""
    import cv2
    import numpy as np

    t, h, w = frames.shape[:3]
    if mode == "stretch":
        nw, nh = width, height
    else:
        s = (max if mode == "cover" else min)(width / w, height / h)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if nw < w else cv2.INTER_LINEAR
    out = np.zeros((t, height, width, 3), np.uint8)
    for i in range(t):
        r = cv2.resize(frames[i], (nw, nh), interpolation=interp)
        if mode == "cover":
            x0, y0 = (nw - width) // 2, (nh - height) // 2
            out[i] = r[y0 : y0 + height, x0 : x0 + width]
        elif mode == "contain":
            x0, y0 = (width - nw) // 2, (height - nh) // 2
            out[i, y0 : y0 + nh, x0 : x0 + nw] = r
        else:
            out[i] = r
    return out


def resize_video(v: VideoStream, width: int, height: int, mode: str) -> VideoStream:
    import numpy as np

    w = width or max(2, round(v.width * height / v.height / 2) * 2)
    h = height or max(2, round(v.height * width / v.width / 2) * 2)

    def fn(chunk: Any, _start: int) -> Any:
        return resize_frames(np.asarray(chunk), w, h, mode)

    return MappedVideo(v, fn, width=w, height=h, key=repr((w, h, mode)).encode())


@node("video.Resize", category="video/edit", outputs={"video": VIDEO})
def resize(
    video: Video,
    width: Annotated[int, Int(0, 7680, 2)] = 1280,
    height: Annotated[int, Int(0, 4320, 2)] = 720,
    mode: Annotated[str, Combo(FIT_MODES)] = "contain",
) -> Any:
    """Resize every frame: `contain` pads with black, `cover` crops, `stretch` distorts.
    0 for width or height keeps the aspect ratio."""
    if not width and not height:
        raise NodeInputError("width", "give a width or a height")
    return resize_video(video, width, height, mode)


@node("video.Trim", category="video/edit", outputs={"video": VIDEO})
def trim(
    video: Video,
    start: Annotated[float, Float(0.0, 86400.0, 0.1)] = 0.0,
    end: Annotated[float, Float(0.0, 86400.0, 0.1)] = 0.0,
) -> Any:
    """Keep `start`..`end` seconds (end 0: to the end); the audio is cut to match."""
    a = round(start * video.fps)
    b = video.frame_count if end <= 0 else min(video.frame_count, round(end * video.fps))
    if a >= b:
        raise NodeInputError(
            "start", f"start {start}s is not before the end ({b / video.fps:.2f}s)"
        )
    audio = None
    if video.audio is not None:
        au = video.audio
        s = au.array[
            :, round(a / video.fps * au.sample_rate) : round(b / video.fps * au.sample_rate)
        ]
        audio = fit_audio(AudioClip(s, au.sample_rate), (b - a) / video.fps)
    return IndexedVideo(video, range(a, b), audio=audio)


@node("video.SetFPS", category="video/edit", outputs={"video": VIDEO})
def set_fps(video: Video, fps: Annotated[float, Float(1.0, 240.0, 1.0)] = 24.0) -> Any:
    """Change the frame rate by dropping or repeating frames; the duration is kept."""
    return retime(video, fps)


@node(
    "video.Info",
    category="video/info",
    outputs={
        "fps": FLOAT,
        "width": INT,
        "height": INT,
        "frame_count": INT,
        "duration": FLOAT,
        "has_audio": BOOL,
    },
)
def info(video: Video) -> Any:
    """Frame rate, size, frame count, duration and whether the video has audio."""
    return (
        video.fps,
        video.width,
        video.height,
        video.frame_count,
        video.duration,
        video.audio is not None,
    )


@node("video.GetFrame", category="video/info", outputs={"image": IMAGE})
def get_frame(video: Video, index: Annotated[int, Int(-10_000_000, 10_000_000)] = 0) -> Any:
    """One frame as an IMAGE (negative index counts from the end)."""
    try:
        f = video.frame(index)
    except IndexError as exc:
        raise NodeInputError("index", str(exc)) from None
    return f.float().div(255).unsqueeze(0)


FIT_AUDIO = ("pad", "loop")


@node("video.SetAudio", category="video/audio", outputs={"video": VIDEO})
def set_audio(
    video: Video,
    audio: Audio,
    fit: Annotated[str, Combo(FIT_AUDIO)] = "pad",
    fade_out: Annotated[float, Float(0.0, 30.0, 0.1)] = 1.0,
) -> Any:
    """Replace the video's audio; it is cut (or padded with silence / looped) to the
    video's length, with a fade-out at the end."""
    return video.with_audio(fit_audio(audio, video.duration, fit, fade_out))


POSITIONS = (
    "bottom_center",
    "top_left",
    "top_right",
    "bottom_left",
    "bottom_right",
    "top_center",
    "center",
)


def place(pos: str, W: int, H: int, w: int, h: int, margin: int) -> tuple[int, int]:
    vert, _, horiz = pos.partition("_") if pos != "center" else ("center", "", "center")
    x = {"left": margin, "right": W - w - margin}.get(horiz, (W - w) // 2)
    y = {"top": margin, "bottom": H - h - margin}.get(vert, (H - h) // 2)
    return x, y


def overlay_rgba(
    video: VideoStream,
    rgba: Any,
    x: int,
    y: int,
    opacity: float,
    start: float,
    end: float,
    fade: float = 0.0,
) -> VideoStream:
    """Blend a fixed RGBA numpy image over frames between `start` and `end` seconds (end 0: to the end)."""

    import numpy as np

    from .typography import Stamp, alpha_blit

    stamps: dict[float, Any] = {}

    def stamp(op: float) -> Any:
        key = round(op, 3)
        if key not in stamps:
            stamps[key] = Stamp(rgba, key)
        return stamps[key]

    a = round(start * video.fps)
    b = video.frame_count if end <= 0 else round(end * video.fps)
    nf = max(1, round(fade * video.fps)) if fade > 0 else 0

    def fn(chunk: Any, first: int) -> Any:
        t = int(chunk.shape[0])
        if first + t <= a or first >= b:
            return chunk
        frames = np.asarray(chunk)  # a fresh buffer we own: draw in place
        for k in range(t):
            i = first + k
            if a <= i < b:
                op = opacity
                if nf:
                    op *= min(1.0, (i - a + 1) / nf, (b - i) / nf)
                alpha_blit(frames[k : k + 1], stamp(op), x, y)
        return chunk

    own = array_key(rgba) + repr((x, y, opacity)).encode()
    return MappedVideo(video, fn, key=span_key(a, b, nf, own), cuts=(a, b))


@node("video.OverlayImage", category="video/composite", outputs={"video": VIDEO})
def overlay_image(
    video: Video,
    image: Image,
    position: Annotated[str, Combo(POSITIONS)] = "top_right",
    scale: Annotated[float, Float(0.01, 1.0, 0.01)] = 0.2,
    opacity: Annotated[float, Float(0.0, 1.0, 0.05)] = 1.0,
    margin: Annotated[float, Float(0.0, 0.4, 0.01)] = 0.04,
    start: Annotated[float, Float(0.0, 86400.0, 0.1)] = 0.0,
    end: Annotated[float, Float(0.0, 86400.0, 0.1)] = 0.0,
) -> Any:
    """Place an image (a logo, a watermark) over the video, `scale` of its width, from
    `start` to `end` seconds (end 0: to the end)."""
    import cv2
    import numpy as np

    src = image_pixels(image)
    w = max(1, round(video.width * scale))
    h = max(1, round(src.shape[0] * w / src.shape[1]))
    rgb = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)
    rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2)
    x, y = place(position, video.width, video.height, w, h, round(margin * video.height))
    return overlay_rgba(video, rgba, x, y, opacity, start, end)


@node("video.OverlayText", category="video/composite", outputs={"video": VIDEO})
def overlay_text(
    video: Video,
    text: Annotated[str, Text(multiline=True)],
    position: Annotated[str, Combo(POSITIONS)] = "top_left",
    size: Annotated[float, Float(0.01, 0.3, 0.005)] = 0.045,
    color: str = "#ffffff",
    box_opacity: Annotated[float, Float(0.0, 1.0, 0.05)] = 0.5,
    margin: Annotated[float, Float(0.0, 0.4, 0.01)] = 0.04,
    start: Annotated[float, Float(0.0, 86400.0, 0.1)] = 0.0,
    end: Annotated[float, Float(0.0, 86400.0, 0.1)] = 0.0,
    fade: Annotated[float, Float(0.0, 5.0, 0.05)] = 0.3,
    shadow: Annotated[bool, Bool()] = True,
) -> Any:
    """Draw text over the video (a lower third, a caption, a label) from `start` to
    `end` seconds, fading in and out; `size` is a fraction of the frame height."""
    from .image import parse_hex_color
    from .typography import fit_font, render_text_rgba

    if not text.strip():
        raise NodeInputError("text", "nothing to draw")
    try:
        rgb = tuple(int(c * 255 + 0.5) for c in parse_hex_color(color))
    except ValueError as exc:
        raise NodeInputError("color", str(exc)) from None
    px = max(8, round(video.height * size))
    font, lines = fit_font(text, "bold", px, video.width * 0.9, 4)
    pad = round(px * 0.35)
    box = (0, 0, 0, round(255 * box_opacity)) if box_opacity > 0 else None
    rgba = render_text_rgba(
        lines,
        font,
        rgb,
        box=box,
        pad=pad,
        align="left",  # type: ignore[arg-type]
        shadow=round(px * 0.08) if shadow else 0,
    )
    x, y = place(
        position,
        video.width,
        video.height,
        rgba.shape[1],
        rgba.shape[0],
        round(margin * video.height),
    )
    return overlay_rgba(video, rgba, x, y, 1.0, start, end, fade)


@node("video.Fade", category="video/edit", outputs={"video": VIDEO})
def fade(
    video: Video,
    fade_in: Annotated[float, Float(0.0, 30.0, 0.05)] = 0.5,
    fade_out: Annotated[float, Float(0.0, 30.0, 0.05)] = 0.8,
    audio_fade_in: Annotated[float, Float(0.0, 30.0, 0.01)] = 0.02,
    audio_fade_out: Annotated[float, Float(0.0, 30.0, 0.05)] = 0.8,
) -> Any:
    """Fade the pictures in from and out to black, and the audio in and out (keep the
    audio fade-in short so the first word is not swallowed). The length is unchanged."""
    import cv2
    import numpy as np

    n = video.frame_count
    fin, fout = round(fade_in * video.fps), round(fade_out * video.fps)

    def gain(i: int) -> float:
        g = 1.0
        if fin:
            g = min(g, (i + 0.5) / fin)
        if fout:
            g = min(g, (n - i - 0.5) / fout)
        return max(0.0, min(1.0, g))

    def fn(chunk: Any, first: int) -> Any:
        t = int(chunk.shape[0])
        if first >= fin and first + t <= n - fout:
            return chunk
        frames = np.asarray(chunk)
        for k in range(t):
            g = gain(first + k)
            if g < 1.0:
                cv2.convertScaleAbs(frames[k], dst=frames[k], alpha=g)
        return chunk

    def key(s: int, e: int) -> bytes:
        # Gains depend on the distance from the start and from the end only.
        head = (s, min(e, fin)) if s < fin else ()
        tail = (n - s, n - e) if e > n - fout else ()
        return IDENTITY if not head and not tail else repr((fin, fout, head, tail)).encode()

    audio = video.audio
    if audio is not None and (audio_fade_in > 0 or audio_fade_out > 0):
        # faded as it is read: a long video's track is not copied whole
        rate = audio.sample_rate
        audio = FadedAudio(audio, round(audio_fade_in * rate), round(audio_fade_out * rate))
    return MappedVideo(video, fn, audio=audio, key=key)
