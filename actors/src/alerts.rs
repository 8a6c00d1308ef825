//! The alert channel: every stored event, announced after it commits, fanned out to the WebSocket clients
//! of `GET /ws/alerts`, with resume from the last id a client saw.
//!
//! # Fan-out
//! Like the overlay [`hub`](crate::hub): an event is serialised once; each client has a bounded queue; a
//! full queue drops the message for that client and counts it; a closed queue unsubscribes the client.
//!
//! # Resume without gaps or duplicates
//! Events are committed by one writer and announced in commit order, so announced ids only increase, and an
//! announced event is always already in the store. An [`AlertCursor`] turns a client's live queue plus the
//! store into one gap-free, duplicate-free stream in id order:
//!
//! 1. Subscribe to the live feed first; the hub answers with `head`, the newest id announced so far. Every
//!    event announced after that goes into the client's live queue (or is dropped, see 3).
//! 2. With `after = A`, read the store for ids above `A` page by page (everything announced up to `head`
//!    is there, and maybe more), delivering each and remembering the last id delivered. Without `after`,
//!    start from `head`: only new events.
//! 3. Then take live events, skipping any id not above the last delivered (the backlog may already have
//!    read it). When the hub drops an event because the client's queue is full, it raises the client's
//!    *lagged* flag (and wakes it) before it sends anything newer, so the cursor sees the flag before any
//!    later event and reads the store again from its last id: the dropped event is there, since it was
//!    committed before it was announced. A slow client so never loses an event; it catches up from disk.

use crate::config::StoreConfig;
use crate::metric_names as m;
use crate::store::actor::{Announce, EventsAfter, StoreHandle, StoreReader};
use crate::store::{StoreError, StoredEvent};
use actix::prelude::*;
use futures::future::LocalBoxFuture;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Notify, mpsc};

/// Messages per client that may wait before newer ones are dropped (and read again from the store).
pub const CLIENT_QUEUE: usize = 64;
/// Events read from the store per backlog query.
pub const BACKLOG_PAGE: usize = 256;

/// One announced event: its id, camera and JSON line (serialised once for every client).
#[derive(Debug)]
pub struct Alert {
    pub id: i64,
    pub camera: String,
    pub json: Arc<str>,
}

impl Alert {
    pub fn from_stored(e: &StoredEvent) -> Self {
        Self { id: e.id, camera: e.event.camera.clone(), json: e.to_json().into() }
    }
}

/// A client fell behind: set by the hub when it drops a message, read and cleared by the cursor.
#[derive(Debug, Default)]
pub struct Lag {
    flag: AtomicBool,
    wake: Notify,
}

impl Lag {
    fn raise(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    fn take(&self) -> bool {
        self.flag.swap(false, Ordering::SeqCst)
    }
}

/// A client's live subscription: its queue, its lag flag, and the newest id announced when it subscribed.
#[derive(Debug)]
pub struct LiveFeed {
    pub rx: mpsc::Receiver<Arc<Alert>>,
    pub lag: Arc<Lag>,
    pub head: i64,
}

struct Subscriber {
    camera: Option<String>,
    tx: mpsc::Sender<Arc<Alert>>,
    lag: Arc<Lag>,
}

/// What one publish did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Published {
    pub delivered: usize,
    pub dropped: usize,
    pub closed: usize,
}

/// The pure fan-out core of the [`AlertHub`].
pub struct Fanout {
    capacity: usize,
    next_id: u64,
    head: i64,
    subscribers: HashMap<u64, Subscriber>,
}

