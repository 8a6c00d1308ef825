#!/usr/bin/env python3
"""Write a synthetic but realistic MOTChallenge detection sequence for the ByteTrack golden test.

Several pedestrians walk across a 1920x1080 scene at 25 fps: they cross each other (the nearer one,
the one lower in the picture, occludes the farther), speed up and slow down, are missed at random
and for longer stretches (one gap shorter than the 1 s lost buffer, one longer), are sometimes
detected with a low score (the case ByteTrack's second association exists for), and their boxes
jitter. False positives appear with mostly low scores, a few persisting for a couple of frames.
A few frames carry no detection at all (a decoder hiccup), so lost tracks must age on empty frames.

Usage (numpy only; fixed seed, so the output is reproducible):
    python3 scripts/tracker/make_sequence.py actors/src/tracker/testdata

Writes `seq_det.txt` (MOT det format: frame,-1,x,y,w,h,score,-1,-1,-1) and `seq_gt.txt`
(MOT gt format: frame,id,x,y,w,h,1,1,1: the true boxes of visible people).
"""

import sys
from pathlib import Path

import numpy as np

W, H = 1920, 1080
FPS = 25
FRAMES = 150
SEED = 20261125

# (first frame, last frame, start centre x, foot y, height px, speed px/frame along x, speed along y)
PEOPLE = [
    (1, 150, 150.0, 620.0, 260.0, 7.0, 0.4),
    (1, 150, 1750.0, 640.0, 250.0, -6.5, -0.3),  # crosses person 1 around frame 65
    (1, 120, 300.0, 900.0, 380.0, 5.0, -0.8),
    (10, 150, 1650.0, 880.0, 360.0, -5.5, 0.5),  # crosses person 3
    (1, 150, 900.0, 420.0, 170.0, 1.5, 0.2),  # slow, far away, long occlusion gap (< 1 s)
    (30, 150, 60.0, 500.0, 200.0, 4.0, 0.0),  # gap longer than the lost buffer: a new id is right
    (60, 150, 1000.0, 1000.0, 420.0, -2.0, -1.5),  # enters late, close to the camera
]

# Forced misses per person index: (first frame, last frame) inclusive.
GAPS = {4: (70, 88), 5: (95, 125)}
EMPTY_FRAMES = range(108, 111)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)

    # Ground-truth trajectories with a random walk on the velocity.
    state = []
    for first, last, cx, foot, h, vx, vy in PEOPLE:
        state.append({"first": first, "last": last, "cx": cx, "foot": foot, "h": h, "vx": vx, "vy": vy,
                      "aspect": rng.uniform(0.36, 0.46)})

    det_lines, gt_lines = [], []
    fp_alive = []  # persisting false positives: [frames left, box, score]
    for frame in range(1, FRAMES + 1):
        boxes = []  # (person index, x1, y1, x2, y2)
        for i, p in enumerate(state):
            if frame < p["first"] or frame > p["last"]:
                continue
            if frame > p["first"]:
                p["vx"] += rng.normal(0, 0.15)
                p["vy"] += rng.normal(0, 0.05)
                p["cx"] += p["vx"]
                p["foot"] += p["vy"]
                p["h"] *= 1.0 + p["vy"] / 2000.0  # nearer (lower) means taller
            w = p["h"] * p["aspect"]
            x1, y1 = p["cx"] - w / 2, p["foot"] - p["h"]
            x2, y2 = x1 + w, p["foot"]
            if x2 < 0 or x1 > W:
                continue
            boxes.append((i, max(x1, 0.0), max(y1, 0.0), min(x2, W), min(y2, H)))

        for i, x1, y1, x2, y2 in boxes:
            gt_lines.append(f"{frame},{i + 1},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,1,1")

        if frame in EMPTY_FRAMES:
            continue
        dets = []
        for i, x1, y1, x2, y2 in boxes:
            gap = GAPS.get(i)
            if gap and gap[0] <= frame <= gap[1]:
                continue
            # Occlusion: the fraction of this box covered by a nearer person's box.
            covered = 0.0
            for j, a1, b1, a2, b2 in boxes:
                if j != i and b2 > y2:
                    iw = max(0.0, min(x2, a2) - max(x1, a1))
                    ih = max(0.0, min(y2, b2) - max(y1, b1))
                    covered = max(covered, iw * ih / ((x2 - x1) * (y2 - y1)))
            if covered > 0.75 or rng.random() < 0.04:
                continue
            if covered > 0.3 or rng.random() < 0.08:
                score = rng.uniform(0.15, 0.48)
            else:
                score = rng.uniform(0.55, 0.95)
            h = y2 - y1
            w = x2 - x1
            jx, jy = rng.normal(0, 0.02 * h, 2)
            jw, jh = rng.normal(0, 0.03, 2)
            w2, h2 = w * (1 + jw), h * (1 + jh)
            cx, cy = (x1 + x2) / 2 + jx, (y1 + y2) / 2 + jy
            dets.append((cx - w2 / 2, cy - h2 / 2, w2, h2, score))

        # False positives: mostly low score, some persist a few frames.
        if rng.random() < 0.35:
            h = rng.uniform(80, 300)
            box = (rng.uniform(0, W - 200), rng.uniform(200, H - h), h * rng.uniform(0.3, 0.8), h)
            score = rng.uniform(0.1, 0.5) if rng.random() < 0.8 else rng.uniform(0.6, 0.75)
            fp_alive.append([int(rng.integers(1, 4)), box, score])
        for fp in fp_alive:
            x, y, w, h = fp[1]
            dets.append((x + rng.normal(0, 3), y + rng.normal(0, 3), w, h, fp[2]))
            fp[0] -= 1
        fp_alive = [fp for fp in fp_alive if fp[0] > 0]

        order = rng.permutation(len(dets))  # detectors emit boxes in no particular order
        for k in order:
            x, y, w, h, s = dets[k]
            det_lines.append(f"{frame},-1,{x:.2f},{y:.2f},{w:.2f},{h:.2f},{s:.3f},-1,-1,-1")

    (out / "seq_det.txt").write_text("\n".join(det_lines) + "\n")
    (out / "seq_gt.txt").write_text("\n".join(gt_lines) + "\n")
    print(f"{FRAMES} frames, {len(det_lines)} detections, {len(gt_lines)} ground-truth boxes -> {out}")


if __name__ == "__main__":
    main()
