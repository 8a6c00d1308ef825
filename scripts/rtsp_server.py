#!/usr/bin/python3
"""Loopback RTSP test server for Panoptes (GStreamer's GstRtspServer through gi).

Serves MP4 files (H.264 or H.265, no B-frames preferred) as RTSP streams on 127.0.0.1,
over RTP/UDP and interleaved RTP/TCP, at real-time pace.

Usage (run with Debian's /usr/bin/python3, which has gi):

    /usr/bin/python3 scripts/rtsp_server.py --port 0 \
        --mount /vtest=var/media/vtest-h264.mp4 \
        --mount /vtest265=var/media/vtest-h265.mp4 [--loop] [--shared]

A mount is MOUNT=PATH, optionally with a codec suffix MOUNT=PATH:h264 or MOUNT=PATH:h265;
without it the codec is read from the file with ffprobe. HEVC files must be tagged hvc1
(`ffmpeg -i in.mp4 -c copy -tag:v hvc1 out.mp4`); hev1 makes the server answer 503.

Once listening it prints exactly one line `READY <port>` on stdout (the real bound port, also
for --port 0) and nothing else on stdout; diagnostics go to stderr. SIGTERM / SIGINT stop it
cleanly (exit status 0).

--loop replays the file forever: at the end the demuxer is seeked back to the start while the
stream downstream goes on, so pacing stays real-time and RTP timestamps keep increasing (one
continuous stream, like a camera). Without --loop a reader gets the end of stream (RTCP BYE)
when the file ends.

--shared makes all readers of a mount share one pipeline (like a live camera: a late reader joins
mid-stream and waits for the next key frame; the media then answers "not seekable" so a late
reader cannot rewind it for everyone). The default gives each reader its own pipeline, starting
at the beginning of the file, which is what deterministic tests want.

Sockets: RTSP listens on 127.0.0.1 only; RTP/RTCP UDP sockets are bound on 127.0.0.1 too
(ports 20000-60000, the next free pair).
"""

import argparse
import json
import os
import signal
import subprocess
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

BIND_ADDRESS = "127.0.0.1"
CODECS = {"h264": ("h264parse", "rtph264pay"), "h265": ("h265parse", "rtph265pay")}


def log(msg):
    print(f"rtsp_server: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(f"error: {msg}")
    sys.exit(2)


def probe_codec(path):
    """Return ('h264'|'h265', codec_tag) for the first video stream of `path`, using ffprobe."""
    try:
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
             "stream=codec_name,codec_tag_string", "-of", "json", path],
            check=True, capture_output=True, text=True,
        ).stdout
    except FileNotFoundError:
        die(f"ffprobe not found; install ffmpeg or give the codec as a suffix: MOUNT={path}:h264")
    except subprocess.CalledProcessError as e:
        die(f"ffprobe could not read {path}: {e.stderr.strip()}")
    streams = json.loads(out).get("streams", [])
    if not streams:
        die(f"{path} has no video stream")
    name = streams[0].get("codec_name")
    tag = streams[0].get("codec_tag_string", "")
    if name == "h264":
        return "h264", tag
    if name in ("hevc", "h265"):
        return "h265", tag
    die(f"{path}: video codec {name!r} is not supported (H.264 or H.265 only); transcode it with ffmpeg")


def parse_mount(spec):
    """MOUNT=PATH[:h264|:h265] -> (mount, abs_path, codec)."""
    if "=" not in spec:
        die(f"--mount {spec!r}: expected MOUNT=PATH, e.g. /vtest=var/media/vtest-h264.mp4")
    mount, path = spec.split("=", 1)
    if not mount.startswith("/") or len(mount) < 2:
        die(f"--mount {spec!r}: the mount point must start with '/', e.g. /vtest")
    codec = None
    for suffix in CODECS:
        if path.lower().endswith(":" + suffix):
            path, codec = path[: -len(suffix) - 1], suffix
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        die(f"--mount {spec!r}: file {path} does not exist (run scripts/setup.sh to prepare var/media)")
    if codec is None:
        codec, tag = probe_codec(path)
        if codec == "h265" and tag == "hev1":
            die(f"{path} is HEVC tagged hev1, which the server cannot serve (503); retag it: "
                f"ffmpeg -i {path} -c copy -tag:v hvc1 out.mp4")
    return mount, path, codec


def launch_line(path, codec):
    parse, pay = CODECS[codec]
    loc = path.replace("\\", "\\\\").replace('"', '\\"')
    return (f'( filesrc location="{loc}" ! qtdemux name=demux ! {parse} name=parse '
            f"! {pay} name=pay0 pt=96 config-interval=-1 )")


