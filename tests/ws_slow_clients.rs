//! WebSocket clients that stop reading hold a bounded number of bytes, are closed once stalled, and leave
//! nothing behind: rounds of 40 such clients on `/ws/live` and `/ws/overlay` against the real server, with a
//! reading client alongside that keeps getting every frame's message. The camera plays a noisy 23 Mbit/s
//! clip so that the kernel's socket buffers fill in seconds and the server's own bound is what is tested.

mod common;

use common::{ADMIN_TOKEN, Server, config_with_cameras, with_media_roots};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A client that completes the WebSocket handshake on `path` and then reads nothing, with a 4 KiB receive
/// buffer so that the server, not the kernel, holds what it does not read.
fn stalled_client(addr: &str, path: &str) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let sock_addr: std::net::SocketAddr = addr.parse().unwrap();
    socket.connect(&sock_addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {ADMIN_TOKEN}\r\n\r\n"
    )
    .unwrap();
    // Read the response head only, byte by byte, so that nothing after it is taken.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{path}: {head}");
    stream
}

/// An unsolicited pong (RFC 6455 allows one as a heartbeat), masked as a client's frames are: the client looks
/// alive while it reads nothing.
fn keep_alive(client: &mut TcpStream) {
    let _ = client.write_all(&[0x8A, 0x80, 1, 2, 3, 4]);
}

/// A 10 s clip of 640×360 noise at about 23 Mbit/s, key frame every second.
fn noisy_clip(dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("noise.mp4");
    common::ffmpeg(
        &[
            &["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-vf", "noise=alls=40:allf=t+u", "-t", "10"][..],
            &["-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-g", "25", "-pix_fmt", "yuv420p"],
            &[out.to_str().unwrap()],
        ]
        .concat(),
    );
    out
}

/// The least RSS seen over 5 s: allocations of the moment (a decoded picture, a batch) come and go.
async fn settled_rss_mib(pid: u32) -> f64 {
    let mut least = f64::MAX;
    for _ in 0..25 {
        least = least.min(rss_mib(pid));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    least
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// The sum of a metric's samples whose labels contain `labels`.
fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[actix_web::test]
async fn clients_that_stop_reading_hold_bounded_memory_are_closed_and_leave_nothing_behind() {
    let media = tempfile::tempdir().unwrap();
    let clip = noisy_clip(media.path());
    let config = config_with_cameras(&format!(
        "[[cameras]]\nid = \"vtest\"\nfile = \"{}\"\ndetect_fps = 5\nrecord = false\n",
        clip.display()
    ));
    let server = Server::start(&with_media_roots(&config, &[&media.path().display().to_string()]));
    let pid = server.pid().unwrap();
    // The live feed starts with the first key frame; wait for the camera to stream.
    server.overlay_until("vtest", Duration::from_secs(60), |m| m.len() >= 3).await;
    // RSS swings with the frames in flight: a quiet window of the same server gives its level (least) and its
    // swing (most), against which the rounds are measured.
    let (mut baseline, mut quiet_peak) = (f64::MAX, 0.0_f64);
    for _ in 0..40 {
        let rss = rss_mib(pid);
        (baseline, quiet_peak) = (baseline.min(rss), quiet_peak.max(rss));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    const ROUNDS: usize = 3;
    const PER_CHANNEL: usize = 20;
    let mut after_round = Vec::new();
    let mut peaks = Vec::new();
    for round in 0..ROUNDS {
        let mut clients: Vec<TcpStream> = (0..PER_CHANNEL)
            .flat_map(|_| [stalled_client(&server.addr, "/ws/live/vtest"), stalled_client(&server.addr, "/ws/overlay")])
            .collect();
        // A reading client alongside gets the camera's frames all along.
        let mut reader = server.ws("/ws/overlay?camera=vtest").await;
        let inferred =
            async || server.get_json("/api/cameras/vtest/status").await.1["frames_inferred"].as_f64().unwrap();
        let inferred_before = inferred().await;
        let started = Instant::now();
        let mut peak: f64 = 0.0;
        let mut read = 0;
        let mut pinged = Instant::now();
        let mut text = String::new();
        // Stalled 15 s (after the kernel's buffers and then the budget filled), the live clients are closed:
        // the first round waits for that; the others end after 10 s, when the clients go.
        let mut closed = false;
        let until = Duration::from_secs(if round == 0 { 40 } else { 10 });
        while started.elapsed() < until {
            if pinged.elapsed() > Duration::from_secs(4) {
                clients.iter_mut().for_each(keep_alive);
                pinged = Instant::now();
                let (_, _, body) = common::get_bytes(&server, "/metrics", None).await;
                text = String::from_utf8_lossy(&body).into_owned();
                closed = metric(&text, "panoptes_live_clients", "") == 0.0;
                if closed && started.elapsed() > Duration::from_secs(15) {
                    break;
                }
            }
            match tokio::time::timeout(Duration::from_millis(500), futures::StreamExt::next(&mut reader)).await {
                Ok(Some(Ok(awc::ws::Frame::Text(_)))) => read += 1,
                Ok(Some(Ok(awc::ws::Frame::Ping(p)))) => {
                    futures::SinkExt::send(&mut reader, awc::ws::Message::Pong(p)).await.unwrap();
                }
                _ => {}
            }
            peak = peak.max(rss_mib(pid));
        }
        let secs = started.elapsed().as_secs_f64();
        // A reading client is never starved by the stalled ones: it got the message of every frame inferred
        // meanwhile (but those still on their way).
        let inferred = inferred().await - inferred_before;
        assert!(
            read as f64 >= 0.9 * inferred - 5.0 && inferred > 0.0,
            "round {round}: the reading client got {read} messages of {inferred} frames inferred in {secs:.0} s:\n{text}"
        );
        // The live clients, alive (they send pongs) but reading nothing, hit their byte budget: fragments
        // were dropped rather than buffered; and they were closed.
        let dropped = metric(&text, "panoptes_ws_dropped_total", "channel=\"live\"");
        assert!(dropped > 0.0, "round {round}: no live fragment dropped for stalled clients:\n{text}");
        if round == 0 {
            assert!(closed, "stalled live clients still served after {secs:.0} s:\n{text}");
            eprintln!("stalled live clients closed after {secs:.0} s");
        }
        drop(clients);
        drop(reader);
        peaks.push(peak - quiet_peak);
        after_round.push(settled_rss_mib(pid).await);
    }
    eprintln!(
        "RSS quiet {baseline:.1}–{quiet_peak:.1} MiB; peak of each round above the quiet peak {peaks:.1?} MiB; \
         level after each round {after_round:.1?} MiB"
    );
    // What 40 stalled clients may hold: 20 × 1 MiB (live) + 20 × 256 KiB (overlay), plus the server's write
    // buffer per connection (under 64 KiB each): 28 MiB.
    for (round, peak) in peaks.iter().enumerate() {
        assert!(*peak < 28.0, "round {round}: RSS peaked {peak:.1} MiB above the quiet peak with 40 stalled clients");
    }
    // Memory is given back: once the clients are gone the server's level is back within the range it swings
    // over with no stalled client (its frames in flight move RSS by tens of MiB, so rounds are not compared
    // with one another). Before the byte budgets, 40 stalled clients kept ~40 MiB a round, never returned.
    let last = after_round[ROUNDS - 1];
    assert!(
        last < quiet_peak + 8.0,
        "RSS after each round {after_round:.1?} MiB: the last is {:.1} MiB above the quiet range {baseline:.1}–{quiet_peak:.1} MiB",
        last - quiet_peak
    );
}
