//! Events cluster-wide: every node publishes the events it raises to the JetStream stream `panoptes_events`
//! (subject `panoptes.events.<node id>.<store id>`, each message deduplicated by `<node>:<store>:<event id>`:
//! a node whose store is replaced numbers its events from 1 again, in a store of another id), and every node
//! with the `api` role copies the other nodes' events into its own store through a durable consumer of its
//! own. A copy is stored once (its origin's node and id are unique in the store) and announced like a local
//! event, so `/api/events` and `/ws/alerts` of any such node serve the whole cluster, and a node that was
//! away catches up from where its consumer stopped.
//!
//! The local store is the outbox: an event is published after it has committed here, from the store, in id
//! order. At start the publisher resumes after the newest of this store's events the stream holds, so events
//! committed while NATS was unreachable, or just before a crash, are published when the node runs again.

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use panoptes_actors::messages::Event;
use panoptes_actors::store::Origin;
use panoptes_actors::store::actor::{EventIntake, EventsAfter, GetStoreId, ImportEvent, StoreHandle, StoreReader};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The stream of every node's events.
pub const EVENTS_STREAM: &str = "panoptes_events";
/// Events read from the local store per publishing round.
const PAGE: usize = 256;
/// How often the publisher looks for new local events when it is idle.
const POLL: Duration = Duration::from_millis(250);

/// One event on the stream.
#[derive(Serialize, Deserialize)]
struct Published {
    /// The node that raised it, its store, its id there, and where that node serves its snapshot and clip.
    node: String,
    store: String,
    id: i64,
    http: String,
    snapshot: bool,
    event: Event,
}

fn subject(node: &str, store: &str) -> String {
    format!("panoptes.events.{node}.{store}")
}

/// Where the stream is and how it keeps events: `max_age` (zero: for ever), `replicas` copies.
pub struct StreamSettings {
    pub max_age: Duration,
    pub replicas: usize,
}

/// Open (create) the stream and start publishing this node's events and, with `copy`, copying the others'.
pub async fn start(
    js: &jetstream::Context,
    me: &str,
    http: &str,
    store: &StoreHandle,
    copy: bool,
    settings: StreamSettings,
) -> anyhow::Result<()> {
    let events = js
        .get_or_create_stream(stream::Config {
            name: EVENTS_STREAM.into(),
            description: Some("Panoptes events of every node".into()),
            subjects: vec!["panoptes.events.>".into()],
            max_age: settings.max_age,
            duplicate_window: Duration::from_secs(120),
            num_replicas: settings.replicas,
            ..Default::default()
        })
        .await?;
    let store_id = store.reader.send(GetStoreId).await??;
    let after = match events.get_last_raw_message_by_subject(&subject(me, &store_id)).await {
        Ok(m) => serde_json::from_slice::<Published>(&m.payload).map(|p| p.id).unwrap_or(0),
        Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => 0,
        Err(e) => return Err(e.into()),
    };
    tracing::info!(node = me, store = %store_id, after, "publishing this node's events to the cluster");
    let origin = Source { node: me.to_owned(), store: store_id, http: http.to_owned() };
    actix::spawn(publish(js.clone(), origin, store.reader.clone(), after));
    if copy {
        let name = format!("events-{me}");
        let consumer: consumer::PullConsumer = events
            .get_or_create_consumer(
                &name,
                consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    description: Some(format!("node {me} copies the other nodes' events")),
                    ack_policy: consumer::AckPolicy::Explicit,
                    deliver_policy: consumer::DeliverPolicy::All,
                    ack_wait: Duration::from_secs(10),
                    ..Default::default()
                },
            )
            .await?;
        actix::spawn(copy_others(consumer, me.to_owned(), store.intake.clone()));
    }
    Ok(())
}

/// Where this node's events come from: the node, its store, its HTTP base URL.
struct Source {
    node: String,
    store: String,
    http: String,
}

/// Publish every event raised here with an id above `after`, in id order, each acknowledged by the stream
/// before the next; for as long as the process runs. A failure is retried after a second (logged once per
/// reason), so nothing committed here is skipped.
async fn publish(js: jetstream::Context, me: Source, reader: actix::Addr<StoreReader>, mut after: i64) {
    let mut failing: Option<String> = None;
    loop {
        let page = match reader.send(EventsAfter { after_id: after, camera: None, limit: PAGE }).await {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read this node's events to publish them; retrying");
                actix_web::rt::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(_) => return, // the store has stopped: the process is ending
        };
        if page.is_empty() {
            actix_web::rt::time::sleep(POLL).await;
            continue;
        }
        for stored in page {
            if stored.origin.is_some() {
                after = stored.id; // a copy of another node's event: that node publishes it
                continue;
            }
            let msg = Published {
                node: me.node.clone(),
                store: me.store.clone(),
                id: stored.id,
                http: me.http.clone(),
                snapshot: stored.snapshot.is_some(),
                event: stored.event,
            };
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("{}:{}:{}", me.node, me.store, msg.id).as_str());
            let payload = serde_json::to_vec(&msg).unwrap_or_default();
            let acked = match js.publish_with_headers(subject(&me.node, &me.store), headers, payload.into()).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match acked {
                Ok(()) => {
                    after = msg.id;
                    if failing.take().is_some() {
                        tracing::info!("publishing events to the cluster again");
                    }
                }
                Err(reason) => {
                    if failing.as_deref() != Some(reason.as_str()) {
                        tracing::warn!(error = %reason, event = msg.id, "cannot publish an event to the cluster; it stays in this node's store and is retried");
                    }
                    failing = Some(reason);
                    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

/// Copy every other node's event into this node's store; a message is acknowledged once its copy is stored
/// (or found there already), so a crash in between only brings it again.
async fn copy_others(consumer: consumer::PullConsumer, me: String, intake: actix::Addr<EventIntake>) {
    loop {
        match consumer.messages().await {
            Ok(mut messages) => {
                while let Some(message) = messages.next().await {
                    let message = match message {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!(error = %e, "the cluster's event stream failed; reading again");
                            break;
                        }
                    };
                    let stored = match serde_json::from_slice::<Published>(&message.payload) {
                        Ok(p) if p.node == me => Ok(()),
                        Ok(p) => {
                            let origin =
                                Origin { node: p.node, store: p.store, id: p.id, http: p.http, snapshot: p.snapshot };
                            match intake.send(ImportEvent { event: p.event, origin }).await {
                                Ok(Ok(_)) => Ok(()),
                                Ok(Err(e)) => Err(e.to_string()),
                                Err(_) => return, // the store has stopped: the process is ending
                            }
                        }
                        Err(e) => {
                            tracing::warn!(subject = %message.subject, error = %e, "a message on the event stream that is not a Panoptes event; skipped");
                            Ok(())
                        }
                    };
                    match stored {
                        Ok(()) => {
                            if let Err(e) = message.ack().await {
                                tracing::debug!(error = %e, "acknowledging a copied event (it will come again)");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot store another node's event; it comes again");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the cluster's event stream; retrying"),
        }
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    }
}