impl Fanout {
    /// A fan-out whose clients' queues hold `capacity` messages.
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), next_id: 0, head: 0, subscribers: HashMap::new() }
    }

    /// Start a client's live feed (of one camera, or all).
    pub fn subscribe(&mut self, camera: Option<String>) -> (u64, LiveFeed) {
        let (tx, rx) = mpsc::channel(self.capacity);
        let lag = Arc::new(Lag::default());
        self.next_id += 1;
        self.subscribers.insert(self.next_id, Subscriber { camera, tx, lag: lag.clone() });
        (self.next_id, LiveFeed { rx, lag, head: self.head })
    }

    pub fn unsubscribe(&mut self, id: u64) {
        self.subscribers.remove(&id);
    }

    pub fn clients(&self) -> usize {
        self.subscribers.len()
    }

    /// The newest id published.
    pub fn head(&self) -> i64 {
        self.head
    }

    /// Send an event to every interested client. Ids must increase (the writer commits in order).
    pub fn publish(&mut self, alert: Arc<Alert>) -> Published {
        debug_assert!(alert.id > self.head, "alerts are announced in id order");
        self.head = self.head.max(alert.id);
        let mut out = Published::default();
        self.subscribers.retain(|_, s| {
            if s.camera.as_ref().is_some_and(|c| *c != alert.camera) {
                return true;
            }
            match s.tx.try_send(alert.clone()) {
                Ok(()) => {
                    out.delivered += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    s.lag.raise();
                    out.dropped += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    out.closed += 1;
                    false
                }
            }
        });
        out
    }
}

/// Reads what a resuming client missed: events above an id, in id order.
pub trait Backlog {
    fn after<'a>(
        &'a self,
        after_id: i64,
        camera: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<Vec<StoredEvent>, StoreError>>;
}

/// One client's gap-free, duplicate-free stream of alerts: backlog from the store, then live.
/// Cancel-safe: a `next` future dropped midway loses nothing.
pub struct AlertCursor {
    live: LiveFeed,
    camera: Option<String>,
    last: i64,
    catch_up: bool,
    pending: VecDeque<Arc<Alert>>,
}

impl AlertCursor {
    /// Resume after id `after` (events above it, then live), or with `None` take only events announced from now.
    /// An `after` beyond the newest announced id counts as the newest.
    pub fn new(live: LiveFeed, camera: Option<String>, after: Option<i64>) -> Self {
        let (last, catch_up) = match after {
            Some(a) => (a.min(live.head), true),
            None => (live.head, false),
        };
        Self { live, camera, last, catch_up, pending: VecDeque::new() }
    }

    /// The last id delivered (or the starting point).
    pub fn last_id(&self) -> i64 {
        self.last
    }

    /// The next alert; `Ok(None)` when the hub has gone.
    pub async fn next(&mut self, backlog: &dyn Backlog) -> Result<Option<Arc<Alert>>, StoreError> {
        loop {
            if let Some(a) = self.pending.pop_front() {
                if a.id > self.last {
                    self.last = a.id;
                    return Ok(Some(a));
                }
                continue;
            }
            if self.catch_up {
                let page = backlog.after(self.last, self.camera.as_deref(), BACKLOG_PAGE).await?;
                self.catch_up = page.len() >= BACKLOG_PAGE;
                self.pending.extend(page.iter().map(|e| Arc::new(Alert::from_stored(e))));
                continue;
            }
            tokio::select! {
                biased;
                _ = self.live.lag.wake.notified() => {
                    if self.live.lag.take() {
                        self.catch_up = true;
                    }
                }
                msg = self.live.rx.recv() => match msg {
                    None => return Ok(None),
                    // An event was dropped before this one: read the store from the last id instead.
                    Some(_) if self.live.lag.take() => self.catch_up = true,
                    Some(a) if a.id > self.last => {
                        self.last = a.id;
                        return Ok(Some(a));
                    }
                    Some(_) => {}
                },
            }
        }
    }
}

/// Subscribe to the alerts of one camera (or all). Returns the subscription id and the live feed.
#[derive(Message)]
#[rtype(result = "(u64, LiveFeed)")]
pub struct Subscribe {
    pub camera: Option<String>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe(pub u64);

/// The alert hub actor around [`Fanout`].
pub struct AlertHub {
    fanout: Fanout,
}

impl Default for AlertHub {
    fn default() -> Self {
        Self { fanout: Fanout::new(CLIENT_QUEUE) }
    }
}

impl AlertHub {
    /// A hub whose newest announced id starts at `head` (the store's highest id at start-up).
    pub fn new(head: i64) -> Self {
        let mut fanout = Fanout::new(CLIENT_QUEUE);
        fanout.head = head;
        Self { fanout }
    }

    fn set_clients_gauge(&self) {
        metrics::gauge!(m::ALERT_CLIENTS).set(self.fanout.clients() as f64);
    }
}

impl Actor for AlertHub {
    type Context = Context<Self>;
}

impl Handler<Announce> for AlertHub {
    type Result = ();

