//! Tokens and roles on the real server: no token and a wrong token get 401, a viewer reads but cannot write
//! (403), WebSocket channels need a token (header or `?token=`), public paths stay public, and a deleted token
//! stops working.

mod common;

use awc::http::Method;
use common::{ADMIN_TOKEN, Server, config_with_cameras, send};
use serde_json::json;

#[actix_web::test]
async fn tokens_and_roles_guard_every_route() {
    let server =
        Server::start(&config_with_cameras("[[cameras]]\nid = \"back-door\"\nfile = \"var/media/no-such-file.mp4\"\n"));

    // No token, a wrong token: 401 with the JSON error shape.
    let (status, body) = send(server.request_as(Method::GET, "/api/cameras", None), None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
    let (status, _) = send(server.request_as(Method::GET, "/api/system", Some("not-a-token")), None).await;
    assert_eq!(status, 401);
    // Deny by default: an unknown route answers 401 before 404.
    let (status, _) = send(server.request_as(Method::GET, "/api/not-yet-written", None), None).await;
    assert_eq!(status, 401);
    // Public paths.
    for path in ["/", "/healthz", "/readyz", "/metrics"] {
        let resp = server.request_as(Method::GET, path, None).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path} is public");
    }
    // The public health check says live and ready, and nothing of the cameras or their errors; the detail
    // needs a token.
    let (status, health) = send(server.request_as(Method::GET, "/healthz", None), None).await;
    assert_eq!((status, &health["status"], &health["ready"]), (200, &json!("ok"), &json!(true)), "{health}");
    assert!(!health.to_string().contains("back-door") && health.get("cameras").is_none(), "{health}");
    let (status, _) = send(server.request_as(Method::GET, "/api/health", None), None).await;
    assert_eq!(status, 401);
    let (status, detail) = server.get_json("/api/health").await;
    assert_eq!(status, 200);
    assert!(detail["cameras"]["back-door"].is_object(), "{detail}");

    // The admin creates a viewer token; its secret is shown once, never listed.
    let (status, created) =
        server.send_json(Method::POST, "/api/tokens", Some(json!({ "name": "wall screen", "role": "viewer" }))).await;
    assert_eq!(status, 201, "{created}");
    let viewer = created["token"].as_str().unwrap().to_string();
    let (status, list) = server.get_json("/api/tokens").await;
    assert_eq!(status, 200);
    assert!(!list.to_string().contains(&viewer) && !list.to_string().contains(ADMIN_TOKEN), "{list}");
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    // A viewer reads (header or query parameter) but cannot write.
    let (status, _) = send(server.request_as(Method::GET, "/api/cameras", Some(&viewer)), None).await;
    assert_eq!(status, 200);
    let (status, events) =
        send(server.request_as(Method::GET, &format!("/api/events?limit=5&token={viewer}"), None), None).await;
    assert_eq!(status, 200, "the token query parameter is not an unknown event filter: {events}");
    let camera = json!({ "id": "gate", "file": "var/media/vtest-h264.mp4", "enabled": false });
    let (status, body) = send(server.request_as(Method::POST, "/api/cameras", Some(&viewer)), Some(camera)).await;
    assert_eq!(status, 403, "{body}");
    let (status, cams) = server.get_json("/api/cameras").await;
    assert_eq!(status, 200);
    assert!(cams.as_array().unwrap().iter().all(|c| c["id"] != "gate"), "the refused write stored nothing: {cams}");

    // WebSocket channels: 401 without a token; a viewer connects with the query parameter.
    for path in ["/ws/alerts", "/ws/overlay"] {
        let err = awc::Client::default().ws(server.http(path).replace("http", "ws")).connect().await.err();
        match err {
            Some(awc::error::WsClientError::InvalidResponseStatus(s)) => assert_eq!(s.as_u16(), 401, "{path}"),
            other => panic!("{path} without a token: {other:?}"),
        }
        let url = format!("{}?token={viewer}", server.http(path).replace("http", "ws"));
        awc::Client::default().ws(url).connect().await.unwrap_or_else(|e| panic!("{path} as viewer: {e}"));
    }

    // Deleting the viewer token revokes it; the last admin token cannot be deleted.
    let id = created["id"].as_i64().unwrap();
    let (status, _) = server.send_json(Method::DELETE, &format!("/api/tokens/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = send(server.request_as(Method::GET, "/api/cameras", Some(&viewer)), None).await;
    assert_eq!(status, 401);
    let admin_id = list.as_array().unwrap().iter().find(|t| t["role"] == "admin").unwrap()["id"].as_i64().unwrap();
    let (status, body) = server.send_json(Method::DELETE, &format!("/api/tokens/{admin_id}"), None).await;
    assert_eq!(status, 409, "{body}");
}
