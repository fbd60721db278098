"""Text nodes: the script, scene splitting, templates, joining and formatting."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from reelgraph import (
    INT,
    TEXT,
    Bool,
    Combo,
    Context,
    Int,
    NodeInputError,
    Text,
    list_of,
    node,
    socket,
)
from reelgraph.media import SCENE, Scene

SceneIn = socket(SCENE)

_SENTENCE = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")
_VISUAL = re.compile(r"^\s*(?:visual|image|shot)\s*:\s*(.+)$", re.IGNORECASE)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


def split_sentences(text: str) -> list[str]:
    text = " ".join(text.split())
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()] if text else []


def _title_from(text: str, words: int = 6) -> str:
    first = split_sentences(text)[0] if text.strip() else ""
    ws = first.rstrip(".!?…").split()
    return " ".join(ws[:words]) + ("…" if len(ws) > words else "")


def _bound(narration: str, max_words: int) -> list[str]:
    """Split narration into parts of at most `max_words` words, at sentence ends when possible."""
    if max_words <= 0 or len(narration.split()) <= max_words:
        return [narration]
    parts: list[str] = []
    cur: list[str] = []
    for sent in split_sentences(narration):
        words = sent.split()
        while len(words) > max_words:  # one sentence longer than the bound: hard split
            if cur:
                parts.append(" ".join(cur))
                cur = []
            parts.append(" ".join(words[:max_words]))
            words = words[max_words:]
        if cur and len(cur) + len(words) > max_words:
            parts.append(" ".join(cur))
            cur = []
        cur.extend(words)
    if cur:
        parts.append(" ".join(cur))
    return parts


def parse_scenes(text: str, mode: str = "auto", max_words: int = 80) -> list[Scene]:
    """Split a script into scenes. See `split_scenes` for the rules."""
    lines = text.replace("\r\n", "\n").split("\n")
    if mode == "auto":
        mode = "headings" if any(_HEADING.match(ln) for ln in lines) else "paragraphs"
    blocks: list[tuple[str, list[str], list[str]]] = []  # (title, narration lines, visual lines)
    if mode == "headings":
        title, body, visual = "", [], []
        for ln in lines:
            m = _HEADING.match(ln)
            if m:
                if title or body:
                    blocks.append((title, body, visual))
                title, body, visual = m.group(1), [], []
            elif v := _VISUAL.match(ln):
                visual.append(v.group(1).strip())
            elif ln.strip():
                body.append(ln.strip())
        if title or body:
            blocks.append((title, body, visual))
    elif mode == "paragraphs":
        for para in re.split(r"\n\s*\n", text):
            body, visual = [], []
            for ln in para.split("\n"):
                if v := _VISUAL.match(ln):
                    visual.append(v.group(1).strip())
                elif ln.strip():
                    body.append(ln.strip())
            if body or visual:
                blocks.append(("", body, visual))
    elif mode == "sentences":
        for sent in split_sentences(" ".join(ln for ln in lines if not _VISUAL.match(ln))):
            blocks.append(("", [sent], []))
    else:
        raise ValueError(f"unknown split mode {mode!r}")
    scenes: list[Scene] = []
    for title, body, visual in blocks:
        narration = " ".join(" ".join(body).split())
        if not narration and not title:
            continue
        vis = " ".join(visual)
        parts = _bound(narration, max_words) if narration else [""]
        for k, part in enumerate(parts):
            t = title or _title_from(part)
            if k and title:
                t = f"{title} ({k + 1})"
            scenes.append(
                Scene(len(scenes), t, part, vis or (split_sentences(part)[0] if part else t))
            )
    return scenes


@node("text.Script", category="text", outputs={"text": TEXT})
def script(
    text: Annotated[
        str, Text(multiline=True, placeholder="# Scene title\nWhat the narrator says…")
    ] = "",
) -> Any:
    """The script of a video. Markdown headings (`# Title`) start scenes; a line
    `Visual: …` describes what a scene shows; everything else is narration."""
    return text


SPLIT_MODES = ("auto", "headings", "paragraphs", "sentences")


@node("text.SplitScenes", category="text", outputs={"scenes": list_of(SceneIn), "count": INT})
def split_scenes(
    text: Annotated[str, Text(multiline=True)],
    mode: Annotated[str, Combo(SPLIT_MODES)] = "auto",
    max_words: Annotated[int, Int(0, 1000)] = 80,
) -> Any:
    """Split a script into scenes (title, narration, visual prompt).

    `headings`: each Markdown heading starts a scene titled by it; `paragraphs`:
    blank lines separate scenes; `sentences`: one scene per sentence; `auto`:
    headings when there are any, else paragraphs. A scene longer than
    `max_words` (0: no bound) is split at sentence ends into numbered parts.
    Lines starting with `Visual:` set the scene's visual prompt (default: its
    first sentence)."""
    if not text.strip():
        raise NodeInputError("text", "the script is empty: write at least one sentence")
    scenes = parse_scenes(text, mode, max_words)
    if not any(s.narration for s in scenes):
        raise NodeInputError("text", "the script has headings but no narration to speak")
    return scenes, len(scenes)


@node(
    "text.SceneFields",
    category="text",
    outputs={"title": TEXT, "narration": TEXT, "visual": TEXT, "index": INT},
)
def scene_fields(scene: SceneIn) -> Any:
    """The parts of one scene record."""
    return scene.title, scene.narration, scene.visual, scene.index


# `{{` / `}}` are literal braces; `{name}` is a placeholder.
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_values(values: str) -> dict[str, str]:
    """`name=value` lines, or a JSON object."""
    s = values.strip()
    if not s:
        return {}
    if s.startswith("{"):
        try:
            data = json.loads(s)
        except json.JSONDecodeError as exc:
            raise NodeInputError("values", f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise NodeInputError("values", "JSON values must be an object")
        return {str(k): str(v) for k, v in data.items()}
    out = {}
    for n, ln in enumerate(s.splitlines(), 1):
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        if "=" not in ln:
            raise NodeInputError("values", f"line {n} {ln!r} is not name=value")
        k, v = ln.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@node("text.Template", category="text", outputs={"text": TEXT}, uses_params=True)
def template(
    template: Annotated[str, Text(multiline=True, placeholder="Hello {name}!")],
    values: Annotated[str, Text(multiline=True, placeholder="name=Ada")] = "",
    strict: Annotated[bool, Bool()] = True,
    ctx: Context = None,
) -> Any:
    """Fill `{name}` placeholders from the workflow's params (what `reelgraph run --set
    name=...` and batch rows give) and from `values` (`name=value` lines or a JSON
    object); a param wins over a value of the same name. `{{` and `}}` give literal
    braces. With `strict`, a placeholder without a value is an error; otherwise it is
    left as it is."""
    vals = {**parse_values(values), **{k: str(v) for k, v in (ctx.params if ctx else {}).items()}}
    missing = sorted({m for m in _PLACEHOLDER.findall(template) if m and m not in vals})
    if missing and strict:
        raise NodeInputError(
            "values",
            f"no value for {', '.join('{' + m + '}' for m in missing)} "
            "(add a workflow param or a name=value line)",
        )

    def fill(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]  # an escaped brace
        return vals.get(m.group(1), m.group(0))

    return _PLACEHOLDER.sub(fill, template)


@node("text.Join", category="text", outputs={"text": TEXT})
def join(texts: list_of(socket(TEXT)), separator: str = "\\n\\n") -> Any:
    """Join texts with a separator (`\\n` and `\\t` are understood)."""
    sep = separator.replace("\\n", "\n").replace("\\t", "\t")
    return sep.join(str(t) for t in texts)


@node("text.Format", category="text", outputs={"text": TEXT})
def format_text(
    format: Annotated[str, Text(multiline=True, placeholder="{a} — {b}")],
    a: str = "",
    b: str = "",
    c: str = "",
    d: str = "",
) -> Any:
    """Fill `{a}`..`{d}` in `format` with the given or linked texts."""
    vals = {"a": a, "b": b, "c": c, "d": d}
    try:
        return format.format(**vals)
    except (KeyError, IndexError, ValueError) as exc:
        raise NodeInputError("format", f"bad placeholder {exc}; use {{a}}..{{d}}") from None
