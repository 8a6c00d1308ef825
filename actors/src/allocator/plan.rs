//! Placement maths, free of actors: which device a camera goes to, and which cameras to move so that
//! no device is loaded much more than the others.
//!
//! Load is measured in inferred frames per second: a camera asks for its `detect_fps`, a device
//! offers its `capacity_fps`. A device's utilisation is demand / capacity; devices may be
//! oversubscribed (the batcher then drops the oldest frames per camera), but placement and
//! rebalancing keep utilisation as even as possible.

use std::collections::BTreeMap;

/// A device as the planner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceLoad {
    pub id: String,
    pub capacity_fps: f32,
    /// Camera id → demanded fps, for the cameras on this device.
    pub cameras: BTreeMap<String, f32>,
}

impl DeviceLoad {
    pub fn new(id: impl Into<String>, capacity_fps: f32) -> Self {
        Self { id: id.into(), capacity_fps, cameras: BTreeMap::new() }
    }

    pub fn demand(&self) -> f32 {
        self.cameras.values().sum()
    }

    pub fn utilisation(&self) -> f32 {
        self.demand() / self.capacity_fps
    }
}

/// Move camera `camera` from device `from` to device `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub camera: String,
    pub from: String,
    pub to: String,
}

/// The device to place a new camera demanding `fps` on: the one whose utilisation after adding it is
/// lowest (ties: the first listed). `None` when there are no devices.
pub fn place(devices: &[DeviceLoad], fps: f32) -> Option<usize> {
    devices
        .iter()
        .enumerate()
        .map(|(i, d)| (i, (d.demand() + fps) / d.capacity_fps))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// Moves that even out utilisation: repeatedly move a camera from the most to the least utilised
/// device while that lowers the higher of the two utilisations by more than `min_gain`. At most
/// `max_moves` moves (each move costs a camera a few frames). Applies the moves to `devices`.
pub fn rebalance(devices: &mut [DeviceLoad], min_gain: f32, max_moves: usize) -> Vec<Move> {
    let mut moves = Vec::new();
    while moves.len() < max_moves && devices.len() > 1 {
        let by_util =
            |a: &(usize, &DeviceLoad), b: &(usize, &DeviceLoad)| a.1.utilisation().total_cmp(&b.1.utilisation());
        let (hi, _) = devices.iter().enumerate().max_by(by_util).expect("non-empty");
        let (lo, _) = devices.iter().enumerate().min_by(by_util).expect("non-empty");
        if hi == lo {
            break;
        }
        let before = devices[hi].utilisation();
        // The camera whose move leaves the lower maximum utilisation of the pair.
        let best = devices[hi]
            .cameras
            .iter()
            .map(|(cam, &fps)| {
                let hi_after = (devices[hi].demand() - fps) / devices[hi].capacity_fps;
                let lo_after = (devices[lo].demand() + fps) / devices[lo].capacity_fps;
                (cam.clone(), fps, hi_after.max(lo_after))
            })
            .min_by(|a, b| a.2.total_cmp(&b.2));
        let Some((camera, fps, after)) = best else { break };
        if before - after <= min_gain {
            break;
        }
        devices[hi].cameras.remove(&camera);
        devices[lo].cameras.insert(camera.clone(), fps);
        moves.push(Move { camera, from: devices[hi].id.clone(), to: devices[lo].id.clone() });
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn device(id: &str, cap: f32, cams: &[(&str, f32)]) -> DeviceLoad {
        let mut d = DeviceLoad::new(id, cap);
        d.cameras.extend(cams.iter().map(|(c, f)| (c.to_string(), *f)));
        d
    }

    #[test]
    fn places_on_the_least_utilised_device_after_adding() {
        let devs = [device("big", 100.0, &[("a", 40.0)]), device("small", 10.0, &[])];
        // big: (40+5)/100 = 0.45; small: 5/10 = 0.5
        assert_eq!(place(&devs, 5.0), Some(0));
        assert_eq!(place(&devs[1..], 5.0), Some(0));
        assert_eq!(place(&[], 5.0), None);
    }

    #[test]
    fn rebalances_a_lopsided_placement() {
        let mut devs = [device("g0", 20.0, &[("a", 5.0), ("b", 5.0), ("c", 5.0), ("d", 5.0)]), device("g1", 20.0, &[])];
        let moves = rebalance(&mut devs, 0.01, 10);
        assert_eq!(moves.len(), 2);
        assert_eq!(devs[0].demand(), 10.0);
        assert_eq!(devs[1].demand(), 10.0);
        assert!(rebalance(&mut devs, 0.01, 10).is_empty(), "a balanced placement stays put");
    }

    proptest! {
        /// Rebalancing never loses or duplicates a camera and never raises the maximum utilisation.
        #[test]
        fn rebalance_conserves_cameras_and_never_worsens(
            caps in proptest::collection::vec(1.0f32..50.0, 1..5),
            cams in proptest::collection::vec((0usize..5, 0.5f32..15.0), 0..20),
        ) {
            let mut devs: Vec<DeviceLoad> = caps.iter().enumerate().map(|(i, c)| DeviceLoad::new(format!("d{i}"), *c)).collect();
            for (i, (d, fps)) in cams.iter().enumerate() {
                let n = devs.len();
                devs[d % n].cameras.insert(format!("c{i}"), *fps);
            }
            let max_before = devs.iter().map(DeviceLoad::utilisation).fold(0.0f32, f32::max);
            let total_before: usize = devs.iter().map(|d| d.cameras.len()).sum();
            rebalance(&mut devs, 0.001, 100);
            let max_after = devs.iter().map(DeviceLoad::utilisation).fold(0.0f32, f32::max);
            let total_after: usize = devs.iter().map(|d| d.cameras.len()).sum();
            prop_assert_eq!(total_before, total_after);
            prop_assert!(max_after <= max_before + 1e-4);
        }
    }
}
