"""Lesson slides: the outline parser, bullets timed to the narration's words, and a
slide whose pictures change only when a bullet is revealed."""

from __future__ import annotations

import numpy as np
import pytest

from reelgraph.nodes.lesson import bullet_times, parse_lesson, slide

OUTLINE = """# Photosynthesis
- Light is the energy source
- Water comes from the roots
The energy comes from light. Water comes up from the roots of the plant.

# Summary
- Sugar
- Oxygen
"""


def test_outline_parses_into_slides_with_bullets_and_narration():
    scenes = parse_lesson(OUTLINE)
    assert [s.title for s in scenes] == ["Photosynthesis", "Summary"]
    assert scenes[0].visual.split("\n") == [
        "Light is the energy source",
        "Water comes from the roots",
    ]
    assert scenes[0].narration.startswith("The energy comes from light.")
    assert scenes[1].narration == "Sugar. Oxygen."  # bullets read when there is no narration


@pytest.fixture(scope="module")
def spoken():
    from reelgraph.nodes.tts import DEFAULT_VOICE, speak_piper

    scene = parse_lesson(OUTLINE)[0]
    audio, timings = speak_piper(scene.narration, DEFAULT_VOICE, 1.0, True, 0.2)
    return scene, audio, timings


def test_each_bullet_appears_when_its_words_are_spoken(spoken):
    scene, audio, timings = spoken
    bullets = scene.visual.split("\n")
    times = bullet_times(bullets, list(timings.words), audio.duration)
    words = {w.word.strip(".").lower(): w for w in timings.words}
    assert times[0] == pytest.approx(words["energy"].start)  # "Light is the energy source"
    assert times[1] == pytest.approx(next(w for w in timings.words if w.word == "Water").start)
    # a bullet the narration never mentions is placed between its neighbours
    t = bullet_times(["energy", "zebra crossing", "roots"], list(timings.words), audio.duration)
    assert t[0] < t[1] < t[2]


def test_slide_changes_only_when_a_bullet_is_revealed(spoken):
    import torch

    scene, audio, timings = spoken
    fps, reveal = 12.0, 0.25
    v = slide(
        scene,
        audio,
        timings,
        width=320,
        height=180,
        fps=fps,
        tail=0.4,
        reveal=reveal,
        reserve_right=0.3,
    )
    assert v.frame_count == int(np.ceil((audio.duration + 0.4) * fps - 1e-6))
    assert v.audio is not None and v.audio.duration == pytest.approx(v.frame_count / fps, abs=1e-3)
    frames = torch.cat(list(v.chunks(16))).numpy().astype(np.int16)
    changed = np.flatnonzero(np.abs(np.diff(frames, axis=0)).max(axis=(1, 2, 3)) > 0) + 1
    starts = [
        round(t * fps)
        for t in bullet_times(scene.visual.split("\n"), list(timings.words), audio.duration)
    ]
    ramp = round(reveal * fps)
    expected = sorted({i for s in starts for i in range(s, s + ramp)})
    assert list(changed) == expected
    # nothing is drawn in the right 30% kept free for the presenter, beyond the background
    first, last = frames[0], frames[-1]
    assert np.abs(last[:, 230:] - first[:, 230:]).max() == 0
    assert np.abs(last[:, :220] - first[:, :220]).max() > 100  # the bullets themselves
