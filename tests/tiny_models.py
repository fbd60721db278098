"""Tiny random-weight diffusers pipelines, built from configs (as diffusers' own tests do).

    python tests/tiny_models.py DIR [name ...]

writes every tiny pipeline (or the named ones) into DIR/diffusers/<name> (and
tiny-sd also as a single-file checkpoint, DIR/checkpoints/tiny-sd.safetensors), a
models folder: point REELGRAPH_MODELS at DIR to try the generative workflows
without any weights. The outputs are noise, but every node runs through the same
`from_pretrained` path real models take.

The tiny models keep the compression ratios of the real families (LTX: 32x
spatial, 8x temporal; Wan and CogVideoX: 8x and 4x), so the frame and size rules
the nodes check at validation are the real ones.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

_CHARS = string.ascii_lowercase + string.digits + ".,!?'-:;"
_WORDS = (
    "the",
    "a",
    "an",
    "of",
    "and",
    "in",
    "on",
    "cat",
    "dog",
    "sea",
    "sun",
    "city",
    "night",
    "red",
    "blue",
    "green",
    "light",
    "forest",
    "mountain",
    "river",
    "sky",
    "robot",
    "street",
)


def clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in _CHARS:
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    merges: list[tuple[str, str]] = []
    for w in _WORDS:  # merge each word left to right so common words are one token
        cur = w[0]
        for i, ch in enumerate(w[1:], 1):
            right = ch + ("</w>" if i == len(w) - 1 else "")
            merges.append((cur, right))
            cur = cur + right
            vocab.setdefault(cur, len(vocab))
    merges = list(dict.fromkeys(merges))
    # model_max_length: without it transformers 5 pads prompts to an enormous length.
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in _CHARS] + [("▁" + w, -1.0) for w in _WORDS]
    # T5Tokenizer(vocab_file=...) silently ignores the file; a vocab list works. No extra ids.
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=512)


def clip_text_encoder(vocab_size: int, hidden: int = 32, with_projection: bool = False) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=hidden,
        intermediate_size=37,
        layer_norm_eps=1e-5,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=vocab_size,
        projection_dim=hidden,
    )
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(cfg)


def t5_encoder(vocab_size: int, d_model: int = 32) -> Any:
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(
        vocab_size=vocab_size,
        d_model=d_model,
        d_ff=37,
        d_kv=8,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return T5EncoderModel(cfg)


def clip_vision(
    hidden: int = 32, projection: int = 32, with_projection: bool = True
) -> tuple[Any, Any]:
    """An image encoder and its processor. image_size 224 / patch 32: the pipelines resize to 224."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        CLIPVisionModelWithProjection,
    )

    cfg = CLIPVisionConfig(
        hidden_size=hidden,
        projection_dim=projection,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=224,
        intermediate_size=37,
        patch_size=32,
    )
    proc = CLIPImageProcessor(crop_size=224, size={"shortest_edge": 224})
    return (CLIPVisionModelWithProjection if with_projection else CLIPVisionModel)(cfg), proc


def _sd_parts() -> dict[str, Any]:
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel

    tok = clip_tokenizer()
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=4,
        attention_head_dim=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 8, 8, 8),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=4,
        layers_per_block=1,
        sample_size=64,
    )
    sched = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    return {
        "unet": unet,
        "vae": vae,
        "scheduler": sched,
        "tokenizer": tok,
        "text_encoder": clip_text_encoder(len(tok)),
    }


def build_sd() -> Any:
    """Stable Diffusion 1.x layout (UNet + KL VAE with 8x compression + CLIP text)."""
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline(
        **_sd_parts(),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def build_sdxl() -> Any:
    """SDXL layout: two CLIP text encoders, added time ids."""
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel

    parts = _sd_parts()
    tok = parts["tokenizer"]
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=64,
        norm_num_groups=4,
        attention_head_dim=4,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=32 + 6 * 8,
    )
    return StableDiffusionXLPipeline(
        vae=parts["vae"],
        text_encoder=clip_text_encoder(len(tok)),
        tokenizer=tok,
        text_encoder_2=clip_text_encoder(len(tok), with_projection=True),
        tokenizer_2=clip_tokenizer(),
        unet=unet,
        scheduler=parts["scheduler"],
        force_zeros_for_empty_prompt=True,
    )


