"""Script understanding: any text (Markdown, a pasted article, bullets, one sentence,
SRT/VTT) becomes scenes with a title, narration, visual prompt, keywords, tone and
language. Small modules, one job each; `assemble.analyse` ties them together.
The heavy libraries (pysbd, yake, vaderSentiment, lingua) load on first use."""