    fn handle(&mut self, Announce(event): Announce, _ctx: &mut Context<Self>) {
        let alert = Arc::new(Alert::from_stored(&event));
        let out = self.fanout.publish(alert);
        if out.dropped > 0 {
            metrics::counter!(m::ALERTS_DROPPED, "camera" => event.event.camera.clone()).increment(out.dropped as u64);
        }
        if out.closed > 0 {
            self.set_clients_gauge();
        }
    }
}

impl Handler<Subscribe> for AlertHub {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Context<Self>) -> Self::Result {
        let sub = self.fanout.subscribe(msg.camera);
        self.set_clients_gauge();
        MessageResult(sub)
    }
}

impl Handler<Unsubscribe> for AlertHub {
    type Result = ();

    fn handle(&mut self, Unsubscribe(id): Unsubscribe, _ctx: &mut Context<Self>) {
        self.fanout.unsubscribe(id);
        self.set_clients_gauge();
    }
}

/// Open the event store and start it with an alert hub that tells the clients of every event it commits.
/// Must be called inside a running actix `System`.
pub fn start_with_store(config: &StoreConfig) -> Result<(StoreHandle, Addr<AlertHub>), StoreError> {
    let opened = crate::store::actor::open(config)?;
    let hub = AlertHub::new(opened.head()).start();
    Ok((opened.start(hub.clone().recipient()), hub))
}

