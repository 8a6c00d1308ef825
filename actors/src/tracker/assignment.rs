//! Optimal linear assignment with a cost threshold: ByteTrack's `linear_assignment(cost, thresh)`.
//!
//! Costs above `thresh` are clamped to `thresh + CLAMP_EPS`, a minimum-cost assignment of
//! `min(rows, cols)` pairs is solved exactly (the shortest-augmenting-path Hungarian method with
//! potentials, the same family as Jonker–Volgenant, O(n² m)), and pairs whose cost is above `thresh` are
//! reported unmatched. This is what supervision does with scipy's `linear_sum_assignment`, and it is
//! equivalent to the original's `lap.lapjv(extend_cost=True, cost_limit=thresh)`: both pick the set of
//! pairs (cost ≤ thresh) that minimises `Σ (cost − thresh)` up to the epsilon.

/// Added to the threshold for clamped costs, as in supervision's `linear_assignment`.
pub const CLAMP_EPS: f64 = 1e-4;

/// A dense row-major cost matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct CostMatrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl CostMatrix {
    /// Build from a function of `(row, col)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                data.push(f(r, c));
            }
        }
        Self { rows, cols, data }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn get(&self, row: usize, col: usize) -> f64 {
        self.data[row * self.cols + col]
    }
}

/// The outcome of [`linear_assignment`]; every list is in ascending order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assignment {
    /// `(row, col)` pairs with cost ≤ the threshold, ascending by row.
    pub matches: Vec<(usize, usize)>,
    pub unmatched_rows: Vec<usize>,
    pub unmatched_cols: Vec<usize>,
}

/// Match rows to columns at minimum total cost, leaving unmatched any pair costlier than `thresh`.
/// NaN costs count as above the threshold.
pub fn linear_assignment(cost: &CostMatrix, thresh: f64) -> Assignment {
    let (n, m) = (cost.rows, cost.cols);
    let clamp = thresh + CLAMP_EPS;
    let clamped = |r: usize, c: usize| {
        let v = cost.get(r, c);
        if v <= thresh { v } else { clamp }
    };
    // Solve with rows ≤ cols, transposing if needed; `pairs[r] = Some(c)`.
    let pairs: Vec<(usize, usize)> = if n <= m {
        solve(n, m, clamped).into_iter().enumerate().collect()
    } else {
        solve(m, n, |r, c| clamped(c, r)).into_iter().enumerate().map(|(c, r)| (r, c)).collect()
    };
    let mut matches: Vec<(usize, usize)> = pairs.into_iter().filter(|&(r, c)| cost.get(r, c) <= thresh).collect();
    matches.sort_unstable();
    let mut row_used = vec![false; n];
    let mut col_used = vec![false; m];
    for &(r, c) in &matches {
        row_used[r] = true;
        col_used[c] = true;
    }
    Assignment {
        matches,
        unmatched_rows: (0..n).filter(|&r| !row_used[r]).collect(),
        unmatched_cols: (0..m).filter(|&c| !col_used[c]).collect(),
    }
}

