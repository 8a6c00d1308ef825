//! The ByteTrack / DeepSORT Kalman filter for boxes in image space.
//!
//! State: `[x, y, a, h, vx, vy, va, vh]`: box centre, aspect ratio `w / h`, height, and their velocities,
//! with a constant-velocity motion model and the box `(x, y, a, h)` observed directly. Noise follows the
//! original: standard deviations proportional to the box height with weights 1/20 (position) and 1/160
//! (velocity), fixed small ones for the aspect ratio.
//!
//! Time: velocities are in units per *nominal frame* (the frame interval the noise weights were tuned
//! for, 1/30 s in ByteTrack). [`KalmanFilter::predict`] takes `steps = dt / nominal_frame_interval`: the
//! transition adds `steps × velocity` and the process noise is scaled by `steps` (a random walk whose
//! variance grows linearly in time). With `steps == 1` this is exactly the original per-frame filter; a
//! camera inferred at 5 fps with a 30 fps nominal rate predicts 6 frames' worth of motion per update.

/// The state mean.
pub type Mean = [f64; 8];
/// The state covariance.
pub type Covariance = [[f64; 8]; 8];
/// A measurement: `[centre x, centre y, aspect w/h, height]`.
pub type Xyah = [f64; 4];

/// The filter's constants. Stateless: the state lives in each track.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KalmanFilter {
    pub std_weight_position: f64,
    pub std_weight_velocity: f64,
}

impl Default for KalmanFilter {
    fn default() -> Self {
        Self { std_weight_position: 1.0 / 20.0, std_weight_velocity: 1.0 / 160.0 }
    }
}

/// Why a correction step could not be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KalmanError {
    #[error(
        "the projected covariance is not positive definite (degenerate box height {height}); re-initiate the track"
    )]
    NotPositiveDefinite { height: f64 },
}

impl KalmanFilter {
    /// A new state from an unassociated measurement: zero velocity, uncertainty from the box height.
    pub fn initiate(&self, m: Xyah) -> (Mean, Covariance) {
        let h = m[3];
        let (p, v) = (self.std_weight_position, self.std_weight_velocity);
        let std = [2.0 * p * h, 2.0 * p * h, 1e-2, 2.0 * p * h, 10.0 * v * h, 10.0 * v * h, 1e-5, 10.0 * v * h];
        let mean = [m[0], m[1], m[2], m[3], 0.0, 0.0, 0.0, 0.0];
        (mean, diag(std))
    }

    /// Predict `steps` nominal frames ahead (see the module doc; `steps` may be fractional, and 0 leaves
    /// the state unchanged). The noise is computed from the height before the move, as in the original.
    pub fn predict(&self, mean: &mut Mean, cov: &mut Covariance, steps: f64) {
        let h = mean[3];
        let (p, v) = (self.std_weight_position, self.std_weight_velocity);
        let std = [p * h, p * h, 1e-2, p * h, v * h, v * h, 1e-5, v * h];
        for i in 0..4 {
            mean[i] += steps * mean[i + 4];
        }
        // F P Fᵀ with F = [[I, sI], [0, I]]: rows then columns.
        let mut fp = *cov;
        for i in 0..4 {
            for j in 0..8 {
                fp[i][j] += steps * cov[i + 4][j];
            }
        }
        let mut fpf = fp;
        for row in &mut fpf {
            for j in 0..4 {
                row[j] += steps * row[j + 4];
            }
        }
        for (i, s) in std.iter().enumerate() {
            fpf[i][i] += steps * s * s;
        }
        *cov = fpf;
    }

    /// Project the state into measurement space: the mean box and its covariance, measurement noise included.
    pub fn project(&self, mean: &Mean, cov: &Covariance) -> (Xyah, [[f64; 4]; 4]) {
        let h = mean[3];
        let p = self.std_weight_position;
        let std = [p * h, p * h, 1e-1, p * h];
        let mut s = [[0.0; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                s[i][j] = cov[i][j];
            }
            s[i][i] += std[i] * std[i];
        }
        ([mean[0], mean[1], mean[2], mean[3]], s)
    }

    /// Correct the state with a measurement.
    pub fn update(&self, mean: &mut Mean, cov: &mut Covariance, m: Xyah) -> Result<(), KalmanError> {
        let (projected, s) = self.project(mean, cov);
        let l = cholesky(&s).ok_or(KalmanError::NotPositiveDefinite { height: mean[3] })?;
        // Kalman gain K (8x4) solves K S = P Hᵀ, i.e. S Kᵀ = H P (S symmetric); H P is P's first 4 rows.
        let mut gain = [[0.0; 4]; 8];
        for (col, gain_row) in gain.iter_mut().enumerate() {
            let rhs = [cov[0][col], cov[1][col], cov[2][col], cov[3][col]];
            *gain_row = cholesky_solve(&l, rhs);
        }
        let innovation: [f64; 4] = std::array::from_fn(|i| m[i] - projected[i]);
        for (i, g) in gain.iter().enumerate() {
            mean[i] += (0..4).map(|k| g[k] * innovation[k]).sum::<f64>();
        }
        // P - K S Kᵀ
        let mut ks = [[0.0; 4]; 8];
        for i in 0..8 {
            for j in 0..4 {
                ks[i][j] = (0..4).map(|k| gain[i][k] * s[k][j]).sum();
            }
        }
        for i in 0..8 {
            for j in 0..8 {
                cov[i][j] -= (0..4).map(|k| ks[i][k] * gain[j][k]).sum::<f64>();
            }
        }
        Ok(())
    }
}

