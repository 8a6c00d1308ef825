//! The live fMP4 feed of one camera: the init segment and a fragment per picture, fanned out to WebSocket
//! clients through bounded queues (`/ws/live/{camera}`).
//!
//! A client first gets the current [`LiveInit`], then fragments starting at a key frame. When its queue is
//! full, the fragment is skipped (counted in `panoptes_live_skipped_total`) and the client waits for the
//! next key frame, so what it receives always decodes. A closed client is dropped at the next fragment.

use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Messages a client may hold before it counts as slow.
pub const LIVE_QUEUE: usize = 64;

/// What a client needs before the first fragment.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveInit {
    /// RFC 6381 codec string (`avc1.640028`, `hvc1.1.6.L93.B0`).
    pub codec: String,
    /// Ticks per second of the `tfdt` times (the camera timeline's clock rate).
    pub timescale: u32,
    /// `ftyp` + `moov`.
    pub segment: Vec<u8>,
}

/// One message to a client.
#[derive(Clone, Debug)]
pub enum LiveMsg {
    /// A (new) init segment: the first message, and again if the stream's parameters change.
    Init(Arc<LiveInit>),
    /// `moof` + `mdat` of one picture; `key`: the picture is a key frame (a client that skipped waits for one).
    Fragment { data: Arc<Vec<u8>>, key: bool },
}

struct Client {
    tx: mpsc::Sender<LiveMsg>,
    need_key: bool,
    /// Waiting for a key frame because its queue was full (not merely new).
    slow: bool,
}

#[derive(Default)]
struct Inner {
    init: Option<Arc<LiveInit>>,
    clients: Vec<Client>,
}

/// See the module documentation. Cheap to clone; shared by the camera's recorder thread and the HTTP layer.
#[derive(Clone, Default)]
pub struct LiveFeed(Arc<Mutex<Inner>>);

impl LiveFeed {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new client: its queue gets the init segment (when known) and then fragments from the next key frame.
    pub fn subscribe(&self) -> mpsc::Receiver<LiveMsg> {
        let (tx, rx) = mpsc::channel(LIVE_QUEUE);
        let mut inner = self.inner();
        if let Some(init) = &inner.init {
            let _ = tx.try_send(LiveMsg::Init(init.clone()));
        }
        inner.clients.push(Client { tx, need_key: true, slow: false });
        rx
    }

    /// Clients currently subscribed (closed ones are counted until the next fragment).
    pub fn clients(&self) -> usize {
        self.inner().clients.len()
    }

    /// The stream's init segment (at start, and when its parameters change).
    pub fn set_init(&self, init: LiveInit) {
        let init = Arc::new(init);
        let mut inner = self.inner();
        inner.clients.retain_mut(|c| {
            c.need_key = true;
            !matches!(c.tx.try_send(LiveMsg::Init(init.clone())), Err(mpsc::error::TrySendError::Closed(_)))
        });
        inner.init = Some(init);
    }

    /// Offer one fragment to every client; returns how many slow clients skipped it (their queue was full, or
    /// they are waiting for a key frame since it was).
    pub fn publish(&self, fragment: Arc<Vec<u8>>, key: bool) -> usize {
        let mut skipped = 0;
        self.inner().clients.retain_mut(|c| {
            if c.tx.is_closed() {
                return false;
            }
            if c.need_key && !key {
                skipped += usize::from(c.slow);
                return true;
            }
            match c.tx.try_send(LiveMsg::Fragment { data: fragment.clone(), key }) {
                Ok(()) => (c.need_key, c.slow) = (false, false),
                Err(mpsc::error::TrySendError::Full(_)) => {
                    (c.need_key, c.slow) = (true, true);
                    skipped += 1;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
            true
        });
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init() -> LiveInit {
        LiveInit { codec: "avc1.640028".into(), timescale: 90_000, segment: vec![1, 2, 3] }
    }

    fn frag(n: u8) -> Arc<Vec<u8>> {
        Arc::new(vec![n])
    }

    fn drain(rx: &mut mpsc::Receiver<LiveMsg>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(m) = rx.try_recv() {
            out.push(match m {
                LiveMsg::Init(i) => format!("init:{}", i.codec),
                LiveMsg::Fragment { data, .. } => format!("f{}", data[0]),
            });
        }
        out
    }

    #[test]
    fn a_client_gets_the_init_then_fragments_from_a_key_frame() {
        let feed = LiveFeed::default();
        let mut early = feed.subscribe();
        feed.set_init(init());
        feed.publish(frag(1), false);
        feed.publish(frag(2), true);
        let mut late = feed.subscribe();
        feed.publish(frag(3), false);
        feed.publish(frag(4), true);
        assert_eq!(drain(&mut early), ["init:avc1.640028", "f2", "f3", "f4"]);
        assert_eq!(drain(&mut late), ["init:avc1.640028", "f4"]);
    }

    #[test]
    fn a_slow_client_skips_to_the_next_key_frame_and_closed_ones_leave() {
        let feed = LiveFeed::default();
        feed.set_init(init());
        let mut slow = feed.subscribe();
        let gone = feed.subscribe();
        drop(gone);
        let mut skipped = 0;
        feed.publish(frag(0), true);
        for i in 1..(LIVE_QUEUE as u8 + 5) {
            skipped += feed.publish(frag(i), false);
        }
        assert_eq!(feed.clients(), 1, "the closed client was dropped");
        // The queue held the init and LIVE_QUEUE - 1 fragments; the other 6 were skipped.
        assert_eq!(skipped, 6);
        let got = drain(&mut slow);
        assert_eq!(got.len(), LIVE_QUEUE);
        // After the skip nothing but a key frame gets through.
        feed.publish(frag(200), false);
        feed.publish(frag(201), true);
        feed.publish(frag(202), false);
        assert_eq!(drain(&mut slow), ["f201", "f202"]);
    }
}
