//! `utfall`: parse the command line, run, map the outcome to an exit code — nothing else.
//! 0 all well; 1 finished but something was rejected or a rule failed; 2 nothing produced.

use std::process::ExitCode;

use clap::Parser;

use utfall::cli::Cli;
use utfall::pipeline::{self, FatalError};

fn main() -> ExitCode {
    // A reader process for one input file answers and exits here (see `ingest::isolate`).
    utfall::ingest::enter();
    let outcome = Cli::parse()
        .into_config()
        .map_err(FatalError::from)
        .and_then(|config| pipeline::run(&config));
    match outcome {
        Ok(summary) if summary.problems => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("utfall: error: {e}");
            ExitCode::from(2)
        }
    }
}
