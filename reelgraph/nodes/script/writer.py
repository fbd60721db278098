"""The script writer: a topic or bullet points become a script SplitScenes reads
(`# Heading`, a `Visual:` line, narration), written by a local language model.

Opt-in and offline: it runs only when a workflow has this node, and it never downloads.
The model is either a transformers causal LM folder under `models/llm/<name>/`
(config.json, weights, tokenizer; an instruction-tuned one writes the best scripts)
or an OpenAI-compatible chat endpoint given by URL - a local llama.cpp server
(`http://127.0.0.1:8080/v1`) or Ollama (`http://127.0.0.1:11434/v1`).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

from reelgraph import TEXT, Combo, Context, Float, Int, NodeInputError, Seed, Text, node
from reelgraph.models import model_cache, models_dir

LLM_DIR = "llm"
NONE = ""
HOW_TO = (
    "the script writer needs a language model: put a transformers causal LM folder "
    "(config.json, weights, tokenizer files) in {folder}/<name> and choose it in `model`, "
    "or set `endpoint` to an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 "
    "(llama.cpp `llama-server`) or http://127.0.0.1:11434/v1 (Ollama) with `endpoint_model`"
)


def llm_folder() -> Path:
    return models_dir() / LLM_DIR


def llm_models() -> list[str]:
    """`""` (none: use the endpoint) and the model folders under models/llm."""
    folder = llm_folder()
    found = (
        sorted(p.name for p in folder.iterdir() if (p / "config.json").is_file())
        if folder.is_dir()
        else []
    )
    return [NONE, *found]


def instructions(sections: int, words: int, language: str) -> str:
    lang = "" if language in ("", "auto") else f" Write in the language with ISO code {language}."
    return (
        "You write narration scripts for short explainer videos. "
        f"Write {sections} sections. Each section is: a line '# ' followed by a short title, "
        "a line 'Visual: ' followed by one sentence describing what the viewer sees, then "
        f"about {words} words of plain spoken narration in full sentences. "
        "No lists, no stage directions, no text before the first section." + lang
    )


_FENCE = re.compile(r"^```[a-zA-Z]*\s*$", re.MULTILINE)


def normalise_script(raw: str, topic: str) -> str:
    """The model's answer as a script: code fences and chatter before the first heading
    dropped, bold headings turned into `#` headings; an answer without any heading gets
    the topic as its heading, so SplitScenes always has a titled scene."""
    text = _FENCE.sub("", raw.replace("\r\n", "\n")).strip()
    text = re.sub(r"^\s*\*\*(.+?)\*\*\s*$", r"# \1", text, flags=re.MULTILINE)
    first = re.search(r"^\s{0,3}#{1,6}\s+\S", text, re.MULTILINE)
    if first:
        text = text[first.start() :].strip()
    else:
        title = topic.strip().splitlines()[0].lstrip("-*• ").strip()[:80] if topic.strip() else ""
        text = f"# {title or 'Script'}\n{text}"
    return text + "\n"


def _chat_url(endpoint: str) -> str:
    url = endpoint.strip().rstrip("/")
    if not re.match(r"^https?://", url):
        raise NodeInputError("endpoint", f"{endpoint!r} is not an http(s) URL")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


def write_with_endpoint(
    endpoint: str,
    model: str,
    system: str,
    user: str,
    *,
    max_tokens: int,
    temperature: float,
    seed: int,
    timeout: float,
) -> str:
    url = _chat_url(endpoint)
    body = {
        "model": model or "default",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "seed": seed,
        "stream": False,
    }
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data = json.loads(resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise NodeInputError("endpoint", f"{url} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NodeInputError(
            "endpoint", f"cannot reach {url}: {reason} (is the server running?)"
        ) from None
    except json.JSONDecodeError as exc:
        raise NodeInputError("endpoint", f"{url} did not answer JSON: {exc}") from None
    try:
        return str(data["choices"][0]["message"]["content"])
    except (KeyError, IndexError, TypeError):
        raise NodeInputError(
            "endpoint",
            f"{url} answered without choices[0].message.content: {json.dumps(data)[:300]}",
        ) from None


def _load_local(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    model.eval()
    return tok, model


def write_with_local_model(
    name: str, system: str, user: str, *, max_tokens: int, temperature: float, seed: int
) -> str:
    import torch

    path = llm_folder() / name
    if not (path / "config.json").is_file() or ".." in Path(name).parts:
        raise NodeInputError("model", f"no model folder {name!r} in {llm_folder()}")
    try:
        with model_cache().use(("llm", str(path.resolve())), lambda: _load_local(path)) as entry:
            tok, model = entry.value
            if getattr(tok, "chat_template", None):
                prompt = tok.apply_chat_template(
                    [{"role": "system", "content": system}, {"role": "user", "content": user}],
                    tokenize=False,
                    add_generation_prompt=True,
                )
            else:
                prompt = f"{system}\n\nTopic:\n{user}\n\nScript:\n"
            ids = tok(prompt, return_tensors="pt")
            torch.manual_seed(seed)
            with torch.no_grad():
                out = model.generate(
                    **ids,
                    max_new_tokens=max_tokens,
                    min_new_tokens=min(8, max_tokens),
                    do_sample=temperature > 0,
                    temperature=max(temperature, 1e-3) if temperature > 0 else None,
                    pad_token_id=tok.pad_token_id
                    if tok.pad_token_id is not None
                    else tok.eos_token_id,
                )
            return tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    except NodeInputError:
        raise
    except (OSError, ValueError) as exc:
        raise NodeInputError("model", f"cannot load {path}: {exc}") from None


@node("text.WriteScript", category="text", outputs={"text": TEXT})
def write_script(
    topic: Annotated[
        str, Text(multiline=True, placeholder="A topic, or bullet points to cover")
    ] = "",
    model: Annotated[
        str, Combo(llm_models, hint=lambda: HOW_TO.format(folder=llm_folder()))
    ] = NONE,
    endpoint: Annotated[str, Text(placeholder="http://127.0.0.1:8080/v1")] = "",
    endpoint_model: Annotated[str, Text(placeholder="model name on the server")] = "",
    sections: Annotated[int, Int(1, 20)] = 4,
    words_per_section: Annotated[int, Int(10, 400)] = 70,
    language: Annotated[str, Text(placeholder="auto")] = "auto",
    temperature: Annotated[float, Float(0.0, 2.0, 0.05)] = 0.7,
    max_tokens: Annotated[int, Int(16, 8192)] = 1024,
    timeout: Annotated[float, Float(1.0, 3600.0, 1.0)] = 300.0,
    seed: Annotated[int, Seed()] = 0,
    ctx: Context = None,
) -> Any:
    """Write a script from a topic or bullet points with a local language model: a
    transformers causal LM folder in models/llm (`model`), or an OpenAI-compatible
    chat endpoint (`endpoint`, e.g. llama.cpp or Ollama). Never downloads. The result
    has `# ` headings and `Visual:` lines, ready for SplitScenes."""
    if not topic.strip():
        raise NodeInputError("topic", "write a topic or a few bullet points")
    system = instructions(sections, words_per_section, language)
    if ctx is not None:
        ctx.progress(0, 1, "writing")
    if model:
        raw = write_with_local_model(
            model, system, topic, max_tokens=max_tokens, temperature=temperature, seed=seed
        )
    elif endpoint.strip():
        raw = write_with_endpoint(
            endpoint,
            endpoint_model,
            system,
            topic,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
            timeout=timeout,
        )
    else:
        raise NodeInputError("model", HOW_TO.format(folder=llm_folder()))
    if not raw.strip():
        raise NodeInputError("model" if model else "endpoint", "the language model wrote nothing")
    text = normalise_script(raw, topic)
    if ctx is not None:
        ctx.progress(1, 1)
        ctx.preview(text, "text")
    return text
