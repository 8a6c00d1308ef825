//! Plane geometry for zones and lines, in normalised picture coordinates (x right, y down, both in [0, 1]):
//! orientation, segment intersection, point-in-polygon with its boundary, simple-polygon checks, and the
//! side of a directed line.
//!
//! Tests for "on a line" use a small absolute tolerance, [`EPS`], suited to coordinates in [0, 1].

/// Absolute tolerance for collinearity and boundary tests, in normalised units.
pub const EPS: f64 = 1e-9;

/// A point in normalised picture coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
    }

    fn dot(self, o: Point) -> f64 {
        self.x * o.x + self.y * o.y
    }

    fn norm(self) -> f64 {
        self.x.hypot(self.y)
    }
}

impl From<[f64; 2]> for Point {
    fn from([x, y]: [f64; 2]) -> Self {
        Point::new(x, y)
    }
}

/// Twice the signed area of triangle `a b c`: the cross product `(b − a) × (c − a)`.
///
/// In picture coordinates (y down) it is positive when `c` lies on the right-hand side of a walker going from
/// `a` to `b` on the picture read as a map (top = north), negative on the left-hand side, 0 on the line.
pub fn cross(a: Point, b: Point, c: Point) -> f64 {
    let (u, v) = (b.sub(a), c.sub(a));
    u.x * v.y - u.y * v.x
}

/// Which side of the directed line `a → b` the point `p` is on: `1` right-hand side, `-1` left-hand side
/// (see [`cross`] for the convention), `0` within [`EPS`] of the line.
pub fn side_of_line(a: Point, b: Point, p: Point) -> i8 {
    let d = signed_distance(a, b, p);
    if d > EPS {
        1
    } else if d < -EPS {
        -1
    } else {
        0
    }
}

/// Distance from `p` to the infinite line through `a` and `b`, signed as [`side_of_line`]; `a ≠ b`.
pub fn signed_distance(a: Point, b: Point, p: Point) -> f64 {
    cross(a, b, p) / b.sub(a).norm()
}

/// Whether `p` lies on the closed segment `a b`, within [`EPS`].
pub fn on_segment(p: Point, a: Point, b: Point) -> bool {
    let ab = b.sub(a);
    let len = ab.norm();
    if len <= EPS {
        return p.sub(a).norm() <= EPS;
    }
    if (cross(a, b, p) / len).abs() > EPS {
        return false;
    }
    let t = p.sub(a).dot(ab);
    t >= -EPS * len && t <= len * len + EPS * len
}

/// Whether the closed segments `p1 p2` and `q1 q2` share a point (touching and collinear overlap included).
pub fn segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool {
    let d1 = orientation(q1, q2, p1);
    let d2 = orientation(q1, q2, p2);
    let d3 = orientation(p1, p2, q1);
    let d4 = orientation(p1, p2, q2);
    if d1 * d2 < 0 && d3 * d4 < 0 {
        return true;
    }
    (d1 == 0 && on_segment(p1, q1, q2))
        || (d2 == 0 && on_segment(p2, q1, q2))
        || (d3 == 0 && on_segment(q1, p1, p2))
        || (d4 == 0 && on_segment(q2, p1, p2))
}

/// Sign of [`cross`] with the distance of `c` from line `a b` compared against [`EPS`].
fn orientation(a: Point, b: Point, c: Point) -> i8 {
    let len = b.sub(a).norm();
    if len <= EPS {
        // A degenerate segment: every point is "on" its line; `on_segment` then decides.
        return 0;
    }
    side_of_line(a, b, c)
}

/// Twice the signed area of a closed polygon (shoelace formula).
pub fn signed_area2(pts: &[Point]) -> f64 {
    let n = pts.len();
    (0..n).map(|i| pts[i].x * pts[(i + 1) % n].y - pts[(i + 1) % n].x * pts[i].y).sum()
}

/// Why a vertex list is not a simple polygon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolygonDefect {
    /// Fewer than 3 vertices.
    TooFewPoints(usize),
    /// Vertex `i` equals the next vertex (`(i + 1) % n`).
    RepeatedPoint(usize),
    /// Edges `i` (vertex `i` → `i + 1`) and `j` cross or touch although they are not neighbours.
    Crossing(usize, usize),
    /// The edges meeting at vertex `i` run back along each other.
    FoldsBack(usize),
    /// All vertices lie on one line.
    ZeroArea,
}

