//! `utfall`: parse the command line, run, map the outcome to an exit code — nothing else.
//! 0 all well; 1 finished but something was rejected, a rule or a message failed;
//! 2 nothing produced.

use std::process::ExitCode;

use clap::Parser;

use utfall::cli::Cli;
use utfall::pipeline::{self, FatalError};

fn main() -> ExitCode {
    // A reader process for one input file answers and exits here (see `ingest::isolate`).
    utfall::ingest::enter();
    let outcome = match Cli::parse().into_task() {
        Ok(task) => pipeline::execute(&task),
        Err(e) => Err(FatalError::from(e)),
    };
    match outcome {
        Ok(problems) if problems => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("utfall: error: {e}");
            ExitCode::from(2)
        }
    }
}
