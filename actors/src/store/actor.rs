//! The store's actors and how they are wired:
//!
//! ```text
//! rules ──NewEvent──▶ EventIntake (event loop; bounds the backlog; adds playback links)
//!                        └──WriteEvent──▶ StoreWriter (own thread): snapshot → insert → commit
//!                                            └──Announce──▶ (the alert hub: crate::alerts) ──▶ /ws/alerts clients
//! cluster event stream ──ImportEvent──▶ EventIntake ──▶ StoreWriter: a copy of another node's event, once
//! HTTP, alert resume ──Query/GetEvent/EventsAfter──▶ StoreReader (2 threads, read-only connections)
//! ```
//!
//! SQLite calls and fsync block, so the writer and the readers run on [`SyncArbiter`] threads. Their queues
//! are unbounded, so [`EventIntake`] counts what it has handed the writer and refuses more than
//! [`MAX_PENDING_EVENTS`] (dropped and counted: the store cannot keep up with the disk), and keeps at most
//! [`MAX_PENDING_PICTURES`] pictures in the queue (each is a few MB of `f32`): beyond that an event is still
//! stored, without its snapshot. Readers use their own connections (WAL lets them read while the writer
//! writes), so the API never waits behind an fsync.

use super::db::{EventQuery, Page, Store};
use super::playback::PlaybackLinks;
use super::snapshot;
use super::{Origin, StoreError, StoredEvent, safe_camera_dir};
use crate::config::StoreConfig;
use crate::messages::{Event, Flush, ModelInput, NewEvent};
use crate::metric_names as m;
use crate::time::{now_unix_ms, now_unix_ns};
use actix::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Events handed to the writer and not yet written, beyond which new events are dropped.
pub const MAX_PENDING_EVENTS: usize = 4096;
/// Pictures waiting with those events, beyond which events are stored without a snapshot.
pub const MAX_PENDING_PICTURES: usize = 16;
/// Threads (and read-only connections) serving queries.
pub const READERS: usize = 2;
/// How often the writer applies `retention_days`.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The running store: where to send events, where to ask questions, where snapshots live.
#[derive(Clone)]
pub struct StoreHandle {
    pub intake: Addr<EventIntake>,
    pub reader: Addr<StoreReader>,
    pub snapshot_dir: PathBuf,
    /// Playback links added to each event at intake (`[cameras.playback]`, peers' clock offsets).
    pub links: PlaybackLinks,
}

/// The store opened and migrated, not started yet: its newest event id is known (the alert hub starts from
/// it), and [`OpenedStore::start`] starts the writer and the readers.
pub struct OpenedStore {
    store: Store,
    head: i64,
    config: StoreConfig,
}

/// A committed event, announced by the writer to whoever the wiring chose (the alert hub): only after its
/// row and snapshot are durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Announce(pub Arc<StoredEvent>);

/// Open the store, creating and migrating it.
pub fn open(config: &StoreConfig) -> Result<OpenedStore, StoreError> {
    let store = Store::open(&config.path)?;
    let head = store.max_id()?;
    tracing::info!(path = %config.path.display(), newest_id = head, "event store open");
    Ok(OpenedStore { store, head, config: config.clone() })
}

impl OpenedStore {
    /// The newest stored event id (0 when empty).
    pub fn head(&self) -> i64 {
        self.head
    }

    /// Start the writer, which announces every committed event to `announce`, and the readers. Must be
    /// called inside a running actix `System`.
    pub fn start(self, announce: Recipient<Announce>) -> StoreHandle {
        let OpenedStore { store, config, .. } = self;
        let counters = Arc::new(Counters::default());
        let opened = Mutex::new(Some(store));
        let writer = {
            let (path, dir, counters) = (config.path.clone(), config.snapshot_dir.clone(), counters.clone());
            let retention =
                (config.retention_days > 0).then(|| Duration::from_secs(u64::from(config.retention_days) * 86_400));
            SyncArbiter::start(1, move || StoreWriter {
                // The first writer takes the store opened above; a restarted one opens it again.
                store: opened.lock().unwrap_or_else(|e| e.into_inner()).take(),
                path: path.clone(),
                snapshot_dir: dir.clone(),
                announce: announce.clone(),
                counters: counters.clone(),
                retention,
                last_prune: None,
            })
        };
        let path = config.path.clone();
        let reader = SyncArbiter::start(READERS, move || StoreReader { store: None, path: path.clone() });
        let links = PlaybackLinks::default();
        let intake = EventIntake { writer, counters, links: links.clone() }.start();
        StoreHandle { intake, reader, snapshot_dir: config.snapshot_dir, links }
    }
}

