"""Talking presenters: a face whose mouth follows the speech, with blinks and head motion.

- `avatar.Presenter`: the built-in illustrated character, drawn from vector shapes at
  any size, offline, no weights.
- `avatar.PhotoPresenter`: an uploaded portrait; the mouth region is found with
  OpenCV's Haar cascades (Debian's `opencv-data`) or given, and warped per frame.
- `avatar.TimelineSpeech`: the narration of several clips as one track with shifted
  timings, and each clip's own audio padded to its length (`scene_audio`), to drive
  one presenter over a whole edit, scene by scene.
- `avatar.PictureInPicture`: a video (the presenter) over another (the slides).
- `avatar.WanSpeechToVideo`: model-based lip sync through diffusers, when the pipeline
  and weights exist.

The mouth is driven by Piper's phoneme timings through visemes with co-articulation,
or by the loudness envelope when there are no timings (see avatar_motion). Every
presenter returns a streamed VIDEO (frames drawn on demand) with the audio attached.

A presenter's `audio` is one track or one per scene (with `timings` one per scene):
the motion is then built scene by scene from each scene's own speech and a seed
derived from it, so a variant that changes what one scene says leaves the other
scenes' frames, and their encoded segments, as they were.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from reelgraph import (
    AUDIO,
    VIDEO,
    Audio,
    Bool,
    Combo,
    Context,
    Float,
    Image,
    Int,
    NodeInputError,
    Seed,
    Text,
    Video,
    list_of,
    node,
    socket,
)
from reelgraph.media import (
    TIMINGS,
    ProceduralVideo,
    VideoStream,
    digest,
    function_key,
    image_pixels,
    mix_key,
)

from .avatar_draw import STYLE_NAMES

MODES = ("auto", "phonemes", "loudness")


class PresenterVideo(ProceduralVideo):
    """A presenter's frames, drawn on demand; `track` is the per-frame motion (mouth
    parameters, visemes, blinks, head pose) the frames were drawn from.

    Frame i is drawn from row i of the track alone, so a range's segment key is the
    drawer's (its code and settings, the `key` given) and the track's rows there:
    a re-render whose narration is unchanged re-uses the presenter's segments, wherever
    they now fall in the video. The track is built per scene, so that holds scene by
    scene; `scene_starts` are the frames where scenes begin (after the first)."""

    track: Any = None
    scene_starts: tuple[int, ...] = ()

    def segment_key(self, start: int, stop: int) -> bytes | None:
        t = self.track
        if t is None or self._key is None:
            return None
        import numpy as np

        a, b = max(0, start), min(stop, self.frame_count)
        rows = [
            np.ascontiguousarray(np.asarray(x)[a:b]).tobytes()
            for x in (t.mouth, t.visemes, t.blink, t.head, t.gaze)
        ]
        return digest(b"presenter", self._key, self.width, self.height, b - a, *rows)

    def cut_points(self) -> list[int]:
        # nothing of a scene's motion depends on another scene's
        return [c for c in self.scene_starts if 0 < c < self.frame_count]


def class_code_key(cls: type) -> bytes:
    """What a drawing class does: the code of its methods and of every function and
    class of its module (the helpers it calls), so editing any of it changes the keys."""
    import sys

    parts: list[bytes] = []
    module = sys.modules[cls.__module__]
    for name, v in sorted(vars(module).items()):
        if getattr(v, "__module__", None) != module.__name__:
            continue  # imported names
        if isinstance(v, type):
            parts += [function_key(m) for _, m in sorted(vars(v).items()) if callable(m)]
        elif callable(v):
            parts.append(function_key(v))
        parts.append(name.encode())
    return digest(cls.__qualname__, *parts)


def _timings_phonemes(timings: Any) -> tuple[Any, Any]:
    if timings is None:
        return (), ()
    return tuple(getattr(timings, "phonemes", ()) or ()), tuple(timings.sentences or ())


def scene_frames(audio: Any, fps: float) -> int:
    """Frames that cover `audio`: a clip's audio fitted to its n frames (rounded to the
    sample) gives n back, whichever way the rounding went."""
    return max(1, math.ceil((audio.frames - 0.5) * fps / audio.sample_rate))


def scene_seed(seed: int, audio: Any) -> int:
    """The seed of one scene's blinks and head motion: the node's seed mixed with what
    the scene says, so scenes differ from each other and an unchanged scene does not."""
    import numpy as np

    samples = np.ascontiguousarray(audio.array, np.float32)
    d = digest(b"presenter-scene", int(seed), audio.sample_rate, samples.shape, samples.tobytes())
    return int.from_bytes(d[:4], "little")


def _as_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    return list(value) if isinstance(value, (list, tuple)) else [value]


def make_track(
    audio: Any,
    timings: Any,
    fps: float,
    mode: str,
    seed: int,
    blink_rate: float,
    head_motion: float,
    expressiveness: float,
    lead: float,
) -> tuple[Any, list[int], Any]:
    """The motion track for `audio` (one track, or a list: one per scene, with `timings`
    one per scene too), each scene's rows from its own speech only. Returns the track,
    each scene's frame count and the audio fitted to the frames."""
    from reelgraph.media import concat_audio

    from .avatar_motion import NoSpeech, build_track, concat_tracks

    parts = _as_list(audio) or []
    if not parts:
        raise NodeInputError("audio", "no audio: the presenter needs speech to follow")
    said = _as_list(timings) or [None] * len(parts)
    if len(said) != len(parts):
        raise NodeInputError(
            "timings", f"{len(said)} timings for {len(parts)} audio tracks: give one per scene"
        )
    many = len(parts) > 1
    tracks, counts = [], []
    for k, (a, t) in enumerate(zip(parts, said, strict=True)):
        where = f"scene {k + 1}: " if many else ""
        if a is None or a.frames == 0:
            raise NodeInputError("audio", f"{where}no audio: the presenter needs speech to follow")
        frames = scene_frames(a, fps)
        phonemes, sentences = _timings_phonemes(t)
        try:
            tracks.append(
                build_track(
                    a.array,
                    a.sample_rate,
                    fps,
                    frames,
                    phonemes=phonemes,
                    sentences=sentences,
                    mode=mode,
                    seed=scene_seed(seed, a),
                    blink_rate=blink_rate,
                    head_motion=head_motion,
                    expressiveness=expressiveness,
                    lead=lead,
                    silence_ok=many,  # a scene of an edit may say nothing
                )
            )
        except NoSpeech as exc:
            field = "timings" if "needs timings" in str(exc) else "audio"
            raise NodeInputError(
                field, f"{where}{exc}; a presenter needs audio with speech in it"
            ) from None
        counts.append(frames)
    if all(tr.driver == "silence" for tr in tracks):
        raise NodeInputError("audio", "every scene is silent: a presenter needs speech to follow")
    fitted = concat_audio(parts, [n / fps for n in counts])
    return concat_tracks(tracks), counts, fitted


