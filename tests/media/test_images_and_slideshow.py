from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from reelgraph.engine import NodeInputError
from reelgraph.engine.media import Scene
from reelgraph.engine.media.metadata import read_media_metadata
from reelgraph.media import PixelImage
from reelgraph.nodes.image_ops import color_adjust, composite, crop, load, load_folder, pad, resize
from reelgraph.nodes.slides import title_card

ROOT = Path(__file__).resolve().parents[2]


def ink_box(img, bg):
    """Bounding box of pixels that differ from the background estimate."""
    diff = (img[0] - bg).abs().amax(-1) > 0.25
    ys, xs = torch.nonzero(diff, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.mark.parametrize(("w", "h"), [(1280, 720), (720, 1280), (320, 240)])
def test_title_card_text_stays_inside_safe_margins(w, h):
    long = "A rather long title that will certainly need to wrap onto more lines"
    img = title_card(
        title=long,
        body="Body text " * 30,
        width=w,
        height=h,
        background="solid",
        palette="custom",
        color1="#000000",
        margin=0.08,
        reserve_bottom=0.16,
    ).tensor()
    assert img.shape == (1, h, w, 3)
    x0, y0, x1, y1 = ink_box(img, torch.zeros(3))
    assert x0 >= int(0.08 * w) - 2 and x1 <= w - int(0.08 * w) + 2
    assert y0 >= int(0.08 * h) - 2 and y1 <= h - int(0.16 * h) + 2


def test_title_card_backgrounds_and_scene_palette():
    a = title_card(scene=Scene(0, "One", "Narration.", "Shown text"), width=320, height=180)
    b = title_card(scene=Scene(1, "Two", "Narration.", "Shown text"), width=320, height=180)
    assert isinstance(a, PixelImage)  # drawn in 8 bits and kept so
    a, b = a.tensor(), b.tensor()
    assert (a[0, 5, 5] - b[0, 5, 5]).abs().sum() > 0.1  # each scene its own colours
    photo = torch.rand(1, 60, 80, 3)
    c = title_card(title="On a photo", image=photo, background="image", width=320, height=180)
    assert c.shape == (1, 180, 320, 3)
    with pytest.raises(NodeInputError) as err:
        title_card(title="x", background="image", width=64, height=64)
    assert err.value.input == "image"
    with pytest.raises(NodeInputError) as err:
        title_card(title="", body="")
    assert err.value.input == "title"


def test_resize_modes():
    img = torch.rand(1, 100, 200, 3)
    assert resize(img, 100, 100, "cover").shape == (1, 100, 100, 3)
    contained = resize(img, 100, 100, "contain", pad_color="#ff0000")
    assert contained.shape == (1, 100, 100, 3) and contained[0, 0, 0].tolist() == [1.0, 0.0, 0.0]
    red = torch.tensor([1.0, 0.0, 0.0])
    assert (contained[0, :25] == red).all() and (contained[0, 75:] == red).all()  # padding
    assert not (contained[0, 25:75] == red).all(-1).any()  # the picture, 100x50, in between
    assert resize(img, 50, 70, "stretch").shape == (1, 70, 50, 3)


def test_crop_pad_composite_color():
    img = torch.zeros(1, 10, 10, 3)
    assert crop(img, 2, 3, 4, 5).shape == (1, 5, 4, 3)
    with pytest.raises(NodeInputError):
        crop(img, 20, 0, 4, 4)
    p = pad(img, 1, 2, 3, 4, "#ffffff")
    assert p.shape == (1, 16, 14, 3) and float(p[0, 0, 0, 0]) == 1.0 and float(p[0, 2, 1, 0]) == 0.0
    over = torch.ones(1, 4, 4, 3)
    mask = torch.zeros(1, 4, 4)
    mask[:, :2] = 1
    out = composite(img, over, mask, x=8, y=6, opacity=0.5)
    assert (
        float(out[0, 6, 8, 0]) == 0.5 and float(out[0, 7, 9, 0]) == 0.5
    )  # masked in, half opacity
    assert float(out[0, 8, 8, 0]) == 0.0  # masked out
    assert out[0, :6].sum() == 0 and out[0, :, :8].sum() == 0  # nothing outside; the rest clipped
    grey = torch.full((1, 2, 2, 3), 0.5)
    assert torch.allclose(color_adjust(grey, brightness=0.1), grey + 0.1)
    col = torch.tensor([[[[1.0, 0.0, 0.0]]]])
    assert torch.allclose(
        color_adjust(col, saturation=0.0)[0, 0, 0], torch.full((3,), 0.2126), atol=1e-6
    )


def test_load_image_and_folder(tmp_path):
    from PIL import Image

    Image.new("RGBA", (8, 6), (255, 0, 0, 128)).save(tmp_path / "b.png")
    Image.new("RGB", (4, 4), (0, 255, 0)).save(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    rgb, alpha = load(str(tmp_path / "b.png"))
    assert rgb.shape == (1, 6, 8, 3) and float(alpha[0, 0, 0]) == pytest.approx(128 / 255)
    images, count = load_folder(str(tmp_path))
    assert count == 2 and images[0].shape == (1, 4, 4, 3)  # sorted by name: a.jpg first
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG nonsense")
    with pytest.raises(NodeInputError) as err:
        load(str(bad))
    assert err.value.input == "path"


def test_slideshow_workflow_renders(engine, tmp_path):
    from reelgraph.engine import load_workflow

    wf = load_workflow(ROOT / "reelgraph" / "workflows" / "slideshow.json")
    params = {
        "folder": str(ROOT / "reelgraph/workflows/assets/slides"),
        "music": str(ROOT / "reelgraph/workflows/assets/music.m4a"),
        "seconds_per_image": 1.5,
    }
    res = engine.run(wf, params=params, out_dir=tmp_path)
    assert res.status == "finished", {k: str(v) for k, v in res.failed.items()}
    path = Path(res.outputs["encode"]["path"])
    import av

    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, a.codec_context.name) == ("h264", "aac")
        n = sum(1 for p in c.demux(v) if p.size)
    assert n == 4 * 36  # four pictures, 1.5 s each at 24 fps
    from reelgraph.engine.media.video import decode_audio

    music = decode_audio(path)
    assert music.duration == pytest.approx(6.0, abs=1 / 24)
    level = music.samples.abs()
    assert float(level[:, : 48000 * 4].max()) > 0.1  # music plays...
    assert float(level[:, -2400:].max()) < 0.05  # ...and has faded out at the end
    meta = read_media_metadata(path)
    assert meta["workflow"]["name"] == "Slideshow"
    shipped = json.loads((ROOT / "reelgraph" / "workflows" / "slideshow.json").read_text())
    # params applied into node inputs and recorded as the params' defaults, the rest verbatim
    assert meta["workflow"] == shipped | {
        "nodes": meta["workflow"]["nodes"],
        "params": meta["workflow"]["params"],
    }
    for name, value in params.items():
        assert meta["workflow"]["params"][name] == shipped["params"][name] | {"default": value}
    assert meta["workflow"]["nodes"]["clip"]["inputs"]["duration"] == 1.5
