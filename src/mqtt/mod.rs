//! MQTT (`[mqtt]`): stored events, camera status and per-zone counts published to a broker, with Home
//! Assistant discovery ([`discovery`]) so cameras appear as devices without configuration there.
//!
//! - **Events** go out in id order from the event store, which is the outbox (as for webhooks): the
//!   position is kept in the store (`webhook_cursors`, row `mqtt:events`) and moves past an event only once
//!   the broker acknowledged both of its messages (`<prefix>/events`, `<prefix>/<camera>/events`; PUBACK at
//!   QoS 1, written to the socket at QoS 0). At most [`WINDOW`] events are unacknowledged at a time; when the
//!   connection drops, those are published again after reconnecting (and after a restart), and no other.
//! - **Live state** (camera status, counts, occupancy, motion, discovery configs) is polled from the status
//!   and rule boards once a second ([`poll_state`]), and only changes are queued, in a bounded
//!   [`state::StateQueue`]: nothing on the frame path waits for the broker. All of it is retained and sent
//!   again in full after each reconnect.
//! - **The connection** runs on its own task: one rumqttc event loop per attempt (clean session), polled by a
//!   pump task that forwards its events; a failed attempt waits with exponential backoff and jitter. The last
//!   will sets `<prefix>/availability` to `offline`; each connect sets it `online`.

pub mod discovery;
pub mod state;

use panoptes_actors::analytics::RuleBoard;
use panoptes_actors::config::MqttConfig;
use panoptes_actors::metric_names as m;
use panoptes_actors::rules::GetLiveState;
use panoptes_actors::status::StatusBoard;
use panoptes_actors::store::actor::{EventsAfter, MaxId, StoreHandle};
use panoptes_actors::store::webhooks::{HookCursor, HookCursors};
use panoptes_actors::time::backoff::Backoff;
use panoptes_actors::time::now_unix_ms;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use serde::Serialize;
use state::{CameraSnapshot, Kind, Message, StateQueue, Topics};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Events published and not yet acknowledged, at most.
pub const WINDOW: usize = 16;
/// Messages of any kind published and not yet acknowledged, at most.
const IN_FLIGHT: usize = 64;
/// The event store row that keeps the position (not a webhook id: those have no `:`).
const CURSOR: &str = "mqtt:events";
/// How often the store is read for new events.
const EVENT_POLL: Duration = Duration::from_millis(200);
/// How often the live state is polled.
const STATE_POLL: Duration = Duration::from_secs(1);
/// Event ids kept in [`MqttStatus::resent_event_ids`].
const RESENT_KEPT: usize = 100;

/// What `GET /api/mqtt` shows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MqttStatus {
    /// The broker URL.
    pub url: String,
    pub client_id: String,
    pub topic_prefix: String,
    pub qos: u8,
    pub discovery: bool,
    pub connected: bool,
    /// When the current (or last) connection was made, Unix ms.
    pub connected_since_ms: Option<i64>,
    /// Connections made since start (the first included).
    pub connects: u64,
    /// Why the last connection failed or ended.
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    /// The newest event id the broker acknowledged (with every one before it).
    pub after_id: i64,
    /// Stored events after `after_id` when last looked.
    pub backlog: i64,
    /// Messages the broker took, by kind.
    pub published_events: u64,
    pub published_state: u64,
    pub published_discovery: u64,
    /// State messages dropped: the queue was full / thrown away when the connection dropped.
    pub dropped_queue_full: u64,
    pub dropped_disconnected: u64,
    /// The latest events (at most 100) that were unacknowledged when a connection dropped, and so were
    /// published again: under QoS 1 a subscriber may have received these twice, and no others.
    pub resent_event_ids: Vec<i64>,
}

/// The MQTT status, shared with the HTTP surface; empty without `[mqtt]`.
#[derive(Clone, Default)]
pub struct MqttBoard(Arc<Mutex<Option<MqttStatus>>>);

impl MqttBoard {
    pub fn get(&self) -> Option<MqttStatus> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut MqttStatus)) {
        if let Some(s) = self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            f(s);
        }
    }
}

/// What the connection and the state poller share.
#[derive(Default)]
struct Link {
    connected: AtomicBool,
    /// Bumped on each connect: the poller then sends all state again.
    generation: AtomicU64,
}

/// Default client id: `panoptes-<hostname>`.
fn default_client_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = state::level(host.trim());
    if host == "_" { "panoptes".into() } else { format!("panoptes-{host}") }
}