/// Minimum-cost assignment of every row of an `n × m` matrix (`n ≤ m`, finite costs) to distinct columns.
/// Returns the column of each row.
fn solve(n: usize, m: usize, a: impl Fn(usize, usize) -> f64) -> Vec<usize> {
    debug_assert!(n <= m);
    // 1-based potentials and matching; column 0 is the virtual start of each augmenting path.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    let mut row_of_col = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        row_of_col[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = row_of_col[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let cur = a(i0 - 1, j - 1) - u[i0] - v[j];
                if cur < minv[j] {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if minv[j] < delta {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[row_of_col[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if row_of_col[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            row_of_col[j0] = row_of_col[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut col_of_row = vec![0usize; n];
    for j in 1..=m {
        if row_of_col[j] != 0 {
            col_of_row[row_of_col[j] - 1] = j - 1;
        }
    }
    col_of_row
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matrix(rows: &[&[f64]]) -> CostMatrix {
        CostMatrix::from_fn(rows.len(), rows.first().map_or(0, |r| r.len()), |r, c| rows[r][c])
    }

    /// The best `Σ (cost − clamp)` over all partial matchings that use only pairs with cost ≤ thresh.
    fn brute_force(cost: &CostMatrix, thresh: f64) -> f64 {
        fn go(cost: &CostMatrix, thresh: f64, row: usize, used: &mut Vec<bool>) -> f64 {
            if row == cost.rows() {
                return 0.0;
            }
            let mut best = go(cost, thresh, row + 1, used); // leave this row unmatched
            for c in 0..cost.cols() {
                let v = cost.get(row, c);
                if !used[c] && v <= thresh {
                    used[c] = true;
                    best = best.min(v - (thresh + CLAMP_EPS) + go(cost, thresh, row + 1, used));
                    used[c] = false;
                }
            }
            best
        }
        go(cost, thresh, 0, &mut vec![false; cost.cols()])
    }

    #[test]
    fn picks_the_global_optimum_not_the_greedy_one() {
        // Greedy takes (0,0)=0.1 and is left with (1,1)=0.9 > thresh; optimal is (0,1)+(1,0).
        let a = linear_assignment(&matrix(&[&[0.1, 0.2], &[0.3, 0.9]]), 0.8);
        assert_eq!(a.matches, vec![(0, 1), (1, 0)]);
        assert!(a.unmatched_rows.is_empty() && a.unmatched_cols.is_empty());
    }

    #[test]
    fn pairs_above_the_threshold_stay_unmatched() {
        let a = linear_assignment(&matrix(&[&[0.9, 0.95, 0.2], &[0.85, 0.99, 0.97]]), 0.8);
        assert_eq!(a.matches, vec![(0, 2)]);
        assert_eq!(a.unmatched_rows, vec![1]);
        assert_eq!(a.unmatched_cols, vec![0, 1]);
    }

    #[test]
    fn empty_matrices() {
        let a = linear_assignment(&CostMatrix::from_fn(3, 0, |_, _| 0.0), 0.5);
        assert_eq!(a, Assignment { matches: vec![], unmatched_rows: vec![0, 1, 2], unmatched_cols: vec![] });
        let a = linear_assignment(&CostMatrix::from_fn(0, 2, |_, _| 0.0), 0.5);
        assert_eq!(a.unmatched_cols, vec![0, 1]);
    }

    #[test]
    fn nan_is_never_matched() {
        let a = linear_assignment(&matrix(&[&[f64::NAN, 0.3]]), 0.5);
        assert_eq!(a.matches, vec![(0, 1)]);
    }

    proptest! {
        #[test]
        fn optimal_and_consistent_against_brute_force(
            rows in 0usize..6,
            cols in 0usize..6,
            // Coarse values make ties and exact-threshold costs common.
            values in proptest::collection::vec(0u8..=20, 36),
            thresh_step in 1u8..20,
        ) {
            let thresh = f64::from(thresh_step) / 20.0;
            let cost = CostMatrix::from_fn(rows, cols, |r, c| f64::from(values[r * 6 + c]) / 20.0);
            let a = linear_assignment(&cost, thresh);
            let mut row_seen = vec![false; rows];
            let mut col_seen = vec![false; cols];
            let mut total = 0.0;
            for &(r, c) in &a.matches {
                prop_assert!(!row_seen[r] && !col_seen[c], "row or column used twice");
                row_seen[r] = true;
                col_seen[c] = true;
                prop_assert!(cost.get(r, c) <= thresh);
                total += cost.get(r, c) - (thresh + CLAMP_EPS);
            }
            prop_assert_eq!(&a.unmatched_rows, &(0..rows).filter(|&r| !row_seen[r]).collect::<Vec<_>>());
            prop_assert_eq!(&a.unmatched_cols, &(0..cols).filter(|&c| !col_seen[c]).collect::<Vec<_>>());
            let best = brute_force(&cost, thresh);
            prop_assert!((total - best).abs() < 1e-9, "total {} but the optimum is {}", total, best);
        }
    }
}
