"""Packed images keep their bytes on disk (spill.py) and read them back unchanged."""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from reelgraph.engine.media import spill
from reelgraph.media import PixelImage

ROOT = Path(__file__).resolve().parents[2]


def _card(seed: int = 0) -> np.ndarray:
    """A 1600x900 card-like frame: a gradient with some noise (packs, not trivially)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, 1600, dtype=np.float32)[None, :, None]
    frame = np.broadcast_to(ramp, (900, 1600, 3)) + rng.integers(0, 3, (900, 1600, 3))
    return np.clip(frame, 0, 255).astype(np.uint8)


def test_a_packed_image_holds_its_bytes_on_disk_and_reads_them_back():
    frame = _card()
    img = PixelImage(frame)
    assert img.packed
    blob = img._packed[0]
    assert blob.on_disk
    path = Path(blob._path)
    assert path.is_file() and path.parent.parent == spill.spill_root()
    assert path.stat().st_size == blob.size == img.nbytes
    assert np.array_equal(img.frame(0), frame)
    assert np.array_equal(img.pixels[0], frame)
    # the disk cache's form carries the bytes themselves, and reads back the same
    again = PixelImage.from_value(img.to_value())
    assert np.array_equal(again.frame(0), frame) and again.frame_digest() == img.frame_digest()
    del img, blob, again
    gc.collect()
    assert not path.exists(), "the file goes with the image"


def test_a_pickled_image_carries_its_pixels_not_paths():
    frame = _card(1)
    img = PixelImage(frame)
    data = pickle.dumps(img)
    assert len(data) > img.nbytes // 2  # the packed bytes, not a path
    copy = pickle.loads(data)
    assert np.array_equal(copy.frame(0), frame)
    assert copy._packed[0]._path != img._packed[0]._path


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=120,
    )


def test_an_unwritable_spill_folder_keeps_the_bytes_in_memory(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the spill folder would be")
    done = _run(
        """
        import numpy as np
        from reelgraph.media import PixelImage
        frame = np.full((900, 1600, 3), 7, np.uint8)
        frame[100:200, 300:900] = 200
        img = PixelImage(frame)
        assert img.packed and not img._packed[0].on_disk
        assert np.array_equal(img.frame(0), frame)
        print("ok")
        """,
        {"REELGRAPH_SPILL_DIR": str(blocker / "spill")},
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_process_removes_its_folder_at_exit_and_the_folders_of_dead_ones(tmp_path):
    root = tmp_path / "spill"
    root.mkdir()
    # a folder left by a process killed with -9 (no pid that is running)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = root / f"{dead.stdout.strip()}-deadbeef"
    stale.mkdir()
    (stale / "0.bin").write_bytes(b"left over")
    done = _run(
        """
        import os
        import numpy as np
        from reelgraph.media import PixelImage
        img = PixelImage(np.zeros((900, 1600, 3), np.uint8))
        print(os.path.dirname(img._packed[0]._path))
        """,
        {"REELGRAPH_SPILL_DIR": str(root)},
    )
    assert done.returncode == 0, done.stderr
    own = Path(done.stdout.strip())
    assert own.parent == root
    assert not own.exists(), "removed at exit"
    assert not stale.exists(), "a dead process's folder is removed by the next one"


def test_long_speech_waits_on_disk_and_reads_back_block_by_block():
    from reelgraph.engine.media.audio import SPILL_MIN_BYTES, Pcm16Audio

    rng = np.random.default_rng(2)
    n = SPILL_MIN_BYTES // 2 + 1001  # one channel over the threshold
    codes = rng.integers(-32768, 32767, (2, n), dtype=np.int16)
    clip = Pcm16Audio(codes, 22050)
    assert clip._spilled is not None and clip._spilled.on_disk and clip._codes is None
    assert clip.frames == n and clip.channels == 2 and clip.nbytes == codes.nbytes
    assert np.array_equal(clip.codes, codes)
    expect = codes.astype(np.float32) / 32768
    for a, b in ((0, 10), (n - 5, n + 50), (1234, 50_000), (n, n + 3), (7, 7)):
        assert np.array_equal(clip.read(a, b), expect[:, a:b]), (a, b)
    assert np.array_equal(clip.array, expect)
    again = pickle.loads(pickle.dumps(clip))
    assert np.array_equal(again.codes, codes)
    short = Pcm16Audio(codes[:, :100], 22050)
    assert short._spilled is None and np.array_equal(short.codes, codes[:, :100])