def _flow_vae(latent_channels: int) -> Any:
    """The SD3/Flux VAE layout (no quant convs, shift + scale), 8x compression."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(4, 4, 4, 4),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        latent_channels=latent_channels,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
        sample_size=64,
    )


def build_sd3() -> Any:
    """Stable Diffusion 3 layout: MMDiT, two CLIP encoders + T5, flow matching."""
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )

    tok, tok3 = clip_tokenizer(), t5_tokenizer()
    transformer = SD3Transformer2DModel(
        sample_size=8,
        patch_size=1,
        in_channels=4,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,
        joint_attention_dim=32,
        pooled_projection_dim=64,
        out_channels=4,
        pos_embed_max_size=16,
    )
    return StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=_flow_vae(4),
        text_encoder=clip_text_encoder(len(tok), with_projection=True),
        tokenizer=tok,
        text_encoder_2=clip_text_encoder(len(tok), with_projection=True),
        tokenizer_2=clip_tokenizer(),
        text_encoder_3=t5_encoder(len(tok3)),
        tokenizer_3=tok3,
    )


def build_flux() -> Any:
    """Flux.1 layout: packed 2x2 latents, CLIP pooled + T5 text, flow matching."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    tok, tok2 = clip_tokenizer(), t5_tokenizer()
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        axes_dims_rope=(4, 4, 8),
    )
    return FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=_flow_vae(1),
        text_encoder=clip_text_encoder(len(tok)),
        tokenizer=tok,
        text_encoder_2=t5_encoder(len(tok2)),
        tokenizer_2=tok2,
        transformer=transformer,
    )


def build_animatediff() -> Any:
    from diffusers import AnimateDiffPipeline, MotionAdapter, UNet2DConditionModel

    parts = _sd_parts()
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=4,
        attention_head_dim=4,
    )
    adapter = MotionAdapter(
        block_out_channels=(8, 16),
        motion_layers_per_block=1,
        motion_norm_num_groups=4,
        motion_num_attention_heads=2,
        motion_max_seq_length=32,
    )
    return AnimateDiffPipeline(
        unet=unet,
        motion_adapter=adapter,
        vae=parts["vae"],
        text_encoder=parts["text_encoder"],
        tokenizer=parts["tokenizer"],
        scheduler=parts["scheduler"],
        feature_extractor=None,
        image_encoder=None,
    )


def build_svd() -> Any:
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )

    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=16,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=(2, 4),
        projection_class_embeddings_input_dim=24,
        addition_time_embed_dim=8,
        num_frames=8,
    )
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=(32, 32, 32, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        latent_channels=4,
    )
    sched = EulerDiscreteScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        interpolation_type="linear",
        num_train_timesteps=1000,
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )
    encoder, proc = clip_vision()
    return StableVideoDiffusionPipeline(
        vae=vae, image_encoder=encoder, unet=unet, scheduler=sched, feature_extractor=proc
    )


def _ltx_parts() -> dict[str, Any]:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXVideoTransformer3DModel,
    )

    tok = t5_tokenizer()
    # Every decoder_* argument is given: left out, they default to a 950 MB full-size decoder.
    # patch 4 x three 2x stages: the real 32x spatial / 8x temporal compression.
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    )
    sched = FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True,
        base_shift=0.95,
        max_shift=2.05,
        base_image_seq_len=1024,
        max_image_seq_len=4096,
        shift_terminal=0.1,
    )
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": sched,
        "tokenizer": tok,
        "text_encoder": t5_encoder(len(tok)),
    }


def build_ltx() -> Any:
    """LTX-Video text-to-video; the same folder serves image-to-video (LTXImageToVideoPipeline)."""
    from diffusers import LTXPipeline

    return LTXPipeline(**_ltx_parts())


def _wan_vae() -> Any:
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )


