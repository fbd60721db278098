"""Voices per language: Piper voices in models/voices (named `<lang>_<REGION>-<name>-<quality>`,
as Piper publishes them), the bundled `en_US-joe-medium`, and espeak-ng as the offline
fallback for a language no Piper voice speaks."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from .languages import LANGUAGES, info

AUTO = "auto"
ESPEAK_PREFIX = "espeak:"
BUNDLED_VOICE = "en_US-joe-medium"


def voice_language(voice: str) -> str:
    """The language code a voice speaks, from its name (`de_DE-thorsten-medium` -> de,
    `espeak:es` -> es)."""
    if voice.startswith(ESPEAK_PREFIX):
        return voice[len(ESPEAK_PREFIX) :].split("-")[0].lower()
    return voice.split("-")[0].split("_")[0].lower()


def piper_voices(folder: Path) -> list[str]:
    """Piper voices on disk: `<name>.onnx` with its `<name>.onnx.json` beside it."""
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.onnx") if p.with_suffix(".onnx.json").is_file())


@functools.lru_cache(maxsize=1)
def espeak_binary() -> str | None:
    return shutil.which("espeak-ng")


@functools.lru_cache(maxsize=1)
def espeak_languages() -> frozenset[str]:
    """espeak-ng voice codes it has installed (empty without espeak-ng)."""
    exe = espeak_binary()
    if exe is None:
        return frozenset()
    try:
        out = subprocess.run([exe, "--voices"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(ln.split()[1] for ln in out.splitlines()[1:] if len(ln.split()) > 1)


def espeak_voice_for(language: str) -> str | None:
    """The espeak-ng voice for a language, when espeak-ng is installed and has it."""
    have = espeak_languages()
    code = info(language).espeak
    for cand in (code, language, code.split("-")[0]):
        if cand in have:
            return cand
    return None


def espeak_options() -> list[str]:
    """`espeak:<code>` for the languages scripts are detected in that espeak-ng speaks."""
    return [ESPEAK_PREFIX + c for c in LANGUAGES if espeak_voice_for(c)]


def choose_voice(language: str, installed: list[str]) -> str:
    """The voice for a language: a Piper voice for it (medium quality first), the
    bundled voice for English, else espeak-ng. Raises LookupError saying what to
    install when there is none."""
    lang = info(language).code
    mine = [v for v in installed if voice_language(v) == lang]
    if mine:
        ranked = sorted(mine, key=lambda v: (not v.endswith("-medium"), v != BUNDLED_VOICE, v))
        return ranked[0]
    if lang == "en":
        return BUNDLED_VOICE
    if espeak_voice_for(lang):
        return ESPEAK_PREFIX + lang
    raise LookupError(
        f"no voice speaks {lang!r}: put a Piper voice for it ({lang}_XX-<name>-<quality>.onnx "
        "and .onnx.json, from https://huggingface.co/rhasspy/piper-voices) in the models "
        "folder's voices/, or install espeak-ng (apt-get install espeak-ng) for an offline "
        "fallback voice"
    )
