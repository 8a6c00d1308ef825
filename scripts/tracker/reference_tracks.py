#!/usr/bin/env python3
"""Run supervision's ByteTrack on a MOTChallenge detection file and write its tracks (the golden fixture).

Set-up (a throw-away venv; the project's .venv is not touched):
    python3 -m venv /tmp/svenv && /tmp/svenv/bin/pip install supervision==0.25.1
    /tmp/svenv/bin/python scripts/tracker/reference_tracks.py \
        actors/src/tracker/testdata/seq_det.txt actors/src/tracker/testdata/seq_ref_tracks.txt

Parameter mapping to `TrackerParams` (see `actors/src/tracker/bytetrack.rs`):
    track_activation_threshold=0.5  -> track_thresh 0.5, new_track_thresh 0.6 (supervision uses +0.1)
    minimum_matching_threshold=0.8  -> match_thresh 0.8 (first association, score-fused IoU distance)
    lost_track_buffer=30, frame_rate=25 -> max_time_lost = int(25 / 30 * 30) = 25 frames = 1.0 s
                                       -> lost_buffer_sec 1.0, nominal_fps 25 (one Kalman step per frame)
    minimum_consecutive_frames=1    -> the original ByteTrack confirmation (second hit, or the first frame)
Fixed in supervision as in the original: low_thresh 0.1, second association 0.5, unconfirmed 0.7,
duplicate IoU 0.85.

`update_with_tensors` is used (not `update_with_detections`): it returns the tracks with their Kalman
boxes (`STrack.tlbr`), which is what ByteTrack outputs and what our tracker returns. Every frame from 1 to
the last frame of the file is fed, frames without detections included. Output: one line per confirmed
track and frame, `frame,id,x,y,w,h,score,-1,-1,-1`, 3 decimals.
"""

import sys
from collections import defaultdict

import numpy as np
import supervision as sv


def main() -> None:
    det_path, out_path = sys.argv[1], sys.argv[2]
    frames = defaultdict(list)
    for line in open(det_path):
        f = line.strip().split(",")
        if len(f) < 7:
            continue
        x, y, w, h, s = map(float, f[2:7])
        frames[int(f[0])].append([x, y, x + w, y + h, s])

    tracker = sv.ByteTrack(
        track_activation_threshold=0.5,
        lost_track_buffer=30,
        minimum_matching_threshold=0.8,
        frame_rate=25,
        minimum_consecutive_frames=1,
    )
    assert tracker.max_time_lost == 25
    lines = []
    for frame in range(1, max(frames) + 1):
        tensors = np.asarray(frames.get(frame, []), dtype=np.float64).reshape(-1, 5)
        for t in tracker.update_with_tensors(tensors):
            x1, y1, x2, y2 = t.tlbr
            lines.append(f"{frame},{t.external_track_id},{x1:.3f},{y1:.3f},{x2 - x1:.3f},{y2 - y1:.3f},{t.score:.3f},-1,-1,-1")
    with open(out_path, "w") as out:
        out.write("\n".join(lines) + "\n")
    ids = {line.split(",")[1] for line in lines}
    print(f"supervision {sv.__version__}: {len(lines)} track boxes, {len(ids)} ids -> {out_path}")


if __name__ == "__main__":
    main()
