//! Access units from another node (the cluster's wire format), their parameter sets and NAL units, through
//! the live fragmenter and the fMP4 writer: anything is refused or written, never a panic, and what is
//! written reads back as a well-formed fragmented MP4.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes_actors::cluster::wire::UnitReader;
use panoptes_actors::record::TrackState;
use panoptes_actors::record::fragmenter::Fragmenter;
use panoptes_actors::record::mp4;

fuzz_target!(|bytes: &[u8]| {
    // Messages: a 2-byte length before each.
    let mut reader = UnitReader::default();
    let mut track = TrackState::default();
    let mut fragmenter: Option<Fragmenter> = None;
    let camera = panoptes_actors::messages::CameraId::parse("cam").expect("a valid id");
    let mut rest = bytes;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (msg, tail) = rest[2..].split_at(len);
        rest = tail;
        let Ok(Some(au)) = reader.read(msg) else { continue };
        if track.changed(&au) {
            fragmenter = track.set(&camera, &au).ok().map(|rate| Fragmenter::new(rate, 0));
        }
        if let (Some(f), Some(t)) = (&mut fragmenter, track.current())
            && let Some(built) = f.push(au.pts.ticks_at(f.clock_rate()), au.wall_ms, t.is_key(&au), &au.data)
        {
            let mut file = t.init.to_vec();
            file.extend_from_slice(&built.bytes);
            let parsed = mp4::parse_file(&file).expect("a written fragment reads back");
            assert_eq!(parsed.fragments.len(), 1);
        }
    }
});