fn env_value(var: &Option<String>, field: &str) -> Option<String> {
    let var = var.as_ref()?;
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            tracing::warn!(var = %var, field, "mqtt: the environment variable is unset or empty; connecting without it");
            None
        }
    }
}

fn qos(q: u8) -> QoS {
    if q == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce }
}

/// Connection options from the config (validated already).
fn options(cfg: &MqttConfig, client_id: &str, topics: &Topics) -> anyhow::Result<MqttOptions> {
    let broker = cfg.broker()?;
    let mut opts = MqttOptions::new(client_id, broker.host(), broker.port());
    opts.set_keep_alive(Duration::from_secs(cfg.keep_alive_sec));
    opts.set_clean_session(true);
    opts.set_inflight(IN_FLIGHT as u16 + 8);
    opts.set_last_will(LastWill::new(topics.availability(), "offline", qos(cfg.qos), true));
    if let Some(user) = env_value(&cfg.username_env, "username_env") {
        opts.set_credentials(user, env_value(&cfg.password_env, "password_env").unwrap_or_default());
    }
    if broker.tls() {
        let mut roots = rustls::RootCertStore::empty();
        match &cfg.ca_file {
            // A private CA, in place of the system's roots.
            Some(path) => {
                use rustls::pki_types::{CertificateDer, pem::PemObject};
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| anyhow::anyhow!("mqtt.ca_file {}: {e}", path.display()))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                anyhow::ensure!(added > 0, "mqtt.ca_file {}: no usable CA certificate in it", path.display());
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        opts.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(Arc::new(tls))));
    }
    Ok(opts)
}

/// Start publishing to the `[mqtt]` broker (nothing without it). Never waits for the broker: an unreachable
/// one is logged and retried in the background.
pub fn start(
    cfg: Option<&MqttConfig>,
    store_path: PathBuf,
    store: &StoreHandle,
    status: StatusBoard,
    rules: RuleBoard,
) -> MqttBoard {
    let board = MqttBoard::default();
    let Some(cfg) = cfg else { return board };
    let client_id = cfg.client_id.clone().unwrap_or_else(default_client_id);
    let topics = Topics { prefix: cfg.topic_prefix.clone() };
    *board.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(MqttStatus {
        url: cfg.url.clone(),
        client_id: client_id.clone(),
        topic_prefix: cfg.topic_prefix.clone(),
        qos: cfg.qos,
        discovery: cfg.discovery,
        ..MqttStatus::default()
    });
    let opts = match options(cfg, &client_id, &topics) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(url = %cfg.url, error = %format!("{e:#}"), "mqtt: cannot set up the connection; fix [mqtt] and restart");
            board.update(|s| s.last_error = Some(format!("{e:#}")));
            return board;
        }
    };
    metrics::gauge!(m::MQTT_CONNECTED).set(0.0);
    let (queue, queue_rx) = StateQueue::new(cfg.queue);
    let link = Arc::new(Link::default());
    let session = Session {
        cfg: cfg.clone(),
        opts,
        topics: topics.clone(),
        store_path,
        store: store.clone(),
        board: board.clone(),
        link: link.clone(),
        queue_rx,
    };
    actix::spawn(session.run());
    let discovery = cfg.discovery.then(|| discovery::Discovery::new(&cfg.discovery_prefix, &cfg.topic_prefix));
    actix::spawn(poll_state(topics, discovery, status, rules, queue, link, board.clone()));
    board
}

/// Once a second while connected: snapshot the cameras, and queue the state and discovery messages that
/// changed since they were last queued (all of them after a reconnect).
async fn poll_state(
    topics: Topics,
    discovery: Option<discovery::Discovery>,
    status: StatusBoard,
    rules: RuleBoard,
    queue: StateQueue,
    link: Arc<Link>,
    board: MqttBoard,
) {
    let mut sent: HashMap<String, String> = HashMap::new();
    let mut generation = 0;
    let mut tick = tokio::time::interval(STATE_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if !link.connected.load(Ordering::Acquire) {
            continue;
        }
        let g = link.generation.load(Ordering::Acquire);
        if g != generation {
            sent.clear();
            generation = g;
        }
        let cameras = snapshot(&status, &rules).await;
        let mut wanted = Vec::new();
        if let Some(d) = &discovery {
            wanted.extend(d.messages(&topics, &cameras));
        }
        wanted.extend(state::state_messages(&topics, &cameras));
        for msg in state::changed(&sent, wanted) {
            let (topic, payload) = (msg.topic.clone(), msg.payload.clone());
            if queue.offer(msg) {
                sent.insert(topic, payload);
            }
        }
        let dropped = queue.dropped();
        board.update(|s| s.dropped_queue_full = dropped);
    }
}

