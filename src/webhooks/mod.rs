//! Webhooks (`[[webhooks]]`): every stored event that passes a hook's filter is POSTed to its URL as the same
//! JSON line `/ws/alerts` sends, signed ([`sign`]), in id order, at least once.
//!
//! The event store is the outbox. Each hook keeps, in the store, the newest event id it has handled
//! ([`panoptes_actors::store::webhooks`]); its loop reads the events after it, sends each it wants, and moves
//! its position past an event only once the receiver answered 2xx (or the event was given up after
//! `max_attempts`). A failed request (an error status, a timeout, a refused connection) is retried after an
//! exponential backoff with jitter; the events behind it wait, so a receiver sees them in order. A restart
//! resumes at the kept position: an event whose answer was lost in the crash is sent again, so receivers
//! deduplicate on `X-Panoptes-Event-Id`. In cluster mode a node sends only the events it raised (the copies of
//! other nodes' events are theirs to send).

pub mod sign;

use panoptes_actors::config::WebhookConfig;
use panoptes_actors::metric_names as m;
use panoptes_actors::store::StoredEvent;
use panoptes_actors::store::actor::{EventsAfter, StoreHandle};
use panoptes_actors::store::webhooks::{HookCursor, HookCursors};
use panoptes_actors::time::backoff::Backoff;
use panoptes_actors::time::now_unix_ms;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Events read from the store per round.
const PAGE: usize = 64;
/// How often an idle hook looks for new events.
const POLL: Duration = Duration::from_millis(250);

/// What `GET /api/webhooks` shows of one hook.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HookStatus {
    pub id: String,
    /// The URL without its user and password.
    pub url: String,
    pub cameras: Vec<String>,
    pub rules: Vec<String>,
    pub kinds: Vec<String>,
    pub signed: bool,
    /// The newest event id handled (delivered, not wanted, or given up).
    pub after_id: i64,
    pub delivered: i64,
    pub given_up: i64,
    /// Failed requests since the start of this process.
    pub failed_attempts: u64,
    /// The event being retried, its attempts so far and when the next one is due (Unix ms).
    pub retrying: Option<Retrying>,
    pub last_delivered_ms: Option<i64>,
    /// The last failure: the status answered, or why no answer came.
    pub last_error: Option<String>,
    /// Events in the store after `after_id` (wanted or not) when last looked.
    pub backlog: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Retrying {
    pub event_id: i64,
    pub attempts: u32,
    pub next_attempt_ms: i64,
}

/// Every hook's status, by id.
#[derive(Clone, Default)]
pub struct WebhookBoard(Arc<Mutex<BTreeMap<String, HookStatus>>>);

impl WebhookBoard {
    pub fn list(&self) -> Vec<HookStatus> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut HookStatus)) {
        if let Some(s) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get_mut(id) {
            f(s);
        }
    }
}

/// `url` without credentials, for the API and the logs.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

/// Start one loop per hook on the current actix system. A hook whose position cannot be read from the store
/// at `store_path` is not started (logged, and shown with the error).
pub fn start(hooks: &[WebhookConfig], store_path: PathBuf, store: &StoreHandle) -> WebhookBoard {
    let board = WebhookBoard::default();
    for hook in hooks {
        let secret = hook.secret_env.as_ref().and_then(|var| match std::env::var(var) {
            Ok(s) if !s.is_empty() => Some(s.into_bytes()),
            _ => {
                tracing::warn!(hook = %hook.id, var = %var,
                    "webhook secret_env names a variable that is unset or empty: its requests go unsigned; set it and restart");
                None
            }
        });
        let status = HookStatus {
            id: hook.id.clone(),
            url: redacted(&hook.url),
            cameras: hook.cameras.clone(),
            rules: hook.rules.clone(),
            kinds: hook.kinds.iter().map(|k| panoptes_actors::store::db::kind_label(*k).to_owned()).collect(),
            signed: secret.is_some(),
            ..HookStatus::default()
        };
        board.0.lock().unwrap_or_else(|e| e.into_inner()).insert(hook.id.clone(), status);
        let delivery = Delivery {
            hook: hook.clone(),
            secret,
            store_path: store_path.clone(),
            store: store.clone(),
            board: board.clone(),
        };
        actix::spawn(delivery.run());
    }
    board
}

