//! End to end on real parts: the vtest clip in H.264 and H.265 served over RTSP on loopback →
//! `panoptes run` → the overlay WebSocket shows persons under stable track ids, with rising PTS.

mod common;

use common::{RtspServer, Server, asset, config_with_cameras, longest_track_run};
use std::time::Duration;

#[actix_web::test]
async fn h264_and_h265_cameras_over_rtsp_yield_tracked_persons() {
    let h264 = asset("media/vtest-h264.mp4");
    let h265 = asset("media/vtest-h265.mp4");
    let rtsp = RtspServer::start(&[("/vtest", &h264), ("/vtest265", &h265)], 0);
    let server = Server::start(&config_with_cameras(&format!(
        "[[cameras]]\nid = \"avc\"\nurl = \"{}\"\ndetect_fps = 5\nclasses = [\"person\"]\n\n\
         [[cameras]]\nid = \"hevc\"\nurl = \"{}\"\ntransport = \"udp\"\ndetect_fps = 5\nclasses = [\"person\"]\n",
        rtsp.url("/vtest"),
        rtsp.url("/vtest265")
    )));

    for camera in ["avc", "hevc"] {
        // Enough frames for the pedestrians of the clip to be tracked for a couple of seconds.
        let msgs =
            server.overlay_until(camera, Duration::from_secs(120), |m| longest_track_run(m, "person").1 >= 10).await;
        assert!(msgs.iter().all(|m| m["camera"] == camera));
        assert!(msgs.iter().all(|m| m["width"] == 768 && m["height"] == 576), "vtest is 768x576");
        let pts: Vec<i64> = msgs.iter().map(|m| m["pts"]["ticks"].as_i64().unwrap()).collect();
        assert!(pts.windows(2).all(|w| w[0] < w[1]), "PTS rises frame to frame on {camera}: {pts:?}");
        assert!(msgs.iter().all(|m| m["pts"]["clock_rate"] == 90_000), "RTP video clock");
        let seqs: Vec<u64> = msgs.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        for m in &msgs {
            for t in m["tracks"].as_array().unwrap() {
                assert_eq!(t["label"], "person", "the camera's class filter keeps persons only");
                let b: Vec<f64> = t["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                assert!(b.iter().all(|v| (0.0..=1.0).contains(v)), "normalised box {b:?}");
            }
        }
    }
    // The live page's picture: the latest processed frame, named by its seq.
    let mut resp = server.request(awc::http::Method::GET, "/api/cameras/avc/frame.jpg").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers().get("content-type").unwrap(), "image/jpeg");
    let seq: u64 = resp.headers().get("x-panoptes-seq").unwrap().to_str().unwrap().parse().unwrap();
    assert!(seq > 0);
    let jpeg = resp.body().limit(1 << 22).await.unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);

    let (status, cams) = server.get_json("/api/cameras").await;
    assert_eq!(status, 200);
    let codecs: Vec<&str> =
        cams.as_array().unwrap().iter().map(|c| c["status"]["codec"].as_str().unwrap_or("")).collect();
    assert!(codecs.contains(&"h264") && codecs.contains(&"hevc"), "{cams}");
    // The frame counters add up, and both rates are live: the stream delivers more frames than are inferred.
    for cam in cams.as_array().unwrap() {
        let s = &cam["status"];
        let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
        assert!(n("frames_inferred") >= 10, "{s}");
        assert!(
            n("frames_skipped") + n("frames_inferred") + n("frames_still") + n("frames_dropped") == n("frames_decoded"),
            "{s}"
        );
        let (fps_in, fps_out) = (s["fps_in"].as_f64().unwrap(), s["fps_out"].as_f64().unwrap());
        assert!(fps_in > 0.0 && fps_out > 0.0 && fps_out <= fps_in + 0.5, "{s}");
    }
}
