//! `GET /api/cameras/{id}/status` lists the camera's rules and analytics: a bad rule, a plate section with an
//! invalid format and a fire section whose model file is missing are each disabled on their own, with a reason
//! naming the camera and the field, while the good rule runs and the camera streams.

mod common;

use common::{Server, asset, config_with_cameras};

#[actix_web::test]
async fn bad_rules_and_analytics_are_disabled_on_their_own_with_reasons() {
    let config = format!(
        "[analytics]\nfire_model = \"/nonexistent/fire.onnx\"\n\n{}",
        config_with_cameras(&format!(
            "[[cameras]]\nid = \"yard\"\nfile = \"{}\"\ndetect_fps = 2\n\n\
             [[cameras.zones]]\nid = \"walkway\"\npolygon = [[0.0, 0.3], [1.0, 0.3], [1.0, 0.8], [0.0, 0.8]]\n\n\
             [[cameras.rules]]\nid = \"good\"\nkind = \"intrusion\"\nzone = \"walkway\"\n\n\
             [[cameras.rules]]\nid = \"bad\"\nkind = \"occupancy\"\nzone = \"nowhere\"\nmin_count = 2\n\n\
             [cameras.plates]\npattern = \"[0-9\"\n\n\
             [cameras.fire]\n",
            asset("media/vtest-h264.mp4").display()
        ))
    );
    let server = Server::in_process(&config).await;
    let (code, body) = server.get_json("/api/cameras/yard/status").await;
    assert_eq!(code, 200, "{body}");
    let rules = body["rules"].as_array().unwrap_or_else(|| panic!("no rules list: {body}"));
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["good", "bad", "plates", "fire"], "{body}");
    let by_id = |id: &str| rules.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(by_id("good")["enabled"], true);
    assert_eq!(by_id("good")["kind"], "intrusion");
    assert!(by_id("good").get("reason").is_none(), "{body}");
    let bad = by_id("bad");
    assert_eq!((bad["enabled"].as_bool(), bad["kind"].as_str()), (Some(false), Some("occupancy")));
    assert!(bad["reason"].as_str().unwrap().contains("nowhere"), "{bad}");
    let plates = by_id("plates");
    assert_eq!(plates["enabled"], false);
    let reason = plates["reason"].as_str().unwrap();
    assert!(reason.contains("cameras.yard.plates.pattern") && reason.contains("[0-9"), "{reason}");
    let fire = by_id("fire");
    assert_eq!((fire["enabled"].as_bool(), fire["kind"].as_str()), (Some(false), Some("fire_smoke")));
    let reason = fire["reason"].as_str().unwrap();
    assert!(reason.contains("cameras.yard") && reason.contains("analytics.fire_model"), "{reason}");
    assert!(reason.contains("/nonexistent/fire.onnx"), "{reason}");
    let (code, _) = server.get_json("/api/cameras/nosuch/status").await;
    assert_eq!(code, 404);
}
