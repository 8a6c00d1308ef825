//! The `panoptes` executable: everything is in the library (`src/lib.rs`).

fn main() -> std::process::ExitCode {
    panoptes::main()
}