struct Delivery {
    hook: WebhookConfig,
    secret: Option<Vec<u8>>,
    store_path: PathBuf,
    store: StoreHandle,
    board: WebhookBoard,
}

/// How one request ended.
enum Outcome {
    Delivered,
    Failed(String),
}

impl Delivery {
    async fn run(self) {
        let id = self.hook.id.clone();
        let path = self.store_path.clone();
        let opened = actix_web::web::block(move || {
            let mut cursors = HookCursors::open(&path)?;
            let cursor = cursors.load_or_start(&id)?;
            Ok::<_, panoptes_actors::store::StoreError>((cursors, cursor))
        })
        .await;
        let (cursors, mut cursor) = match opened {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return self.stopped(&e.to_string()),
            Err(e) => return self.stopped(&e.to_string()),
        };
        let cursors = Arc::new(Mutex::new(cursors));
        self.board.update(&self.hook.id, |s| {
            (s.after_id, s.delivered, s.given_up) = (cursor.after_id, cursor.delivered, cursor.given_up);
        });
        tracing::info!(hook = %self.hook.id, url = %redacted(&self.hook.url), after = cursor.after_id, "webhook delivering");
        let client = client(Duration::from_secs_f64(self.hook.timeout_sec));
        let initial = (self.hook.retry_initial_sec * 1000.0) as u64;
        let max = (self.hook.retry_max_sec * 1000.0) as u64;
        loop {
            let page = match self
                .store
                .reader
                .send(EventsAfter { after_id: cursor.after_id, camera: None, limit: PAGE })
                .await
            {
                Ok(Ok(page)) => page,
                Ok(Err(e)) => {
                    tracing::warn!(hook = %self.hook.id, error = %e, "webhook: cannot read the events; trying again");
                    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(_) => return, // The store stopped: the process is shutting down.
            };
            self.note_backlog(&cursor).await;
            if page.is_empty() {
                actix_web::rt::time::sleep(POLL).await;
                continue;
            }
            // A skipped event moves the position too: kept after each event sent, and at the page's end.
            let mut unsaved = false;
            for stored in page {
                let event = &stored.event;
                if stored.origin.is_some() || !self.hook.wants(&event.camera, &event.rule, event.kind) {
                    cursor.after_id = stored.id;
                    unsaved = true;
                    continue;
                }
                if self.deliver(&client, &stored, (initial, max), &cursor).await {
                    cursor.delivered += 1;
                } else {
                    cursor.given_up += 1;
                }
                cursor.after_id = stored.id;
                unsaved = false;
                if !self.save(&cursors, cursor).await {
                    return;
                }
            }
            if unsaved && !self.save(&cursors, cursor).await {
                return;
            }
        }
    }

    /// Send one event until it is delivered (true) or given up after `max_attempts` (false), backing off
    /// between failures (`retry`: the first and longest delay, ms).
    async fn deliver(
        &self,
        client: &awc::Client,
        stored: &StoredEvent,
        retry: (u64, u64),
        cursor: &HookCursor,
    ) -> bool {
        let mut backoff = Backoff::new(retry.0, retry.1, rand::rng());
        let mut attempts = 0u32;
        let count = |result: &'static str| {
            metrics::counter!(m::WEBHOOK_DELIVERIES, "hook" => self.hook.id.clone(), "result" => result).increment(1)
        };
        loop {
            attempts += 1;
            let why = match self.send(client, stored, attempts).await {
                Outcome::Delivered => {
                    count("delivered");
                    self.board
                        .update(&self.hook.id, |s| (s.retrying, s.last_delivered_ms) = (None, Some(now_unix_ms())));
                    return true;
                }
                Outcome::Failed(why) => why,
            };
            count("failed");
            if self.hook.max_attempts > 0 && attempts >= self.hook.max_attempts {
                tracing::error!(hook = %self.hook.id, event = stored.id, attempts, error = %why,
                    "webhook: event given up after max_attempts; the hook moves on");
                count("given_up");
                self.board.update(&self.hook.id, |s| {
                    s.failed_attempts += 1;
                    (s.retrying, s.last_error) = (None, Some(why));
                });
                return false;
            }
            let delay = backoff.next_delay();
            if attempts == 1 {
                tracing::warn!(hook = %self.hook.id, event = stored.id, error = %why, retry_in_ms = delay.as_millis() as u64,
                    "webhook: delivery failed; retrying with backoff (later events wait)");
            }
            let next_attempt_ms = now_unix_ms() + delay.as_millis() as i64;
            self.board.update(&self.hook.id, |s| {
                s.failed_attempts += 1;
                s.last_error = Some(why);
                s.retrying = Some(Retrying { event_id: stored.id, attempts, next_attempt_ms });
            });
            actix_web::rt::time::sleep(delay).await;
            self.note_backlog(cursor).await;
        }
    }

