"""A scene table preview travels as one JSON frame, clipped so a long script stays small."""

from __future__ import annotations

import json
import struct

from reelgraph.server.previews import TABLE_CELL_CHARS, TABLE_ROWS, encode_preview


def unpack(frame: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack(">I", frame[:4])
    return json.loads(frame[4 : 4 + n]), frame[4 + n :]


def test_scene_table_is_one_clipped_json_frame() -> None:
    rows = [
        {"index": i, "title": f"Scene {i}", "narration": "word " * 500, "keywords": ["a"] * 40}
        for i in range(TABLE_ROWS + 50)
    ]
    table = {"columns": ["index", "title", "narration", "keywords"], "rows": rows}
    (frame,) = encode_preview({"run_id": "r", "node_id": "n"}, table, "scenes")
    head, payload = unpack(frame)
    assert head["kind"] == "table" and head["mime"] == "application/json"
    body = json.loads(payload)
    assert body["total_rows"] == TABLE_ROWS + 50 and len(body["rows"]) == TABLE_ROWS
    assert len(body["rows"][0]["narration"]) == TABLE_CELL_CHARS
    assert body["rows"][0]["title"] == "Scene 0" and len(body["rows"][0]["keywords"]) == 12


def test_other_dicts_are_not_previews() -> None:
    assert encode_preview({"run_id": "r"}, {"rows": []}, "") == []


def test_an_8bit_card_previews_as_an_image() -> None:
    """Title cards are PixelImages (uint8 pixels standing for an IMAGE): the editor gets
    a JPEG of them, as it does of a float32 image tensor."""
    import numpy as np

    from reelgraph.media import PixelImage
    from reelgraph.server.previews import unpack_frame

    card = PixelImage(np.full((2, 90, 160, 3), 200, np.uint8))
    frames = encode_preview({"run_id": "r", "node_id": "card"}, card, "")
    assert len(frames) == 2
    header, payload = unpack_frame(frames[0])
    assert header["kind"] == "image" and header["mime"] == "image/jpeg"
    assert (header["width"], header["height"], header["batch"]) == (160, 90, 2)
    assert payload[:2] == b"\xff\xd8"  # a JPEG
