#!/usr/bin/env python3
"""Expected values for the Kalman filter unit test (`actors/src/tracker/kalman.rs`).

The per-frame steps run supervision 0.25.1's `KalmanFilter` (numpy + scipy, the ByteTrack filter), an
implementation independent of ours. The fractional step (`steps = 2.5`) has no counterpart there; it is
computed with plain numpy from its definition: F(s) = [[I, s I], [0, I]], P' = F P Fᵀ + s Q.

    /tmp/svenv/bin/python scripts/tracker/kalman_reference.py > actors/src/tracker/testdata/kalman_reference.txt
"""

import numpy as np
from supervision.tracker.byte_tracker.kalman_filter import KalmanFilter

kf = KalmanFilter()


def emit(name, a):
    print(f"{name}: " + " ".join(repr(float(v)) for v in np.asarray(a, dtype=np.float64).ravel()))


def predict_steps(mean, cov, s):
    h = mean[3]
    p, v = kf._std_weight_position, kf._std_weight_velocity
    q = np.diag(np.square([p * h, p * h, 1e-2, p * h, v * h, v * h, 1e-5, v * h]))
    f = np.eye(8)
    f[:4, 4:] = s * np.eye(4)
    return f @ mean, f @ cov @ f.T + s * q


mean, cov = kf.initiate(np.array([500.0, 300.0, 0.4, 200.0]))
emit("init_mean", mean)
emit("init_cov", cov)
mean, cov = kf.predict(mean, cov)
emit("pred1_mean", mean)
emit("pred1_cov", cov)
mean, cov = kf.update(mean, cov, np.array([507.0, 302.5, 0.41, 204.0]))
emit("upd1_mean", mean)
emit("upd1_cov", cov)
mean, cov = kf.predict(mean, cov)
mean, cov = kf.update(mean, cov, np.array([514.5, 304.0, 0.405, 206.0]))
emit("upd2_mean", mean)
emit("upd2_cov", cov)
pm, pc = kf.project(mean, cov)
emit("proj_mean", pm)
emit("proj_cov", pc)
mean, cov = kf.predict(mean, cov)
mean, cov = kf.predict(mean, cov)
emit("lost2_mean", mean)
emit("lost2_cov", cov)
# Cross-check the fractional formula against the library at s = 1 before using it at s = 2.5.
m1, c1 = predict_steps(mean, cov, 1.0)
m2, c2 = kf.predict(mean, cov)
assert np.allclose(m1, m2, rtol=1e-12) and np.allclose(c1, c2, rtol=1e-12)
mean, cov = predict_steps(mean, cov, 2.5)
emit("frac_mean", mean)
emit("frac_cov", cov)
mean, cov = kf.update(mean, cov, np.array([560.0, 318.0, 0.4, 209.0]))
emit("frac_upd_mean", mean)
emit("frac_upd_cov", cov)