def fitted_audio(audio: Any, frames: int, fps: float) -> Any:
    """The audio padded with silence to exactly the video's length (sync to the sample)."""
    from .video import fit_audio

    return fit_audio(audio, frames / fps)


def _starts(counts: list[int]) -> tuple[int, ...]:
    out, at = [], 0
    for n in counts[:-1]:
        at += n
        out.append(at)
    return tuple(out)


@node("avatar.Presenter", category="video/avatar", outputs={"video": VIDEO})
def presenter(
    audio: list_of(Audio),
    timings: list_of(socket(TIMINGS)) = None,
    character: Annotated[str, Combo(STYLE_NAMES)] = "ava",
    width: Annotated[int, Int(64, 3840, 2)] = 1280,
    height: Annotated[int, Int(64, 2160, 2)] = 720,
    fps: Annotated[float, Float(1.0, 120.0, 1.0)] = 24.0,
    mode: Annotated[str, Combo(MODES)] = "auto",
    seed: Annotated[int, Seed()] = 0,
    blink_rate: Annotated[float, Float(0.0, 3.0, 0.1)] = 1.0,
    head_motion: Annotated[float, Float(0.0, 3.0, 0.1)] = 1.0,
    expressiveness: Annotated[float, Float(0.3, 1.6, 0.05)] = 1.0,
    lead: Annotated[float, Float(-0.2, 0.2, 0.005)] = 0.04,
    offset_x: Annotated[float, Float(-0.4, 0.4, 0.01)] = 0.0,
    zoom: Annotated[float, Float(0.5, 2.0, 0.05)] = 1.0,
    background: Image = None,
) -> Any:
    """An illustrated presenter speaking `audio`, drawn from vector shapes at any size
    (no weights, offline). With `timings` from tts.Speak the mouth follows Piper's
    phonemes (visemes blended with co-articulation; M/B/P always close the lips);
    without them, or in `loudness` mode, it follows the audio's loudness. `seed` picks
    the blinks and the head motion; `lead` moves the mouth earlier than the timings
    (Piper's alignments run ~40 ms late). `background` replaces the studio backdrop.

    Over an edit, link one audio per scene (avatar.TimelineSpeech's `scene_audio`) and
    one timings per scene (tts.Speak's): each scene moves on its own, from its own
    speech, and the presenter rests for a moment at every cut, so a variant that
    changes one scene's narration re-uses the others' frames and encoded segments."""
    from .avatar_draw import STYLES, Presenter
    from .video import array_key

    track, counts, fitted = make_track(
        audio, timings, fps, mode, seed, blink_rate, head_motion, expressiveness, lead
    )
    frames = sum(counts)
    bg = None
    if background is not None:
        import cv2

        src = image_pixels(background)
        sh, sw = src.shape[:2]
        s = max(width / sw, height / sh)
        big = cv2.resize(
            src,
            (max(width, round(sw * s)), max(height, round(sh * s))),
            interpolation=cv2.INTER_AREA,
        )
        y0, x0 = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
        bg = big[y0 : y0 + height, x0 : x0 + width].copy()
    drawer = Presenter(
        width, height, STYLES[character], track, background=bg, offset_x=offset_x, zoom=zoom
    )
    video = PresenterVideo(
        drawer.render,
        fps=fps,
        width=width,
        height=height,
        frame_count=frames,
        audio=fitted,
        key=digest(
            class_code_key(Presenter),
            repr(STYLES[character]),
            None if bg is None else array_key(bg),
            offset_x,
            zoom,
        ),
    )
    video.track, video.scene_starts = track, _starts(counts)
    return video