/// Every camera's status and, where it runs rules here, their live state (sorted by camera id).
async fn snapshot(status: &StatusBoard, rules: &RuleBoard) -> Vec<CameraSnapshot> {
    let now = std::time::Instant::now();
    let mut cameras: Vec<CameraSnapshot> = status
        .iter()
        .map(|e| CameraSnapshot {
            id: e.key().to_string(),
            state: state::camera_state(&e.value().state),
            fps: e.value().fps_in.rate_at(now),
            live: None,
        })
        .collect();
    cameras.sort_by(|a, b| a.id.cmp(&b.id));
    let actors: Vec<(String, actix::Addr<panoptes_actors::rules::RuleActor>)> =
        rules.iter().map(|e| (e.key().to_string(), e.value().0.clone())).collect();
    for (camera, addr) in actors {
        let Some(cam) = cameras.iter_mut().find(|c| c.id == camera) else { continue };
        if let Ok(Ok(live)) = tokio::time::timeout(Duration::from_millis(500), addr.send(GetLiveState)).await {
            cam.live = Some(live);
        }
    }
    cameras
}

/// What a published message was, to act on its acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tag {
    Event(i64),
    Other(Kind),
}

/// One event in the window: published, waiting for `acks` more acknowledgements (0: done).
struct Pending {
    id: i64,
    acks: u8,
}

struct Session {
    cfg: MqttConfig,
    opts: MqttOptions,
    topics: Topics,
    store_path: PathBuf,
    store: StoreHandle,
    board: MqttBoard,
    link: Arc<Link>,
    queue_rx: mpsc::Receiver<Message>,
}

/// One connection's bookkeeping: messages handed to rumqttc in order (their packet ids come back in that
/// order), those awaiting their PUBACK by packet id, and the events in flight in id order.
#[derive(Default)]
struct Flight {
    handed: VecDeque<Tag>,
    awaiting: HashMap<u16, Tag>,
    window: VecDeque<Pending>,
    /// The newest event id read into the window.
    read_to: i64,
}

impl Flight {
    fn outstanding(&self) -> usize {
        self.handed.len() + self.awaiting.len()
    }
}

impl Session {
    async fn run(mut self) {
        let path = self.store_path.clone();
        let opened = actix_web::web::block(move || {
            let mut cursors = HookCursors::open(&path)?;
            let cursor = cursors.load_or_start(CURSOR)?;
            Ok::<_, panoptes_actors::store::StoreError>((cursors, cursor))
        })
        .await;
        let (cursors, mut cursor) = match opened {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return self.stopped(&e.to_string()),
            Err(e) => return self.stopped(&e.to_string()),
        };
        let cursors = Arc::new(Mutex::new(cursors));
        self.board.update(|s| s.after_id = cursor.after_id);
        let max_ms = (self.cfg.retry_max_sec * 1000.0) as u64;
        let mut backoff = Backoff::new(500.min(max_ms), max_ms, rand::rng());
        let mut failures = 0u32;
        loop {
            let (client, mut eventloop) = AsyncClient::new(self.opts.clone(), IN_FLIGHT * 2);
            let (tx, rx) = mpsc::unbounded_channel();
            let pump = actix::spawn(async move {
                loop {
                    let polled = eventloop.poll().await;
                    let failed = polled.is_err();
                    if tx.send(polled).is_err() || failed {
                        break;
                    }
                }
            });
            let mut flight = Flight { read_to: cursor.after_id, ..Flight::default() };
            let why =
                self.connection(&client, rx, &mut flight, &mut cursor, &cursors, &mut backoff, &mut failures).await;
            pump.abort();
            let was_connected = self.link.connected.swap(false, Ordering::AcqRel);
            metrics::gauge!(m::MQTT_CONNECTED).set(0.0);
            let Some(why) = why else { return }; // The store could not be written: stopped, said why.
            // Events that were in flight may have reached the broker: they go out again.
            let resent: Vec<i64> = flight.window.iter().map(|p| p.id).collect();
            let mut thrown = 0u64;
            while self.queue_rx.try_recv().is_ok() {
                thrown += 1;
            }
            metrics::counter!(m::MQTT_DROPPED, "reason" => "disconnected").increment(thrown);
            self.board.update(|s| {
                s.connected = false;
                s.last_error = Some(why.clone());
                s.last_error_ms = Some(now_unix_ms());
                s.dropped_disconnected += thrown;
                s.resent_event_ids.extend(&resent);
                let excess = s.resent_event_ids.len().saturating_sub(RESENT_KEPT);
                s.resent_event_ids.drain(..excess);
            });
            let delay = backoff.next_delay();
            failures += 1;
            if was_connected {
                tracing::warn!(url = %self.cfg.url, error = %why, retry_in_ms = delay.as_millis() as u64, unacknowledged_events = ?resent,
                    "mqtt: connection to the broker lost; reconnecting with backoff (events wait in the store)");
            } else if failures == 1 {
                tracing::error!(url = %self.cfg.url, error = %why, retry_in_ms = delay.as_millis() as u64,
                    "mqtt: cannot connect to the broker; check [mqtt] url and that the broker runs and accepts this client (credentials: username_env, password_env); retrying with backoff");
            } else {
                tracing::debug!(url = %self.cfg.url, error = %why, attempt = failures, "mqtt: still cannot connect");
            }
            // The events waiting for the broker, as `GET /api/mqtt` and the console show them.
            self.note_backlog(cursor.after_id).await;
            tokio::time::sleep(delay).await;
        }
    }

