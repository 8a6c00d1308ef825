//! The robust line fit under the clock maps: the lower envelope of `(x, z)` points, where `x` is media
//! time and `z` is an offset (wall − media) observed through a channel that only ever adds delay.
//!
//! Both of Panoptes' wall-clock sources have one-sided noise: a frame arrives *after* it was captured
//! (network, encoder and socket delays are ≥ 0), and a sloppy RTCP sender report stamps its NTP time at
//! or after the instant of its RTP time. So the truth is a line *below* every point, and the best
//! estimate is the line that supports the points from below and is as high as possible where the data
//! is: the linear program `maximise a + b·x̄ subject to z_i ≥ a + b·x_i` (Moon, Skelly & Towsley's clock
//! skew estimator). Its solution is the edge of the points' lower convex hull above their mean `x̄`.
//! A mean (least squares) would be biased by the mean delay; a plain minimum ignores drift.
//!
//! Before the hull, points far *below* the others are rejected as outliers (a broken sender report, a
//! clock step): residuals against a Theil–Sen-style slope (median of half-window pair slopes), cut at
//! the median minus `6 × 1.4826 × MAD` (plus a floor). Points above need no rejection: the lower
//! envelope ignores them.
//!
//! When the points span too little media time to tell a slope from noise, the fit keeps the caller's
//! prior slope (the last drift measured) and only finds the envelope's height.

/// `z = intercept + slope · x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line {
    pub intercept: f64,
    pub slope: f64,
}

impl Line {
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// What the fit may assume.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    /// Fit a slope only when the points span at least this much `x`.
    pub min_span: f64,
    /// The slope to use when the data cannot tell (too short a span).
    pub prior_slope: f64,
    /// A fitted slope further than this from 0 is implausible (clamped).
    pub max_abs_slope: f64,
    /// Residuals less than this below the median are never outliers (same unit as `z`).
    pub outlier_floor: f64,
}

/// A lower-envelope fit and how it was obtained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LowerFit {
    pub line: Line,
    /// `true` when the slope comes from the data, `false` when it is the prior.
    pub slope_fitted: bool,
    /// Points used (after outlier rejection).
    pub used: usize,
    pub rejected: usize,
    /// Mean height of the used points above the line: the typical delay, a measure of the noise.
    pub mean_residual: f64,
    /// Mean `x` of the used points (where the fit is best).
    pub x_mean: f64,
    /// `x` span of the used points.
    pub span: f64,
}