impl Backlog for Addr<StoreReader> {
    fn after<'a>(
        &'a self,
        after_id: i64,
        camera: Option<&'a str>,
        limit: usize,
    ) -> LocalBoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        let msg = EventsAfter { after_id, camera: camera.map(str::to_owned), limit };
        Box::pin(async move { self.send(msg).await.map_err(|_| StoreError::Gone)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Event, EventKind, EventState};
    use crate::time::Pts;
    use futures::FutureExt;
    use proptest::prelude::*;
    use std::sync::Mutex;

    fn stored(id: i64, camera: &str) -> StoredEvent {
        StoredEvent {
            origin: None,
            id,
            event: Event {
                camera: camera.into(),
                rule: "r".into(),
                kind: EventKind::Intrusion,
                state: EventState::Start,
                track_id: Some(1),
                class: None,
                confidence: None,
                pts: Pts::new(id, 90_000),
                end_pts: None,
                wall_ms: crate::time::WallTime::from_unix_ms(id),
                bbox: None,
                details: serde_json::json!({}),
            },
            snapshot: None,
            acknowledged: false,
            created_ms: 0,
        }
    }

    /// The store as a list of committed events.
    #[derive(Default)]
    struct FakeStore(Mutex<Vec<StoredEvent>>);

    impl Backlog for FakeStore {
        fn after<'a>(
            &'a self,
            after_id: i64,
            camera: Option<&'a str>,
            limit: usize,
        ) -> LocalBoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
            let page: Vec<StoredEvent> = self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.id > after_id && camera.is_none_or(|c| e.event.camera == c))
                .take(limit)
                .cloned()
                .collect();
            Box::pin(async move { Ok(page) })
        }
    }

    /// Everything the cursor can deliver without waiting.
    fn drain(cursor: &mut AlertCursor, store: &FakeStore, out: &mut Vec<i64>, most: usize) {
        for _ in 0..most {
            match cursor.next(store).now_or_never() {
                Some(Ok(Some(a))) => out.push(a.id),
                Some(Ok(None)) => panic!("the hub went away"),
                Some(Err(e)) => panic!("{e}"),
                None => return,
            }
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// The writer commits an event of camera `a` (false) or `b` (true).
        Commit(bool),
        /// The hub announces the oldest committed, unannounced event.
        Announce,
        /// The client takes up to this many alerts.
        Consume(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<bool>().prop_map(Op::Commit),
            3 => Just(Op::Announce),
            2 => (0usize..6).prop_map(Op::Consume),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Whatever the interleaving of commits, announcements, a small client queue and a slow client, the
        /// client receives exactly the events above its resume id (of its camera), once each, in id order.
        #[test]
        fn resume_has_no_gap_and_no_duplicate(
            before in 0i64..12,
            after_choice in prop::option::of(0i64..14),
            camera_b in prop::option::of(any::<bool>()),
            capacity in 1usize..4,
            ops in prop::collection::vec(op(), 0..80),
        ) {
            let store = FakeStore::default();
            let mut fanout = Fanout::new(capacity);
            let camera = |b: bool| if b { "b" } else { "a" };
            let mut next_id = 1i64;
            let mut unannounced: VecDeque<StoredEvent> = VecDeque::new();
            // Events committed and announced before the client connects; some committed, not yet announced.
            for i in 0..before {
                let e = stored(next_id, camera(i % 3 == 0));
                next_id += 1;
                store.0.lock().unwrap().push(e.clone());
                if i < before - 1 || before % 2 == 0 {
                    fanout.publish(Arc::new(Alert::from_stored(&e)));
                } else {
                    unannounced.push_back(e);
                }
            }
            let filter = camera_b.map(|b| camera(b).to_string());
            let (_, live) = fanout.subscribe(filter.clone());
            let head = live.head;
            let mut cursor = AlertCursor::new(live, filter.clone(), after_choice);
            let mut got = Vec::new();
            for op in ops {
                match op {
                    Op::Commit(b) => {
                        let e = stored(next_id, camera(b));
                        next_id += 1;
                        store.0.lock().unwrap().push(e.clone());
                        unannounced.push_back(e);
                    }
                    Op::Announce => {
                        if let Some(e) = unannounced.pop_front() {
                            fanout.publish(Arc::new(Alert::from_stored(&e)));
                        }
                    }
                    Op::Consume(n) => drain(&mut cursor, &store, &mut got, n),
                }
            }
            while let Some(e) = unannounced.pop_front() {
                fanout.publish(Arc::new(Alert::from_stored(&e)));
                drain(&mut cursor, &store, &mut got, 3);
            }
            drain(&mut cursor, &store, &mut got, usize::MAX);
            let start = match after_choice { Some(a) => a.min(head), None => head };
            let expected: Vec<i64> = store.0.lock().unwrap().iter()
                .filter(|e| e.id > start && filter.as_ref().is_none_or(|c| e.event.camera == *c))
                .map(|e| e.id)
                .collect();
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_full_queue_drops_raises_the_lag_flag_and_a_closed_one_unsubscribes() {
        let mut fanout = Fanout::new(2);
        let (_, slow) = fanout.subscribe(None);
        let (_, gone) = fanout.subscribe(Some("a".into()));
        let (_, other) = fanout.subscribe(Some("b".into()));
        drop(gone);
        let out = fanout.publish(Arc::new(Alert::from_stored(&stored(1, "a"))));
        assert_eq!(out, Published { delivered: 1, dropped: 0, closed: 1 });
        assert_eq!(fanout.clients(), 2);
        fanout.publish(Arc::new(Alert::from_stored(&stored(2, "a"))));
        let out = fanout.publish(Arc::new(Alert::from_stored(&stored(3, "a"))));
        assert_eq!(out, Published { delivered: 0, dropped: 1, closed: 0 });
        assert!(slow.lag.take(), "the slow client is marked lagged");
        assert!(!other.lag.take(), "the other camera's client saw nothing and is not lagged");
        assert_eq!(fanout.head(), 3);
    }

    #[test]
    fn a_lagged_client_catches_up_from_the_store_in_order() {
        let store = FakeStore::default();
        let mut fanout = Fanout::new(1);
        let (_, live) = fanout.subscribe(None);
        let mut cursor = AlertCursor::new(live, None, None);
        for id in 1..=5 {
            let e = stored(id, "a");
            store.0.lock().unwrap().push(e.clone());
            fanout.publish(Arc::new(Alert::from_stored(&e)));
        }
        let mut got = Vec::new();
        drain(&mut cursor, &store, &mut got, usize::MAX);
        assert_eq!(got, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn the_json_line_is_the_event_view() {
        let a = Alert::from_stored(&stored(9, "gate"));
        let v: serde_json::Value = serde_json::from_str(&a.json).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["id"], 9);
        assert_eq!(v["camera"], "gate");
        assert_eq!(v["kind"], "intrusion");
        assert_eq!(v["pts"]["clock_rate"], 90_000);
        assert_eq!(v["snapshot_url"], serde_json::Value::Null);
    }
}
