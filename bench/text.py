"""Script understanding benchmark: headings found, empty scenes and analysis speed.

Two built-in samples: a long article with plain-line headings (the test article, its
sections repeated under numbered headings, about 8,000 words; `--quick`: about 3,000)
and a bullet list under plain headings. Each is analysed as text.SplitScenes does it
(default settings), a few times; the figure is the median. Baseline, measured in the
same run: the same analysis with YAKE key phrases instead of the fast extractor.

Times are CPU time of this process (time.process_time): the machine is shared and
wall time swings with other people's work; wall times are printed too.

Last line: one JSON object with words, scenes, analyse_ms_per_1000_words,
headings_found, headings_expected, empty_scenes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARTICLE = ROOT / "tests" / "text" / "samples" / "article_en.txt"


def long_article(copies: int) -> tuple[str, list[str]]:
    """The article's sections repeated `copies` times under numbered plain-line headings."""
    lines = ARTICLE.read_text("utf-8").splitlines()
    sections = [
        (lines[i], lines[i + 1])
        for i in range(2, len(lines) - 1)
        if lines[i] and len(lines[i].split()) <= 8 and len(lines[i + 1].split()) > 50
    ]
    out, headings = [lines[0], ""], []
    for c in range(copies):
        for h, body in sections:
            heading = f"Part {c + 1}: {h}" if copies > 1 else h
            headings.append(heading)
            out += [heading, body, ""]
    return "\n".join(out), headings


def bullet_list(groups: int) -> tuple[str, list[str]]:
    items = [
        "check the soil for lead before planting",
        "build raised beds from reclaimed timber",
        "agree who waters on which days",
        "swap seeds with neighbours every spring",
        "keep the tool shed locked at night",
        "invite the local school to the harvest",
    ]
    out, headings = [], []
    for g in range(groups):
        h = f"Checklist {g + 1} for New Gardens"
        headings.append(h)
        out += [h, *(f"- {it}" for it in items), ""]
    return "\n".join(out), headings


def measure(text: str, runs: int, keyphrases: str) -> tuple[float, float, object]:
    from reelgraph.nodes.script.assemble import analyse

    cpu, wall, result = [], [], None
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        result = analyse(text, keyphrases=keyphrases)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="~3,000-word article, fewer runs")
    args = ap.parse_args()
    from reelgraph.nodes.script.assemble import MIN_WORDS, analyse

    analyse("Warm up the libraries once. They load on first use.")  # not part of the figure
    runs = 3 if args.quick else 7
    samples = {
        "article": long_article(2 if args.quick else 5),
        "bullets": bullet_list(6 if args.quick else 20),
    }
    total_words = total_scenes = found = expected = empty = 0
    total_cpu = 0.0
    for name, (text, headings) in samples.items():
        cpu, wall, res = measure(text, runs, "fast")
        base_cpu, _, _ = measure(text, max(1, runs // 3), "yake")
        titles = [s.title for s in res.scenes]
        hits = sum(1 for h in headings if h in titles)
        leaked = sum(
            1 for s in res.scenes for h in headings if re.search(re.escape(h) + r"\b", s.narration)
        )
        n_empty = sum(1 for s in res.scenes if len(s.narration.split()) < MIN_WORDS)
        print(
            f"{name}: {res.words} words -> {len(res.scenes)} scenes; headings {hits}/{len(headings)} "
            f"(read aloud: {leaked}); empty scenes {n_empty}; "
            f"{cpu * 1000 / res.words * 1000:.1f} ms CPU per 1,000 words "
            f"(wall {wall * 1000 / res.words * 1000:.1f}); "
            f"YAKE baseline {base_cpu * 1000 / res.words * 1000:.1f} ms CPU per 1,000 words "
            f"-> fast extractor {base_cpu / cpu:.1f}x faster"
        )
        total_words += res.words
        total_scenes += len(res.scenes)
        found += hits
        expected += len(headings)
        empty += n_empty
        total_cpu += cpu
    result = {
        "words": total_words,
        "scenes": total_scenes,
        "analyse_ms_per_1000_words": round(total_cpu * 1000 / total_words * 1000, 2),
        "headings_found": found,
        "headings_expected": expected,
        "empty_scenes": empty,
        "quick": args.quick,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
