"""Secure by default: traversal, origins, tokens, Host names, loopback binding."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

import aiohttp
import pytest

from .conftest import IMAGE_WF, REPO, slow_wf

SECRET = b"TOP-SECRET-CONTENT-7c1e"


def raw_get(
    port: int,
    target: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, bytes]:
    """Send the request line exactly as given (no client-side normalisation)."""
    h = {"Host": f"127.0.0.1:{port}", "Connection": "close", **(headers or {})}
    if body:
        h["Content-Length"] = str(len(body))
    head = (
        f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode("latin-1") + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


@pytest.fixture(scope="module")
def planted(server):
    """Secrets next to and above the served folders, and symlinks pointing at them."""
    data = server.data
    (data / "secret.txt").write_bytes(SECRET)
    (data.parent / "outside.txt").write_bytes(SECRET)
    (data / "outputs" / "run1").mkdir(parents=True, exist_ok=True)
    (data / "outputs" / "run1" / "ok.txt").write_bytes(b"fine")
    os.symlink(data / "secret.txt", data / "outputs" / "run1" / "link.txt")
    os.symlink(data, data / "outputs" / "dirlink")
    os.symlink(data / "secret.txt", data / "uploads" / "up.png")
    (data / "workflows" / "real.json").write_text('{"format": "reelgraph.workflow", "nodes": {}}')
    os.symlink(data / "secret.txt", data / "workflows" / "linked.json")
    (data / "outputs" / ".partial").mkdir(exist_ok=True)
    (data / "outputs" / ".partial" / "half.bin").write_bytes(SECRET)
    return data


TRAVERSALS = [
    "../secret.txt",
    "..%2fsecret.txt",
    "..%2Fsecret.txt",
    "%2e%2e/secret.txt",
    "%2e%2e%2fsecret.txt",
    "%252e%252e%252fsecret.txt",
    "..%5csecret.txt",
    "..\\secret.txt",
    "run1/../../secret.txt",
    "run1/..%2f..%2fsecret.txt",
    "run1%2f..%2f..%2fsecret.txt",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "//etc/passwd",
    "C:%5cWindows%5cwin.ini",
    "C:/Windows/win.ini",
    "run1/ok.txt%00.png",
    "run1/ok.txt%00",
    "run1/link.txt",
    "dirlink/secret.txt",
    "..%c0%afsecret.txt",
    "....//secret.txt",
    ".partial/half.bin",
    "%2e%2e/%2e%2e/outside.txt",
    "run1/./ok.txt",
    "run1//ok.txt",
    "..%252fsecret.txt",
    "%2e%2e%5c%2e%2e%5coutside.txt",
]


@pytest.mark.parametrize("kind", ["outputs", "uploads"])
def test_every_traversal_variant_is_refused(server, planted, kind):
    assert raw_get(server.port, "/api/files/outputs/run1/ok.txt") == (200, b"fine")
    for variant in TRAVERSALS:
        status, body = raw_get(server.port, f"/api/files/{kind}/{variant}")
        assert status in (400, 403, 404), (variant, status)
        assert SECRET not in body, variant
    status, body = raw_get(server.port, "/api/files/uploads/up.png")
    assert status in (400, 404) and SECRET not in body
    for kind_variant in ("..", "%2e%2e", "secret.txt", "..%2f"):
        status, body = raw_get(server.port, f"/api/files/{kind_variant}/secret.txt")
        assert status in (400, 404) and SECRET not in body


def test_workflow_and_template_names_cannot_traverse(server, planted):
    for name in [
        "..%2fsecret",
        "..%2f..%2foutside",
        "%2e%2e%2fsecret",
        "..%5csecret",
        "linked",
        "%00real",
        "real%00",
        "C:%5cx",
        ".backups",
        "con",
        "..",
        "a%2fb",
    ]:
        for route in ("workflows", "templates"):
            status, body = raw_get(server.port, f"/api/{route}/{name}")
            assert status in (400, 404), (route, name, status)
            assert SECRET not in body
        status, _ = raw_get(
            server.port,
            f"/api/workflows/{name}",
            "PUT",
            {"Content-Type": "application/json"},
            b'{"format": "reelgraph.workflow", "nodes": {}}',
        )
        assert status in (400, 404), (name, status)
    assert raw_get(server.port, "/api/workflows/real")[0] == 200
    assert (planted / "secret.txt").read_bytes() == SECRET  # nothing written through the symlink
    status, _ = raw_get(
        server.port,
        "/api/workflows/linked",
        "PUT",
        {"Content-Type": "application/json"},
        b'{"format": "reelgraph.workflow", "nodes": {}}',
    )
    assert status == 400 and (planted / "secret.txt").read_bytes() == SECRET
    assert sorted(p.name for p in planted.parent.iterdir() if p.suffix == ".json") == []


def test_static_files_cannot_traverse(server, planted):
    for variant in [
        "../data/secret.txt",
        "..%2fdata%2fsecret.txt",
        "%2e%2e/%2e%2e/outside.txt",
        "..%5cx",
    ]:
        status, body = raw_get(server.port, f"/{variant}")
        assert status in (400, 404) and SECRET not in body


def test_cross_origin_writes_are_refused(server):
    evil = {"Origin": "http://evil.example", "Content-Type": "application/json"}
    assert server.post("/api/runs", {"workflow": IMAGE_WF}, headers=evil).status == 403
    assert server.request("PUT", "/api/workflows/x", IMAGE_WF, headers=evil).status == 403
    assert server.request("DELETE", "/api/workflows/x", headers=evil).status == 403
    assert (
        server.post("/api/runs", {"workflow": IMAGE_WF}, headers={"Origin": "null"}).status == 403
    )
    # a look-alike of our own origin on another port, and a cross-site fetch without Origin
    other_port = {"Origin": f"http://127.0.0.1:{server.port + 1}"}
    assert server.post("/api/runs", {"workflow": IMAGE_WF}, headers=other_port).status == 403
    assert (
        server.post(
            "/api/runs", {"workflow": IMAGE_WF}, headers={"Sec-Fetch-Site": "cross-site"}
        ).status
        == 403
    )
    assert server.get("/api/runs?status=queued").json()["total"] == 0
    # same origin (what the editor sends), and no Origin (curl, scripts) are fine
    own = {"Origin": server.url}
    assert server.post("/api/runs", {"workflow": IMAGE_WF}, headers=own).status == 202
    server.wait_run(server.queue(IMAGE_WF))


def test_cross_origin_websocket_is_refused(server):
    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                await s.ws_connect(f"{server.url}/api/ws", origin="http://evil.example")
            assert exc.value.status == 403
            ws = await s.ws_connect(f"{server.url}/api/ws", origin=server.url)
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            await ws.close()

    asyncio.run(main())


def test_allowed_origin_for_a_proxy(make_server):
    srv = make_server(extra=["--allow-origin", "https://reel.example"])
    assert (
        srv.post(
            "/api/runs", {"workflow": IMAGE_WF}, headers={"Origin": "https://reel.example"}
        ).status
        == 202
    )
    assert (
        srv.post(
            "/api/runs", {"workflow": IMAGE_WF}, headers={"Origin": "https://evil.example"}
        ).status
        == 403
    )


def test_dns_rebinding_host_is_refused(server):
    status, _body = raw_get(
        server.port, "/api/system", headers={"Host": f"evil.example:{server.port}"}
    )
    assert status == 403
    status, _ = raw_get(
        server.port,
        "/api/runs",
        "POST",
        {
            "Host": f"evil.example:{server.port}",
            "Origin": f"http://evil.example:{server.port}",
            "Content-Type": "application/json",
        },
        b'{"workflow": "image-demo"}',
    )
    assert status == 403
    assert (
        raw_get(server.port, "/api/system", headers={"Host": f"localhost:{server.port}"})[0] == 200
    )
    assert raw_get(server.port, "/api/system", headers={"Host": "["})[0] == 403


def test_token_is_required_everywhere(make_server):
    srv = make_server(token="s3cret-token")
    for path in (
        "/api/system",
        "/api/nodes",
        "/api/runs",
        "/",
        "/api/openapi.json",
        "/api/files/outputs/x",
    ):
        assert srv.get(path, auth=False).status == 401, path
    assert (
        srv.get("/api/system", auth=False, headers={"Authorization": "Bearer wrong"}).status == 401
    )
    assert srv.post("/api/runs", {"workflow": IMAGE_WF}, auth=False).status == 401
    assert srv.get("/api/system").status == 200
    assert (
        srv.get("/api/system", auth=False, headers={"X-Reelgraph-Token": "s3cret-token"}).status
        == 200
    )
    # opening the editor with ?token= sets a strict cookie for the page's own requests
    page = srv.get("/?token=s3cret-token", auth=False)
    assert page.status == 200
    cookie = page.headers["Set-Cookie"]
    assert (
        "reelgraph_token=s3cret-token" in cookie
        and "HttpOnly" in cookie
        and "SameSite=Strict" in cookie
    )
    assert (
        srv.get(
            "/api/system", auth=False, headers={"Cookie": "reelgraph_token=s3cret-token"}
        ).status
        == 200
    )
    run_id = srv.queue(slow_wf(1, 0.0))
    assert srv.wait_run(run_id)["status"] == "finished"

    async def ws() -> None:
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
                await s.ws_connect(f"{srv.url}/api/ws")
            assert exc.value.status == 401
            conn = await s.ws_connect(f"{srv.url}/api/ws?token=s3cret-token")
            assert (await conn.receive_json(timeout=10))["type"] == "hello"
            await conn.close()
            conn = await s.ws_connect(
                f"{srv.url}/api/ws", headers={"Authorization": "Bearer s3cret-token"}
            )
            await conn.close()

    asyncio.run(ws())


def test_non_loopback_bind_needs_a_token(tmp_path):
    env = dict(os.environ, REELGRAPH_TOKEN="")
    # the three refusals start side by side: each pays the interpreter's start-up alone
    procs = {
        host: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reelgraph.server",
                "--host",
                host,
                "--port",
                "0",
                "--data",
                str(tmp_path / "d"),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for host in ("0.0.0.0", "::", "192.168.1.10")
    }
    try:
        for host, proc in procs.items():
            _out, err = proc.communicate(timeout=30)
            assert proc.returncode == 2 and "needs --token" in err, (host, err)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_no_endpoint_runs_code_and_methods_are_limited(server):
    for method, path in [
        ("POST", "/api/exec"),
        ("POST", "/api/shell"),
        ("PUT", "/api/nodes"),
        ("POST", "/api/system"),
        ("DELETE", "/api/runs"),
    ]:
        assert server.request(method, path, {}).status in (404, 405), (method, path)
    doc = server.get("/api/openapi.json").json()
    assert not any(w in p for p in doc["paths"] for w in ("exec", "shell", "eval"))


def test_confine_loaders_limits_loader_paths_to_uploads_and_models(server, make_server, tmp_path):
    import io as _io

    from PIL import Image as _Image

    outside = tmp_path / "elsewhere.png"
    _Image.new("RGB", (4, 4), (1, 2, 3)).save(outside)

    def load(path: str) -> dict:
        return {
            "format": "reelgraph.workflow",
            "version": 1,
            "nodes": {
                "l": {"type": "image.Load", "inputs": {"path": path}},
                "p": {
                    "type": "image.Preview",
                    "inputs": {"image": {"from": "l", "output": "image"}},
                },
            },
        }

    # by default (a local tool) a loader reads any path the server can read
    assert server.get("/api/system").json()["confine_loaders"] is False
    assert server.wait_run(server.queue(load(str(outside))))["status"] == "finished"

    srv = make_server(extra=["--confine-loaders"])
    assert srv.get("/api/system").json()["confine_loaders"] is True
    r = srv.post("/api/runs", {"workflow": load(str(outside))})
    assert r.status == 400
    issue = r.json()["issues"][0]
    assert issue["code"] == "path_not_allowed" and issue["node"] == "l" and issue["input"] == "path"
    assert "--confine-loaders" in issue["message"]
    # a symlink inside uploads pointing outside is judged by where it points
    os.symlink(outside, srv.data / "uploads" / "sneaky.png")
    assert (
        srv.post("/api/runs", {"workflow": load(str(srv.data / "uploads" / "sneaky.png"))}).status
        == 400
    )
    # an uploaded file loads fine
    buf = _io.BytesIO()
    _Image.new("RGB", (4, 4), (9, 9, 9)).save(buf, format="PNG")
    up = srv.request(
        "POST",
        "/api/uploads?filename=a.png",
        raw=buf.getvalue(),
        headers={"Content-Type": "image/png"},
    ).json()
    assert srv.wait_run(srv.queue(load(up["path"])))["status"] == "finished"
