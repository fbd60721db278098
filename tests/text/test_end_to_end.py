"""The promise end to end: a pasted article becomes one scene per section in the
explainer, and a Spanish script renders through the espeak-ng fallback voice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ROOT, SAMPLES
from .test_structure import SECTION_HEADINGS

EXPLAINER = ROOT / "reelgraph" / "workflows" / "explainer.json"


def _small_explainer(tmp_path: Path, width: int = 256, height: int = 144, fps: float = 6.0):
    """The shipped explainer at a small size and frame rate, so a CPU renders it fast."""
    from reelgraph.engine import loads_workflow

    doc = json.loads(EXPLAINER.read_text())
    doc["nodes"]["card"]["inputs"].update(width=width, height=height)
    doc["nodes"]["clip"]["inputs"].update(width=width, height=height, fps=fps)
    return loads_workflow(json.dumps(doc))


def test_explainer_turns_an_article_into_one_scene_per_section(engine, tmp_path, article):
    wf = _small_explainer(tmp_path)
    res = engine.run(wf, params={"script": article}, targets=["split"], out_dir=tmp_path)
    assert res.status == "finished", res.failed
    scenes = res.outputs["split"]["scenes"]
    assert [s.title for s in scenes] == SECTION_HEADINGS
    narration = res.outputs["split"]["narration"]
    assert all(not any(h in n for h in SECTION_HEADINGS) for n in narration)
    assert narration == [s.narration for s in scenes]


@pytest.mark.slow
def test_spanish_article_renders_with_the_fallback_voice(engine, tmp_path):
    import av

    from reelgraph.engine.media.metadata import read_media_metadata

    text = (SAMPLES / "article_es.txt").read_text("utf-8")
    wf = _small_explainer(tmp_path)
    res = engine.run(
        wf,
        params={"script": text, "filename": "huertos"},
        targets=["encode", "srt", "split", "speak", "subs"],
        out_dir=tmp_path,
    )
    assert res.status == "finished", res.failed
    o = res.outputs
    scenes = o["split"]["scenes"]
    assert [s.title for s in scenes] == [
        "Dónde empezó todo",
        "Por qué la ciudad necesita verde",
        "Cultivar juntos",
        "Lo que viene",
    ]
    assert {s.language for s in scenes} == {"es"}
    audio = o["speak"]["audio"]
    # espeak-ng reads the Spanish narration: about its expected length, never silent
    for s, a in zip(scenes, audio, strict=True):
        assert a.duration == pytest.approx(s.seconds, rel=0.5)
        assert float(a.samples.abs().max()) > 0.05
    cues = o["subs"]["subtitles"]
    assert "Un sábado lluvioso de marzo" in " ".join(c.text.replace("\n", " ") for c in cues)
    path = Path(o["encode"]["path"])
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (256, 144)
        assert c.streams.audio and float(c.duration / 1e6) > sum(a.duration for a in audio) * 0.9
    meta = read_media_metadata(path)
    assert meta is not None
    srt = Path(o["srt"]["path"]).read_text("utf-8")
    assert "cosecha" in srt and "Dónde empezó todo" not in srt  # headings are not spoken