/// The first defect that keeps `pts` from being a simple polygon, or `None` when it is one.
///
/// Checks every pair of non-adjacent edges with [`segments_intersect`] (O(n²), fine for hand-drawn zones),
/// and adjacent edges for folding back over each other.
pub fn polygon_defect(pts: &[Point]) -> Option<PolygonDefect> {
    let n = pts.len();
    if n < 3 {
        return Some(PolygonDefect::TooFewPoints(n));
    }
    let edge = |i: usize| (pts[i], pts[(i + 1) % n]);
    for i in 0..n {
        let (a, b) = edge(i);
        if b.sub(a).norm() <= EPS {
            return Some(PolygonDefect::RepeatedPoint(i));
        }
    }
    for i in 0..n {
        // Edges i-1 and i meet at vertex i: they fold back when collinear and pointing in opposite directions.
        let prev = pts[(i + n - 1) % n];
        let (v, next) = edge(i);
        if orientation(prev, v, next) == 0 && v.sub(prev).dot(next.sub(v)) < 0.0 {
            return Some(PolygonDefect::FoldsBack(i));
        }
    }
    for i in 0..n {
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue; // the closing edge is adjacent to edge 0
            }
            let (a, b) = edge(i);
            let (c, d) = edge(j);
            if segments_intersect(a, b, c, d) {
                return Some(PolygonDefect::Crossing(i, j));
            }
        }
    }
    if signed_area2(pts).abs() <= EPS {
        return Some(PolygonDefect::ZeroArea);
    }
    None
}

/// A simple polygon (checked by [`Polygon::new`]) with its bounding box.
#[derive(Clone, Debug, PartialEq)]
pub struct Polygon {
    pts: Vec<Point>,
    min: Point,
    max: Point,
}