@node("avatar.PhotoPresenter", category="video/avatar", outputs={"video": VIDEO})
def photo_presenter(
    image: Image,
    audio: list_of(Audio),
    timings: list_of(socket(TIMINGS)) = None,
    mouth_x: Annotated[float, Float(0.0, 1.0, 0.005)] = 0.0,
    mouth_y: Annotated[float, Float(0.0, 1.0, 0.005)] = 0.0,
    mouth_width: Annotated[float, Float(0.0, 1.0, 0.005)] = 0.0,
    width: Annotated[int, Int(0, 3840, 2)] = 0,
    height: Annotated[int, Int(0, 2160, 2)] = 0,
    fps: Annotated[float, Float(1.0, 120.0, 1.0)] = 24.0,
    mode: Annotated[str, Combo(MODES)] = "auto",
    seed: Annotated[int, Seed()] = 0,
    blink_rate: Annotated[float, Float(0.0, 3.0, 0.1)] = 1.0,
    head_motion: Annotated[float, Float(0.0, 3.0, 0.1)] = 0.6,
    expressiveness: Annotated[float, Float(0.3, 1.6, 0.05)] = 1.0,
    lead: Annotated[float, Float(-0.2, 0.2, 0.005)] = 0.04,
) -> Any:
    """A portrait photo that speaks `audio`. The mouth is found with a face detector
    (OpenCV Haar cascades from Debian's `opencv-data`), or given as `mouth_x`,
    `mouth_y` (its centre) and `mouth_width`, fractions of the image. Per frame the
    chin and lower lip are warped down and apart to open the mouth (with the inside
    of the mouth and teeth showing), the lips narrowed or widened per viseme, the
    eyelids lowered for blinks, and the whole picture moved gently. `width`/`height`
    0 keep the image size (rounded to even). As with avatar.Presenter, `audio` and
    `timings` may be one per scene."""
    from .avatar_photo import PhotoRig, find_mouth
    from .video import array_key

    src = image_pixels(image)
    ih, iw = src.shape[:2]
    if width or height:
        import cv2

        w = width or round(iw * height / ih)
        h = height or round(ih * width / iw)
        src = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA if w < iw else cv2.INTER_CUBIC)
    w, h = src.shape[1] // 2 * 2, src.shape[0] // 2 * 2
    src = src[:h, :w].copy()
    given = mouth_x > 0 and mouth_y > 0 and mouth_width > 0
    if not given and (mouth_x or mouth_y or mouth_width):
        raise NodeInputError(
            "mouth_x", "give all of mouth_x, mouth_y and mouth_width (or none to detect the face)"
        )
    if given:
        face = None
        mouth = (mouth_x * w, mouth_y * h, mouth_width * w)
    else:
        found = find_mouth(src)
        if found is None:
            raise NodeInputError(
                "image",
                "no face found in the portrait (a frontal face at least ~60 px wide is needed): give "
                "the mouth yourself with mouth_x, mouth_y (its centre) and mouth_width, as fractions of "
                "the image",
            )
        face, mouth = found
    track, counts, fitted = make_track(
        audio, timings, fps, mode, seed, blink_rate, head_motion, expressiveness, lead
    )
    frames = sum(counts)
    rig = PhotoRig(src, mouth, face, track)
    video = PresenterVideo(
        rig.render,
        fps=fps,
        width=w,
        height=h,
        frame_count=frames,
        audio=fitted,
        key=digest(class_code_key(PhotoRig), array_key(src), repr(mouth), repr(face)),
    )
    video.track, video.scene_starts = track, _starts(counts)
    video.mouth = mouth  # type: ignore[attr-defined]
    return video


