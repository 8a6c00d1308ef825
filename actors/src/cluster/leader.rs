//! Who plans the cluster, and which plan a node obeys.
//!
//! One node leads: it holds the `leader` key of the placement bucket. The key is taken with the bucket's
//! compare-and-set only: created when absent, or replaced, expecting the revision read, when its holder's
//! lease has lapsed (see [`super::node::Liveness`]). Two nodes racing for it cannot both win: the second
//! write expects a revision that is gone. The revision at which a node took the key is its **term**.
//!
//! The leader writes each [`PlanRecord`] with its term. Every node keeps the highest term it has seen in a
//! [`Fence`] and ignores plans of lower terms: a deposed leader that has not noticed yet (stalled, or cut off
//! from the server for a while) cannot move cameras once its successor's plan has been seen. The leader also
//! writes the plan key expecting the revision it last saw, so it never overwrites a plan it has not read.

use super::placement::Assignment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The value of the `leader` key (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeaderRecord {
    pub node: String,
}

/// The `leader` key as last read: its holder and the key's revision.
#[derive(Clone, Debug, PartialEq)]
pub struct Held {
    pub node: String,
    pub revision: u64,
}

/// What a node does about the leadership on one tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nobody holds the key: create it (fails when another node created it first).
    Create,
    /// The holder's lease has lapsed: replace the key expecting `expected` (fails when anyone wrote it since).
    Claim { expected: u64 },
    /// This node holds the key: plan, under term `term`.
    Lead { term: u64 },
    /// Another node leads, or this node has not watched the cluster for a lease yet and cannot judge.
    Follow,
}

/// The step of node `me`, given the key as read (`None`: absent), whether its holder is alive, and whether
/// `me`'s view of the node records is fresh: it has watched them for a whole lease and sees its own latest
/// renewals there. Only a fresh view may judge: until a node has watched a lease, every other node looks
/// lapsed to it (records replayed at start count as a lease old); and when its watch of the records has
/// stopped delivering (a NATS server lost, the watch not yet re-made), every node looks lapsed to it, its own
/// included. With a stale view a node neither takes the key from another node nor plans, even when it holds
/// the key: two nodes with stale views would otherwise take the key from each other on every tick.
pub fn step(me: &str, held: Option<&Held>, holder_alive: bool, fresh_view: bool) -> Step {
    match held {
        None => Step::Create,
        Some(h) if h.node == me && fresh_view => Step::Lead { term: h.revision },
        Some(h) if h.node != me && !holder_alive && fresh_view => Step::Claim { expected: h.revision },
        Some(_) => Step::Follow,
    }
}

/// The placement the leader publishes (JSON, the `plan` key).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanRecord {
    /// The leader's term: the revision at which it took the `leader` key.
    pub term: u64,
    pub leader: String,
    /// Camera id → the nodes that run it.
    pub assignments: BTreeMap<String, Assignment>,
    /// Camera id → why it runs nowhere.
    pub unplaced: BTreeMap<String, String>,
}

/// What a node runs of a camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Both halves: ingest, record and analyse.
    Whole,
    /// Ingest and record, and publish the camera's video to its inference node.
    Ingest,
    /// Analyse the video its ingest node publishes.
    Infer,
}

impl PlanRecord {
    /// The cameras `node` runs under this plan, and which part of each.
    pub fn share_of(&self, node: &str) -> Vec<(String, Part)> {
        self.assignments
            .iter()
            .filter_map(|(c, a)| {
                let part = match (a.ingest == node, a.infer == node) {
                    (true, true) => Part::Whole,
                    (true, false) => Part::Ingest,
                    (false, true) => Part::Infer,
                    (false, false) => return None,
                };
                Some((c.clone(), part))
            })
            .collect()
    }
}

/// The highest term a node has seen: plans of lower terms are stale.
#[derive(Debug, Default)]
pub struct Fence {
    highest: u64,
}

impl Fence {
    /// Whether a plan of `term` may be obeyed; raises the fence to it.
    pub fn admit(&mut self, term: u64) -> bool {
        if term < self.highest {
            return false;
        }
        self.highest = term;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(node: &str, revision: u64) -> Held {
        Held { node: node.into(), revision }
    }

    #[test]
    fn the_key_is_created_kept_and_claimed_only_from_a_lapsed_holder() {
        assert_eq!(step("a", None, false, false), Step::Create, "an empty bucket is taken at once");
        assert_eq!(step("a", Some(&held("a", 7)), true, true), Step::Lead { term: 7 });
        assert_eq!(
            step("a", Some(&held("a", 7)), true, false),
            Step::Follow,
            "just started holding the key: no plan before the others' renewals are seen"
        );
        assert_eq!(step("a", Some(&held("b", 7)), true, true), Step::Follow, "b is alive");
        assert_eq!(step("a", Some(&held("b", 7)), false, true), Step::Claim { expected: 7 });
        assert_eq!(
            step("a", Some(&held("b", 7)), false, false),
            Step::Follow,
            "just started, or this node's watch of the records stopped: b only looks lapsed"
        );
    }

    #[test]
    fn two_nodes_whose_views_went_stale_leave_the_key_where_it_is() {
        // Both watches of the node records stopped (a NATS server lost): each sees the other lapsed, and its
        // own record too. Neither view is fresh, so neither takes the key; the holder stops planning.
        assert_eq!(step("a", Some(&held("b", 7)), false, false), Step::Follow);
        assert_eq!(step("b", Some(&held("b", 7)), false, false), Step::Follow);
    }

    #[test]
    fn a_deposed_leaders_plans_are_fenced_off() {
        let mut f = Fence::default();
        assert!(f.admit(3));
        assert!(f.admit(3), "the same leader's next plan");
        assert!(f.admit(9), "a successor");
        assert!(!f.admit(3), "the old leader, still writing");
        assert!(f.admit(9));
    }

    #[test]
    fn a_node_runs_its_part_of_each_camera_assigned_to_it() {
        let a = |i: &str, f: &str| Assignment { ingest: i.into(), infer: f.into() };
        let plan = PlanRecord {
            term: 1,
            leader: "a".into(),
            assignments: [
                ("dock".to_string(), a("b", "b")),
                ("gate".to_string(), a("a", "a")),
                ("lobby".to_string(), a("b", "a")),
                ("yard".to_string(), a("a", "c")),
            ]
            .into(),
            unplaced: BTreeMap::new(),
        };
        let share = |n: &str| plan.share_of(n).into_iter().collect::<Vec<_>>();
        assert_eq!(
            share("a"),
            [("gate".into(), Part::Whole), ("lobby".into(), Part::Infer), ("yard".into(), Part::Ingest)]
        );
        assert_eq!(share("c"), [("yard".into(), Part::Infer)]);
        assert!(share("d").is_empty());
    }
}
