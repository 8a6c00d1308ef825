//! One module per subcommand; each owns its `Args`.

pub mod bench;
pub mod detect;
pub mod replay;
pub mod run;
pub mod track;