def build_wan() -> Any:
    """Wan 2.1 text-to-video layout (UMT5 replaced by a tiny T5 encoder)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel

    tok = t5_tokenizer()
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    return WanPipeline(
        tokenizer=tok,
        text_encoder=t5_encoder(len(tok)),
        vae=_wan_vae(),
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
    )


def build_wan_i2v() -> Any:
    """Wan 2.1 image-to-video layout: CLIP image encoder, 36 input channels."""
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )

    tok = t5_tokenizer()
    encoder, proc = clip_vision(hidden=32, projection=32, with_projection=False)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        image_dim=32,
    )
    return WanImageToVideoPipeline(
        tokenizer=tok,
        text_encoder=t5_encoder(len(tok)),
        vae=_wan_vae(),
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        image_encoder=encoder,
        image_processor=proc,
    )


def _cog_parts(in_channels: int) -> dict[str, Any]:
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXTransformer3DModel,
    )

    tok = t5_tokenizer()
    transformer = CogVideoXTransformer3DModel(
        # The image-to-video model uses 3D rotary embeddings: head dim must split into even thirds.
        num_attention_heads=4,
        attention_head_dim=16 if in_channels == 8 else 8,
        in_channels=in_channels,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=4,
        sample_height=4,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
        use_rotary_positional_embeddings=in_channels == 8,
    )
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    return {
        "tokenizer": tok,
        "text_encoder": t5_encoder(len(tok)),
        "vae": vae,
        "transformer": transformer,
        "scheduler": CogVideoXDDIMScheduler(),
    }


def build_cogvideox() -> Any:
    from diffusers import CogVideoXPipeline

    return CogVideoXPipeline(**_cog_parts(4))


def build_cogvideox_i2v() -> Any:
    from diffusers import CogVideoXImageToVideoPipeline

    return CogVideoXImageToVideoPipeline(**_cog_parts(8))


# --- single-file (original LDM layout) checkpoints --------------------------------------


def _unet_to_ldm(sd: dict[str, Any], config: Any) -> dict[str, Any]:
    """diffusers UNet2DConditionModel keys -> original `model.diffusion_model.*` keys: the
    inverse of diffusers' convert_ldm_unet_checkpoint."""
    n_per = config["layers_per_block"] + 1
    ups = config["up_block_types"]
    base = {
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "conv_in": "input_blocks.0.0",
        "conv_norm_out": "out.0",
        "conv_out": "out.2",
    }

    def res(k: str) -> str:
        for a, b in (
            ("norm1", "in_layers.0"),
            ("conv1", "in_layers.2"),
            ("time_emb_proj", "emb_layers.1"),
            ("norm2", "out_layers.0"),
            ("conv2", "out_layers.3"),
            ("conv_shortcut", "skip_connection"),
        ):
            k = k.replace(f".{a}.", f".{b}.")
        return k

    out = {}
    for key, v in sd.items():
        p = key.split(".")
        new = next((b + key[len(a) :] for a, b in base.items() if key.startswith(a + ".")), None)
        if new is None and p[0] in ("down_blocks", "up_blocks"):
            i, kind, j, rest = int(p[1]), p[2], int(p[3]), ".".join(p[4:])
            blocks = "input_blocks" if p[0] == "down_blocks" else "output_blocks"
            first = 1 + i * n_per if p[0] == "down_blocks" else i * n_per
            if kind == "resnets":
                new = res(f"{blocks}.{first + j}.0.{rest}")
            elif kind == "attentions":
                new = f"{blocks}.{first + j}.1.{rest}"
            elif kind == "downsamplers":
                new = f"input_blocks.{(i + 1) * n_per}.0.op.{p[-1]}"
            else:  # upsamplers: after the block's attention when it has one
                new = f"output_blocks.{i * n_per + n_per - 1}.{2 if 'CrossAttn' in ups[i] else 1}.{rest}"
        elif new is None and p[0] == "mid_block":
            rest = ".".join(p[3:])
            new = (
                res(f"middle_block.{2 * int(p[2])}.{rest}")
                if p[1] == "resnets"
                else f"middle_block.1.{rest}"
            )
        if new is None:
            raise KeyError(f"no LDM name for UNet key {key}")
        out["model.diffusion_model." + new] = v
    return out


