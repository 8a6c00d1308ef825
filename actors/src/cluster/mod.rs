//! Panoptes across machines: the pure cores of cluster mode (`[cluster]`, `docs/design/cluster.md`).
//!
//! - [`placement`]: which node ingests and which node infers each camera, by capacity.
//! - [`node`]: what a node announces of itself (roles, capacities, the cameras it runs) and when its lease
//!   has lapsed.

pub mod node;
pub mod placement;
