//! The cluster's JetStream KV buckets: opened (created when missing) and followed.

use async_nats::jetstream::{self, kv};
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::watch;

/// Open the bucket `name`, creating its stream when missing. The stream is made here, with the settings of a
/// KV bucket (one value per key, rollups, direct gets), rather than by `create_or_update_key_value`, whose
/// account query needs fields that servers before 2.10 do not send (Debian 12 ships 2.9). `max_age`: how
/// long a value is kept after its last write (zero: for ever); `replicas`: copies the NATS cluster keeps.
pub async fn open(
    js: &jetstream::Context,
    name: &str,
    description: &str,
    max_age: Duration,
    replicas: usize,
) -> anyhow::Result<kv::Store> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("KV_{name}"),
        description: Some(description.into()),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        num_replicas: replicas,
        ..Default::default()
    })
    .await?;
    Ok(js.get_key_value(name).await?)
}

/// How long starting a watch may take before it is tried again.
const WATCH_START: Duration = Duration::from_secs(2);

/// Call `on_entry` with every value of `store` (those there now, then every write and delete), for as long as
/// the process runs. The watch is started again when it ends or fails, and each time the client reconnects
/// (`reconnects` changes): a watch served by a server that went away would otherwise stay silent.
pub async fn follow(
    store: kv::Store,
    what: &'static str,
    mut reconnects: watch::Receiver<u64>,
    mut on_entry: impl FnMut(kv::Entry),
) {
    loop {
        reconnects.mark_unchanged();
        // The last value of every key first (`watch_all` would bring only new writes), then every change.
        // The watch is a consumer the servers place; a 2.9 server may place it on a peer that just went away
        // and never answer, so an attempt is given up after WATCH_START and made again (elsewhere, likely).
        let started = tokio::time::timeout(WATCH_START, store.watch_with_history(">")).await;
        match started.unwrap_or_else(|_| Err(kv::WatchErrorKind::TimedOut.into())) {
            Ok(mut entries) => loop {
                tokio::select! {
                    entry = entries.next() => match entry {
                        Some(Ok(entry)) => on_entry(entry),
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "the watch of the cluster's {what} failed; watching again");
                            break;
                        }
                        None => break,
                    },
                    () = next_reconnect(&mut reconnects) => {
                        tracing::info!("reconnected to NATS: watching the cluster's {what} again");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!(error = %e, "cannot watch the cluster's {what}; retrying"),
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Resolves at the client's next reconnect (never, once nobody reports them).
async fn next_reconnect(reconnects: &mut watch::Receiver<u64>) {
    if reconnects.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}
