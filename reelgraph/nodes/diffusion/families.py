"""Model families: which pipeline classes do which task, and what each video family needs
(latent layout for previews, trained frame rate, prompt or not, its image-to-video sibling)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    label: str
    task: str  # "image" | "t2v" | "i2v"
    layout: str = "bchw"  # latent layout for previews: bchw | bcfhw | bfchw | packed
    fps: float = 24.0  # the frame rate the family is trained for (default output fps)
    prompt: bool = True
    i2v: str | None = None  # image-to-video pipeline sharing this folder's modules


# Text-to-image classes loaded as they are; anything else AutoPipeline resolves also works.
T2I_CLASSES = (
    "StableDiffusionPipeline",
    "StableDiffusionXLPipeline",
    "StableDiffusion3Pipeline",
    "FluxPipeline",
    "PixArtAlphaPipeline",
    "PixArtSigmaPipeline",
    "LatentConsistencyModelPipeline",
    "KolorsPipeline",
    "HunyuanDiTPipeline",
    "AuraFlowPipeline",
    "SanaPipeline",
    "Lumina2Pipeline",
    "CogView4Pipeline",
    "KandinskyV22CombinedPipeline",
    "StableCascadeCombinedPipeline",
    "QwenImagePipeline",
    "ChromaPipeline",
)
I2I_CLASSES = (
    "StableDiffusionPipeline",
    "StableDiffusionXLPipeline",
    "StableDiffusion3Pipeline",
    "FluxPipeline",
    "LatentConsistencyModelPipeline",
    "KolorsPipeline",
    "KandinskyV22CombinedPipeline",
    "QwenImagePipeline",
    "ChromaPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionXLImg2ImgPipeline",
)
VIDEO_FAMILIES: dict[str, Family] = {
    "AnimateDiffPipeline": Family("AnimateDiff", "t2v", "bcfhw", 8.0),
    "LTXPipeline": Family("LTX-Video", "t2v", "packed", 24.0, i2v="LTXImageToVideoPipeline"),
    "LTXImageToVideoPipeline": Family("LTX-Video", "i2v", "packed", 24.0),
    "WanPipeline": Family("Wan", "t2v", "bcfhw", 16.0),
    "WanImageToVideoPipeline": Family("Wan", "i2v", "bcfhw", 16.0),
    "CogVideoXPipeline": Family("CogVideoX", "t2v", "bfchw", 8.0),
    "CogVideoXImageToVideoPipeline": Family("CogVideoX", "i2v", "bfchw", 8.0),
    "StableVideoDiffusionPipeline": Family(
        "Stable Video Diffusion", "i2v", "bfchw", 7.0, prompt=False
    ),
}
# Image models whose latents travel packed 2x2 into a token sequence.
PACKED_IMAGE_CLASSES = ("FluxPipeline", "ChromaPipeline", "QwenImagePipeline")
TASK_NAMES = {
    "t2i": "text-to-image",
    "i2i": "image-to-image",
    "t2v": "text-to-video",
    "i2v": "image-to-video",
}
CKPT_PREFIX = "checkpoints/"


def supports(cls: str, task: str) -> bool:
    fam = VIDEO_FAMILIES.get(cls)
    if task == "t2i":
        return cls in T2I_CLASSES
    if task == "i2i":
        return cls in I2I_CLASSES
    if task == "t2v":
        return fam is not None and fam.task == "t2v"
    return fam is not None and (fam.task == "i2v" or fam.i2v is not None)
