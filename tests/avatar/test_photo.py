"""A photo portrait speaks: the face is found offline, the mouth opens and shuts with the speech."""

from __future__ import annotations

import numpy as np
import pytest

from reelgraph.nodes.avatar_photo import MissingCascade, cascade_path


def _have_cascade() -> bool:
    try:
        cascade_path()
        return True
    except MissingCascade:
        return False


needs_cascade = pytest.mark.skipif(
    not _have_cascade(), reason="Haar cascades missing: install the Debian package opencv-data"
)


@pytest.fixture(scope="module")
def portrait(speech):
    """A portrait to animate: the illustrated presenter, still, mouth shut, 320x240."""
    import torch

    from reelgraph.nodes.avatar import presenter

    v = presenter(
        speech.audio,
        speech.timings,
        character="leo",
        width=320,
        height=240,
        seed=1,
        head_motion=0.0,
        blink_rate=0.0,
    )
    i = int(np.argmin(v.track.openness[:12]))
    frame = v.render(i, i + 1)[0].numpy()
    u = 0.36 * 240
    true_mouth = (160.0, 240 * 0.42 + 0.335 * u)
    return torch.from_numpy(frame).float().div(255)[None], true_mouth


@needs_cascade
def test_face_and_mouth_are_found(portrait):
    from reelgraph.nodes.avatar_photo import find_mouth

    image, (mx, my) = portrait
    rgb = (image[0].numpy() * 255 + 0.5).astype(np.uint8)
    _face, (fx, fy, fw) = find_mouth(rgb)
    assert abs(fx - mx) < 8 and abs(fy - my) < 8, ((fx, fy), (mx, my))
    assert 15 < fw < 60


@needs_cascade
def test_photo_presenter_speaks(portrait, speech):
    from reelgraph.nodes.avatar import photo_presenter
    from reelgraph.nodes.avatar_motion import VISEME_NAMES

    image, _ = portrait
    v = photo_presenter(image, speech.audio, speech.timings, seed=3, head_motion=0.0)
    assert (v.width, v.height) == (320, 240) and abs(v.audio.duration - v.duration) < 1e-6
    frames = np.concatenate([c.numpy() for c in v.chunks(32)]).astype(np.int16)
    still = (image[0].numpy() * 255 + 0.5).astype(np.int16)
    mx, my, mw = v.mouth
    a = mw / 2
    box = frames[:, int(my - 0.3 * a) : int(my + 1.2 * a), int(mx - 0.8 * a) : int(mx + 0.8 * a)]
    ref = still[int(my - 0.3 * a) : int(my + 1.2 * a), int(mx - 0.8 * a) : int(mx + 0.8 * a)]
    change = np.abs(box - ref[None]).mean(axis=(1, 2, 3))
    tr = v.track
    # the mouth region changes with the openness: a warp, not a fixed picture
    assert np.corrcoef(change, tr.openness)[0, 1] >= 0.8
    # dark appears between the lips when it opens
    dark = (box.max(axis=-1) < 70).sum(axis=(1, 2))
    wide = tr.openness > 0.5
    assert wide.sum() >= 3 and dark[wide].min() > 4 * max(1, dark[tr.openness < 0.03].max())
    # M/B/P frames look like the closed portrait
    mbp = tr.visemes == VISEME_NAMES.index("MBP")
    assert mbp.sum() >= 5 and change[mbp].max() < 0.3 * change[wide].mean()
    # the rest of the picture is left alone (no head motion asked)
    far = np.abs(frames[:, :40] - still[None, :40]).mean()
    assert far < 0.5


def test_given_mouth_region_needs_no_detector(portrait, speech):
    from reelgraph.nodes.avatar import photo_presenter

    image, (mx, my) = portrait
    v = photo_presenter(
        image, speech.audio, None, mouth_x=mx / 320, mouth_y=my / 240, mouth_width=0.1
    )
    assert v.track.driver == "loudness"
    f = v.render(0, 60).numpy()
    assert f.shape == (60, 240, 320, 3)


@needs_cascade
def test_portrait_without_a_face_says_give_the_region(speech):
    import torch

    from reelgraph.engine import NodeInputError
    from reelgraph.nodes.avatar import photo_presenter

    y = torch.linspace(0, 1, 240).view(1, 240, 1, 1).expand(1, 240, 320, 3).contiguous()
    with pytest.raises(NodeInputError, match="mouth_x") as exc:
        photo_presenter(y, speech.audio, speech.timings)
    assert exc.value.input == "image" and "no face" in str(exc.value)


def test_partial_region_is_refused(portrait, speech):
    from reelgraph.engine import NodeInputError
    from reelgraph.nodes.avatar import photo_presenter

    with pytest.raises(NodeInputError, match="mouth_width"):
        photo_presenter(portrait[0], speech.audio, None, mouth_x=0.5)


def test_missing_cascade_names_the_package(monkeypatch):
    import reelgraph.nodes.avatar_photo as ap

    monkeypatch.setattr(ap, "CASCADE_DIRS", ("/nonexistent",))
    monkeypatch.delenv("REELGRAPH_HAAR_DIR", raising=False)
    with pytest.raises(MissingCascade, match="opencv-data"):
        ap.cascade_path()


def test_model_node_reports_what_stops_it():
    from reelgraph.engine import Registry
    from reelgraph.nodes.avatar import S2V_CLASS, _check_s2v, s2v_pipeline_class

    issues = _check_s2v({"model": "(none found)"})
    if s2v_pipeline_class() is None:
        assert any(S2V_CLASS in m and "diffusers" in m for _, m in issues)
    assert any("models" in m or "diffusers" in m for _, m in issues)
    assert "avatar.WanSpeechToVideo" in Registry.discover()
