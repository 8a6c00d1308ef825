//! `panoptes`: the server and its commands, as a library so that tests can build the application in-process
//! ([`app::Application`]); `main.rs` only calls [`main`]. The process shell: CLI → settings → telemetry → the
//! chosen command.

use clap::{Parser, Subcommand};

pub mod app;
pub mod cli;
pub mod cluster;
pub mod control;
pub mod evidence;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod mqtt;
pub mod peers;
pub mod settings;
pub mod telemetry;
pub mod webhooks;

#[derive(Parser)]
#[command(name = "panoptes", version, about = "Real-time video analytics for many cameras")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: cameras, detection, tracking, the web surface.
    Run(cli::run::Args),
    /// Detect objects on still images and print one line per detection.
    Detect(cli::detect::Args),
    /// Replay MOTChallenge detections through the tracker and write MOTChallenge tracks.
    Track(cli::track::Args),
    /// Measure pipeline throughput and latency against raw ONNX Runtime on the same model.
    Bench(cli::bench::Args),
    /// Run one video file through the pipeline as fast as possible and print its events as JSON lines.
    Replay(cli::replay::Args),
    /// Replay a labelled video and score the boxes, track ids and events shown against its labels.
    Eval(cli::eval::Args),
    /// Check an evidence export: its signature, every file against its manifest, and whose key signed it.
    Verify(cli::verify::Args),
}

/// Parse the command line and run the chosen command.
pub fn main() -> std::process::ExitCode {
    memory::configure();
    telemetry::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => cli::run::run(args),
        Command::Detect(args) => cli::detect::run(args),
        Command::Track(args) => cli::track::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Replay(args) => cli::replay::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Verify(args) => cli::verify::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