    /// One connection, from the CONNACK until it fails: the reason, or `None` when the store cannot be written.
    #[allow(clippy::too_many_arguments)]
    async fn connection(
        &mut self,
        client: &AsyncClient,
        mut rx: mpsc::UnboundedReceiver<Result<Event, rumqttc::ConnectionError>>,
        flight: &mut Flight,
        cursor: &mut HookCursor,
        cursors: &Arc<Mutex<HookCursors>>,
        backoff: &mut Backoff<rand::rngs::ThreadRng>,
        failures: &mut u32,
    ) -> Option<String> {
        match rx.recv().await {
            Some(Ok(Event::Incoming(Packet::ConnAck(_)))) => {}
            Some(Ok(other)) => return Some(format!("unexpected first packet {other:?}")),
            Some(Err(e)) => return Some(describe(&e)),
            None => return Some("the MQTT event loop ended".into()),
        }
        backoff.reset();
        if *failures > 0 || self.board.get().is_some_and(|s| s.connects > 0) {
            tracing::info!(url = %self.cfg.url, "mqtt: connected to the broker again");
        } else {
            tracing::info!(url = %self.cfg.url, prefix = %self.topics.prefix, after = cursor.after_id, "mqtt: connected to the broker");
        }
        *failures = 0;
        self.link.generation.fetch_add(1, Ordering::AcqRel);
        self.link.connected.store(true, Ordering::Release);
        metrics::gauge!(m::MQTT_CONNECTED).set(1.0);
        self.board.update(|s| {
            s.connected = true;
            s.connects += 1;
            s.connected_since_ms = Some(now_unix_ms());
        });
        let online = Message {
            topic: self.topics.availability(),
            payload: "online".into(),
            retain: true,
            kind: Kind::Availability,
        };
        if let Err(e) = self.publish(client, flight, &online, Tag::Other(Kind::Availability)) {
            return Some(e);
        }
        let qos0 = self.cfg.qos == 0;
        let mut tick = tokio::time::interval(EVENT_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let room = flight.outstanding() < IN_FLIGHT;
            tokio::select! {
                biased;
                ev = rx.recv() => {
                    let done = match ev {
                        None => return Some("the MQTT event loop ended".into()),
                        Some(Err(e)) => return Some(describe(&e)),
                        Some(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) => match flight.handed.pop_front() {
                            Some(tag) if qos0 => Some(tag),
                            Some(tag) => { flight.awaiting.insert(pkid, tag); None }
                            None => None,
                        },
                        Some(Ok(Event::Incoming(Packet::PubAck(ack)))) => flight.awaiting.remove(&ack.pkid),
                        Some(Ok(_)) => None,
                    };
                    if let Some(tag) = done && !self.acknowledged(tag, flight, cursor, cursors).await {
                        return None;
                    }
                }
                msg = self.queue_rx.recv(), if room => {
                    let Some(msg) = msg else { return Some("the state queue closed".into()) };
                    let kind = msg.kind;
                    if let Err(e) = self.publish(client, flight, &msg, Tag::Other(kind)) {
                        return Some(e);
                    }
                }
                _ = tick.tick(), if room && flight.window.len() < WINDOW => {
                    if let Err(e) = self.read_events(client, flight).await {
                        return Some(e);
                    }
                    self.note_backlog(cursor.after_id).await;
                }
            }
        }
    }

