"""The script writer: a tiny random-weight causal LM from the models folder, and a real
HTTP server in the test speaking the OpenAI chat completions API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reelgraph.engine import NodeInputError
from reelgraph.nodes.script.assemble import analyse
from reelgraph.nodes.script.writer import write_script

CORPUS = [
    "gardens grow in the city and neighbours share food",
    "the river runs past the old mill and the bridge",
    "write a short script about the topic with sections",
]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """models/llm/tiny: a 1-layer GPT-2 with random weights and a WordLevel tokenizer
    trained here, saved the way users' models are, loaded through from_pretrained."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    root = tmp_path_factory.mktemp("models")
    folder = root / "llm" / "tiny"
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[EOS]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="[EOS]")
    fast.pad_token = "[EOS]"
    fast.save_pretrained(folder)
    cfg = GPT2Config(
        vocab_size=fast.vocab_size, n_positions=512, n_embd=16, n_layer=1, n_head=2,
        eos_token_id=fast.eos_token_id, bos_token_id=fast.eos_token_id,
    )  # fmt: skip
    GPT2LMHeadModel(cfg).save_pretrained(folder)
    return root


def test_local_tiny_model_writes_a_script(tiny_models, monkeypatch):
    from reelgraph.nodes.script.writer import llm_models

    monkeypatch.setenv("REELGRAPH_MODELS", str(tiny_models))
    assert llm_models() == ["", "tiny"]
    text = write_script("Gardens in the city", model="tiny", max_tokens=24, seed=3)
    again = write_script("Gardens in the city", model="tiny", max_tokens=24, seed=3)
    assert text == again  # seeded: the same topic gives the same script
    assert text.startswith("# Gardens in the city\n")  # random words get the topic as heading
    body = text.split("\n", 1)[1].split()
    assert len(body) >= 4 and set(body) <= {w for line in CORPUS for w in line.split()} | {"[UNK]"}
    scenes = analyse(text).scenes  # SplitScenes reads what it wrote
    assert scenes[0].title == "Gardens in the city"


class _ChatServer(ThreadingHTTPServer):
    requests: list[dict]
    answer: dict
    status: int = 200


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, **body})
        data = json.dumps(self.server.answer).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def chat_server():
    srv = _ChatServer(("127.0.0.1", 0), _Handler)
    srv.requests = []
    reply = (
        "Sure! Here is your script:\n```markdown\n"
        "# Why Gardens Matter\nVisual: raised beds between tall buildings\n"
        "Gardens cool the streets and bring neighbours together.\n\n"
        "**Growing Food**\nVisual: hands pulling carrots from dark soil\n"
        "Beans and lettuce grow fast, and a shared harvest feeds many families.\n```\n"
    )
    srv.answer = {"choices": [{"message": {"role": "assistant", "content": reply}}]}
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_openai_compatible_endpoint(chat_server):
    url = f"http://127.0.0.1:{chat_server.server_port}/v1"
    text = write_script(
        "- gardens cool cities\n- shared food", endpoint=url, endpoint_model="llama-3.2-1b",
        sections=2, language="es",
    )  # fmt: skip
    (req,) = chat_server.requests
    assert req["path"] == "/v1/chat/completions" and req["model"] == "llama-3.2-1b"
    assert [m["role"] for m in req["messages"]] == ["system", "user"]
    assert "2 sections" in req["messages"][0]["content"] and "es" in req["messages"][0]["content"]
    assert req["messages"][1]["content"].startswith("- gardens cool cities")
    assert text.startswith("# Why Gardens Matter\n") and "```" not in text and "Sure!" not in text
    scenes = analyse(text).scenes
    assert [s.title for s in scenes] == ["Why Gardens Matter", "Growing Food"]
    assert scenes[1].visual == "hands pulling carrots from dark soil"


def test_endpoint_errors_are_clear(chat_server):
    url = f"http://127.0.0.1:{chat_server.server_port}/v1"
    chat_server.status, chat_server.answer = 500, {"error": "model not loaded"}
    with pytest.raises(NodeInputError, match=r"HTTP 500.*model not loaded") as err:
        write_script("topic", endpoint=url)
    assert err.value.input == "endpoint"
    chat_server.status, chat_server.answer = 200, {"unexpected": True}
    with pytest.raises(NodeInputError, match="choices"):
        write_script("topic", endpoint=url)
    with pytest.raises(NodeInputError, match="cannot reach"):
        write_script("topic", endpoint="http://127.0.0.1:9/v1", timeout=5)


def test_nothing_configured_says_what_to_configure(tmp_path, monkeypatch):
    monkeypatch.setenv("REELGRAPH_MODELS", str(tmp_path))
    with pytest.raises(NodeInputError) as err:
        write_script("A topic")
    msg = str(err.value)
    assert err.value.input == "model" and str(tmp_path / "llm") in msg
    assert "endpoint" in msg and "llama.cpp" in msg and "Ollama" in msg
    with pytest.raises(NodeInputError, match="topic"):
        write_script("  ")
