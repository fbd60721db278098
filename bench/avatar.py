"""Talking-presenter benchmark: speed of the offline presenter at 720p, memory over a
5-minute narration, and how well the mouth follows the voice.

(a) Piper speaks a paragraph (~20 s); its audio and phoneme timings are repeated to a
    5-minute narration.
(b) fps_720p: frames per second of avatar.Presenter drawing 1280x720 frames (the first
    30 s of the narration; real time is 24). The full run also measures it end to end
    with the H.264 encoder (fps_720p_encoded).
(c) RSS: the whole 5-minute presenter is streamed (the full run: at 720p through
    video.Encode; `--quick`: drawn at 320x180, no encoder, to stay under a minute);
    resident memory after the first 10 % and at the end should be the same (flat).
(d) mouth_loudness_r: Pearson r between the mouth's openness per frame and the
    speech's loudness envelope (the lip-sync test asks for at least 0.6).

Prints figures, then one JSON line (the last line) with fps_720p, rss_mb_start,
rss_mb_end, mouth_loudness_r and more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT = (
    "Welcome back to the studio. Today I will show you how a script becomes a finished video, "
    "with a voice, subtitles, and a presenter who speaks every word. My mouth follows the sounds "
    "of this voice: it closes for the m and the b, and opens wide for the a in father. "
    "Everything runs on this computer, without a graphics card."
)


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def tiled(audio, timings, seconds: float):
    """The utterance repeated (with a short pause) until it lasts `seconds`."""
    import torch

    from reelgraph.engine.media import AudioClip, SpeechTimings

    gap = 0.6
    period = audio.duration + gap
    reps = max(1, int(seconds // period) + 1)
    pad = torch.zeros(audio.channels, round(gap * audio.sample_rate))
    samples = torch.cat([torch.cat([audio.samples, pad], dim=1)] * reps, dim=1)
    samples = samples[:, : round(seconds * audio.sample_rate)]
    words, sentences, phonemes = [], [], []
    for k in range(reps):
        s = timings.shifted(k * period)
        words += [w for w in s.words if w.end <= seconds]
        sentences += [x for x in s.sentences if x[1] <= seconds]
        phonemes += [p for p in s.phonemes if p.end <= seconds]
    return AudioClip(samples, audio.sample_rate), SpeechTimings(
        timings.text, seconds, tuple(words), tuple(sentences), tuple(phonemes)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="under a minute: no encoder, memory run at 320x180"
    )
    ap.add_argument(
        "--seconds", type=float, default=300.0, help="narration length for the memory run"
    )
    args = ap.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(1)
    from reelgraph.nodes.avatar import presenter
    from reelgraph.nodes.avatar_motion import loud_norm, loudness_envelope, speech_level
    from reelgraph.nodes.tts import speak_piper

    t0 = time.perf_counter()
    audio, timings = speak_piper(TEXT, "en_US-joe-medium", 1.0, True, 0.3)
    tts_s = time.perf_counter() - t0
    print(
        f"speech: {audio.duration:.1f} s of Piper narration in {tts_s:.1f} s, {len(timings.phonemes)} phonemes"
    )

    # (d) lip sync quality on the real utterance
    short = presenter(audio, timings, width=320, height=180, seed=1)
    db, _ = loudness_envelope(audio.samples, audio.sample_rate, short.fps, short.frame_count)
    loud = loud_norm(db, *speech_level(db))
    r = float(np.corrcoef(short.track.openness, loud)[0, 1])
    print(f"mouth openness vs loudness envelope: r = {r:.3f}")

    long_audio, long_timings = tiled(audio, timings, args.seconds)

    # (b) drawing speed at 720p
    t0 = time.perf_counter()
    hd = presenter(long_audio, long_timings, width=1280, height=720, seed=1)
    setup_s = time.perf_counter() - t0
    n = min(hd.frame_count, int(30 * hd.fps))
    t0 = time.perf_counter()
    for _ in hd.chunks(16, 0, n):
        pass
    draw_s = time.perf_counter() - t0
    fps_720p = n / draw_s
    print(
        f"720p: {n} frames drawn in {draw_s:.2f} s = {fps_720p:.1f} fps ({fps_720p / hd.fps:.2f}x real time); "
        f"set-up for a {args.seconds:.0f} s narration {setup_s:.2f} s"
    )

    # (c) memory over the whole narration
    out: dict = {"fps_720p": round(fps_720p, 1), "realtime_x_720p": round(fps_720p / hd.fps, 2)}
    if args.quick:
        v = presenter(long_audio, long_timings, width=320, height=180, seed=1)
        res = "320x180 drawn"
        marks = {int(v.frame_count * 0.1): "start", v.frame_count: "end"}
        rss = {}
        done = 0
        for c in v.chunks(24):
            done += int(c.shape[0])
            for m, name in marks.items():
                if done >= m and name not in rss:
                    rss[name] = current_rss_mb()
    else:
        from reelgraph.nodes.encode import encode_mp4

        res = "1280x720 drawn + H.264 ultrafast"
        rss = {}
        frames = hd.frame_count

        def progress(i: int, total: int) -> None:
            if i >= total * 0.1 and "start" not in rss:
                rss["start"] = current_rss_mb()

        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            encode_mp4(hd, Path(tmp) / "bench_avatar.mp4", preset="ultrafast", progress=progress)
            enc_s = time.perf_counter() - t0
        rss["end"] = current_rss_mb()
        out["fps_720p_encoded"] = round(frames / enc_s, 1)
        print(f"720p with H.264: {frames} frames in {enc_s:.1f} s = {frames / enc_s:.1f} fps")
    print(
        f"RSS over a {args.seconds:.0f} s narration ({res}): {rss.get('start', float('nan')):.0f} MB after 10 %, "
        f"{rss.get('end', float('nan')):.0f} MB at the end"
    )
    out.update(
        rss_mb_start=round(rss.get("start", float("nan")), 1),
        rss_mb_end=round(rss.get("end", float("nan")), 1),
        rss_run=res,
        narration_s=args.seconds,
        mouth_loudness_r=round(r, 3),
        tts_s=round(tts_s, 1),
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
