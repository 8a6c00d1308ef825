//! Recorded video: `GET /api/cameras/{id}/recordings?start=&end=` (segments by wall-clock range),
//! `GET /api/recordings/{segment}` (one fMP4 segment, with HTTP Range requests), and an event's clip
//! `GET /api/events/{id}/clip` (`X-Panoptes-Offset-Sec`) and `/clip.json` (see `docs/api.md`).
//! Index queries and file reads run on the blocking pool.

use super::cluster::{Half, node_running};
use super::events::get_event;
use super::{ApiError, AppState};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use panoptes_actors::record::clip::{self, Clip, ClipError};
use panoptes_actors::store::StoredEvent;
use panoptes_actors::store::recordings::Segment;
use panoptes_actors::time::Pts;

/// Most segments one listing returns.
pub const MAX_SEGMENTS: usize = 1000;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    web::block(f).await.map_err(|e| ApiError::Internal(format!("blocking pool: {e}")))?
}

fn segment_json(s: &Segment) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "camera": s.camera,
        "url": format!("/api/recordings/{}", s.id),
        "codec": s.codec,
        "start_pts": s.start_pts,
        "end_pts": s.end_pts,
        "start_wall_ms": s.start_wall_ms,
        "end_wall_ms": s.end_wall_ms,
        "frames": s.frames,
        "bytes": s.bytes,
    })
}

fn ms_param(pairs: &[(String, String)], name: &str) -> Result<Option<i64>, ApiError> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| {
            v.parse::<i64>().map_err(|_| {
                ApiError::BadRequest(format!("query parameter `{name}`: `{v}` is not a Unix time in milliseconds"))
            })
        })
        .transpose()
}

/// `GET /api/cameras/{id}/recordings?start=&end=`: segments overlapping `[start, end)` (Unix ms; both
/// optional), oldest first.
pub async fn list(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    if let Some((k, _)) = query.iter().find(|(k, _)| k != "start" && k != "end") {
        return Err(ApiError::BadRequest(format!("unknown query parameter `{k}`; known: start, end")));
    }
    let start = ms_param(&query, "start")?.unwrap_or(i64::MIN);
    let end = ms_param(&query, "end")?.unwrap_or(i64::MAX);
    // `end` before `start` is an empty range: it lists nothing.
    let camera = id.into_inner();
    // A camera removed since keeps its recordings, so the camera need not exist; its id must be one.
    if !panoptes_actors::messages::is_valid_id(&camera) {
        return Err(ApiError::BadRequest(format!(
            "path parameter `id`: `{camera}` is not a camera id (1–64 letters, digits, `-` or `_`)"
        )));
    }
    let index = state.recording.index.clone();
    let segments = blocking(move || {
        index.by_wall(&camera, start, end, MAX_SEGMENTS).map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await?;
    let list: Vec<_> = segments.iter().map(segment_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "segments": list })))
}

/// A single byte range of a `len`-byte body (`Range: bytes=a-b | a- | -n`); `Ok(None)`: serve it all (no
/// header, or several ranges); `Err(())`: unsatisfiable (416).
pub fn parse_range(header: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.is_empty(), b.is_empty()) {
        (true, false) => {
            let n: u64 = b.parse().map_err(|_| ())?;
            if n == 0 || len == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len - 1)
        }
        (false, _) => {
            let start: u64 = a.parse().map_err(|_| ())?;
            let end: u64 = if b.is_empty() { len.saturating_sub(1) } else { b.parse().map_err(|_| ())? };
            if start >= len || end < start {
                return Err(());
            }
            (start, end.min(len - 1))
        }
        (true, true) => return Err(()),
    };
    Ok(Some(range))
}

