//! `panoptes run [--config FILE]`: run the server.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// TOML config file; the embedded demo config (config/default.toml) when absent.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = crate::settings::load(args.config.as_deref())?;
    crate::app::run(config)
}