#[derive(Default)]
struct Counters {
    events: AtomicUsize,
    pictures: AtomicUsize,
}

/// intake → writer: one event to store (the picture, if any, is counted in [`Counters::pictures`]).
#[derive(Message)]
#[rtype(result = "()")]
struct WriteEvent {
    event: Event,
    picture: Option<Arc<ModelInput>>,
}

/// Cluster mode: store a copy of an event another node raised (and announce it like a local one), unless a
/// copy of it is here already. Answers whether it was new.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<bool, StoreError>")]
pub struct ImportEvent {
    pub event: Event,
    pub origin: Origin,
}

/// Takes the rules' events on the event loop and hands them to the writer within bounds.
pub struct EventIntake {
    writer: Addr<StoreWriter>,
    counters: Arc<Counters>,
    links: PlaybackLinks,
}

impl Actor for EventIntake {
    type Context = Context<Self>;
}

impl Handler<NewEvent> for EventIntake {
    type Result = ();

    fn handle(&mut self, mut msg: NewEvent, _ctx: &mut Context<Self>) {
        self.links.annotate(&mut msg.event, now_unix_ns());
        let camera = msg.event.camera.clone();
        if self.counters.events.load(Ordering::SeqCst) >= MAX_PENDING_EVENTS {
            metrics::counter!(m::EVENTS_DROPPED, "camera" => camera.clone(), "reason" => "backlog").increment(1);
            tracing::error!(camera = %camera, rule = %msg.event.rule, pending = MAX_PENDING_EVENTS,
                "event dropped: the event store is {MAX_PENDING_EVENTS} events behind; check the disk under store.path");
            return;
        }
        let picture = match msg.picture {
            Some(p) if self.counters.pictures.load(Ordering::SeqCst) < MAX_PENDING_PICTURES => {
                self.counters.pictures.fetch_add(1, Ordering::SeqCst);
                Some(p)
            }
            Some(_) => {
                metrics::counter!(m::SNAPSHOTS_SKIPPED, "camera" => camera, "reason" => "backlog").increment(1);
                None
            }
            None => None,
        };
        self.counters.events.fetch_add(1, Ordering::SeqCst);
        self.writer.do_send(WriteEvent { event: msg.event, picture });
    }
}

impl Handler<ImportEvent> for EventIntake {
    type Result = ResponseFuture<Result<bool, StoreError>>;

    fn handle(&mut self, msg: ImportEvent, _ctx: &mut Context<Self>) -> Self::Result {
        let writer = self.writer.clone();
        Box::pin(async move { writer.send(msg).await.map_err(|_| StoreError::Gone)? })
    }
}

impl Handler<Flush> for EventIntake {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Flush, _ctx: &mut Context<Self>) -> Self::Result {
        let writer = self.writer.clone();
        Box::pin(async move {
            let _ = writer.send(Flush).await;
        })
    }
}

/// Writes events on its own thread: snapshot, then the row (committed), then the announcement.
pub struct StoreWriter {
    store: Option<Store>,
    path: PathBuf,
    snapshot_dir: PathBuf,
    announce: Recipient<Announce>,
    counters: Arc<Counters>,
    retention: Option<Duration>,
    last_prune: Option<Instant>,
}

impl Actor for StoreWriter {
    type Context = SyncContext<Self>;
}

impl StoreWriter {
    fn store(&mut self) -> Result<&mut Store, StoreError> {
        if self.store.is_none() {
            self.store = Some(Store::open(&self.path)?);
        }
        Ok(self.store.as_mut().expect("opened above"))
    }

