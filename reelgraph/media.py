"""Media value classes for node packs: streamed VIDEO, AUDIO, scenes, cues, timings.

A stable public face over `reelgraph.engine.media`; node packs import from here.
"""

from .engine.media import (
    AudioClip,
    Cue,
    FileVideo,
    MappedVideo,
    Scene,
    SpeechTimings,
    TensorVideo,
    VideoStream,
    WordTiming,
)
from .engine.media.encoder import (
    EncodedSegment,
    EncodeSettings,
    EncodeStats,
    SegmentStore,
    encode_mp4,
    encode_segment,
    encode_video,
    plan_segments,
    segment_cache_key,
)
from .engine.media.metadata import (
    PROVENANCE_KEY,
    WORKFLOW_KEY,
    embedded_workflow_text,
    read_media_metadata,
    read_png_text,
    read_wav_comment,
)
from .engine.media.pixels import PixelImage, as_tensor_image, image_pixels
from .engine.media.records import SCENE, TIMINGS, PhonemeTiming
from .engine.media.video import (
    IDENTITY,
    TRANSITIONS,
    ConcatVideo,
    IndexedVideo,
    ProceduralVideo,
    concat_audio,
    decode_audio,
    digest,
    function_key,
    mix_key,
)

__all__ = [
    "IDENTITY",
    "PROVENANCE_KEY",
    "SCENE",
    "TIMINGS",
    "TRANSITIONS",
    "WORKFLOW_KEY",
    "AudioClip",
    "ConcatVideo",
    "Cue",
    "EncodeSettings",
    "EncodeStats",
    "EncodedSegment",
    "FileVideo",
    "IndexedVideo",
    "MappedVideo",
    "PhonemeTiming",
    "PixelImage",
    "ProceduralVideo",
    "Scene",
    "SegmentStore",
    "SpeechTimings",
    "TensorVideo",
    "VideoStream",
    "WordTiming",
    "as_tensor_image",
    "concat_audio",
    "decode_audio",
    "digest",
    "embedded_workflow_text",
    "encode_mp4",
    "encode_segment",
    "encode_video",
    "function_key",
    "image_pixels",
    "mix_key",
    "plan_segments",
    "read_media_metadata",
    "read_png_text",
    "read_wav_comment",
    "segment_cache_key",
]