impl Polygon {
    /// The polygon through `pts` in order, or the first defect that makes it unusable as a zone.
    pub fn new(pts: Vec<Point>) -> Result<Self, PolygonDefect> {
        if let Some(defect) = polygon_defect(&pts) {
            return Err(defect);
        }
        let min =
            pts.iter().fold(Point::new(f64::INFINITY, f64::INFINITY), |m, p| Point::new(m.x.min(p.x), m.y.min(p.y)));
        let max = pts
            .iter()
            .fold(Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY), |m, p| Point::new(m.x.max(p.x), m.y.max(p.y)));
        Ok(Self { pts, min, max })
    }

    pub fn points(&self) -> &[Point] {
        &self.pts
    }

    /// Whether `p` is inside the polygon or on its boundary (within [`EPS`]).
    ///
    /// Boundary first, then the even-odd crossing rule with half-open edges (an edge counts when it straddles
    /// the horizontal through `p`, its lower end included and its upper end excluded), so a ray through a
    /// vertex is counted once.
    pub fn contains(&self, p: Point) -> bool {
        if p.x < self.min.x - EPS || p.x > self.max.x + EPS || p.y < self.min.y - EPS || p.y > self.max.y + EPS {
            return false;
        }
        let n = self.pts.len();
        let mut inside = false;
        for i in 0..n {
            let (a, b) = (self.pts[i], self.pts[(i + 1) % n]);
            if on_segment(p, a, b) {
                return true;
            }
            if (a.y > p.y) != (b.y > p.y) {
                let x_at = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
                if p.x < x_at {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pts(v: &[[f64; 2]]) -> Vec<Point> {
        v.iter().copied().map(Point::from).collect()
    }

    fn square() -> Polygon {
        Polygon::new(pts(&[[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]])).unwrap()
    }

    #[test]
    fn square_contains_its_inside_and_its_boundary_only() {
        let sq = square();
        assert!(sq.contains(Point::new(0.5, 0.5)));
        for p in [[0.2, 0.5], [0.8, 0.5], [0.5, 0.2], [0.5, 0.8], [0.2, 0.2], [0.8, 0.8]] {
            assert!(sq.contains(p.into()), "boundary point {p:?} counts as inside");
        }
        for p in [[0.1, 0.5], [0.9, 0.5], [0.5, 0.19], [0.5, 0.81], [0.81, 0.81], [0.0, 0.0]] {
            assert!(!sq.contains(p.into()), "{p:?} is outside");
        }
    }

    #[test]
    fn concave_polygon_and_rays_through_vertices() {
        // A "U": the notch between x 0.4..0.6 above y 0.5 is outside.
        let u = Polygon::new(pts(&[
            [0.2, 0.2],
            [0.4, 0.2],
            [0.4, 0.5],
            [0.6, 0.5],
            [0.6, 0.2],
            [0.8, 0.2],
            [0.8, 0.8],
            [0.2, 0.8],
        ]))
        .unwrap();
        assert!(!u.contains(Point::new(0.5, 0.3)), "in the notch");
        assert!(u.contains(Point::new(0.3, 0.3)) && u.contains(Point::new(0.7, 0.3)));
        assert!(u.contains(Point::new(0.5, 0.6)));
        // The horizontal through y = 0.2 passes along the top edges and through four vertices.
        assert!(!u.contains(Point::new(0.1, 0.2)) && !u.contains(Point::new(0.9, 0.2)));
        assert!(!u.contains(Point::new(0.5, 0.2)), "between the two prongs, on their top line");
        // A diamond: the ray from a point left of it passes exactly through the right vertex.
        let d = Polygon::new(pts(&[[0.5, 0.1], [0.9, 0.5], [0.5, 0.9], [0.1, 0.5]])).unwrap();
        assert!(d.contains(Point::new(0.3, 0.5)) && !d.contains(Point::new(0.05, 0.5)));
        assert!(!d.contains(Point::new(0.95, 0.5)));
    }

    #[test]
    fn bow_tie_is_found_with_its_crossing_edges() {
        // 0 → 1 runs along the top, 1 → 2 diagonally down-left, 2 → 3 along the bottom, 3 → 0 diagonally back.
        let bow = pts(&[[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]]);
        assert_eq!(polygon_defect(&bow), Some(PolygonDefect::Crossing(1, 3)));
        assert_eq!(Polygon::new(bow).unwrap_err(), PolygonDefect::Crossing(1, 3));
    }

    #[test]
    fn other_defects_are_named() {
        assert_eq!(polygon_defect(&pts(&[[0.1, 0.1], [0.5, 0.5]])), Some(PolygonDefect::TooFewPoints(2)));
        assert_eq!(
            polygon_defect(&pts(&[[0.1, 0.1], [0.5, 0.1], [0.5, 0.1], [0.5, 0.5]])),
            Some(PolygonDefect::RepeatedPoint(1))
        );
        // Goes out along y = 0.1 and comes back over itself.
        assert_eq!(
            polygon_defect(&pts(&[[0.1, 0.1], [0.9, 0.1], [0.5, 0.1], [0.5, 0.5]])),
            Some(PolygonDefect::FoldsBack(1))
        );
        // A vertex touching a non-adjacent edge.
        assert_eq!(
            polygon_defect(&pts(&[[0.1, 0.1], [0.9, 0.1], [0.5, 0.5], [0.5, 0.1], [0.1, 0.5]])),
            Some(PolygonDefect::Crossing(0, 2))
        );
        assert_eq!(polygon_defect(&pts(&[[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]])), Some(PolygonDefect::FoldsBack(0)));
    }

    #[test]
    fn segment_intersection_cases() {
        let p = |x, y| Point::new(x, y);
        assert!(segments_intersect(p(0.0, 0.0), p(1.0, 1.0), p(0.0, 1.0), p(1.0, 0.0)), "an X");
        assert!(!segments_intersect(p(0.0, 0.0), p(0.4, 0.4), p(0.0, 1.0), p(1.0, 0.0)), "stops short");
        assert!(segments_intersect(p(0.0, 0.0), p(0.5, 0.5), p(0.0, 1.0), p(1.0, 0.0)), "touches at an end");
        assert!(segments_intersect(p(0.0, 0.0), p(0.6, 0.0), p(0.4, 0.0), p(1.0, 0.0)), "collinear overlap");
        assert!(!segments_intersect(p(0.0, 0.0), p(0.3, 0.0), p(0.4, 0.0), p(1.0, 0.0)), "collinear, apart");
        assert!(!segments_intersect(p(0.0, 0.0), p(1.0, 0.0), p(0.0, 0.1), p(1.0, 0.1)), "parallel");
    }

    #[test]
    fn side_convention_on_the_picture() {
        // A line drawn from the top of the picture to the bottom: a walker faces south, so the right-hand side
        // is west, the left half of the picture.
        let (a, b) = (Point::new(0.5, 0.0), Point::new(0.5, 1.0));
        assert_eq!(side_of_line(a, b, Point::new(0.2, 0.5)), 1);
        assert_eq!(side_of_line(a, b, Point::new(0.8, 0.5)), -1);
        assert_eq!(side_of_line(a, b, Point::new(0.5, 0.3)), 0);
        // Drawn left to right: the walker faces east, the right-hand side is south, the bottom of the picture.
        let (a, b) = (Point::new(0.0, 0.5), Point::new(1.0, 0.5));
        assert_eq!(side_of_line(a, b, Point::new(0.5, 0.9)), 1);
        assert_eq!(side_of_line(a, b, Point::new(0.5, 0.1)), -1);
        assert!((signed_distance(a, b, Point::new(0.3, 0.8)) - 0.3).abs() < 1e-12);
    }

    /// A strictly convex polygon: `n` points on a circle at sorted, well separated angles.
    fn convex(center: (f64, f64), r: f64, mut angles: Vec<f64>) -> Option<Vec<Point>> {
        angles.sort_by(f64::total_cmp);
        let n = angles.len();
        let gaps_ok = (0..n).all(|i| {
            let next = if i + 1 < n { angles[i + 1] } else { angles[0] + std::f64::consts::TAU };
            next - angles[i] > 0.05 && next - angles[i] < std::f64::consts::PI - 0.05
        });
        gaps_ok.then(|| angles.iter().map(|a| Point::new(center.0 + r * a.cos(), center.1 + r * a.sin())).collect())
    }

    /// Reference for convex polygons in counter-clockwise order (positive area): inside iff on the
    /// non-negative side of every edge, by a margin.
    fn half_plane_inside(poly: &[Point], p: Point, margin: f64) -> Option<bool> {
        // With positive shoelace area the inside is on the positive side of every edge (see `cross`).
        let sign = signed_area2(poly).signum();
        let n = poly.len();
        let mut inside = true;
        let mut near = false;
        for i in 0..n {
            let d = sign * signed_distance(poly[i], poly[(i + 1) % n], p);
            if d.abs() < margin {
                near = true;
            }
            if d < 0.0 {
                inside = false;
            }
        }
        (!near).then_some(inside)
    }

    /// Reference for any simple polygon: the winding number (a different algorithm from the crossing rule).
    fn winding_number(poly: &[Point], p: Point) -> i32 {
        let n = poly.len();
        let mut wn = 0;
        for i in 0..n {
            let (a, b) = (poly[i], poly[(i + 1) % n]);
            if a.y <= p.y {
                if b.y > p.y && cross(a, b, p) > 0.0 {
                    wn += 1;
                }
            } else if b.y <= p.y && cross(a, b, p) < 0.0 {
                wn -= 1;
            }
        }
        wn
    }

    fn min_edge_distance(poly: &[Point], p: Point) -> f64 {
        let n = poly.len();
        (0..n)
            .map(|i| {
                let (a, b) = (poly[i], poly[(i + 1) % n]);
                let ab = b.sub(a);
                let t = (p.sub(a).dot(ab) / ab.dot(ab)).clamp(0.0, 1.0);
                p.sub(Point::new(a.x + t * ab.x, a.y + t * ab.y)).norm()
            })
            .fold(f64::INFINITY, f64::min)
    }

    proptest! {
        #[test]
        fn convex_point_in_polygon_matches_half_planes(
            cx in 0.3f64..0.7, cy in 0.3f64..0.7, r in 0.05f64..0.3,
            angles in proptest::collection::vec(0.0f64..std::f64::consts::TAU, 3..10),
            reverse in any::<bool>(),
            probes in proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0), 20),
        ) {
            let Some(mut poly) = convex((cx, cy), r, angles) else { return Ok(()) };
            if reverse { poly.reverse(); }
            let polygon = Polygon::new(poly.clone()).expect("a strictly convex polygon is simple");
            for (x, y) in probes {
                let p = Point::new(x, y);
                if let Some(expected) = half_plane_inside(&poly, p, 1e-7) {
                    prop_assert_eq!(polygon.contains(p), expected, "probe {:?}", p);
                }
            }
            for v in &poly {
                prop_assert!(polygon.contains(*v), "vertex {:?} is on the boundary", v);
            }
        }

        #[test]
        fn star_shaped_point_in_polygon_matches_winding_number(
            radii in proptest::collection::vec(0.05f64..0.45, 3..14),
            probes in proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0), 30),
        ) {
            // Vertices at evenly spaced angles with random radii around the centre: always simple.
            let n = radii.len();
            let poly: Vec<Point> = radii.iter().enumerate().map(|(i, r)| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                Point::new(0.5 + r * a.cos(), 0.5 + r * a.sin())
            }).collect();
            let polygon = Polygon::new(poly.clone()).expect("a star-shaped polygon is simple");
            for (x, y) in probes {
                let p = Point::new(x, y);
                if min_edge_distance(&poly, p) > 1e-7 {
                    prop_assert_eq!(polygon.contains(p), winding_number(&poly, p) != 0, "probe {:?}", p);
                }
            }
        }

        #[test]
        fn convex_order_is_simple_and_a_swap_is_not(
            angles in proptest::collection::vec(0.0f64..std::f64::consts::TAU, 4..10),
            k in 0usize..10,
        ) {
            // Points in convex position form a simple polygon only in their hull order; swapping two
            // neighbours gives another order, which must cross itself.
            let Some(mut poly) = convex((0.5, 0.5), 0.4, angles) else { return Ok(()) };
            prop_assert_eq!(polygon_defect(&poly), None);
            let n = poly.len();
            let i = k % n;
            poly.swap(i, (i + 1) % n);
            prop_assert!(matches!(polygon_defect(&poly), Some(PolygonDefect::Crossing(_, _))), "{:?}", poly);
        }
    }
}