/// `GET /api/recordings/{segment}`: the segment's file, `video/mp4`, with `Range` support.
pub async fn segment(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = id.into_inner();
    let id: i64 = raw
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("path parameter `segment`: `{raw}` is not a segment id")))?;
    let (index, dir) = (state.recording.index.clone(), state.recording.config.dir.clone());
    let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let wanted = range.clone();
    let access = super::auth::access(&req);
    // Only the requested bytes are read from the file.
    let (seg, len, body) = blocking(move || {
        use std::io::{Read, Seek, SeekFrom};
        // A segment of a camera outside the token's reach does not exist for it.
        let seg = index.get(id).map_err(|e| ApiError::Internal(e.to_string()))?.filter(|s| access.allows(&s.camera));
        let seg = seg.ok_or_else(|| {
            ApiError::NotFound(format!("recording segment {id} does not exist (or was deleted by retention)"))
        })?;
        let path = dir.join(&seg.path);
        let io = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => ApiError::NotFound(format!("recording segment {id} was deleted")),
            _ => ApiError::Internal(format!("reading {}: {e}", path.display())),
        };
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let body = match parse_range(wanted.as_deref(), len) {
            Ok(None) => {
                let mut all = Vec::with_capacity(len as usize);
                file.read_to_end(&mut all).map_err(io)?;
                Ok((None, all))
            }
            Ok(Some((a, b))) => {
                let mut part = vec![0; (b - a + 1) as usize];
                file.seek(SeekFrom::Start(a)).map_err(io)?;
                file.read_exact(&mut part).map_err(io)?;
                Ok((Some((a, b)), part))
            }
            Err(()) => Err(()),
        };
        Ok((seg, len, body))
    })
    .await?;
    let mut resp = match body {
        Ok((None, all)) => {
            HttpResponse::Ok().content_type("video/mp4").insert_header((header::ACCEPT_RANGES, "bytes")).body(all)
        }
        Ok((Some((a, b)), part)) => HttpResponse::PartialContent()
            .content_type("video/mp4")
            .insert_header((header::ACCEPT_RANGES, "bytes"))
            .insert_header((header::CONTENT_RANGE, format!("bytes {a}-{b}/{len}")))
            .body(part),
        Err(()) => HttpResponse::RangeNotSatisfiable().insert_header((header::CONTENT_RANGE, format!("bytes */{len}"))).json(
            serde_json::json!({ "error": format!("range `{}` is outside the segment's {len} bytes", range.unwrap_or_default()) }),
        ),
    };
    resp.headers_mut().insert(
        header::HeaderName::from_static("x-panoptes-start-pts"),
        header::HeaderValue::from(seg.start_pts.ticks()),
    );
    Ok(resp)
}

/// The clip of an event and the clock rate of its times.
pub(super) async fn build_clip(state: &AppState, event: &StoredEvent) -> Result<(Clip, u32), ApiError> {
    let what = format!("event {}", event.id);
    build_clip_at(state, event.event.camera.clone(), event.event.pts, what).await
}

/// The clip around the picture at `pts` of `camera`'s timeline (`id` names it in errors).
async fn build_clip_at(state: &AppState, camera: String, pts: Pts, id: String) -> Result<(Clip, u32), ApiError> {
    let cfg = state.recording.config.clone();
    let index = state.recording.index.clone();
    blocking(move || {
        let internal = |e: panoptes_actors::store::StoreError| ApiError::Internal(e.to_string());
        // Segments share the camera timeline's rate; find one to learn it, then search in its ticks.
        let rate =
            index.by_wall(&camera, i64::MIN, i64::MAX, 1).map_err(internal)?.first().map(|s| s.start_pts.clock_rate());
        let not_recorded = || {
            ApiError::NotFound(format!(
                "{id}: camera {camera} has no finished recording around PTS {:.3} s yet \
                 (recording off, not finished, or deleted by retention); segments finish every {} s",
                pts.as_secs_f64(),
                cfg.segment_sec
            ))
        };
        let rate = rate.ok_or_else(not_recorded)?;
        let event_ticks = pts.ticks_at(rate);
        let (pre, post) = ((cfg.clip_pre_sec * f64::from(rate)) as i64, (cfg.clip_post_sec * f64::from(rate)) as i64);
        // Every segment starts at a key frame, so the one holding `event − pre` holds the clip's first key frame.
        let segments = index.by_pts(&camera, event_ticks - pre, event_ticks + post + 1).map_err(internal)?;
        if !segments.iter().any(|s| s.start_pts.ticks() <= event_ticks && event_ticks < s.end_pts.ticks()) {
            return Err(not_recorded());
        }
        let mut files = Vec::with_capacity(segments.len());
        for s in &segments {
            let path = cfg.dir.join(&s.path);
            let bytes =
                std::fs::read(&path).map_err(|e| ApiError::Internal(format!("reading {}: {e}", path.display())))?;
            files.push((s.path.clone(), bytes));
        }
        match clip::build(&files, event_ticks, pre, post) {
            Ok(c) => Ok((c, rate)),
            Err(ClipError::NotCovered { .. }) => Err(not_recorded()),
            Err(e) => Err(ApiError::Internal(format!("{id}: {e}"))),
        }
    })
    .await
}

fn offset_sec(clip: &Clip, rate: u32) -> f64 {
    clip.offset_ticks as f64 / f64::from(rate)
}

/// A clip as served: the fMP4 and where it sits on the camera timeline.
struct Served {
    bytes: actix_web::web::Bytes,
    offset_sec: f64,
    start: Pts,
    end: Pts,
}

fn mp4(served: Served) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("video/mp4")
        .insert_header(("X-Panoptes-Offset-Sec", served.offset_sec.to_string()))
        .insert_header(("X-Panoptes-Start-Pts", served.start.ticks().to_string()))
        .insert_header(("X-Panoptes-End-Pts", served.end.ticks().to_string()))
        .body(served.bytes)
}