@node(
    "avatar.TimelineSpeech",
    category="video/avatar",
    outputs={"audio": AUDIO, "timings": TIMINGS, "scene_audio": list_of(Audio)},
)
def timeline_speech(
    clips: list_of(Video),
    timings: list_of(socket(TIMINGS)),
    audio: list_of(socket(AUDIO)) = None,
) -> Any:
    """The speech of an edit as one track: each clip's audio (or `audio[k]`) padded to
    the clip's length and laid end to end, with each clip's timings moved to where the
    clip starts. Matches video.Concat's timeline exactly (its transitions keep the sum
    of the clip lengths), so one presenter can speak over a whole explainer.

    `scene_audio` is each clip's audio on its own, padded to the clip's length (silence
    for a clip without): link it, with the clips' timings, to a presenter's `audio` to
    have it move scene by scene."""
    import numpy as np

    from reelgraph.media import AudioClip, SpeechTimings, concat_audio

    if len(clips) != len(timings):
        raise NodeInputError("timings", f"{len(timings)} timings for {len(clips)} clips")
    if audio is not None and len(audio) != len(clips):
        raise NodeInputError("audio", f"{len(audio)} audio clips for {len(clips)} clips")
    tracks = list(audio) if audio is not None else [c.audio for c in clips]
    if all(a is None for a in tracks):
        raise NodeInputError("clips", "the clips carry no audio; link `audio`")
    durations = [c.duration for c in clips]
    joined = concat_audio(tracks, durations)
    words, sentences, phonemes = [], [], []
    off = 0.0
    texts = []
    for t, d in zip(timings, durations, strict=True):
        s = t.shifted(off)
        words += s.words
        sentences += s.sentences
        phonemes += s.phonemes
        texts.append(t.text)
        off += d
    rate, channels = joined.sample_rate, joined.channels
    scenes = [
        concat_audio([a], [d])
        if a is not None
        else AudioClip(np.zeros((channels, round(d * rate)), np.float32), rate)
        for a, d in zip(tracks, durations, strict=True)
    ]
    return (
        joined,
        SpeechTimings(
            " ".join(texts), joined.duration, tuple(words), tuple(sentences), tuple(phonemes)
        ),
        scenes,
    )