    /// Snapshot first (fsynced, renamed into place), then the row commits; a snapshot that cannot be
    /// written costs the snapshot, not the event.
    fn write(&mut self, event: &Event, picture: Option<&ModelInput>) -> Result<StoredEvent, StoreError> {
        let jpeg = match picture {
            Some(_) if !safe_camera_dir(&event.camera) => {
                self.skip_snapshot(event, "camera id is not a safe directory name".into());
                None
            }
            Some(p) => match snapshot::encode(p, snapshot::box_to_draw(event)) {
                Ok(bytes) => Some(bytes),
                Err(reason) => {
                    self.skip_snapshot(event, reason);
                    None
                }
            },
            None => None,
        };
        let dir = self.snapshot_dir.clone();
        let now = now_unix_ms();
        let store = self.store()?;
        let Some(jpeg) = jpeg else { return store.insert(event, now) };
        let camera = event.camera.clone();
        match store.insert_with(event, now, |id| {
            let rel = snapshot::relative_path(&camera, id);
            snapshot::write_atomic(&dir, &rel, &jpeg)?;
            Ok(Some(rel))
        }) {
            Err(StoreError::Snapshot { path, source }) => {
                self.skip_snapshot(event, format!("{}: {source}", path.display()));
                self.store()?.insert(event, now)
            }
            other => other,
        }
    }

    fn skip_snapshot(&self, event: &Event, reason: String) {
        metrics::counter!(m::SNAPSHOTS_SKIPPED, "camera" => event.camera.clone(), "reason" => "error").increment(1);
        tracing::warn!(camera = %event.camera, rule = %event.rule, %reason, "event stored without a snapshot");
    }

    fn prune_if_due(&mut self) {
        let Some(retention) = self.retention else { return };
        if self.last_prune.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
            return;
        }
        self.last_prune = Some(Instant::now());
        let before = now_unix_ms() - retention.as_millis() as i64;
        let dir = self.snapshot_dir.clone();
        match self.store().and_then(|s| s.prune(before)) {
            Ok(snapshots) => {
                for rel in &snapshots {
                    if let Err(e) = std::fs::remove_file(dir.join(rel))
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!(path = %dir.join(rel).display(), error = %e, "old snapshot not removed");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "applying store.retention_days failed"),
        }
    }
}

impl Handler<WriteEvent> for StoreWriter {
    type Result = ();

    fn handle(&mut self, msg: WriteEvent, _ctx: &mut SyncContext<Self>) {
        self.prune_if_due();
        let had_picture = msg.picture.is_some();
        let result = self.write(&msg.event, msg.picture.as_deref());
        drop(msg.picture);
        if had_picture {
            self.counters.pictures.fetch_sub(1, Ordering::SeqCst);
        }
        self.counters.events.fetch_sub(1, Ordering::SeqCst);
        let camera = msg.event.camera.clone();
        match result {
            Ok(stored) => {
                let kind = crate::store::db::kind_label(stored.event.kind);
                metrics::counter!(m::EVENTS_STORED, "camera" => camera, "kind" => kind).increment(1);
                // Committed: only now may anyone hear of it.
                self.announce.do_send(Announce(Arc::new(stored)));
            }
            Err(e) => {
                metrics::counter!(m::EVENTS_DROPPED, "camera" => camera.clone(), "reason" => "error").increment(1);
                tracing::error!(camera = %camera, rule = %msg.event.rule, error = %e, "event could not be stored");
                // Reopen on the next event: the connection may be what failed.
                self.store = None;
            }
        }
    }
}

impl Handler<ImportEvent> for StoreWriter {
    type Result = Result<bool, StoreError>;

    fn handle(&mut self, msg: ImportEvent, _ctx: &mut SyncContext<Self>) -> Self::Result {
        let imported = self.store().and_then(|s| s.import(&msg.event, &msg.origin, now_unix_ms()));
        match imported {
            Ok(Some(stored)) => {
                self.announce.do_send(Announce(Arc::new(stored)));
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => {
                self.store = None;
                Err(e)
            }
        }
    }
}

impl Handler<Flush> for StoreWriter {
    type Result = ();

