//! Panoptes across machines: the pure cores of cluster mode (`[cluster]`, `docs/design/cluster.md`).
//!
//! - [`placement`]: which node ingests and which node infers each camera, by capacity.
//! - [`leader`]: which node plans (compare-and-set on a key) and which plan a node obeys (the fence).
//! - [`wire`]: access units as the ingest node of a camera publishes them to its inference node.
//! - [`node`]: what a node announces of itself (roles, capacities, the cameras it runs) and when its lease
//!   has lapsed.

pub mod leader;
pub mod node;
pub mod placement;
pub mod wire;
