//! `GET /api/time`: this node's side of an NTP-style time exchange, for peers estimating their clock
//! offset to this one (`panoptes_actors::time::offset::OffsetEstimator`).
//!
//! The client notes `t0` before sending and `t3` on receiving the reply; this handler returns `t1`
//! (`receive_ns`, taken as the handler starts) and `t2` (`transmit_ns`, taken just before the reply is
//! built), both Unix nanoseconds on this node's wall clock. Time spent in the HTTP stack before the
//! handler and after it counts as network delay: it widens the uncertainty, never biases the bound.
//!
//! `GET /api/time/peers` shows this node's own estimates of its `[[peers]]` (fed by `crate::peers`).

use super::AppState;
use actix_web::{HttpResponse, web};
use panoptes_actors::time::now_unix_ns;

pub async fn time() -> HttpResponse {
    let receive_ns = now_unix_ns();
    let body = serde_json::json!({ "receive_ns": receive_ns, "transmit_ns": now_unix_ns() });
    HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(body)
}

/// `GET /api/time/peers`: the estimated clock offset to each `[[peers]]` node, with its uncertainty.
pub async fn peers(state: web::Data<AppState>) -> HttpResponse {
    let now_ns = now_unix_ns();
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "now_ns": now_ns, "peers": state.store.links.peers.views(now_ns) }))
}

#[cfg(test)]
mod tests {
    use actix_web::{App, test, web};
    use panoptes_actors::time::now_unix_ns;
    use panoptes_actors::time::offset::{Exchange, OffsetConfig, OffsetEstimator};

    #[actix_web::test]
    async fn the_exchange_brackets_the_handler_and_gives_a_zero_offset_to_itself() {
        let app = test::init_service(App::new().route("/api/time", web::get().to(super::time))).await;
        let mut est = OffsetEstimator::new("self", OffsetConfig::default());
        for _ in 0..5 {
            let t0_ns = now_unix_ns();
            let req = test::TestRequest::get().uri("/api/time").to_request();
            let body: serde_json::Value = test::call_and_read_body_json(&app, req).await;
            let t3_ns = now_unix_ns();
            let t1_ns = body["receive_ns"].as_i64().expect("receive_ns is an integer");
            let t2_ns = body["transmit_ns"].as_i64().expect("transmit_ns is an integer");
            assert!(t0_ns <= t1_ns && t1_ns <= t2_ns && t2_ns <= t3_ns, "{t0_ns} {t1_ns} {t2_ns} {t3_ns}");
            est.add(Exchange { t0_ns, t1_ns, t2_ns, t3_ns }).expect("a valid exchange");
        }
        // Same clock on both ends: the true offset is 0, and it must lie within the reported bound.
        let e = est.estimate(now_unix_ns()).expect("five exchanges");
        assert!(e.offset_ns.abs() <= e.uncertainty_ns, "{e:?}");
    }
}