    fn handle(&mut self, _msg: Flush, _ctx: &mut SyncContext<Self>) {}
}

/// Answers queries on its own read-only connection.
pub struct StoreReader {
    store: Option<Store>,
    path: PathBuf,
}

impl Actor for StoreReader {
    type Context = SyncContext<Self>;
}

impl StoreReader {
    fn with<T>(&mut self, f: impl FnOnce(&Store) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.store.is_none() {
            self.store = Some(Store::open_reader(&self.path)?);
        }
        let result = f(self.store.as_ref().expect("opened above"));
        if result.is_err() {
            self.store = None;
        }
        result
    }
}

/// Events matching a query, one page.
#[derive(Message)]
#[rtype(result = "Result<Page, StoreError>")]
pub struct QueryEvents(pub EventQuery);

/// One event by id.
#[derive(Message)]
#[rtype(result = "Result<Option<StoredEvent>, StoreError>")]
pub struct GetEvent(pub i64);

/// Events above an id (of one camera, or all), in id order.
#[derive(Message)]
#[rtype(result = "Result<Vec<StoredEvent>, StoreError>")]
pub struct EventsAfter {
    pub after_id: i64,
    pub camera: Option<String>,
    pub limit: usize,
}

/// The highest id committed.
#[derive(Message)]
#[rtype(result = "Result<i64, StoreError>")]
pub struct MaxId;

/// The store's identity ([`Store::store_id`]).
#[derive(Message)]
#[rtype(result = "Result<String, StoreError>")]
pub struct GetStoreId;

impl Handler<GetStoreId> for StoreReader {
    type Result = Result<String, StoreError>;
    fn handle(&mut self, _msg: GetStoreId, _ctx: &mut SyncContext<Self>) -> Self::Result {
        self.with(Store::store_id)
    }
}

impl Handler<QueryEvents> for StoreReader {
    type Result = Result<Page, StoreError>;
    fn handle(&mut self, msg: QueryEvents, _ctx: &mut SyncContext<Self>) -> Self::Result {
        self.with(|s| s.query(&msg.0))
    }
}

impl Handler<GetEvent> for StoreReader {
    type Result = Result<Option<StoredEvent>, StoreError>;
    fn handle(&mut self, msg: GetEvent, _ctx: &mut SyncContext<Self>) -> Self::Result {
        self.with(|s| s.get(msg.0))
    }
}

impl Handler<EventsAfter> for StoreReader {
    type Result = Result<Vec<StoredEvent>, StoreError>;
    fn handle(&mut self, msg: EventsAfter, _ctx: &mut SyncContext<Self>) -> Self::Result {
        self.with(|s| s.events_after(msg.after_id, msg.camera.as_deref(), msg.limit))
    }
}

impl Handler<MaxId> for StoreReader {
    type Result = Result<i64, StoreError>;
    fn handle(&mut self, _msg: MaxId, _ctx: &mut SyncContext<Self>) -> Self::Result {
        self.with(Store::max_id)
    }
}

impl StoreHandle {
    /// Ask the readers; a stopped reader is [`StoreError::Gone`].
    pub async fn ask<M>(&self, msg: M) -> Result<M::Result, StoreError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        StoreReader: Handler<M>,
    {
        self.reader.send(msg).await.map_err(|_| StoreError::Gone)
    }

    /// The snapshot file of a stored event, if it has one.
    pub fn snapshot_path(&self, event: &StoredEvent) -> Option<PathBuf> {
        event.snapshot.as_deref().map(|rel| self.snapshot_dir.join(rel))
    }

    /// Wait until every event sent to the intake before this call is written and announced.
    pub async fn flush(&self) {
        let _ = self.intake.send(Flush).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertCursor, Subscribe, start_with_store as start};
    use crate::geometry::{BBox, Letterbox};
    use crate::messages::{EventKind, EventState};
    use crate::time::Pts;

