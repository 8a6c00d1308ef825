//! Loading the configuration: a TOML file (the embedded demo `config/default.toml` when none is
//! given), then `PANOPTES__SECTION__FIELD` environment variables over it, then validation.

use anyhow::Context;
use config::{Environment, File, FileFormat};
use panoptes_actors::config::Config;
use std::path::Path;

/// The demo configuration, embedded so `panoptes run` works without a file.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    let builder = match path {
        Some(p) => {
            anyhow::ensure!(
                p.is_file(),
                "config file {} does not exist; pass an existing TOML file to --config",
                p.display()
            );
            config::Config::builder().add_source(File::from(p).format(FileFormat::Toml))
        }
        None => config::Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml)),
    };
    let name = path.map_or_else(|| "the embedded default config".to_string(), |p| p.display().to_string());
    let env = Environment::with_prefix("PANOPTES").prefix_separator("__").separator("__").try_parsing(true);
    finish(builder.add_source(env), &name)
}

/// A config from TOML text alone, checked as [`load`] checks a file (no environment overrides): what the
/// config fuzz target feeds.
pub fn parse_toml(text: &str) -> anyhow::Result<Config> {
    finish(config::Config::builder().add_source(File::from_str(text, FileFormat::Toml)), "the TOML text")
}

fn finish(builder: config::ConfigBuilder<config::builder::DefaultState>, name: &str) -> anyhow::Result<Config> {
    let config: Config = builder
        .build()
        .and_then(config::Config::try_deserialize)
        .with_context(|| format!("{name} is not a valid Panoptes config (see docs/config.md)"))?;
    config.validate().with_context(|| format!("{name} is not a valid Panoptes config"))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(toml: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(toml.as_bytes()).unwrap();
        f
    }

    #[test]
    fn the_embedded_default_is_valid() {
        let c = load(None).unwrap();
        assert!(c.cameras.len() >= 2, "the demo has at least two cameras");
    }

    #[test]
    fn unknown_fields_are_named() {
        let f = write("[model]\npath = \"m.onnx\"\nconfidense = 0.3\n");
        let err = format!("{:#}", load(Some(f.path())).unwrap_err());
        assert!(err.contains("confidense"), "{err}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let f = write("[model]\npath = \"m.onnx\"\n[[cameras]]\nid = \"gate\"\nurl = \"http://x\"\n");
        let err = format!("{:#}", load(Some(f.path())).unwrap_err());
        assert!(err.contains("cameras.gate.url") && err.contains("rtsp://"), "{err}");
    }

    #[test]
    fn every_shipped_config_is_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = ["config/examples", "deploy", "deploy/cluster"]
            .iter()
            .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        assert!(files.len() >= 7, "{files:?}");
        for f in files {
            load(Some(&f)).unwrap_or_else(|e| panic!("{}: {e:#}", f.display()));
        }
    }

    #[test]
    fn a_missing_file_says_so() {
        let err = load(Some(Path::new("/nonexistent/panoptes.toml"))).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/panoptes.toml") && err.contains("does not exist"), "{err}");
    }
}