def enable_looping(media, mount):
    """Replay the file forever, with continuous running time and RTP timestamps.

    The parser's sink pad gets a probe that drops the demuxer's EOS and, from the main loop, makes
    a flushing seek of the demuxer back to 0. The flush events of that seek are dropped at the same
    pad (they reset the demuxer's pads, including its EOS flag, but nothing downstream), and the
    pad's running-time offset grows by the length of each pass, so downstream sees one continuous
    stream: real-time pacing and increasing RTP timestamps across the loop.
    """
    bin_ = media.get_element()
    demux = bin_.get_by_name("demux")
    parse = bin_.get_by_name("parse")
    if demux is None or parse is None:
        log(f"{mount}: cannot loop (demux/parse elements not found)")
        return
    pad = parse.get_static_pad("sink")
    state = {"rewinding": False, "pass_end": 0, "passes": 0}

    def rewind():
        pad.set_offset(pad.get_offset() + state["pass_end"])
        state["pass_end"] = 0
        state["rewinding"] = True
        ok = demux.seek(1.0, Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.ACCURATE,
                        Gst.SeekType.SET, 0, Gst.SeekType.NONE, -1)
        state["rewinding"] = False
        if not ok:
            log(f"{mount}: seek back to the start failed; the stream stops here")
        return False

    def on_data(_pad, info):
        if info.type & Gst.PadProbeType.BUFFER:
            buf = info.get_buffer()
            if buf is not None and buf.pts != Gst.CLOCK_TIME_NONE:
                dur = buf.duration if buf.duration != Gst.CLOCK_TIME_NONE else 0
                state["pass_end"] = max(state["pass_end"], buf.pts + dur)
            return Gst.PadProbeReturn.OK
        event = info.get_event()
        if event is None:
            return Gst.PadProbeReturn.OK
        if event.type == Gst.EventType.EOS and state["pass_end"] > 0:
            state["passes"] += 1
            log(f"{mount}: end of file (pass {state['passes']}), looping")
            GLib.idle_add(rewind)
            return Gst.PadProbeReturn.DROP
        if state["rewinding"] and event.type in (Gst.EventType.FLUSH_START, Gst.EventType.FLUSH_STOP):
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    pad.add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM | Gst.PadProbeType.EVENT_FLUSH,
                  on_data)


def make_unseekable(media, mount):
    """Answer 'not seekable' for a shared mount, so that a reader joining later (whose PLAY carries
    a range such as npt=0-) does not seek the pipeline back and replay the file for everyone."""
    parse = media.get_element().get_by_name("parse")
    if parse is None:
        log(f"{mount}: cannot mark the shared media unseekable (parse element not found)")
        return

    def on_query(_pad, info):
        query = info.get_query()
        if query is not None and query.type == Gst.QueryType.SEEKING:
            # A new SEEKING query already says seekable=FALSE; answering it unchanged is enough
            # (PyGObject holds a reference, so the query is not writable here anyway).
            return Gst.PadProbeReturn.HANDLED
        return Gst.PadProbeReturn.OK

    parse.get_static_pad("sink").add_probe(Gst.PadProbeType.QUERY_UPSTREAM, on_query)


def configure_media(media, mount, loop, shared):
    if shared:
        make_unseekable(media, mount)
    if loop:
        enable_looping(media, mount)


def main():
    ap = argparse.ArgumentParser(description="Loopback RTSP test server (GstRtspServer).")
    ap.add_argument("--port", type=int, default=8554, help="TCP port for RTSP on 127.0.0.1; 0 picks a free one")
    ap.add_argument("--mount", action="append", default=[], metavar="MOUNT=PATH[:h264|:h265]",
                    help="serve PATH at rtsp://127.0.0.1:PORT/MOUNT (repeatable)")
    ap.add_argument("--loop", action="store_true", help="replay each file forever")
    ap.add_argument("--shared", action="store_true",
                    help="readers of a mount share one pipeline (default: one pipeline per reader)")
    ap.add_argument("--verbose", action="store_true", help="log client connections on stderr")
    args = ap.parse_args()
    if not args.mount:
        die("give at least one --mount MOUNT=PATH")
    if not 0 <= args.port <= 65535:
        die(f"--port {args.port}: must be 0..65535")

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(BIND_ADDRESS)
    server.set_service(str(args.port))

    # UDP transport sockets are bound on the loopback address too.
    pool = GstRtspServer.RTSPAddressPool()
    pool.add_range(BIND_ADDRESS, BIND_ADDRESS, 20000, 60000, 0)

    mounts = server.get_mount_points()
    seen = set()
    for spec in args.mount:
        mount, path, codec = parse_mount(spec)
        if mount in seen:
            die(f"--mount {spec!r}: mount point {mount} given twice")
        seen.add(mount)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(path, codec))
        factory.set_shared(args.shared)
        factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP | GstRtsp.RTSPLowerTrans.TCP)
        factory.set_address_pool(pool)
        if args.loop or args.shared:
            factory.connect("media-configure",
                            lambda _f, media, m=mount: configure_media(media, m, args.loop, args.shared))
        mounts.add_factory(mount, factory)
        log(f"{mount} -> {path} ({codec}{', loop' if args.loop else ''}{', shared' if args.shared else ''})")

    if args.verbose:
        server.connect("client-connected", lambda _s, c: log(f"client connected: {c.get_connection().get_ip()}"))

    if server.attach(None) == 0:
        die(f"cannot listen on {BIND_ADDRESS}:{args.port} (port in use?)")
    port = server.get_bound_port()
    if port <= 0:
        die(f"cannot listen on {BIND_ADDRESS}:{args.port} (port in use?)")

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, lambda: (loop.quit(), False)[1])

    print(f"READY {port}", flush=True)
    log(f"listening on rtsp://{BIND_ADDRESS}:{port}")
    loop.run()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