    /// Hand `msg` to rumqttc (never waits: its queue has room for [`IN_FLIGHT`] and more).
    fn publish(&self, client: &AsyncClient, flight: &mut Flight, msg: &Message, tag: Tag) -> Result<(), String> {
        client
            .try_publish(msg.topic.clone(), qos(self.cfg.qos), msg.retain, msg.payload.clone())
            .map_err(|e| format!("cannot hand a message to the MQTT client: {e}"))?;
        flight.handed.push_back(tag);
        Ok(())
    }

    /// Read the next stored events into the window and publish them.
    async fn read_events(&self, client: &AsyncClient, flight: &mut Flight) -> Result<(), String> {
        let limit = WINDOW - flight.window.len();
        let page = match self.store.reader.send(EventsAfter { after_id: flight.read_to, camera: None, limit }).await {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "mqtt: cannot read the events; trying again");
                return Ok(());
            }
            Err(_) => return Ok(()), // The store stopped: the process is shutting down.
        };
        for stored in page {
            flight.read_to = stored.id;
            // Other nodes' events are theirs to publish (cluster mode); they only move the position.
            if stored.origin.is_some() {
                flight.window.push_back(Pending { id: stored.id, acks: 0 });
                continue;
            }
            let body = stored.to_json();
            flight.window.push_back(Pending { id: stored.id, acks: 2 });
            for topic in [self.topics.events(), self.topics.camera_events(&stored.event.camera)] {
                let msg = Message { topic, payload: body.clone(), retain: false, kind: Kind::Event };
                self.publish(client, flight, &msg, Tag::Event(stored.id))?;
            }
        }
        Ok(())
    }

    /// The broker took the message tagged `tag`: count it, and move the position past the events done in
    /// order. False when the position cannot be kept.
    async fn acknowledged(
        &self,
        tag: Tag,
        flight: &mut Flight,
        cursor: &mut HookCursor,
        cursors: &Arc<Mutex<HookCursors>>,
    ) -> bool {
        let kind = match tag {
            Tag::Other(kind) => kind,
            Tag::Event(id) => {
                if let Some(p) = flight.window.iter_mut().find(|p| p.id == id) {
                    p.acks = p.acks.saturating_sub(1);
                }
                Kind::Event
            }
        };
        metrics::counter!(m::MQTT_PUBLISHED, "kind" => kind.label()).increment(1);
        self.board.update(|s| match kind {
            Kind::Event => s.published_events += 1,
            Kind::State => s.published_state += 1,
            Kind::Discovery => s.published_discovery += 1,
            Kind::Availability => {}
        });
        let before = cursor.after_id;
        while flight.window.front().is_some_and(|p| p.acks == 0) {
            if let Some(p) = flight.window.pop_front() {
                cursor.after_id = p.id;
                cursor.delivered += 1;
            }
        }
        if cursor.after_id == before {
            return true;
        }
        let (cursors, saved_cursor) = (cursors.clone(), *cursor);
        let saved = actix_web::web::block(move || {
            cursors.lock().unwrap_or_else(|e| e.into_inner()).save(CURSOR, &saved_cursor)
        })
        .await;
        match saved {
            Ok(Ok(())) => {
                self.board.update(|s| s.after_id = saved_cursor.after_id);
                true
            }
            Ok(Err(e)) => {
                self.stopped(&e.to_string());
                false
            }
            Err(e) => {
                self.stopped(&e.to_string());
                false
            }
        }
    }

    async fn note_backlog(&self, after_id: i64) {
        if let Ok(Ok(newest)) = self.store.reader.send(MaxId).await {
            self.board.update(|s| s.backlog = (newest - after_id).max(0));
        }
    }

    fn stopped(&self, why: &str) {
        tracing::error!(error = %why, "mqtt stopped: its event position cannot be kept in the store; fix the store and restart");
        self.board.update(|s| s.last_error = Some(format!("stopped: {why}")));
    }
}

/// A connection error in words.
fn describe(e: &rumqttc::ConnectionError) -> String {
    match e {
        rumqttc::ConnectionError::ConnectionRefused(code) => {
            format!(
                "the broker refused the connection ({code:?}): check the credentials (username_env, password_env) and client_id"
            )
        }
        rumqttc::ConnectionError::NetworkTimeout => "no answer from the broker within 5 s".into(),
        other => {
            let text = other.to_string();
            match text.contains("invalid peer certificate") {
                true => format!(
                    "{text}: this node does not trust the broker's certificate; give the CA that signed it in [mqtt] ca_file (PEM), and check the url's host is the one the certificate names"
                ),
                false => text,
            }
        }
    }
}
