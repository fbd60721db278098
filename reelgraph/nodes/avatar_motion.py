"""What a talking presenter does, frame by frame: mouth shapes from speech, blinks, head motion.

Pure numpy, no drawing. Two ways to drive the mouth:

- **phonemes** (Piper's alignments, `SpeechTimings.phonemes`): every phoneme maps to a
  viseme (a target mouth shape); the shapes are blended over time with Cohen & Massaro's
  dominance model of co-articulation: each segment pulls the mouth towards its target
  with a weight that falls off with the distance in time from the segment. Bilabials
  (M/B/P) and labiodentals (F/V) dominate strongly and locally, so the lips really meet
  for "m" even between two open vowels; consonants like t/d/k/h dominate weakly, so they
  take the shape of the vowels around them (as real mouths do). Loudness then scales
  how far the jaw opens (emphasis).
- **loudness** (any audio, e.g. an uploaded voice): the jaw follows the audio's loudness
  envelope with a noise gate, and the spectral balance picks between wide and round lips.

A track is built per scene (`scene_tracks`): each scene's rows are a function of that
scene's speech, the seed and the time within the scene only, so a scene that did not
change gets the same rows (and the encoder its cached segments) wherever it now sits.
Nothing carries over a scene boundary: the head eases back to its resting pose, the
eyes look at the camera and no blink is under way at both ends of every scene, so
the joined track has no jump at a cut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Mouth parameters, each roughly 0..1 (width is a multiplier of the resting width).
PARAMS = ("open", "width", "round", "teeth", "tuck", "tongue")
P_OPEN, P_WIDTH, P_ROUND, P_TEETH, P_TUCK, P_TONGUE = range(len(PARAMS))

# Viseme -> (open, width, round, teeth, tuck, tongue)
VISEMES: dict[str, tuple[float, ...]] = {
    "rest": (0.0, 1.0, 0.0, 0.0, 0.0, 0.0),
    "MBP": (0.0, 0.94, 0.0, 0.0, 0.0, 0.0),  # lips pressed together
    "FV": (0.16, 1.02, 0.0, 1.0, 1.0, 0.0),  # upper teeth on the lower lip
    "A": (1.0, 1.08, 0.0, 0.7, 0.0, 0.3),  # open jaw (father, cat, cup)
    "E": (0.5, 1.22, 0.0, 0.9, 0.0, 0.2),  # wide, half open (bed, bird, the)
    "I": (0.3, 1.3, 0.0, 1.0, 0.0, 0.0),  # wide, nearly closed (see, sit, yes)
    "O": (0.68, 0.66, 0.85, 0.3, 0.0, 0.0),  # round, open (go, saw)
    "U": (0.3, 0.5, 1.0, 0.0, 0.0, 0.0),  # round, small (you, good, we)
    "L": (0.4, 1.05, 0.0, 0.8, 0.0, 1.0),  # tongue tip up (l, th)
    "CH": (0.2, 0.78, 0.6, 1.0, 0.0, 0.0),  # lips pushed out, teeth together (sh, ch, j)
    "R": (0.22, 0.78, 0.55, 0.4, 0.0, 0.0),  # slightly rounded (red)
    "ETC": (0.24, 1.06, 0.0, 1.0, 0.0, 0.2),  # t d n s z k g: jaw nearly closed, teeth
}
VISEME_NAMES = tuple(VISEMES)

# (dominance, time constant in s): how strongly and how far a segment pulls the mouth.
DOMINANCE: dict[str, tuple[float, float]] = {
    "rest": (1.0, 0.05),
    "MBP": (12.0, 0.018),
    "FV": (6.0, 0.022),
    "A": (1.0, 0.05),
    "E": (1.0, 0.05),
    "I": (1.0, 0.05),
    "O": (1.4, 0.06),
    "U": (1.6, 0.06),
    "L": (0.9, 0.03),
    "CH": (1.5, 0.035),
    "R": (0.8, 0.04),
    "ETC": (0.35, 0.03),
}

# Piper / espeak-ng IPA phoneme -> viseme (length marks stripped first).
PHONEME_VISEME: dict[str, str] = {}
for _v, _phs in {
    "MBP": "m b p",
    "FV": "f v",
    "A": "a æ ɑ ɐ ʌ aɪ aʊ",
    "E": "e ɛ ə ɚ ɜ ᵻ eɪ ɝ",
    "I": "i ɪ j iə",
    "O": "o ɔ ɒ oʊ ɔɪ",
    "U": "u ʊ w ʉ",
    "L": "l ɫ θ ð",
    "CH": "ʃ ʒ tʃ dʒ",
    "R": "ɹ r ɾ",
    "ETC": "t d n s z k ɡ g ŋ h ʔ x ç",
}.items():
    for _p in _phs.split():
        PHONEME_VISEME[_p] = _v


def viseme_of(phoneme: str) -> str:
    p = phoneme.rstrip("ːˑ")
    if p in PHONEME_VISEME:
        return PHONEME_VISEME[p]
    if p[:1] in PHONEME_VISEME:
        return PHONEME_VISEME[p[:1]]
    return "ETC"


# Per-parameter weight of a viseme's dominance: a bilabial decides whether the lips are
# closed, but lets the neighbouring vowels decide how wide they are ("boo" vs "bee").
_PARAM_WEIGHT = {
    "MBP": (1.0, 0.25, 0.25, 1.0, 1.0, 1.0),
    "FV": (1.0, 0.4, 0.4, 1.0, 1.0, 1.0),
    "ETC": (1.0, 0.6, 0.4, 1.0, 1.0, 1.0),
}


@dataclass
class Segment:
    viseme: str
    start: float
    end: float


@dataclass
class MotionTrack:
    """Per-frame state of the presenter: `mouth` [T, len(PARAMS)], `visemes` [T] (index
    into VISEME_NAMES of the segment sounding at the frame's centre, -1 in a pause),
    `blink` [T] 0 open..1 shut, `head` [T, 4] (dx, dy in face widths, roll in degrees,
    nod), `gaze` [T, 2], `loudness` [T] 0..1, and which driver made the mouth."""

    fps: float
    mouth: Any
    visemes: Any
    blink: Any
    head: Any
    gaze: Any
    loudness: Any
    driver: str

    @property
    def frame_count(self) -> int:
        return int(self.mouth.shape[0])

    @property
    def openness(self) -> Any:
        return self.mouth[:, P_OPEN]


# Piper's phoneme durations place each sound ~40 ms after it is heard (measured on
# en_US-joe-medium: the silent closure of every p/b falls 44 ms before its aligned
# centre, and mouth openness correlates best with loudness when shifted 40-45 ms
# earlier); lips also move slightly before the sound. So the mouth leads the timings.
PIPER_LEAD = 0.04


class NoSpeech(ValueError):
    pass


def mono(samples: Any) -> Any:
    import numpy as np

    s = np.asarray(samples, np.float32)  # a CPU tensor is viewed as an array
    return s.mean(axis=0) if s.ndim == 2 else s


def loudness_envelope(samples: Any, rate: int, fps: float, frames: int) -> tuple[Any, Any]:
    """Per-frame RMS level in dBFS (a Hann window two frames wide, centred on each
    frame's middle) and the share of high-frequency energy (2-8 kHz) in that window."""
    import numpy as np

    x = mono(samples)
    win = max(32, round(2 * rate / fps))
    window = np.hanning(win).astype(np.float32)
    norm = float(np.sqrt((window**2).mean()))
    centres = ((np.arange(frames) + 0.5) * rate / fps).astype(np.int64)
    pad = win // 2 + 1
    xp = np.pad(x, (pad, pad + win))
    db = np.empty(frames, np.float32)
    hf = np.zeros(frames, np.float32)
    freqs = np.fft.rfftfreq(win, 1.0 / rate)
    high = (freqs >= 2000) & (freqs <= 8000)
    step = 512
    for a in range(0, frames, step):
        idx = centres[a : a + step, None] - win // 2 + pad + np.arange(win)[None, :]
        seg = xp[idx] * window
        rms = np.sqrt((seg**2).mean(axis=1)) / norm
        db[a : a + step] = 20 * np.log10(rms + 1e-9)
        spec = np.abs(np.fft.rfft(seg, axis=1)) ** 2
        tot = spec.sum(axis=1) + 1e-12
        hf[a : a + step] = spec[:, high].sum(axis=1) / tot
    return db, hf


def speech_level(db: Any) -> tuple[float, float]:
    """(reference level of speech, gate) in dBFS; raises NoSpeech for silent audio."""
    import numpy as np

    peak = float(db.max()) if db.size else -180.0
    if peak < -55.0:
        raise NoSpeech(f"the audio is silent (loudest moment {peak:.0f} dBFS)")
    ref = float(np.percentile(db[db > peak - 40], 90))
    gate = ref - 32.0
    voiced = float((db > gate + 6).mean())
    if voiced < 0.02:
        raise NoSpeech(f"no speech found: only {voiced:.1%} of the audio is above the noise floor")
    return ref, gate


def loud_norm(db: Any, ref: float, gate: float) -> Any:
    import numpy as np

    return np.clip((db - gate) / (ref - gate), 0.0, 1.0) ** 1.3


def _smooth(x: Any, attack: float, release: float) -> Any:
    """One-pole follower, fast up and slower down (coefficients per frame, 0..1)."""
    import numpy as np

    out = np.empty_like(x)
    y = 0.0
    for i, v in enumerate(x.tolist()):
        y += (v - y) * (attack if v > y else release)
        out[i] = y
    return out


def segments_from_phonemes(phonemes: Any, duration: float) -> list[Segment]:
    """Viseme segments, with `rest` segments in the pauses between them."""
    segs: list[Segment] = []
    t = 0.0
    for p in sorted(phonemes, key=lambda p: p.start):
        if p.start > t + 1e-4:
            segs.append(Segment("rest", t, p.start))
        segs.append(Segment(viseme_of(p.phoneme), p.start, max(p.end, p.start + 1e-3)))
        t = max(t, p.end)
    segs.append(Segment("rest", t, max(duration, t) + 1.0))
    return segs


def coarticulate(segs: list[Segment], times: Any) -> Any:
    """Mouth parameters [T, P] at `times`: Cohen-Massaro blend of the segment targets.
    A segment's dominance is alpha * exp(-d / tau), d the time from the segment (0 inside it).
    Pauses dominate in proportion to their length, so a short gap between words does
    not shut the mouth but a sentence break does."""
    import numpy as np

    n = len(segs)
    starts = np.array([s.start for s in segs])
    ends = np.array([s.end for s in segs])
    target = np.array([VISEMES[s.viseme] for s in segs], np.float64)
    alpha = np.empty((n, len(PARAMS)))
    tau = np.empty(n)
    for i, s in enumerate(segs):
        a, tc = DOMINANCE[s.viseme]
        if s.viseme == "rest":
            gap = s.end - s.start
            a = float(np.clip((gap - 0.05) / 0.1, 0.04, 4.0))
            tc = 0.04
        alpha[i] = a * np.array(_PARAM_WEIGHT.get(s.viseme, (1.0,) * len(PARAMS)))
        tau[i] = tc
    reach = 0.4  # seconds beyond which a segment has no say
    out = np.empty((len(times), len(PARAMS)))
    step = 256
    for a0 in range(0, len(times), step):
        t = times[a0 : a0 + step]
        lo = int(np.searchsorted(ends, t[0] - reach))
        hi = int(np.searchsorted(starts, t[-1] + reach)) + 1
        lo, hi = max(0, lo), min(n, max(hi, lo + 1))
        d = np.maximum(
            0.0, np.maximum(starts[None, lo:hi] - t[:, None], t[:, None] - ends[None, lo:hi])
        )
        w = np.exp(-d / tau[None, lo:hi])[:, :, None] * alpha[None, lo:hi, :]  # [t, s, P]
        w += 1e-9
        out[a0 : a0 + step] = (w * target[None, lo:hi, :]).sum(axis=1) / w.sum(axis=1)
    return out


# A scene's edges: the head eases to rest over EDGE_RAMP seconds, the gaze is on the
# camera for EDGE_GAZE seconds and no blink reaches into BLINK_CLEAR seconds.
EDGE_RAMP = 0.8
EDGE_GAZE = 0.3
BLINK_CLEAR = (0.15, 0.3)  # a blink shuts 70 ms before its time, opens 120 ms after shut


def edge_envelope(n: int, fps: float, ramp: float = EDGE_RAMP) -> Any:
    """1 inside a scene, easing (smoothstep: no kink) to 0 at its first and last frames."""
    import numpy as np

    t = (np.arange(n) + 0.5) / fps
    r = max(1e-6, min(ramp, n / fps / 4))
    x = np.clip(np.minimum(t, n / fps - t) / r, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _blinks(n: int, fps: float, rng: Any, rate: float, sentence_starts: list[float]) -> Any:
    """Eyelid closure per frame: blinks every 2-6 s (gamma-distributed gaps, some double
    blinks, more likely at sentence starts); each shuts in ~70 ms, stays shut for a frame
    (50 ms or more) and opens in ~120 ms.
    None is under way at the first or last frame (a cut never shows half a blink)."""
    import numpy as np

    out = np.zeros(n)
    if rate <= 0:
        return out
    times: list[float] = []
    t = float(rng.uniform(0.4, 2.0))
    end = n / fps
    while t < end:
        times.append(t)
        if rng.random() < 0.15:
            times.append(t + 0.32)
        t += float(rng.gamma(4.0, 3.2 / rate / 4.0)) + 0.6
    for s in sentence_starts:
        if rng.random() < 0.5 and all(abs(s - b) > 1.0 for b in times):
            times.append(s + 0.05)
    times = [b for b in times if BLINK_CLEAR[0] <= b <= end - BLINK_CLEAR[1]]
    tt = (np.arange(n) + 0.5) / fps
    # Shut for at least one frame: a blink sampled only on its slopes would never close.
    hold = max(0.05, 1.0 / fps)
    for b in times:
        d = tt - b
        close = np.clip((d + 0.07) / 0.07, 0, 1) * (d < 0)
        shut = (d >= 0) & (d < hold)
        open_ = np.clip(1 - (d - hold) / 0.12, 0, 1) * (d >= hold)
        out = np.maximum(out, np.maximum(np.maximum(close, open_), shut.astype(float)))
    return out


def _wander(n: int, fps: float, rng: Any, amp: float, freqs: tuple[float, float]) -> Any:
    """Smooth random motion: a few sines of random frequency and phase."""
    import numpy as np

    t = np.arange(n) / fps
    out = np.zeros(n)
    for _ in range(3):
        f = rng.uniform(*freqs)
        out += np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.5, 1.0)
    return out * amp / 2.0


def build_track(
    samples: Any,
    rate: int,
    fps: float,
    frames: int,
    *,
    phonemes: Any = (),
    sentences: Any = (),
    mode: str = "auto",
    seed: int = 0,
    blink_rate: float = 1.0,
    head_motion: float = 1.0,
    expressiveness: float = 1.0,
    lead: float = PIPER_LEAD,
    silence_ok: bool = False,
) -> MotionTrack:
    """Everything the renderers need, for `frames` frames at `fps`, from this speech
    alone. `mode`: auto (phonemes when there are any, else loudness), phonemes,
    loudness. Silent audio raises NoSpeech, unless `silence_ok` (a scene of an edit
    with nothing said): then the mouth rests while the eyes and head still move."""
    import numpy as np

    rng = np.random.default_rng(int(seed) & 0xFFFFFFFF)
    db, hf = loudness_envelope(samples, rate, fps, frames)
    try:
        ref, gate = speech_level(db)
    except NoSpeech:
        if not silence_ok:
            raise
        ref, gate = 0.0, float("inf")  # every frame is below the gate: all quiet
    loud = loud_norm(db, ref, gate) if math.isfinite(gate) else np.zeros(frames)
    times = (np.arange(frames) + 0.5) / fps
    use_phonemes = mode == "phonemes" or (mode == "auto" and len(phonemes) > 0)
    if mode == "phonemes" and not phonemes and math.isfinite(gate):
        raise NoSpeech(
            "mode 'phonemes' needs timings with phonemes (from tts.Speak with a Piper voice)"
        )
    if not math.isfinite(gate):
        mouth = np.tile(np.array(VISEMES["rest"]), (frames, 1))
        visemes = np.full(frames, -1)
        driver = "silence"
    elif use_phonemes:
        segs = segments_from_phonemes(phonemes, frames / fps)
        for s in segs:
            s.start, s.end = s.start - lead, s.end - lead
        mouth = coarticulate(segs, times)
        # Emphasis: louder speech opens the jaw further (within limits).
        emph = _smooth(loud, 0.6, 0.35)
        mouth[:, P_OPEN] *= (0.6 + 0.55 * emph) * expressiveness
        # The lips meet for every m/b/p: the frame showing its middle is shut.
        starts = np.array([s.start for s in segs])
        ends = np.array([s.end for s in segs])
        vis_idx = np.array([VISEME_NAMES.index(s.viseme) for s in segs])
        k = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(segs) - 1)
        inside = (times >= starts[k]) & (times < ends[k])
        visemes = np.where(inside & (vis_idx[k] != 0), vis_idx[k], -1)
        for s in segs:
            if s.viseme == "MBP":
                mid = int((s.start + s.end) / 2 * fps)
                a, b = math.floor(s.start * fps + 0.5), math.ceil(s.end * fps - 0.5)
                for f in {mid, *range(a, b)}:
                    if 0 <= f < frames:
                        mouth[f, P_OPEN] = min(mouth[f, P_OPEN], 0.02)
        driver = "phonemes"
    else:
        open_ = _smooth(loud, 0.75, 0.45) * expressiveness
        tilt = np.clip((hf - 0.05) / 0.3, 0, 1)  # hissy: wide with teeth; dull: rounder
        mouth = np.zeros((frames, len(PARAMS)))
        mouth[:, P_OPEN] = open_
        mouth[:, P_WIDTH] = 0.85 + 0.4 * tilt + 0.1 * open_
        mouth[:, P_ROUND] = np.clip(0.5 - tilt, 0, 1) * (open_ > 0.05)
        mouth[:, P_TEETH] = np.clip(0.3 + tilt, 0, 1)
        mouth[:, P_TONGUE] = 0.2 * open_
        visemes = np.full(frames, -1)
        driver = "loudness"
    # Silence closes the mouth: inside every quiet stretch of 4+ frames (~170 ms at 24 fps)
    # the jaw comes to rest, easing in and out over a frame at each end.
    quiet = db < gate + 3.0
    shut = np.ones(frames)
    i = 0
    while i < frames:
        if not quiet[i]:
            i += 1
            continue
        j = i
        while j < frames and quiet[j]:
            j += 1
        if j - i >= 4:
            a, b = i + (1 if i > 0 else 0), j - (1 if j < frames else 0)
            shut[a:b] = 0.0
            if a > 0:
                shut[a - 1] = min(shut[a - 1], 0.5)
            if b < frames:
                shut[b] = min(shut[b], 0.5)
        i = j
    mouth[:, P_OPEN] = np.clip(mouth[:, P_OPEN] * shut, 0.0, 1.15)
    sentence_starts = [float(a) for a, _ in sentences]
    blink = _blinks(frames, fps, rng, blink_rate, sentence_starts)
    hm = head_motion
    talk = _smooth(loud, 0.2, 0.05)
    head = np.stack(
        [
            _wander(frames, fps, rng, 0.018 * hm, (0.05, 0.25)),  # dx (face widths)
            _wander(frames, fps, rng, 0.010 * hm, (0.08, 0.3))
            + 0.012 * hm * talk,  # dy: dips while talking
            _wander(frames, fps, rng, 2.2 * hm, (0.05, 0.22)),  # roll (degrees)
            _wander(frames, fps, rng, 0.5 * hm, (0.1, 0.4))
            + 0.6 * hm * (talk - _smooth(loud, 0.04, 0.04)),
        ],
        axis=1,
    )
    # At the scene's edges the head is at rest, so consecutive scenes meet without a jump.
    head *= edge_envelope(frames, fps)[:, None]
    # Gaze: small saccades held for 0.5-2.5 s, mostly towards the camera; on the camera
    # at the scene's edges.
    gaze = np.zeros((frames, 2))
    i = 0
    while i < frames:
        hold = int(rng.uniform(0.5, 2.5) * fps)
        g = rng.normal(0, 0.25, 2) if rng.random() < 0.5 else np.zeros(2)
        gaze[i : i + hold] = np.clip(g, -0.6, 0.6)
        i += max(1, hold)
    edge = min(frames // 2, round(EDGE_GAZE * fps))
    gaze[:edge] = 0.0
    gaze[frames - edge :] = 0.0
    return MotionTrack(
        fps,
        mouth.astype(np.float32),
        visemes.astype(np.int16),
        blink.astype(np.float32),
        head.astype(np.float32),
        gaze.astype(np.float32),
        loud.astype(np.float32),
        driver,
    )


def concat_tracks(tracks: list[MotionTrack]) -> MotionTrack:
    """Scene tracks one after another (each row stays what its scene made)."""
    import numpy as np

    if len(tracks) == 1:
        return tracks[0]
    drivers = sorted({t.driver for t in tracks} - {"silence"}) or ["silence"]
    return MotionTrack(
        tracks[0].fps,
        *(
            np.concatenate([getattr(t, f) for t in tracks])
            for f in ("mouth", "visemes", "blink", "head", "gaze", "loudness")
        ),
        "+".join(drivers),
    )
