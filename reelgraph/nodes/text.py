"""Text nodes: the script, scene splitting (script understanding lives in `script/`),
templates, joining and formatting."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from reelgraph import (
    FLOAT,
    INT,
    TEXT,
    Bool,
    Combo,
    Context,
    Float,
    Int,
    NodeInputError,
    Text,
    list_of,
    node,
    socket,
)
from reelgraph.media import SCENE, Scene

SceneIn = socket(SCENE)


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Sentences of a text (see `script.sentences`)."""
    from .script.sentences import split_sentences as split

    return split(text, language)


def parse_scenes(
    text: str,
    mode: str = "auto",
    max_words: int = 0,
    seconds: float = 90.0,
    language: str = "auto",
    keyphrases: str = "fast",
) -> list[Scene]:
    """Split a script into scene records. See `split_scenes` for the rules."""
    from .script.assemble import analyse

    return analyse(text, seconds, mode, language, max_words, keyphrases).scenes


@node("text.Script", category="text", outputs={"text": TEXT})
def script(
    text: Annotated[
        str, Text(multiline=True, placeholder="# Scene title\nWhat the narrator says…")
    ] = "",
) -> Any:
    """The script of a video: Markdown, an article pasted from the web (plain-line
    headings), bullet points, one sentence, or SRT/WebVTT subtitles. Headings start
    scenes; a line `Visual: …` describes what a scene shows."""
    return text


SPLIT_MODES = ("auto", "headings", "paragraphs", "sentences")
LANGUAGE_OPTIONS = ("auto", "en", "de", "es", "fr", "it", "pt", "nl", "pl", "ru", "uk", "tr",
                    "sv", "el", "ar", "fa", "he", "ur", "hi", "bn", "mr", "ta", "zh", "ja", "ko",
                    "th", "vi")  # fmt: skip
KEYPHRASE_METHODS = ("fast", "yake")
PREVIEW_KIND = "scenes"  # node.preview kind of the scene table (a JSON-ready dict)


def scene_table(scenes: list[Scene]) -> dict[str, Any]:
    """The scene table the CLI prints and the editor shows on the node."""
    cols = ("index", "title", "narration", "visual", "seconds", "language", "tone", "mood")
    rows = [{c: s.get(c, "") for c in cols} | {"keywords": s.keywords} for s in scenes]
    return {
        "columns": [*cols, "keywords"],
        "rows": rows,
        "total_seconds": round(sum(s.seconds for s in scenes), 1),
    }


@node(
    "text.SplitScenes",
    category="text",
    outputs={
        "scenes": list_of(SceneIn),
        "count": INT,
        "narration": list_of(socket(TEXT)),
        "language": list_of(socket(TEXT)),
        "rate": list_of(socket(FLOAT)),
        "pause": list_of(socket(FLOAT)),
        "mood": list_of(socket(TEXT)),
    },
)
def split_scenes(
    text: Annotated[str, Text(multiline=True)],
    mode: Annotated[str, Combo(SPLIT_MODES)] = "auto",
    seconds: Annotated[float, Float(0.0, 600.0, 5.0)] = 90.0,
    max_words: Annotated[int, Int(0, 1000)] = 0,
    language: Annotated[str, Combo(LANGUAGE_OPTIONS)] = "auto",
    keyphrases: Annotated[str, Combo(KEYPHRASE_METHODS)] = "fast",
    ctx: Context = None,
) -> Any:
    """Understand a script and split it into scenes.

    Structure first (Markdown or plain-line headings, paragraphs, bullets, SRT/VTT),
    then sentences, so that no scene's narration runs longer than `seconds` at the
    language's speaking rate (0: no bound; `max_words` > 0 bounds words too). Each
    scene gets a title (its heading, or its key phrase), the narration (headings are
    never read aloud), a visual prompt (`Visual:` lines, else entities and key phrases),
    keywords, tone, language and the delivery its tone asks for (rate, pause, mood).
    Pieces with almost nothing to say join a neighbour. `mode`: auto/headings (by
    headings), paragraphs (each paragraph a scene), sentences (each sentence a scene).

    Besides the scene records, the per-scene narration, language, rate, pause and mood
    come out as lists of their own, so a node linked to them (the voice) is keyed only
    by what it reads: editing a scene's visual does not speak its narration again."""
    from .script.assemble import EmptyScript
    from .script.structure import NotText

    try:
        scenes = parse_scenes(text, mode, max_words, seconds, language, keyphrases)
    except (EmptyScript, NotText) as exc:
        raise NodeInputError("text", str(exc)) from None
    if ctx is not None:
        ctx.preview(scene_table(scenes), PREVIEW_KIND)
    return (
        scenes,
        len(scenes),
        [s.narration for s in scenes],
        [s.language for s in scenes],
        [s.rate for s in scenes],
        [s.pause for s in scenes],
        [s.mood for s in scenes],
    )


@node(
    "text.SceneFields",
    category="text",
    outputs={"title": TEXT, "narration": TEXT, "visual": TEXT, "index": INT},
)
def scene_fields(scene: SceneIn) -> Any:
    """The parts of one scene record. (Linked per scene, each part is keyed by the whole
    record; take `narration` etc. from SplitScenes to key a node by that part alone.)"""
    return scene.title, scene.narration, scene.visual, scene.index


SCENE_FIELDS = ("narration", "title", "visual", "language", "tone", "mood")


@node("text.SceneField", category="text", outputs={"values": list_of(socket(TEXT))})
def scene_field(
    scenes: list_of(SceneIn),
    field: Annotated[str, Combo(SCENE_FIELDS)] = "narration",
) -> Any:
    """One text field of every scene, as a list. Each element is keyed by its own
    content, so the nodes fed from it run again only for the scenes whose field changed."""
    return [str(s.get(field, "")) for s in scenes]


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
