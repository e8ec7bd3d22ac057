//! Parse-only pass for the benchmark: reads an input folder with exactly the readers
//! `utfall run` uses (the ingest stage, files in parallel, spreadsheets in reader
//! processes as `utfall` parses them) and stops there, so that `run ÷ parse-only` shows
//! what everything after parsing costs. Payment rows are kept as a table, as a plain
//! reader would; the run folds them into household-months as it reads.
//!
//!     cargo run --release --example parse_only -- INPUT_DIR

use std::process::ExitCode;

use utfall::ingest::{IngestOptions, read_folder};

fn main() -> ExitCode {
    // As in `utfall`'s main: this binary also serves as the reader process.
    utfall::ingest::enter();
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
