//! Analytics rules: one [`RuleActor`] per camera turns tracked frames into events (intrusion, loitering,
//! occupancy, line crossing) for the event store.
//!
//! - geometry (point-in-polygon, segment intersection, simple polygons, side of a line) is [`crate::geometry::plane`].
//! - [`spec`]: checks a camera's `zones`, `lines` and `rules` config into [`spec::RuleSpec`]s; a bad rule is
//!   disabled on its own, with the reason, never the camera.
//! - [`engine`]: [`RuleEngine`], the pure core: frames in, [`Event`](crate::messages::Event)s out, on stream time.
//! - `presence` (intrusion, loitering), `occupancy`, `line_crossing`: the state machine of each kind.
//! - `continuity`: joins the fragments of one object's track (a lost track and its successor), so that
//!   presence and line rules raise one event per object, listing every track id it spans.
//!
//! The semantics of each kind, with configuration examples, are in `docs/rules.md`.

mod continuity;
pub mod engine;
mod line_crossing;
mod occupancy;
mod presence;
pub mod spec;
#[cfg(test)]
mod tests;

pub use engine::{FrameInput, LiveState, RuleEngine, RuleStatus, ZoneState};
pub use spec::{DisabledRule, RulesConfig};

use crate::messages::{CameraId, NewEvent, TrackedFrame};
use actix::{Actor, Context, Handler, Message, Recipient};
use std::sync::Arc;

/// Runs one camera's rules: [`TrackedFrame`]s in, [`NewEvent`]s out to the event store.
pub struct RuleActor {
    engine: RuleEngine,
    events: Recipient<NewEvent>,
}

impl RuleActor {
    /// The rules of `config` for `camera`, checked against the model's `labels`. Rules that cannot run are
    /// logged and reported by [`GetRuleStatus`]; the others run.
    pub fn new(camera: CameraId, config: &RulesConfig, labels: Arc<[String]>, events: Recipient<NewEvent>) -> Self {
        let (engine, _disabled) = RuleEngine::new(&camera, config, labels);
        Self { engine, events }
    }
}

impl Actor for RuleActor {
    type Context = Context<Self>;

    /// The camera is gone (its tracker stopped): end its open events so the store does not keep them open.
    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        for event in self.engine.finish("camera_stopped") {
            self.events.do_send(NewEvent { event, picture: None });
        }
    }
}

impl Handler<TrackedFrame> for RuleActor {
    type Result = ();

    fn handle(&mut self, frame: TrackedFrame, _ctx: &mut Context<Self>) {
        for event in self.engine.update(&FrameInput::from(&frame)) {
            self.events.do_send(NewEvent { event, picture: frame.input.clone() });
        }
    }
}

/// Replace a camera's zones, lines and rules without a restart. Answers the rules that do not run, with reasons.
/// Open events of changed or removed rules end (sent to the store, without a picture).
#[derive(Message, Debug, Clone)]
#[rtype(result = "Vec<DisabledRule>")]
pub struct UpdateRules(pub RulesConfig);

/// Answered once every frame sent before it has been evaluated (and its events sent to the store).
impl Handler<crate::messages::Flush> for RuleActor {
    type Result = ();

    fn handle(&mut self, _msg: crate::messages::Flush, _ctx: &mut Context<Self>) {}
}

impl Handler<UpdateRules> for RuleActor {
    type Result = Vec<DisabledRule>;

    fn handle(&mut self, msg: UpdateRules, _ctx: &mut Context<Self>) -> Vec<DisabledRule> {
        let (disabled, ended) = self.engine.replace_config(&msg.0);
        for event in ended {
            self.events.do_send(NewEvent { event, picture: None });
        }
        disabled
    }
}

/// The camera's running rules and the disabled ones with their reasons.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "RuleStatus")]
pub struct GetRuleStatus;

impl Handler<GetRuleStatus> for RuleActor {
    type Result = actix::MessageResult<GetRuleStatus>;

    fn handle(&mut self, _msg: GetRuleStatus, _ctx: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.engine.status())
    }
}

/// The camera's zone rules as they stand on the last frame (counts, open events), for integrations.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "LiveState")]
pub struct GetLiveState;

impl Handler<GetLiveState> for RuleActor {
    type Result = actix::MessageResult<GetLiveState>;

    fn handle(&mut self, _msg: GetLiveState, _ctx: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.engine.live())
    }
}