    fn event(camera: &str, seq: i64) -> Event {
        Event {
            camera: camera.into(),
            rule: format!("r{seq}"),
            kind: EventKind::Occupancy,
            state: EventState::Update,
            track_id: None,
            class: None,
            confidence: None,
            pts: Pts::new(seq, 90_000),
            end_pts: None,
            wall_ms: crate::time::WallTime::from_unix_ms(seq),
            bbox: Some(BBox { x1: 0.0, y1: 0.0, x2: 10.0, y2: 10.0 }),
            details: serde_json::json!({ "count": seq }),
        }
    }

    fn picture() -> Arc<ModelInput> {
        Arc::new(ModelInput { letterbox: Letterbox::new(32, 32, 32, 32), chw: vec![0.5; 3 * 32 * 32] })
    }

    fn config(dir: &std::path::Path) -> StoreConfig {
        StoreConfig { path: dir.join("db/events.db"), snapshot_dir: dir.join("snaps"), retention_days: 0 }
    }

    #[actix::test]
    async fn an_event_is_announced_only_once_committed_with_its_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let (store, alerts) = start(&config(dir.path())).unwrap();
        let (_, live) = alerts.send(Subscribe { camera: None }).await.unwrap();
        let mut cursor = AlertCursor::new(live, None, None);
        let events = store.intake.clone().recipient::<NewEvent>();
        events.do_send(NewEvent { event: event("gate", 1), picture: Some(picture()) });
        events.do_send(NewEvent { event: event("bad/../id", 2), picture: Some(picture()) });
        for want in 1..=2 {
            let alert = cursor.next(&store.reader).await.unwrap().unwrap();
            assert_eq!(alert.id, want);
            // At the moment of the announcement, an independent connection already sees the row.
            let other = Store::open_reader(&dir.path().join("db/events.db")).unwrap();
            let row = other.get(alert.id).unwrap().expect("announced events are committed");
            assert_eq!(row.event.rule, format!("r{want}"));
            let v: serde_json::Value = serde_json::from_str(&alert.json).unwrap();
            if want == 1 {
                assert_eq!(row.snapshot.as_deref(), Some("gate/1.jpg"));
                assert!(dir.path().join("snaps/gate/1.jpg").is_file());
                assert_eq!(v["snapshot_url"], "/api/events/1/snapshot.jpg");
            } else {
                assert_eq!(row.snapshot, None, "an unsafe camera id gets no snapshot directory");
                assert_eq!(v["snapshot_url"], serde_json::Value::Null);
            }
        }
    }

    #[actix::test]
    async fn flush_waits_for_every_earlier_event_and_readers_see_them() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _alerts) = start(&config(dir.path())).unwrap();
        for seq in 1..=20 {
            store.intake.do_send(NewEvent { event: event("a", seq), picture: None });
        }
        store.flush().await;
        assert_eq!(store.ask(MaxId).await.unwrap().unwrap(), 20);
        let page = store.ask(QueryEvents(EventQuery { after_id: Some(15), limit: 10, ..Default::default() })).await;
        let ids: Vec<i64> = page.unwrap().unwrap().events.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![16, 17, 18, 19, 20]);
        assert_eq!(store.ask(GetEvent(3)).await.unwrap().unwrap().unwrap().event.rule, "r3");
    }

    #[actix::test]
    async fn a_restart_resumes_ids_and_the_alert_head() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(&config(dir.path()).path).unwrap();
            for seq in 1..=3 {
                s.insert(&event("a", seq), 0).unwrap();
            }
        }
        let (store, alerts) = start(&config(dir.path())).unwrap();
        let (_, live) = alerts.send(Subscribe { camera: None }).await.unwrap();
        assert_eq!(live.head, 3, "a live-only client starts after the newest stored id");
        let mut cursor = AlertCursor::new(live, None, Some(1));
        store.intake.do_send(NewEvent { event: event("a", 4), picture: None });
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(cursor.next(&store.reader).await.unwrap().unwrap().id);
        }
        assert_eq!(ids, vec![2, 3, 4], "the backlog after id 1, then the live event, once each");
    }
}
