#!/usr/bin/env python3
"""Low-rate tracking: Panoptes (`panoptes track --fps 5`) against supervision's `ByteTrack(frame_rate=5)`.

For each MOTChallenge sequence with ground truth and each random seed, this script
1. subsamples the 25 fps ground truth to 5 fps (every 5th frame, renumbered from 1),
2. makes detections from the true boxes: a quarter removed at random (`--drop`), the rest jittered
   (centre and size, proportional to the box), with random scores (some below 0.5, the "low" band), plus a
   few false positives,
3. writes them once as a MOT det file that both trackers read,
4. runs `panoptes track --mot-in DET --mot-out OURS --fps 5` and supervision 0.25.1
   `sv.ByteTrack(frame_rate=5)` (its other defaults; tracks from `update_with_tensors`, Kalman boxes, as
   ours), and
5. scores both against the subsampled ground truth with `motmetrics` (IoU ≥ 0.5): IDF1, MOTA, ID switches.

Sequences: TUD-Campus and TUD-Stadtmitte (MOT15, 25 fps, 640x480), shipped inside the `motmetrics`
package, and the project's synthetic golden sequence (`actors/src/tracker/testdata/seq_gt.txt`, 25 fps,
1920x1080). The defaults of `TrackerParams` were tuned on TUD-Campus and the synthetic sequence;
TUD-Stadtmitte is held out and reported separately.

Set-up: `pip install supervision==0.25.1 motmetrics==1.4.0` (supervision with `--no-deps` next to
opencv-python-headless, plus scipy pandas matplotlib xmltodict pyyaml defusedxml pillow requests tqdm).
motmetrics 1.4.0 calls `np.asfarray`, gone in numpy 2: a one-line shim below restores it.

Usage:
    cargo build -p panoptes
    .venv/bin/python scripts/tracker/compare_low_rate.py [--seeds 1,2,3,4,5] [--panoptes target/debug/panoptes]
        [--extra "--coast-sec 0"] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

if not hasattr(np, "asfarray"):  # motmetrics 1.4.0 on numpy 2
    np.asfarray = lambda a, dtype=float: np.asarray(a, dtype=dtype)  # noqa: E731

import motmetrics as mm  # noqa: E402
import supervision as sv  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FPS = 25
TARGET_FPS = 5
TUNED = ["TUD-Campus", "synthetic"]
HELD_OUT = ["TUD-Stadtmitte"]


def sequences() -> dict[str, Path]:
    data = Path(mm.__file__).parent / "data"
    return {
        "TUD-Campus": data / "TUD-Campus" / "gt.txt",
        "synthetic": ROOT / "actors/src/tracker/testdata/seq_gt.txt",
        "TUD-Stadtmitte": data / "TUD-Stadtmitte" / "gt.txt",
    }


def read_gt(path: Path) -> dict[int, list[tuple[int, float, float, float, float]]]:
    """frame → [(id, x, y, w, h)]."""
    frames = defaultdict(list)
    for line in path.read_text().splitlines():
        f = line.strip().split(",")
        if len(f) < 6 or line.startswith("#"):
            continue
        frames[int(float(f[0]))].append((int(float(f[1])), *map(float, f[2:6])))
    return frames


def subsample(gt: dict, step: int) -> dict:
    """Every `step`-th frame from the first, renumbered 1, 2, ..."""
    first, last = min(gt), max(gt)
    return {k + 1: gt.get(frame, []) for k, frame in enumerate(range(first, last + 1, step))}


def make_detections(gt: dict, rng: np.random.Generator, drop: float) -> dict[int, list[list[float]]]:
    """frame → [[x, y, w, h, score]]: true boxes, `drop` of them removed, jittered, scored; false positives."""
    dets = {}
    sizes = [(w, h) for boxes in gt.values() for (_, _, _, w, h) in boxes] or [(50.0, 120.0)]
    xs = [x for boxes in gt.values() for (_, x, _, _, _) in boxes] or [0.0]
    ys = [y for boxes in gt.values() for (_, _, y, _, _) in boxes] or [0.0]
    for frame, boxes in gt.items():
        out = []
        for _, x, y, w, h in boxes:
            if rng.random() < drop:
                continue
            cx = x + w / 2 + rng.normal(0, 0.05 * w)
            cy = y + h / 2 + rng.normal(0, 0.03 * h)
            w2 = w * (1 + rng.normal(0, 0.05))
            h2 = h * (1 + rng.normal(0, 0.04))
            score = float(np.clip(rng.normal(0.72, 0.15), 0.15, 0.99))
            out.append([cx - w2 / 2, cy - h2 / 2, w2, h2, score])
        if rng.random() < 0.15:  # a false positive somewhere in the walked area, mostly low-scored
            w, h = sizes[rng.integers(len(sizes))]
            x = rng.uniform(min(xs), max(xs))
            y = rng.uniform(min(ys), max(ys))
            out.append([x, y, w, h, float(rng.uniform(0.2, 0.65))])
        dets[frame] = out
    return dets


def write_mot(path: Path, rows: list[tuple]) -> None:
    path.write_text("".join(",".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + "\n" for r in rows))


def run_supervision(dets: dict, n_frames: int) -> list[tuple]:
    tracker = sv.ByteTrack(frame_rate=TARGET_FPS)
    rows = []
    for frame in range(1, n_frames + 1):
        d = dets.get(frame, [])
        tensors = np.asarray([[x, y, x + w, y + h, s] for x, y, w, h, s in d], dtype=np.float64).reshape(-1, 5)
        for t in tracker.update_with_tensors(tensors):
            x1, y1, x2, y2 = t.tlbr
            rows.append((frame, int(t.external_track_id), float(x1), float(y1), float(x2 - x1), float(y2 - y1), 1, -1, -1, -1))
    return rows


def run_panoptes(binary: str, det_path: Path, out_path: Path, extra: list[str]) -> None:
    cmd = [binary, "track", "--mot-in", str(det_path), "--mot-out", str(out_path), "--fps", str(TARGET_FPS), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{shlex.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")


def score(gt_path: Path, tracks_path: Path) -> dict[str, float]:
    gt = mm.io.loadtxt(str(gt_path), fmt="mot15-2D", min_confidence=-1)
    ts = mm.io.loadtxt(str(tracks_path), fmt="mot15-2D") if tracks_path.stat().st_size else gt.iloc[0:0]
    acc = mm.utils.compare_to_groundtruth(gt, ts, "iou", distth=0.5)
    m = mm.metrics.create().compute(acc, metrics=["idf1", "mota", "num_switches", "recall", "precision"], name="x")
    return {k: float(m[k].iloc[0]) for k in ["idf1", "mota", "num_switches", "recall", "precision"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated random seeds")
    ap.add_argument("--drop", type=float, default=0.25, help="share of detections removed at random")
    ap.add_argument("--panoptes", default=str(ROOT / "target/debug/panoptes"), help="the panoptes binary")
    ap.add_argument("--extra", default="", help="extra options for `panoptes track`, e.g. '--coast-sec 0'")
    ap.add_argument("--sequences", default=",".join(TUNED + HELD_OUT))
    ap.add_argument("--keep", help="write the inputs and outputs to this folder instead of a temporary one")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    extra = shlex.split(args.extra)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lowrate-"))
    work.mkdir(parents=True, exist_ok=True)

    results = defaultdict(lambda: defaultdict(list))  # (sequence, tracker) → metric → values
    seqs = sequences()
    for name in args.sequences.split(","):
        gt = subsample(read_gt(seqs[name]), SOURCE_FPS // TARGET_FPS)
        n_frames = max(gt)
        gt_path = work / f"{name}-gt.txt"
        write_mot(gt_path, [(f, i, x, y, w, h, 1, -1, -1, -1) for f, boxes in sorted(gt.items()) for (i, x, y, w, h) in boxes])
        for seed in seeds:
            rng = np.random.default_rng(seed)
            dets = make_detections(gt, rng, args.drop)
            det_path = work / f"{name}-s{seed}-det.txt"
            write_mot(det_path, [(f, -1, *d, -1, -1, -1) for f, ds in sorted(dets.items()) for d in ds])
            sv_path = work / f"{name}-s{seed}-supervision.txt"
            write_mot(sv_path, run_supervision(dets, n_frames))
            ours_path = work / f"{name}-s{seed}-panoptes.txt"
            run_panoptes(args.panoptes, det_path, ours_path, extra)
            for tracker, path in [("supervision", sv_path), ("panoptes", ours_path)]:
                for k, v in score(gt_path, path).items():
                    results[(name, tracker)][k].append(v)

    print(f"{TARGET_FPS} fps from {SOURCE_FPS}, {args.drop:.0%} of detections dropped, seeds {args.seeds}"
          f"{', panoptes options ' + args.extra if args.extra else ''} (mean over seeds; files in {work})")
    print(f"{'sequence':<16}{'set':<10}{'tracker':<13}{'IDF1':>7}{'MOTA':>8}{'IDsw':>7}{'recall':>8}{'prec':>7}")
    groups = {"tuned": [s for s in args.sequences.split(",") if s in TUNED],
              "held-out": [s for s in args.sequences.split(",") if s not in TUNED]}
    for group, names in groups.items():
        for name in names:
            for tracker in ["supervision", "panoptes"]:
                r = results[(name, tracker)]
                print(f"{name:<16}{group:<10}{tracker:<13}{np.mean(r['idf1']):>7.3f}{np.mean(r['mota']):>8.3f}"
                      f"{np.mean(r['num_switches']):>7.1f}{np.mean(r['recall']):>8.3f}{np.mean(r['precision']):>7.3f}")
            d_idf1 = np.mean(results[(name, 'panoptes')]['idf1']) - np.mean(results[(name, 'supervision')]['idf1'])
            d_mota = np.mean(results[(name, 'panoptes')]['mota']) - np.mean(results[(name, 'supervision')]['mota'])
            print(f"{'':<26}{'difference':<13}{d_idf1:>+7.3f}{d_mota:>+8.3f}")


if __name__ == "__main__":
    main()