/// The clip of `event`: from this node's recordings, else (cluster mode, a camera whose ingest node is
/// another node) fetched from the node that records the camera, with the caller's token.
async fn serve_event_clip(req: &HttpRequest, state: &AppState, event: &StoredEvent) -> Result<Served, ApiError> {
    let local = build_clip(state, event).await;
    match (local, node_running(state, &event.event.camera, Half::Ingest)) {
        (Ok((clip, rate)), _) => Ok(Served {
            offset_sec: offset_sec(&clip, rate),
            start: Pts::new(clip.start_ticks, rate),
            end: Pts::new(clip.end_ticks, rate),
            bytes: clip.bytes.into(),
        }),
        (Err(ApiError::NotFound(_)), Some(http)) => fetch_clip(req, &http, &event.event.camera, event.event.pts).await,
        (Err(e), _) => Err(e),
    }
}

/// `GET {http}/api/cameras/{camera}/clip?pts=&rate=` on another node, with the caller's token.
async fn fetch_clip(req: &HttpRequest, http: &str, camera: &str, pts: Pts) -> Result<Served, ApiError> {
    let url = format!("{http}/api/cameras/{camera}/clip?pts={}&rate={}", pts.ticks(), pts.clock_rate());
    let token = super::auth::presented_token(req);
    let mut get = awc::Client::default().get(&url).timeout(std::time::Duration::from_secs(30));
    if let Some(t) = token {
        get = get.bearer_auth(t);
    }
    let unavailable = |e: String| {
        ApiError::Unavailable(format!("the clip is on the node that records camera {camera} ({http}): {e}"))
    };
    let mut res = get.send().await.map_err(|e| unavailable(e.to_string()))?;
    let bytes = res.body().limit(512 << 20).await.map_err(|e| unavailable(e.to_string()))?;
    if !res.status().is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| res.status().to_string());
        return Err(match res.status().as_u16() {
            404 => ApiError::NotFound(format!("{message} (on {http})")),
            _ => unavailable(message),
        });
    }
    let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<f64>().ok());
    let (Some(offset_sec), Some(start), Some(end)) =
        (header("x-panoptes-offset-sec"), header("x-panoptes-start-pts"), header("x-panoptes-end-pts"))
    else {
        return Err(unavailable("its answer lacks the clip's X-Panoptes headers".into()));
    };
    let rate = pts.clock_rate();
    Ok(Served { bytes, offset_sec, start: Pts::new(start as i64, rate), end: Pts::new(end as i64, rate) })
}

/// `GET /api/events/{id}/clip`: a complete fMP4 around the event; `X-Panoptes-Offset-Sec` = the triggering
/// picture's time inside it.
pub async fn clip(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let event = get_event(&req, &state, &id).await?;
    Ok(mp4(serve_event_clip(&req, &state, &event).await?))
}

/// `GET /api/events/{id}/clip.json`: where the clip is and how it maps onto the camera timeline.
pub async fn clip_json(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let event = get_event(&req, &state, &id).await?;
    let served = serve_event_clip(&req, &state, &event).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "url": format!("/api/events/{}/clip", event.id),
        "offset_sec": served.offset_sec,
        "start_pts": served.start,
        "end_pts": served.end,
        "event_pts": event.event.pts,
        "bytes": served.bytes.len(),
    })))
}

/// `GET /api/cameras/{id}/clip?pts=TICKS&rate=HZ`: the clip around the picture at that PTS of the camera's
/// timeline, from this node's recordings (what another node of a cluster fetches for its events).
pub async fn clip_at(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    if let Some((k, _)) = query.iter().find(|(k, _)| k != "pts" && k != "rate" && k != "token") {
        return Err(ApiError::BadRequest(format!("unknown query parameter `{k}`; known: pts, rate")));
    }
    let number = |name: &str| -> Result<i64, ApiError> {
        let v =
            query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).ok_or_else(|| {
                ApiError::BadRequest(format!("query parameter `{name}` is missing: ?pts=TICKS&rate=HZ"))
            })?;
        v.parse().map_err(|_| ApiError::BadRequest(format!("query parameter `{name}`: `{v}` is not an integer")))
    };
    let (ticks, rate) = (number("pts")?, number("rate")?);
    let rate = u32::try_from(rate)
        .ok()
        .filter(|r| *r > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("query parameter `rate`: {rate} is not a clock rate in Hz")))?;
    let camera = id.into_inner();
    let pts = Pts::new(ticks, rate);
    let (clip, rate) = build_clip_at(&state, camera.clone(), pts, format!("PTS {ticks}/{rate}")).await?;
    Ok(mp4(Served {
        offset_sec: offset_sec(&clip, rate),
        start: Pts::new(clip.start_ticks, rate),
        end: Pts::new(clip.end_ticks, rate),
        bytes: clip.bytes.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range(None, 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=-500"), 100), Ok(Some((0, 99))));
        assert_eq!(parse_range(Some("bytes=50-500"), 100), Ok(Some((50, 99))), "the end is clamped");
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Ok(None), "several ranges: the whole body");
        assert_eq!(parse_range(Some("bytes=100-"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=9-2"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=x-2"), 100), Err(()));
        assert_eq!(parse_range(Some("items=0-1"), 100), Ok(None), "unknown units are ignored");
    }
}
