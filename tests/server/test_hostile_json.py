"""Hostile JSON over HTTP (D1, D2): every cap answers a clear 4xx naming it, never a 500,
and validation stays bounded. Regression cases first, then a hypothesis fuzz."""

from __future__ import annotations

import json
import os
import random
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import IMAGE_WF, link, wf

BOUND_S = 30  # no request may take longer (urllib's timeout fails the test)


def _post(server, path: str, raw: bytes):
    return server.request(
        "POST", path, raw=raw, headers={"Content-Type": "application/json"}, timeout=BOUND_S
    )


def _run_body(doc_text: str) -> bytes:
    return ('{"workflow": ' + doc_text + "}").encode()


def _deep(n: int) -> str:
    return "[" * n + "]" * n


SOLID = '{"format": "reelgraph.workflow", "version": 1, "nodes": {"a": {"type": "image.Solid", "inputs": {"width": %s}}}}'

CASES = [
    # (name, raw body for /api/workflows/validate and /api/runs, the cap the answer names)
    ("int of 5000 digits", SOLID % ("9" * 5000), "max_int_digits"),
    ("100k-deep nesting", _deep(100_000), "max_depth"),
    ("600-deep nesting", SOLID % _deep(600), "max_depth"),
    ("1e400", SOLID % "1e400", "out of range"),
    ("NaN", SOLID % "NaN", "not a JSON number"),
    ("lone surrogate", SOLID.replace('"a"', '"\\ud800"') % "64", "lone surrogate"),
    ("string over the cap", SOLID % json.dumps("x" * (1 << 20 | 1)), "max_string"),
    (
        "200,001 nodes",
        '{"format": "reelgraph.workflow", "version": 1, "nodes": {'
        + ", ".join(f'"n{i}": {{"type": "x"}}' for i in range(200_001))
        + "}}",
        "max_nodes",
    ),
]


@pytest.mark.parametrize(("name", "raw", "cap"), CASES, ids=[c[0] for c in CASES])
def test_hostile_values_get_a_4xx_naming_the_cap(server, name, raw, cap):
    for path, body in (
        ("/api/workflows/validate", raw.encode()),
        ("/api/runs", _run_body(raw)),
        ("/api/workflows/hostile", raw.encode()),
    ):
        if path == "/api/workflows/hostile":
            r = server.request(
                "PUT",
                path,
                raw=body,
                headers={"Content-Type": "application/json"},
                timeout=BOUND_S,
            )
        else:
            r = _post(server, path, body)
        assert 400 <= r.status < 500, (name, path, r.status, r.body[:300])
        assert cap in r.json()["error"], (name, path, r.body[:300])


def test_body_over_the_size_cap_is_413_naming_it(make_server):
    srv = make_server(extra=["--max-body-mb", "1"])
    r = _post(srv, "/api/workflows/validate", b'{"x": "' + b"a" * (2 << 20) + b'"}')
    assert r.status == 413 and "max_body" in r.json()["error"]


def test_params_shaped_like_links_are_a_4xx(server):
    doc = dict(IMAGE_WF)
    doc["params"] = {"blur": {"node": "b", "input": "sigma", "type": "FLOAT", "default": 1.0}}
    for params in ({"blur": {"from": "a", "output": "image"}}, {"blur": [1, 2]}, {"blur": None}):
        r = server.post("/api/runs", {"workflow": doc, "params": params}, timeout=BOUND_S)
        assert 400 <= r.status < 500, (params, r.status, r.body[:300])


def test_many_dangling_links_validate_without_tying_up_the_server(server):
    nodes = {
        f"n{i}": {"type": "image.Blur", "inputs": {"image": link(f"gone{i}", "image")}}
        for i in range(300)
    }
    body = json.dumps(wf(nodes)).encode()
    answers: list[Any] = []

    def validate() -> None:
        answers.append(_post(server, "/api/workflows/validate", body))

    threads = [threading.Thread(target=validate) for _ in range(3)]
    for t in threads:
        t.start()
    # while those validate, other endpoints still answer
    assert server.get("/api/runs?limit=1", timeout=BOUND_S).status == 200
    assert server.get("/api/system", timeout=BOUND_S).status == 200
    for t in threads:
        t.join(BOUND_S * 4)
    assert len(answers) == 3
    for r in answers:
        assert r.status in (200, 503), r.status
        if r.status == 200:
            assert r.json()["ok"] is False
            assert any(i["code"] for i in r.json()["issues"])


def test_loaders_on_devices_and_fifos_answer_at_once_and_never_exhaust_the_pool(server, tmp_path):
    """D2: a fingerprint read /dev/zero in full, and a FIFO blocked a thread for good; six
    such requests took every endpoint down. Now each is a quick issue on its input."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    docs = [
        wf({"l": {"type": "image.Load", "inputs": {"path": path}}})
        for path in ("/dev/zero", str(fifo), "/dev/urandom", str(fifo), "/dev/zero", str(fifo))
    ]
    answers: list[Any] = []

    def send(path: str, body: dict) -> None:
        answers.append((path, server.post(path, body, timeout=BOUND_S)))

    threads = [threading.Thread(target=send, args=("/api/workflows/validate", d)) for d in docs] + [
        threading.Thread(target=send, args=("/api/runs", {"workflow": d})) for d in docs
    ]
    for t in threads:
        t.start()
    assert server.get("/api/runs?limit=1", timeout=BOUND_S).status == 200
    for t in threads:
        t.join(BOUND_S * 2)
    assert len(answers) == len(threads)
    for path, r in answers:
        issues = r.json()["issues"]
        assert r.status == (200 if path.endswith("validate") else 400), (path, r.body[:300])
        assert [(i["code"], i["node"], i["input"]) for i in issues] == [("invalid", "l", "path")]
    assert server.get("/api/system", timeout=BOUND_S).json()["healthy"] is True


# --- fuzz: mutated documents over HTTP ------------------------------------------------

_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["image.Solid", "image.Blur", "a", "b", "image", "#ff00ff", "from", "output"]),
)
_JSON = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _mutate(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _mutate(doc[head], rest, value)}
    copy = list(doc)
    copy[head] = _mutate(copy[head], rest, value)
    return copy


_RAW_TAILS = st.sampled_from(
    ["", "9" * 600, "1e999", "-1e999", '"\\udc00"', _deep(100), "NaN", '"\\u0000"', "[]", "{}"]
)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(seed=st.integers(0, 1 << 30), value=_JSON, raw=_RAW_TAILS, endpoint=st.sampled_from([0, 1]))
def test_fuzzed_documents_only_get_validation_answers(server, seed, value, raw, endpoint):
    rnd = random.Random(seed)
    paths = _paths(IMAGE_WF)
    doc = _mutate(IMAGE_WF, rnd.choice(paths), value)
    text = json.dumps(doc)
    if raw:
        # splice a hostile literal in place of one JSON value, as raw text
        marker = "__HOSTILE__"
        spliced = json.dumps(_mutate(IMAGE_WF, rnd.choice(paths[1:]), marker))
        text = spliced.replace(json.dumps(marker), raw, 1)
    path, body = (
        ("/api/workflows/validate", text.encode())
        if endpoint == 0
        else ("/api/runs", _run_body(text))
    )
    r = _post(server, path, body)
    assert r.status < 500, (path, r.status, r.body[:300], text[:300])
    if r.status >= 400:
        answer = r.json()
        assert isinstance(answer.get("error"), str) and answer["error"]
    elif endpoint == 1:
        # a fuzzed run that was accepted must not be left to run: cancel it
        server.post(f"/api/runs/{r.json()['run_id']}/cancel")
