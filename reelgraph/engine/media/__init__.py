"""Media value classes shared by node packs and the server: VIDEO, AUDIO, scenes, cues.

Nothing here imports torch, av or cv2 at module load; they are imported inside
the methods that need them. Importing this package registers msgpack codecs so
the disk cache can store audio, scenes, cues and speech timings.
"""

from . import codecs as _codecs  # noqa: F401  (registers the disk-cache codecs)
from .audio import AudioClip, FadedAudio, JoinedAudio, LazyAudio, Pcm16Audio, ScaledAudio
from .records import Cue, Scene, SpeechTimings, WordTiming
from .video import FileVideo, MappedVideo, TensorVideo, VideoStream

__all__ = [
    "AudioClip",
    "Cue",
    "FadedAudio",
    "FileVideo",
    "JoinedAudio",
    "LazyAudio",
    "MappedVideo",
    "Pcm16Audio",
    "ScaledAudio",
    "Scene",
    "SpeechTimings",
    "TensorVideo",
    "VideoStream",
    "WordTiming",
]
