"""8-bit IMAGE values (PixelImage): title cards stay uint8 through the motion node,
and every node that takes tensors still gets the float32 IMAGE the type promises."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reelgraph.engine import Cache, DiskCache, Engine, MemoryCache
from reelgraph.media import PixelImage
from reelgraph.nodes.video import image_to_clip

from .helpers import link, workflow

CARD = {"title": "Pixels", "body": "Kept in eight bits.", "width": 160, "height": 90}


def test_a_card_reaches_a_tensor_node_as_float32_and_the_motion_node_as_pixels(registry):
    wf = workflow(
        {
            "card": ("slides.TitleCard", CARD),
            "inv": ("image.Invert", {"image": link("card", "image")}),
            "clip": (
                "video.ImageToClip",
                {"image": link("card", "image"), "duration": 0.25, "fps": 8.0},
            ),
        }
    )
    with Engine(registry, Cache(MemoryCache())) as eng:
        res = eng.run(wf, targets=["card", "inv", "clip"])
    assert res.status == "finished", res.failed
    card = res.outputs["card"]["image"]
    assert isinstance(card, PixelImage) and card.shape == (1, 90, 160, 3)
    inv = res.outputs["inv"]["image"]
    assert isinstance(inv, torch.Tensor) and inv.dtype == torch.float32
    # exact: the tensor node saw k/255 for every pixel k
    expect = 1 - card.tensor()
    assert torch.allclose(inv, expect, atol=1e-6)
    assert np.array_equal((card.tensor() * 255).round().to(torch.uint8).numpy(), card.pixels)
    assert res.outputs["clip"]["video"].frame_count == 2


def test_motion_from_pixels_equals_motion_from_the_float_tensor():
    rng = np.random.default_rng(1)
    px = rng.integers(0, 256, (1, 72, 128, 3), dtype=np.uint8)
    a = image_to_clip(PixelImage(px), duration=0.5, fps=8.0, width=64, height=36)
    b = image_to_clip(PixelImage(px).tensor(), duration=0.5, fps=8.0, width=64, height=36)
    assert torch.equal(a.render(0, 4), b.render(0, 4))
    assert a.segment_key(0, 4) == b.segment_key(0, 4)


def test_pixel_images_go_to_disk_and_back_unchanged(tmp_path):
    from reelgraph.engine.cache import Result

    px = np.random.default_rng(2).integers(0, 256, (1, 30, 40, 3), dtype=np.uint8)
    disk = DiskCache(tmp_path)
    assert disk.write_now("k" * 32, Result((PixelImage(px),)))
    back = DiskCache(tmp_path).get("k" * 32).values[0]
    assert isinstance(back, PixelImage) and np.array_equal(back.pixels, px)


def test_pixel_image_refuses_what_is_not_8_bit_rgb():
    with pytest.raises(ValueError, match="uint8"):
        PixelImage(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        PixelImage(np.zeros((1, 4, 4, 4), np.uint8))


def test_a_packed_ken_burns_source_renders_the_same_frames(monkeypatch):
    import reelgraph.nodes.video as video_nodes

    px = np.random.default_rng(3).integers(0, 256, (1, 600, 640, 3), dtype=np.uint8)
    assert px[0].nbytes >= video_nodes.PACK_MIN_BYTES  # held PNG-packed
    packed = image_to_clip(PixelImage(px), duration=0.5, fps=8.0, width=320, height=180)
    packed_frames = packed.render(0, 4)
    monkeypatch.setattr(video_nodes, "PACK_MIN_BYTES", 1 << 40)  # held as pixels
    plain = image_to_clip(PixelImage(px), duration=0.5, fps=8.0, width=320, height=180)
    assert torch.equal(packed_frames, plain.render(0, 4))
    assert np.array_equal(video_nodes.PackedImage(px[0]).pixels(), px[0])