PIP_POSITIONS = ("bottom_right", "bottom_left", "top_right", "top_left")
PIP_SHAPES = ("circle", "rounded", "rectangle")


class OverlaidVideo(VideoStream):
    """`overlay` drawn over `base`, both streamed side by side (each source is pulled
    once, in order, whatever its chunking)."""

    def __init__(
        self, base: VideoStream, overlay: VideoStream, draw: Any, key: bytes | None = None
    ):
        """`key` says what `draw` does (its settings); without it the stream's ranges
        have no segment keys."""
        self.base, self.overlay, self._draw = base, overlay, draw
        self._key = None if key is None else digest(function_key(draw), key)
        self.fps, self.width, self.height, self.frame_count = (
            base.fps,
            base.width,
            base.height,
            base.frame_count,
        )
        self._audio = base.audio

    @property
    def audio(self) -> Any:
        return self._audio

    def arrays(self, n: int = 16, start: int = 0, stop: int | None = None) -> Any:
        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        start = max(0, start)
        over_stop = min(stop, self.overlay.frame_count)
        over = (
            (f for c in self.overlay.arrays(n, start, over_stop) for f in c)
            if start < over_stop
            else iter(())
        )
        index = start
        for frames in self.base.arrays(n, start, stop):  # fresh buffers: draw in place
            for k in range(frames.shape[0]):
                f = next(over, None)
                if f is not None:
                    self._draw(frames[k], f, index + k)
            index += frames.shape[0]
            yield frames

    def segment_key(self, start: int, stop: int) -> bytes | None:
        if self._key is None:
            return None
        over_stop = min(stop, self.overlay.frame_count)
        # past its end the overlay is hidden: those frames are the base's alone
        over = self.overlay.segment_key(start, over_stop) if start < over_stop else b"none"
        return mix_key(
            b"overlaid",
            digest(self._key, max(0, over_stop - start)),
            self.base.segment_key(start, stop),
            over,
        )

    def cut_points(self) -> list[int]:
        # the overlay is drawn frame by frame: the base's cuts are the stream's
        cuts = set(self.base.cut_points())
        if 0 < self.overlay.frame_count < self.frame_count:
            cuts.add(self.overlay.frame_count)
        return sorted(cuts)