fn diag(std: [f64; 8]) -> Covariance {
    let mut c = [[0.0; 8]; 8];
    for (i, s) in std.iter().enumerate() {
        c[i][i] = s * s;
    }
    c
}

/// Lower-triangular `L` with `L Lᵀ = s`; `None` unless `s` is positive definite.
fn cholesky(s: &[[f64; 4]; 4]) -> Option<[[f64; 4]; 4]> {
    let mut l = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = s[i][i] - sum;
                if !(d > 0.0 && d.is_finite()) {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (s[i][j] - sum) / l[j][j];
            }
        }
    }
    Some(l)
}

/// Solve `L Lᵀ x = b`.
fn cholesky_solve(l: &[[f64; 4]; 4], b: [f64; 4]) -> [f64; 4] {
    let mut y = [0.0; 4];
    for i in 0..4 {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; 4];
    for i in (0..4).rev() {
        x[i] = (y[i] - (i + 1..4).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x
}

#[cfg(test)]
mod tests {
    //! Expected values come from `scripts/tracker/kalman_reference.py`, which runs supervision 0.25.1's
    //! `KalmanFilter` (numpy/scipy) for the per-frame steps and plain numpy (`F(s) P F(s)ᵀ + s Q`) for
    //! the fractional step. Re-run it to regenerate `testdata/kalman_reference.txt`.

    use super::*;

    const REFERENCE: &str = include_str!("testdata/kalman_reference.txt");

    /// Parse `name: v1 v2 ...` lines.
    fn reference(name: &str) -> Vec<f64> {
        let line = REFERENCE
            .lines()
            .find(|l| l.split(':').next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from kalman_reference.txt"));
        line.split(':').nth(1).unwrap().split_whitespace().map(|v| v.parse().unwrap()).collect()
    }

    fn assert_close(name: &str, got: &[f64]) {
        let want = reference(name);
        assert_eq!(got.len(), want.len(), "{name}: length");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let tol = 1e-9 * w.abs().max(1.0);
            assert!((g - w).abs() <= tol, "{name}[{i}]: got {g}, numpy {w}");
        }
    }

    fn flat(c: &Covariance) -> Vec<f64> {
        c.iter().flatten().copied().collect()
    }

    #[test]
    fn matches_the_python_reference_step_by_step() {
        let kf = KalmanFilter::default();
        let (mut mean, mut cov) = kf.initiate([500.0, 300.0, 0.4, 200.0]);
        assert_close("init_mean", &mean);
        assert_close("init_cov", &flat(&cov));
        kf.predict(&mut mean, &mut cov, 1.0);
        assert_close("pred1_mean", &mean);
        assert_close("pred1_cov", &flat(&cov));
        kf.update(&mut mean, &mut cov, [507.0, 302.5, 0.41, 204.0]).unwrap();
        assert_close("upd1_mean", &mean);
        assert_close("upd1_cov", &flat(&cov));
        kf.predict(&mut mean, &mut cov, 1.0);
        kf.update(&mut mean, &mut cov, [514.5, 304.0, 0.405, 206.0]).unwrap();
        assert_close("upd2_mean", &mean);
        assert_close("upd2_cov", &flat(&cov));
        let (pm, pc) = kf.project(&mean, &cov);
        assert_close("proj_mean", &pm);
        assert_close("proj_cov", &pc.iter().flatten().copied().collect::<Vec<_>>());
        // Two lost frames, then a fractional step (a detection rate below the nominal one).
        kf.predict(&mut mean, &mut cov, 1.0);
        kf.predict(&mut mean, &mut cov, 1.0);
        assert_close("lost2_mean", &mean);
        assert_close("lost2_cov", &flat(&cov));
        kf.predict(&mut mean, &mut cov, 2.5);
        assert_close("frac_mean", &mean);
        assert_close("frac_cov", &flat(&cov));
        kf.update(&mut mean, &mut cov, [560.0, 318.0, 0.4, 209.0]).unwrap();
        assert_close("frac_upd_mean", &mean);
        assert_close("frac_upd_cov", &flat(&cov));
    }

    #[test]
    fn zero_step_leaves_the_state_unchanged() {
        let kf = KalmanFilter::default();
        let (mut mean, mut cov) = kf.initiate([10.0, 20.0, 0.5, 40.0]);
        mean[4] = 3.0;
        let before = (mean, cov);
        kf.predict(&mut mean, &mut cov, 0.0);
        assert_eq!((mean, cov), before);
    }

    #[test]
    fn degenerate_height_is_an_error_not_a_nan() {
        let kf = KalmanFilter::default();
        let (mut mean, mut cov) = kf.initiate([10.0, 20.0, 0.5, 0.0]);
        let err = kf.update(&mut mean, &mut cov, [10.0, 20.0, 0.5, 0.0]).unwrap_err();
        assert_eq!(err, KalmanError::NotPositiveDefinite { height: 0.0 });
    }
}
