//! The allocator actor: places each camera on a device's batcher and moves cameras between devices
//! to keep them evenly loaded. The decisions are made by the pure [`plan`] module; this actor only
//! applies them: register the camera's route at the new batcher, tell the camera where to send
//! frames, unregister it at the old one. A camera's tracker is not touched by a move, so its track
//! ids survive it.

pub mod plan;

use crate::batcher::{BatcherActor, RegisterCamera, Route, UnregisterCamera};
use crate::messages::{CameraId, Place, Placement};
use crate::status::StatusBoard;
use actix::prelude::*;
use plan::DeviceLoad;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A device the allocator can place cameras on.
#[derive(Clone)]
pub struct Device {
    pub id: Arc<str>,
    pub batcher: Addr<BatcherActor>,
    pub input_size: (u32, u32),
    pub capacity_fps: f32,
}

/// Place a camera (it starts receiving `Place` messages). Returns the chosen device id.
#[derive(Message)]
#[rtype(result = "Result<String, AllocError>")]
pub struct AddCamera {
    pub camera: CameraId,
    pub place: Recipient<Place>,
    pub route: Route,
    pub detect_fps: f32,
}

/// Take a camera off its device.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveCamera(pub CameraId);

/// Even out the load now; returns the moves made.
#[derive(Message)]
#[rtype(result = "Vec<plan::Move>")]
pub struct Rebalance;

/// Camera id → device id.
#[derive(Message)]
#[rtype(result = "HashMap<String, String>")]
pub struct GetPlacements;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AllocError {
    #[error("no inference device is configured; add a [[devices]] entry")]
    NoDevice,
}

struct CameraEntry {
    place: Recipient<Place>,
    route: Route,
    device: usize,
}

pub struct AllocatorActor {
    devices: Vec<Device>,
    loads: Vec<DeviceLoad>,
    cameras: HashMap<CameraId, CameraEntry>,
    status: StatusBoard,
    rebalance_every: Duration,
}

impl AllocatorActor {
    pub fn new(devices: Vec<Device>, status: StatusBoard, rebalance_every: Duration) -> Self {
        let loads = devices.iter().map(|d| DeviceLoad::new(d.id.to_string(), d.capacity_fps)).collect();
        Self { devices, loads, cameras: HashMap::new(), status, rebalance_every }
    }

    fn attach(&self, camera: &CameraId, entry: &CameraEntry) {
        let device = &self.devices[entry.device];
        device.batcher.do_send(RegisterCamera { camera: camera.clone(), route: entry.route.clone() });
        let placement = Placement {
            device: device.id.clone(),
            sink: device.batcher.clone().recipient(),
            input_size: device.input_size,
        };
        entry.place.do_send(Place(Some(placement)));
        if let Some(mut s) = self.status.get_mut(camera) {
            s.device = Some(device.id.to_string());
        }
    }

    fn rebalance(&mut self) -> Vec<plan::Move> {
        let moves = plan::rebalance(&mut self.loads, 0.05, 4);
        for mv in &moves {
            let Some(camera) = self.cameras.get_key_value(mv.camera.as_str()).map(|(k, _)| k.clone()) else { continue };
            let Some(to) = self.devices.iter().position(|d| *d.id == *mv.to) else { continue };
            let Some(entry) = self.cameras.get_mut(&camera) else { continue };
            let from = std::mem::replace(&mut entry.device, to);
            // Point the camera at the new device before the old one forgets it, so no frame is unroutable.
            let entry = &self.cameras[&camera];
            self.attach(&camera, entry);
            self.devices[from].batcher.do_send(UnregisterCamera(camera.clone()));
            tracing::info!(camera = %camera, from = %mv.from, to = %mv.to, "camera moved to even out device load");
        }
        moves
    }
}

impl Actor for AllocatorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.devices.len() > 1 && !self.rebalance_every.is_zero() {
            ctx.run_interval(self.rebalance_every, |act, _| {
                act.rebalance();
            });
        }
    }
}

impl Handler<AddCamera> for AllocatorActor {
    type Result = Result<String, AllocError>;

    fn handle(&mut self, msg: AddCamera, _ctx: &mut Context<Self>) -> Self::Result {
        if let Some(old) = self.cameras.remove(&msg.camera) {
            self.loads[old.device].cameras.remove(&*msg.camera);
            self.devices[old.device].batcher.do_send(UnregisterCamera(msg.camera.clone()));
        }
        let device = plan::place(&self.loads, msg.detect_fps).ok_or(AllocError::NoDevice)?;
        self.loads[device].cameras.insert(msg.camera.to_string(), msg.detect_fps);
        let entry = CameraEntry { place: msg.place, route: msg.route, device };
        self.attach(&msg.camera, &entry);
        self.cameras.insert(msg.camera, entry);
        Ok(self.devices[device].id.to_string())
    }
}

impl Handler<RemoveCamera> for AllocatorActor {
    type Result = ();

    fn handle(&mut self, RemoveCamera(camera): RemoveCamera, _ctx: &mut Context<Self>) {
        if let Some(entry) = self.cameras.remove(&camera) {
            self.loads[entry.device].cameras.remove(&*camera);
            self.devices[entry.device].batcher.do_send(UnregisterCamera(camera.clone()));
            entry.place.do_send(Place(None));
        }
    }
}

impl Handler<Rebalance> for AllocatorActor {
    type Result = MessageResult<Rebalance>;

    fn handle(&mut self, _: Rebalance, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.rebalance())
    }
}

impl Handler<GetPlacements> for AllocatorActor {
    type Result = MessageResult<GetPlacements>;

    fn handle(&mut self, _: GetPlacements, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.cameras.iter().map(|(c, e)| (c.to_string(), self.devices[e.device].id.to_string())).collect(),
        )
    }
}