    /// POST one event; a 2xx answer delivers it.
    async fn send(&self, client: &awc::Client, stored: &StoredEvent, attempt: u32) -> Outcome {
        let body = stored.to_json();
        let now_s = now_unix_ms() / 1000;
        let mut req = client
            .post(&self.hook.url)
            .insert_header(("Content-Type", "application/json"))
            .insert_header(("User-Agent", concat!("panoptes/", env!("CARGO_PKG_VERSION"))))
            .insert_header(("X-Panoptes-Webhook", self.hook.id.as_str()))
            .insert_header(("X-Panoptes-Event-Id", stored.id.to_string()))
            .insert_header(("X-Panoptes-Attempt", attempt.to_string()))
            .insert_header(("X-Panoptes-Timestamp", now_s.to_string()));
        if let Some(secret) = &self.secret {
            req = req.insert_header(("X-Panoptes-Signature", sign::signature(secret, now_s, body.as_bytes())));
        }
        match req.send_body(body).await {
            Ok(resp) if resp.status().is_success() => Outcome::Delivered,
            Ok(resp) => Outcome::Failed(format!("the receiver answered {}", resp.status())),
            Err(awc::error::SendRequestError::Timeout) => {
                Outcome::Failed(format!("no answer within {} s (timeout_sec)", self.hook.timeout_sec))
            }
            Err(e) => Outcome::Failed(format!("cannot reach {}: {e}", redacted(&self.hook.url))),
        }
    }

    /// Keep the position; false when the store cannot be written (the hook stops, and says why).
    async fn save(&self, cursors: &Arc<Mutex<HookCursors>>, cursor: HookCursor) -> bool {
        let (cursors, id) = (cursors.clone(), self.hook.id.clone());
        let saved =
            actix_web::web::block(move || cursors.lock().unwrap_or_else(|e| e.into_inner()).save(&id, &cursor)).await;
        match saved {
            Ok(Ok(())) => {
                self.board.update(&self.hook.id, |s| {
                    (s.after_id, s.delivered, s.given_up) = (cursor.after_id, cursor.delivered, cursor.given_up);
                });
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

    async fn note_backlog(&self, cursor: &HookCursor) {
        if let Ok(Ok(newest)) = self.store.reader.send(panoptes_actors::store::actor::MaxId).await {
            let backlog = (newest - cursor.after_id).max(0);
            metrics::gauge!(m::WEBHOOK_BACKLOG, "hook" => self.hook.id.clone()).set(backlog as f64);
            self.board.update(&self.hook.id, |s| s.backlog = backlog);
        }
    }

    fn stopped(&self, why: &str) {
        tracing::error!(hook = %self.hook.id, error = %why, "webhook stopped: its position cannot be kept in the store; fix the store and restart");
        self.board.update(&self.hook.id, |s| s.last_error = Some(format!("stopped: {why}")));
    }
}

/// An HTTP client for one hook: `timeout` per request, TLS with the system's root certificates.
fn client(timeout: Duration) -> awc::Client {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let connector = match rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
        Ok(builder) => {
            let tls = builder.with_root_certificates(roots).with_no_client_auth();
            awc::Connector::new().rustls_0_23(Arc::new(tls))
        }
        Err(e) => {
            tracing::warn!(error = %e, "webhooks: TLS is unavailable; https:// hooks will fail");
            awc::Connector::new()
        }
    };
    awc::Client::builder().connector(connector).timeout(timeout).disable_redirects().finish()
}
