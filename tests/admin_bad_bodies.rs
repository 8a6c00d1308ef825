//! Bad request bodies get a 400 that names the field, and nothing of them is stored: the camera list and the
//! zones stay as they were.

mod common;

use awc::http::Method;
use common::{Server, config_with_cameras};
use serde_json::json;

#[actix_web::test]
async fn bad_bodies_are_refused_naming_the_field_and_nothing_is_stored() {
    let server = Server::in_process(&config_with_cameras("")).await;
    let good = json!({ "id": "gate", "file": "var/media/vtest-h264.mp4", "enabled": false });
    let (status, body) = server.send_json(Method::POST, "/api/cameras", Some(good.clone())).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["id"], "gate");
    let (_, before) = server.get_json("/api/cameras").await;

    let cases = [
        (json!({ "id": "a", "file": "var/media/x.mp4", "detect_fps": "fast" }), "detect_fps"),
        (json!({ "id": "a", "file": "var/media/x.mp4", "colour": "red" }), "colour"),
        (json!({ "id": "a", "url": "http://example.com/x" }), "cameras.a.url"),
        (json!({ "id": "bad id", "file": "var/media/x.mp4" }), "id"),
        (json!({ "id": "a", "file": "var/media/x.mp4", "classes": ["unicorn"] }), "classes"),
        (json!({ "id": "a", "file": "var/media/x.mp4", "password": "hunter2", "username": "u" }), "password"),
        (
            json!({ "id": "a", "file": "var/media/x.mp4", "zones": [{ "id": "z", "polygon": [[0, 0], [1, "x"]] }] }),
            "zones[0].polygon",
        ),
        (
            json!({ "id": "a", "file": "var/media/x.mp4", "zones": [{ "id": "z", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]] }] }),
            "cameras.a.zones.z",
        ),
        (
            json!({ "id": "a", "file": "var/media/x.mp4", "rules": [{ "id": "r", "kind": "intrusion", "zone": "nowhere" }] }),
            "cameras.a.rules.r",
        ),
        // A file outside `[server] media_roots` (here the default, var/media), however the path is spelt.
        (json!({ "id": "a", "file": "/etc/passwd" }), "cameras.a.file"),
        (json!({ "id": "a", "file": "var/media/../../../../etc/passwd" }), "cameras.a.file"),
    ];
    for (camera, field) in cases {
        let (status, body) = server.send_json(Method::POST, "/api/cameras", Some(camera.clone())).await;
        assert_eq!(status, 400, "{camera} → {body}");
        let text = body.to_string();
        assert!(body["field"].as_str().unwrap_or("").contains(field) || text.contains(field), "{camera}: {body}");
        assert!(!text.contains("hunter2"), "the error does not echo a password: {body}");
    }
    // Whether an outside file exists is not told: the two answers differ only by the path echoed.
    let refused = |path: &str| {
        let camera = json!({ "id": "a", "file": path });
        async { server.send_json(Method::POST, "/api/cameras", Some(camera)).await }
    };
    let (there, missing) = (refused("/etc/passwd").await, refused("/etc/no-such-file").await);
    assert_eq!((there.0, missing.0), (400, 400));
    assert!(there.1["error"].as_str().unwrap().contains("[server] media_roots"), "{}", there.1);
    assert_eq!(
        there.1.to_string().replace("/etc/passwd", "P"),
        missing.1.to_string().replace("/etc/no-such-file", "P")
    );
    // Not JSON at all.
    let resp = server.request(Method::POST, "/api/cameras").content_type("application/json").send_body("{oops").await;
    assert_eq!(resp.unwrap().status().as_u16(), 400);
    // A duplicate id is a conflict.
    let (status, _) = server.send_json(Method::POST, "/api/cameras", Some(good)).await;
    assert_eq!(status, 409);
    // PUT with a mismatched id, a zone with a bad polygon, a rule naming a zone that does not exist.
    let (status, body) = server
        .send_json(Method::PUT, "/api/cameras/gate", Some(json!({ "id": "door", "file": "var/media/x.mp4" })))
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("id")), "{body}");
    let (status, body) = server
        .send_json(Method::PUT, "/api/cameras/gate/zones/z", Some(json!({ "polygon": [[0, 0], [2, 0], [1, 1]] })))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("outside the picture"), "{body}");
    let (status, body) = server
        .send_json(Method::PUT, "/api/cameras/gate/zones/z", Some(json!({ "polygon": [[0, 0], [1, 0]], "x": 1 })))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = server
        .send_json(Method::PUT, "/api/cameras/gate/rules/r", Some(json!({ "kind": "intrusion", "zone": "nowhere" })))
        .await;
    assert_eq!((status, body["field"].as_str()), (400, Some("cameras.gate.rules.r")), "{body}");
    let (status, _) = server.send_json(Method::PUT, "/api/cameras/nope/zones/z", Some(json!({ "polygon": [] }))).await;
    assert!(status == 404 || status == 400, "{status}");

    let (_, after) = server.get_json("/api/cameras").await;
    assert_eq!(before, after, "nothing of the refused requests was stored");
    let (status, zones) = server.get_json("/api/cameras/gate/zones").await;
    assert_eq!((status, zones), (200, json!([])));
}
