//! Parse-only pass for the benchmark: reads an input folder with exactly the readers
//! `utfall run` uses (the ingest stage, files in parallel) and stops there, so that
//! `run ÷ parse-only` shows what everything after parsing costs.
//!
//!     cargo run --release --example parse_only -- INPUT_DIR

use std::process::ExitCode;

use utfall::ingest::{IngestOptions, read_folder};

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: parse_only INPUT_DIR");
        return ExitCode::from(2);
    };
    match read_folder(&IngestOptions::new(dir)) {
        Ok(inputs) => {
            let rows: usize = inputs.tables.values().map(|t| t.len()).sum();
            println!("parse_only: {} files, {rows} rows", inputs.files.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("parse_only: {e}");
            ExitCode::from(2)
        }
    }
}
