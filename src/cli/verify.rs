//! `panoptes verify EXPORT.zip [--key KEY]`: check an evidence export ([`crate::evidence::verify`]) and say
//! whose key signed it. Without `--key` it proves the package is whole and unchanged since some key signed
//! it; with `--key` (the public key or fingerprint `GET /api/exports/key` of the exporting node shows) it
//! also proves which node. Exit status 0 when it verifies, 1 naming the first problem otherwise.

use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The export (a zip from `POST /api/exports`).
    pub export: PathBuf,
    /// The exporting node's public key (64 hex digits) or its fingerprint (16), as `GET /api/exports/key`
    /// shows it.
    #[arg(long)]
    pub key: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.export).with_context(|| format!("reading {}", args.export.display()))?;
    let v = crate::evidence::verify(&bytes, args.key.as_deref())
        .with_context(|| format!("{} does NOT verify", args.export.display()))?;
    let m = &v.manifest;
    println!(
        "OK: {} verifies: {} files unchanged, signed by key {} (node {}, made at {} Unix ms){}",
        args.export.display(),
        m.files.len(),
        v.fingerprint,
        m.node,
        m.created_ms,
        if args.key.is_some() { ", the expected key" } else { "; pass --key to check whose key that is" }
    );
    for f in &m.files {
        println!("  {}  {:>10} bytes  sha256 {}", f.path, f.bytes, f.sha256);
    }
    for gap in &m.missing {
        println!("  not included: {} ({})", gap["what"].as_str().unwrap_or("?"), gap["why"].as_str().unwrap_or("?"));
    }
    Ok(())
}