impl LowerFit {
    /// A rough 1-σ-ish bound on the line's error at `x`: the envelope of `n` points with mean delay `m`
    /// sits about `m / n` above the truth, and a slope error grows with the distance from `x̄`.
    pub fn uncertainty_at(&self, x: f64) -> f64 {
        let n = self.used.max(1) as f64;
        let height = 2.0 * self.mean_residual / n;
        let slope_err =
            if self.slope_fitted && self.span > 0.0 { 2.0 * self.mean_residual / (self.span * n) } else { 0.0 };
        height + slope_err * (x - self.x_mean).abs()
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

/// A slope robust to outliers: the median of the slopes between each point of the first half and its
/// partner half a window later (sorted by `x`).
fn half_pair_slope(points: &[(f64, f64)]) -> Option<f64> {
    let half = points.len() / 2;
    let mut slopes: Vec<f64> = (0..half)
        .filter_map(|i| {
            let (a, b) = (points[i], points[i + half]);
            (b.0 > a.0).then(|| (b.1 - a.1) / (b.0 - a.0))
        })
        .collect();
    (!slopes.is_empty()).then(|| median(&mut slopes))
}

/// Cross product of `o→a` and `o→b` (> 0: counter-clockwise turn).
fn cross(o: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

/// Lower convex hull of points sorted by `x` (Andrew's monotone chain), lowest point per `x`.
fn lower_hull(sorted: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(sorted.len());
    for &p in sorted {
        if let Some(last) = hull.last()
            && last.0 == p.0
        {
            if p.1 < last.1 {
                hull.pop();
            } else {
                continue;
            }
        }
        while hull.len() >= 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
            hull.pop();
        }
        hull.push(p);
    }
    hull
}

/// Fit the lower envelope of `points` (any order). `None` for no points.
pub fn lower_envelope(points: &[(f64, f64)], opts: &FitOptions) -> Option<LowerFit> {
    if points.is_empty() {
        return None;
    }
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let span_all = sorted[sorted.len() - 1].0 - sorted[0].0;
    let clamp = |s: f64| s.clamp(-opts.max_abs_slope, opts.max_abs_slope);

    // Outlier rejection against a robust preliminary line.
    let pre_slope = if span_all >= opts.min_span && sorted.len() >= 4 {
        half_pair_slope(&sorted).map_or(opts.prior_slope, clamp)
    } else {
        opts.prior_slope
    };
    let mut residuals: Vec<f64> = sorted.iter().map(|&(x, z)| z - pre_slope * x).collect();
    let med = median(&mut residuals.clone());
    let mad = median(&mut residuals.iter().map(|r| (r - med).abs()).collect::<Vec<_>>());
    let cut = med - (6.0 * 1.4826 * mad + opts.outlier_floor);
    let before = sorted.len();
    let mut i = 0;
    sorted.retain(|_| {
        let keep = residuals[i] >= cut;
        i += 1;
        keep
    });
    residuals.clear();
    let rejected = before - sorted.len();
    let n = sorted.len() as f64;
    let x_mean = sorted.iter().map(|p| p.0).sum::<f64>() / n;
    let span = sorted[sorted.len() - 1].0 - sorted[0].0;

    let fitted = if span >= opts.min_span {
        let hull = lower_hull(&sorted);
        // The hull edge above x̄ (or at an end, the nearest edge).
        hull.windows(2).find(|w| w[0].0 <= x_mean && x_mean <= w[1].0).map(|w| {
            let slope = (w[1].1 - w[0].1) / (w[1].0 - w[0].0);
            (slope, w[0].1 - slope * w[0].0)
        })
    } else {
        None
    };
    let (line, slope_fitted) = match fitted {
        Some((slope, intercept)) if slope.abs() <= opts.max_abs_slope => (Line { intercept, slope }, true),
        other => {
            let slope = other.map_or(opts.prior_slope, |(s, _)| clamp(s));
            let intercept = sorted.iter().map(|&(x, z)| z - slope * x).fold(f64::INFINITY, f64::min);
            (Line { intercept, slope }, false)
        }
    };
    let mean_residual = sorted.iter().map(|&(x, z)| z - line.at(x)).sum::<f64>() / n;
    Some(LowerFit { line, slope_fitted, used: sorted.len(), rejected, mean_residual, x_mean, span })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::sim::{Delay, rng};

    fn opts() -> FitOptions {
        FitOptions { min_span: 10.0, prior_slope: 0.0, max_abs_slope: 1e-3, outlier_floor: 1e-3 }
    }

    #[test]
    fn exact_points_give_the_exact_line() {
        let truth = Line { intercept: 2.5, slope: -50e-6 };
        let pts: Vec<(f64, f64)> = (0..40).map(|i| (i as f64 * 5.0, truth.at(i as f64 * 5.0))).collect();
        let f = lower_envelope(&pts, &opts()).unwrap();
        assert!(f.slope_fitted);
        assert!((f.line.slope - truth.slope).abs() < 1e-12, "{f:?}");
        assert!((f.line.at(200.0) - truth.at(200.0)).abs() < 1e-9, "{f:?}");
    }

    #[test]
    fn one_sided_noise_is_not_averaged_in() {
        // Delays uniform in [0, 40 ms]: a mean fit would sit ~20 ms high; the envelope stays near the truth.
        let truth = Line { intercept: -1.0, slope: 30e-6 };
        let mut r = rng(7);
        let d = Delay::Uniform { max_s: 0.040 };
        let pts: Vec<(f64, f64)> = (0..300)
            .map(|i| {
                let x = i as f64;
                (x, truth.at(x) + d.sample(&mut r))
            })
            .collect();
        let f = lower_envelope(&pts, &opts()).unwrap();
        let err = (f.line.at(299.0) - truth.at(299.0)).abs();
        assert!(err < 0.5e-3, "error at the newest point {err} s; {f:?}");
        assert!((f.line.slope - truth.slope).abs() < 3e-6, "{f:?}");
        assert!(f.mean_residual > 0.015 && f.mean_residual < 0.025, "mean delay ~20 ms: {f:?}");
    }

    #[test]
    fn a_point_far_below_is_rejected() {
        let mut pts: Vec<(f64, f64)> = (0..30).map(|i| (i as f64 * 5.0, 1.0 + 0.001 * ((i * 7) % 5) as f64)).collect();
        pts[12].1 = 0.2; // a clock step of -0.8 s in one report
        let f = lower_envelope(&pts, &opts()).unwrap();
        assert_eq!(f.rejected, 1, "{f:?}");
        assert!((f.line.at(70.0) - 1.0).abs() < 1e-3, "{f:?}");
    }

    #[test]
    fn a_short_span_keeps_the_prior_slope() {
        let o = FitOptions { prior_slope: 20e-6, ..opts() };
        let pts = [(0.0, 1.0), (1.0, 0.5), (2.0, 1.2)];
        let f = lower_envelope(&pts, &o).unwrap();
        assert!(!f.slope_fitted);
        assert_eq!(f.line.slope, 20e-6);
        // The envelope's height through the lowest point.
        assert!((f.line.at(1.0) - 0.5).abs() < 1e-12);
        assert!(lower_envelope(&[], &o).is_none());
    }

    #[test]
    fn an_implausible_slope_is_clamped() {
        let pts: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, i as f64 * 0.01)).collect();
        let f = lower_envelope(&pts, &opts()).unwrap();
        assert!(!f.slope_fitted);
        assert_eq!(f.line.slope, 1e-3);
    }
}
