//! The OpenAPI 3 document at `GET /api/openapi.json`, generated from [`super::ROUTES`] — the same table that
//! registers the routes — so a route cannot be served without being documented. A unit test also reads the
//! sources under `src/http/` for routes registered outside the table and fails on any it finds.
//!
//! Body schemas are derived from the config types' own JSON (every field name a real one).

use super::{AppState, auth};
use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use panoptes_actors::config::{CameraConfig, LineConfig, RuleConfig, ZoneConfig};
use serde_json::{Map, Value, json};

/// One row of the route table.
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    /// The status of a successful answer.
    pub status: u16,
    /// What a camera-scoped token may reach through it.
    pub reach: auth::Reach,
    pub summary: &'static str,
    /// The request body's schema name in `components.schemas`.
    pub body: Option<&'static str>,
}

/// What the document says that depends on the running server: the model's classes and where file cameras
/// may read.
pub struct Served<'a> {
    pub labels: &'a [String],
    pub media_roots: &'a [std::path::PathBuf],
}

/// A camera, zone, line or rule id.
fn id_schema() -> Value {
    json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$" })
}

/// A stored row's id (events, tokens, segments): a positive integer.
fn row_id_schema() -> Value {
    json!({ "type": "integer", "minimum": 1, "maximum": i64::MAX })
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema = match name {
                "id" if path.starts_with("/api/events/") || path.starts_with("/api/tokens/") => row_id_schema(),
                "segment" => row_id_schema(),
                "file" => json!({ "type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$" }),
                _ => id_schema(),
            };
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect()
}

/// The query parameters a route takes (every route refuses others with 400).
fn query_params(path: &str) -> Vec<Value> {
    let q = |name: &str, schema: Value, required: bool, about: &str| json!({ "name": name, "in": "query", "required": required, "schema": schema, "description": about });
    let ms = json!({ "type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX });
    match path {
        "/api/events" => vec![
            q("camera", id_schema(), false, "only this camera's events"),
            q(
                "kind",
                json!({ "type": "string", "enum": ["intrusion", "loitering", "occupancy", "line_crossing", "plate", "fire", "smoke", "video_lost", "frozen", "blinded", "defocused", "scene_moved"] }),
                false,
                "only events of this kind",
            ),
            q("since_ms", ms.clone(), false, "events starting at or after this Unix time (ms)"),
            q(
                "until_ms",
                ms.clone(),
                false,
                "events starting before this Unix time (ms); before since_ms lists nothing",
            ),
            q(
                "after_id",
                json!({ "type": "integer", "minimum": 0, "maximum": i64::MAX }),
                false,
                "events with a larger id (paging)",
            ),
            q(
                "limit",
                json!({ "type": "integer", "minimum": 1, "maximum": u64::MAX }),
                false,
                "at most this many (capped at 1000)",
            ),
        ],
        "/api/cameras/{id}/recordings" => vec![
            q("start", ms.clone(), false, "segments ending after this Unix time (ms)"),
            q("end", ms, false, "segments starting before this Unix time (ms); before start lists nothing"),
        ],
        "/api/cameras/{id}/clip" => vec![
            q(
                "pts",
                json!({ "type": "integer", "minimum": -i64::MAX, "maximum": i64::MAX }),
                true,
                "a picture's PTS on the camera timeline, in ticks of rate",
            ),
            q(
                "rate",
                json!({ "type": "integer", "minimum": 1, "maximum": 4_294_967_295_i64 }),
                true,
                "the PTS clock rate (Hz)",
            ),
        ],
        "/ws/alerts" => vec![
            q(
                "after",
                json!({ "type": "integer", "minimum": 0, "maximum": i64::MAX }),
                false,
                "replay stored events after this id first",
            ),
            q("camera", id_schema(), false, "only this camera's events"),
        ],
        "/ws/overlay" => vec![q("camera", id_schema(), false, "only this camera's frames")],
        _ => vec![],
    }
}

/// `^(?:root1|root2)/name` for file cameras: a name under one of the media roots, no `..`, no subdirectory.
fn media_pattern(roots: &[std::path::PathBuf]) -> String {
    let escape = |r: &std::path::PathBuf| {
        let text = r.display().to_string();
        let text = text.trim_end_matches('/');
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                    c.to_string()
                } else {
                    format!("\\{c}")
                }
            })
            .collect::<String>()
    };
    let roots: Vec<String> = roots.iter().map(escape).collect();
    format!("^(?:{})/[A-Za-z0-9_-][A-Za-z0-9_.-]{{0,100}}$", roots.join("|"))
}