def _vae_to_ldm(sd: dict[str, Any], config: Any) -> dict[str, Any]:
    """diffusers AutoencoderKL keys -> original `first_stage_model.*` keys."""
    n = len(config["block_out_channels"])
    attn = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out": "proj_out"}
    out = {}
    for key, v in sd.items():
        p = key.split(".")
        new = key
        if p[0] in ("encoder", "decoder"):
            side = p[0]
            if p[1] == "conv_norm_out":
                new = f"{side}.norm_out.{p[2]}"
            elif p[1] in ("down_blocks", "up_blocks"):
                i = int(p[2]) if p[1] == "down_blocks" else n - 1 - int(p[2])
                level = "down" if p[1] == "down_blocks" else "up"
                if p[3] == "resnets":
                    new = f"{side}.{level}.{i}.block.{'.'.join(p[4:])}"
                else:
                    new = f"{side}.{level}.{i}.{level}sample.{'.'.join(p[5:])}"
            elif p[1] == "mid_block" and p[2] == "resnets":
                new = f"{side}.mid.block_{int(p[3]) + 1}.{'.'.join(p[4:])}"
            elif p[1] == "mid_block":
                new = f"{side}.mid.attn_1.{attn[p[4]]}.{p[-1]}"
                if v.ndim == 2:  # the original attention projections are 1x1 convolutions
                    v = v[:, :, None, None]
            new = new.replace(".conv_shortcut.", ".nin_shortcut.")
        out["first_stage_model." + new] = v
    return out


def sd_to_ldm(pipe: Any) -> dict[str, Any]:
    """A Stable Diffusion pipeline as one original-layout state dict (what civitai-style
    .safetensors checkpoints hold), for testing `from_single_file`."""
    ck = _unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config)
    ck.update(_vae_to_ldm(pipe.vae.state_dict(), pipe.vae.config))
    for k, v in pipe.text_encoder.state_dict().items():
        # transformers >= 5.6 flattened CLIPTextModel; original checkpoints say text_model.*
        k = k if k.startswith("text_model.") else "text_model." + k
        ck["cond_stage_model.transformer." + k] = v
    return {k: v.contiguous() for k, v in ck.items()}


def write_checkpoint(models_dir: Path, pipe: Any, name: str = "tiny-sd") -> Path:
    """checkpoints/<name>.safetensors plus checkpoints/<name>/ with the configs only, which is
    what lets from_single_file load it offline."""
    import shutil

    from safetensors.torch import save_file

    folder = Path(models_dir) / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.safetensors"
    save_file(sd_to_ldm(pipe), str(path))
    configs = folder / name
    shutil.rmtree(configs, ignore_errors=True)
    source = Path(models_dir) / "diffusers" / name
    shutil.copytree(source, configs, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    return path


BUILDERS: dict[str, Callable[[], Any]] = {
    "tiny-sd": build_sd,
    "tiny-sdxl": build_sdxl,
    "tiny-sd3": build_sd3,
    "tiny-flux": build_flux,
    "tiny-animatediff": build_animatediff,
    "tiny-svd": build_svd,
    "tiny-ltx": build_ltx,
    "tiny-wan": build_wan,
    "tiny-wan-i2v": build_wan_i2v,
    "tiny-cogvideox": build_cogvideox,
    "tiny-cogvideox-i2v": build_cogvideox_i2v,
}


def write(models_dir: Path, names: list[str] | None = None, *, seed: int = 0) -> dict[str, Path]:
    """Build and save the tiny pipelines into `models_dir/diffusers/<name>`."""
    import torch
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    out: dict[str, Path] = {}
    for name in names or list(BUILDERS):
        torch.manual_seed(seed)
        pipe = BUILDERS[name]()
        path = Path(models_dir) / "diffusers" / name
        pipe.save_pretrained(path, safe_serialization=True)
        out[name] = path
        if name == "tiny-sd":  # the same model as a single-file checkpoint
            out["checkpoints/tiny-sd.safetensors"] = write_checkpoint(Path(models_dir), pipe)
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\npipelines:", ", ".join(BUILDERS))
        return 0 if argv else 2
    unknown = [n for n in argv[1:] if n not in BUILDERS]
    if unknown:
        print(
            f"unknown pipeline(s) {', '.join(unknown)}; choose from {', '.join(BUILDERS)}",
            file=sys.stderr,
        )
        return 2
    import torch

    torch.set_num_threads(1)
    for name, path in write(Path(argv[0]), argv[1:] or None).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
