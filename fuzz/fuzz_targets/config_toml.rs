//! The config file: any TOML text either loads as a valid config or is refused with an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(config) = panoptes::settings::parse_toml(text) {
        // A config that loads is fully usable: its cameras pass the API's own checks too (labels aside).
        for camera in &config.cameras {
            let _ = camera.validate();
        }
    }
});