/// A JSON schema whose properties are those of `example` (a serialised config value), typed by its values.
fn schema_of(example: Value, required: &[&str]) -> Value {
    fn ty(v: &Value) -> Value {
        match v {
            Value::Bool(_) => json!({ "type": "boolean" }),
            Value::Number(n) if n.is_f64() => json!({ "type": "number" }),
            Value::Number(_) => json!({ "type": "integer", "minimum": 0 }),
            Value::String(_) => json!({ "type": "string" }),
            Value::Array(items) => json!({ "type": "array", "items": items.first().map(ty).unwrap_or(json!({})) }),
            Value::Object(_) => json!({ "type": "object" }),
            Value::Null => json!({}),
        }
    }
    let props: Map<String, Value> = example
        .as_object()
        .map(|o| o.iter().filter(|(k, _)| *k != "password").map(|(k, v)| (k.clone(), ty(v))).collect())
        .unwrap_or_default();
    json!({ "type": "object", "additionalProperties": false, "required": required, "properties": props })
}

fn schemas(served: &Served<'_>) -> Value {
    let point = json!({ "type": "array", "items": { "type": "number" }, "minItems": 2, "maxItems": 2 });
    let camera: CameraConfig =
        serde_json::from_value(json!({ "id": "x", "file": "f.mp4" })).expect("a minimal camera parses");
    let mut camera = schema_of(serde_json::to_value(camera).unwrap_or_default(), &["id"]);
    camera["properties"]["id"] = id_schema();
    camera["properties"]["url"] = json!({
        "type": "string", "pattern": "^rtsp://[a-z0-9]([a-z0-9.-]{0,60}[a-z0-9])?(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]{0,40}){0,4}$",
        "description": "rtsp://host[:port]/path, no credentials; exactly one of url and file"
    });
    camera["properties"]["file"] = json!({
        "type": "string", "pattern": media_pattern(served.media_roots),
        "description": "a video file under [server] media_roots; exactly one of url and file"
    });
    camera["oneOf"] = json!([{ "required": ["url"] }, { "required": ["file"] }]);
    camera["properties"]["username"] = json!({ "type": "string" });
    camera["properties"]["transport"] = json!({ "type": "string", "enum": ["tcp", "udp"] });
    camera["properties"]["password_env"] = json!({ "type": "string" });
    camera["properties"]["classes"] = json!({ "type": "array", "items": { "type": "string", "enum": served.labels } });
    camera["properties"]["detect_fps"] =
        json!({ "type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 240 });
    camera["properties"]["backoff_initial_ms"] =
        json!({ "type": "integer", "minimum": 1, "maximum": u64::MAX, "description": "at most backoff_max_ms" });
    camera["properties"]["backoff_max_ms"] = json!({ "type": "integer", "minimum": 1, "maximum": u64::MAX });
    for optional in ["url", "file", "username", "password_env"] {
        camera["properties"][optional]["nullable"] = json!(true);
    }
    for list in ["zones", "lines", "rules"] {
        let name = match list {
            "zones" => "Zone",
            "lines" => "Line",
            _ => "Rule",
        };
        camera["properties"][list] =
            json!({ "type": "array", "items": { "$ref": format!("#/components/schemas/{name}") } });
    }
    // PUT takes the id from the URL: the body may leave it out (or give the same).
    let mut camera_replace = camera.clone();
    if let Some(obj) = camera_replace.as_object_mut() {
        obj.remove("required");
        obj.insert("description".into(), "a camera; `id`, when given, must be the URL's".into());
    }
    let zone = ZoneConfig { id: "z".into(), polygon: vec![] };
    let mut zone = schema_of(serde_json::to_value(zone).unwrap_or_default(), &["polygon"]);
    zone["properties"]["polygon"] = json!({ "type": "array", "items": point, "minItems": 3 });
    let line = LineConfig { id: "l".into(), points: vec![] };
    let mut line = schema_of(serde_json::to_value(line).unwrap_or_default(), &["points"]);
    line["properties"]["points"] = json!({ "type": "array", "items": point, "minItems": 2, "maxItems": 2 });
    let rule: RuleConfig = serde_json::from_value(json!({ "id": "r", "kind": "intrusion" })).expect("a rule parses");
    let mut rule = schema_of(serde_json::to_value(rule).unwrap_or_default(), &["kind"]);
    for f in ["zone", "line", "anchor"] {
        rule["properties"][f] = json!({ "type": "string" });
    }
    for f in [
        "min_confidence",
        "min_sec",
        "exit_sec",
        "dwell_sec",
        "grace_sec",
        "min_count",
        "hold_sec",
        "min_distance",
        "cooldown_sec",
    ] {
        rule["properties"][f] = json!({ "type": "number" });
    }
    rule["properties"]["classes"] = json!({ "type": "array", "items": { "type": "string" } });
    json!({
        "CameraReplace": camera_replace,
        "Camera": camera,
        "Zone": zone,
        "Line": line,
        "Rule": rule,
        "NewToken": {
            "type": "object", "additionalProperties": false, "required": ["name", "role"],
            "properties": {
                "name": { "type": "string", "minLength": 1, "maxLength": 100, "pattern": "[A-Za-z0-9]" },
                "role": { "type": "string", "enum": ["admin", "viewer"] },
                "cameras": {
                    "description": "the cameras the token is limited to; absent or null: every camera",
                    "type": "array", "nullable": true, "minItems": 1, "maxItems": 1000, "items": id_schema()
                }
            }
        },
        "Export": {
            "description": "either `events`, or `camera` with `start_ms` and `duration_ms` (at most an hour)",
            "oneOf": [
                {
                    "type": "object", "additionalProperties": false, "required": ["events"],
                    "properties": {
                        "events": {
                            "type": "array", "minItems": 1, "maxItems": 100,
                            "items": { "type": "integer", "minimum": 1 }
                        }
                    }
                },
                {
                    "type": "object", "additionalProperties": false, "required": ["camera", "start_ms", "duration_ms"],
                    "properties": {
                        "camera": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$" },
                        "start_ms": { "type": "integer" },
                        "duration_ms": { "type": "integer", "minimum": 1, "maximum": 3_600_000 }
                    }
                }
            ]
        },
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {
                "error": { "type": "string", "description": "what failed and what to do" },
                "field": { "type": "string", "description": "path of the bad field in the request body" }
            }
        }
    })
}

/// The document for `routes`.
pub fn document(routes: &[RouteDoc], served: &Served<'_>) -> Value {
    let mut paths = Map::new();
    for r in routes {
        let mut parameters = path_params(r.path);
        parameters.extend(query_params(r.path));
        let mut op = json!({
            "summary": r.summary,
            "x-panoptes-reach": r.reach.describe(),
            "parameters": parameters,
            "responses": {
                r.status.to_string(): { "description": "success" },
                "4XX": { "description": "client error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        });
        if let Some(body) = r.body {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{body}") } } }
            });
        }
        let method = Method::from_bytes(r.method.as_bytes()).unwrap_or(Method::GET);
        if auth::is_public(&method, r.path, true) {
            op["security"] = json!([]);
        }
        let item = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        item[r.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Panoptes",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Real-time video analytics: cameras, zones, rules, events. See docs/api.md."
        },
        "security": [{ "bearer": [] }, { "query_token": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "query_token": { "type": "apiKey", "in": "query", "name": "token" }
            },
            "schemas": schemas(served)
        }
    })
}

/// `GET /api/openapi.json`.
pub async fn serve(state: web::Data<AppState>) -> HttpResponse {
    let served = Served { labels: &state.labels, media_roots: &state.media_roots };
    HttpResponse::Ok().json(document(super::ROUTES, &served))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_table_is_in_the_document() {
        let labels = ["person".to_string()];
        let roots = ["var/media".into()];
        let doc = document(super::super::ROUTES, &Served { labels: &labels, media_roots: &roots });
        for r in super::super::ROUTES {
            let op = &doc["paths"][r.path][r.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} is missing from the OpenAPI document", r.method, r.path);
            let in_path = op["parameters"].as_array().unwrap().iter().filter(|p| p["in"] == "path").count();
            assert_eq!(in_path, r.path.matches('{').count(), "{}", r.path);
            if let Some(body) = r.body {
                assert!(doc["components"]["schemas"][body].is_object(), "schema {body} of {} is missing", r.path);
            }
        }
        assert!(doc["components"]["schemas"]["Camera"]["properties"]["detect_fps"].is_object());
        assert!(doc["components"]["schemas"]["Camera"]["properties"]["password"].is_null());
        assert_eq!(doc["components"]["schemas"]["Camera"]["properties"]["backoff_max_ms"]["type"], "integer");
        let file = doc["components"]["schemas"]["Camera"]["properties"]["file"]["pattern"].as_str().unwrap();
        assert_eq!(file, "^(?:var/media)/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}$");
        let events = doc["paths"]["/api/events"]["get"]["parameters"].as_array().unwrap();
        assert!(events.iter().any(|p| p["name"] == "after_id" && p["in"] == "query"), "{events:?}");
    }

    /// Routes registered anywhere under `src/http/` by a literal path (`route`, `resource`, `scope` or an
    /// attribute macro) must be rows of the table: a route added outside it fails here, naming the file.
    #[test]
    fn no_route_is_registered_outside_the_table() {
        let table: Vec<&str> = super::super::ROUTES.iter().map(|r| r.path).collect();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for pattern in [".route(\"", "resource(\"", "#[get(\"", "#[post(\"", "#[put(\"", "#[delete(\"", "scope(\""]
            {
                for (at, _) in text.match_indices(pattern) {
                    let rest = &text[at + pattern.len()..];
                    let route = &rest[..rest.find('"').unwrap_or(0)];
                    assert!(
                        table.contains(&route),
                        "{} registers `{route}` outside the route table: add it to `route_table!` in src/http/mod.rs",
                        path.display()
                    );
                }
            }
        }
    }
}