@node("avatar.PictureInPicture", category="video/composite", outputs={"video": VIDEO})
def picture_in_picture(
    video: Video,
    overlay: Video,
    position: Annotated[str, Combo(PIP_POSITIONS)] = "bottom_right",
    scale: Annotated[float, Float(0.05, 1.0, 0.01)] = 0.3,
    shape: Annotated[str, Combo(PIP_SHAPES)] = "circle",
    margin: Annotated[float, Float(0.0, 0.3, 0.005)] = 0.03,
    border: Annotated[float, Float(0.0, 0.05, 0.001)] = 0.006,
    border_color: Annotated[str, Text()] = "#ffffff",
    shadow: Annotated[bool, Bool()] = True,
) -> Any:
    """Put `overlay` (e.g. a presenter) over `video` (e.g. slides): `scale` of the
    frame height, in a corner, cut to a circle, a rounded rectangle or a rectangle,
    with a border and a soft shadow. Frame by frame in step; the audio is `video`'s.
    The overlay is hidden once it ends."""
    import cv2
    import numpy as np

    from .image import parse_hex_color

    if abs(overlay.fps - video.fps) > 1e-6:
        raise NodeInputError(
            "overlay",
            f"overlay runs at {overlay.fps:g} fps, video at {video.fps:g}: use video.SetFPS",
        )
    try:
        bc = np.array([int(c * 255 + 0.5) for c in parse_hex_color(border_color)], np.float32)
    except ValueError as exc:
        raise NodeInputError("border_color", str(exc)) from None
    H, W = video.height, video.width
    h = max(8, round(H * scale))
    w = h if shape == "circle" else max(8, round(h * overlay.width / overlay.height))
    m = round(margin * H)
    x = m if "left" in position else W - w - m
    y = m if "top" in position else H - h - m
    if x < 0 or y < 0:
        raise NodeInputError("scale", f"a {w}x{h} overlay does not fit in {W}x{H}")
    ss = 4
    mask = np.zeros((h * ss, w * ss), np.uint8)
    if shape == "circle":
        cv2.circle(mask, (w * ss // 2, h * ss // 2), min(w, h) * ss // 2 - 1, 255, -1, cv2.LINE_AA)
    elif shape == "rounded":
        r = round(0.12 * min(w, h) * ss)
        cv2.rectangle(mask, (r, 0), (w * ss - r, h * ss), 255, -1)
        cv2.rectangle(mask, (0, r), (w * ss, h * ss - r), 255, -1)
        for cx, cy in ((r, r), (w * ss - r, r), (r, h * ss - r), (w * ss - r, h * ss - r)):
            cv2.circle(mask, (cx, cy), r, 255, -1, cv2.LINE_AA)
    else:
        mask[:] = 255
    mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    bw = max(0, round(border * H))
    inner = cv2.erode(mask, np.ones((2 * bw + 1, 2 * bw + 1), np.uint8)) if bw else mask
    ring = np.clip(mask - inner, 0, 1)[..., None]
    inner3 = inner[..., None]
    pad = max(2, round(0.02 * H)) if shadow else 0
    sh = None
    if shadow:
        big = np.zeros((h + 4 * pad, w + 4 * pad), np.float32)
        big[2 * pad : 2 * pad + h, 2 * pad : 2 * pad + w] = mask
        sh = (cv2.GaussianBlur(big, (0, 0), pad * 0.8) * 0.45)[..., None]
    # crop box of the overlay's frames: cover-fit into w x h
    ow, oh = overlay.width, overlay.height
    s = max(w / ow, h / oh)
    cw, ch = min(ow, round(w / s)), min(oh, round(h / s))
    cx0, cy0 = (ow - cw) // 2, (oh - ch) // 2

    def draw(frame: Any, over: Any, _i: int) -> None:
        if sh is not None:
            sx0, sy0 = x - 2 * pad, y - 2 * pad + pad // 2
            a0, b0 = max(0, sx0), max(0, sy0)
            a1, b1 = min(W, sx0 + sh.shape[1]), min(H, sy0 + sh.shape[0])
            region = frame[b0:b1, a0:a1].astype(np.float32)
            sa = sh[b0 - sy0 : b1 - sy0, a0 - sx0 : a1 - sx0]
            frame[b0:b1, a0:a1] = (region * (1 - sa)).astype(np.uint8)
        src = over[cy0 : cy0 + ch, cx0 : cx0 + cw]
        small = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)
        region = frame[y : y + h, x : x + w].astype(np.float32)
        out = region * (1 - inner3) + small.astype(np.float32) * inner3
        out = out * (1 - ring) + bc * ring
        frame[y : y + h, x : x + w] = (out + 0.5).astype(np.uint8)

    settings = (position, scale, shape, margin, border, border_color, shadow, W, H, ow, oh)
    return OverlaidVideo(video, overlay, draw, key=digest(b"pip", *settings))


# ---- model-based lip sync -------------------------------------------------------------

S2V_CLASS = "WanSpeechToVideoPipeline"


def s2v_models() -> list[str]:
    """Diffusers folders in models/diffusers whose model_index.json names the Wan
    speech-to-video pipeline."""
    import json

    from reelgraph.models import model_folder

    out = []
    root = model_folder("diffusers")
    if root.is_dir():
        for p in sorted(root.iterdir()):
            idx = p / "model_index.json"
            try:
                if idx.is_file() and json.loads(idx.read_text()).get("_class_name") == S2V_CLASS:
                    out.append(p.name)
            except (OSError, ValueError):
                continue
    return out or ["(none found)"]


def s2v_pipeline_class() -> Any:
    """diffusers' WanSpeechToVideoPipeline, or None when the installed diffusers lacks it."""
    try:
        import diffusers
    except ImportError:
        return None
    return getattr(diffusers, S2V_CLASS, None)


def _check_s2v(values: dict[str, Any]) -> list[tuple[str, str]]:
    import importlib.metadata

    from reelgraph.models import model_folder

    issues = []
    if s2v_pipeline_class() is None:
        try:
            ver = importlib.metadata.version("diffusers")
        except importlib.metadata.PackageNotFoundError:
            ver = "not installed"
        issues.append(
            (
                "model",
                f"diffusers {ver} has no {S2V_CLASS}: model-based lip sync needs a diffusers "
                f"release that ships it; use avatar.Presenter or avatar.PhotoPresenter meanwhile",
            )
        )
    name = str(values.get("model", ""))
    if name not in s2v_models() or name == "(none found)":
        issues.append(
            (
                "model",
                f"no Wan speech-to-video model {name!r}: put a diffusers folder (model_index.json "
                f"with _class_name {S2V_CLASS}) in {model_folder('diffusers')}",
            )
        )
    return issues


@node(
    "avatar.WanSpeechToVideo",
    category="video/avatar",
    outputs={"video": VIDEO},
    resource="gpu",
    validate=_check_s2v,
)
def wan_speech_to_video(
    image: Image,
    audio: Audio,
    model: Annotated[str, Combo(s2v_models)] = "(none found)",
    prompt: Annotated[str, Text(multiline=True)] = "a person talking to the camera",
    steps: Annotated[int, Int(1, 100)] = 30,
    guidance: Annotated[float, Float(0.0, 20.0, 0.5)] = 4.5,
    width: Annotated[int, Int(64, 1920, 16)] = 832,
    height: Annotated[int, Int(64, 1920, 16)] = 480,
    fps: Annotated[float, Float(1.0, 60.0, 1.0)] = 16.0,
    seed: Annotated[int, Seed()] = 0,
    device: Annotated[str, Combo(["auto", "cuda", "mps", "cpu"])] = "auto",
    ctx: Context = None,
) -> Any:
    """Talking video from a portrait and speech with Wan 2.2 S2V through diffusers'
    WanSpeechToVideoPipeline (weights from models/diffusers, loaded through the model
    cache shared with the diffusion nodes). Needs a diffusers release that has the
    pipeline; the offline presenters need nothing."""
    import torch

    from reelgraph.models import model_cache, pick_device, pick_dtype, resolve

    cls = s2v_pipeline_class()
    if cls is None:
        raise NodeInputError("model", _check_s2v({"model": model})[0][1])
    folder = resolve("diffusers", model)
    dev = pick_device(device)
    dtype = pick_dtype("auto", dev)
    pipe = model_cache().get_or_load(
        ("s2v", str(folder), dev, str(dtype)),
        lambda: cls.from_pretrained(folder, torch_dtype=dtype).to(dev),
        device=dev,
    )
    a16 = audio.resampled(16000).with_channels(1)

    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    total = int(steps)

    def on_step(_pipe: Any, i: int, _t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        if ctx is not None:
            ctx.progress(i + 1, total)
        return kw

    from PIL import Image as PILImage

    result = pipe(
        image=PILImage.fromarray(image_pixels(image)),
        audio=a16.array[0],
        sampling_rate=16000,
        prompt=prompt,
        num_inference_steps=total,
        guidance_scale=guidance,
        width=width,
        height=height,
        generator=gen,
        output_type="np",
        callback_on_step_end=on_step,
    )
    import numpy as np

    from reelgraph.media import TensorVideo

    frames = np.asarray(result.frames[0])
    frames = (
        (np.clip(frames, 0, 1) * 255 + 0.5).astype(np.uint8) if frames.dtype != np.uint8 else frames
    )
    n = frames.shape[0]
    return TensorVideo(frames, fps, fitted_audio(audio, n, fps))
