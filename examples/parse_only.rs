//! Parse-only pass for the benchmark: reads an input folder with exactly the readers
//! `utfall run` uses (the ingest stage, files in parallel, spreadsheets in reader
//! processes, payment rows folded into household-months as they are read, as a run of
//! the shipped pack does) and stops there, so that `run ÷ parse-only` shows what
//! everything after reading costs. `--table` keeps the payment rows as a table instead,
//! as a plain reader would.
//!
//!     cargo run --release --example parse_only -- INPUT_DIR [--table]

use std::process::ExitCode;

use utfall::ingest::{FileOutcome, IngestOptions, PaymentRows, read_folder};

fn main() -> ExitCode {
    // As in `utfall`'s main: this binary also serves as the reader process.
    utfall::ingest::enter();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let table = args.iter().any(|a| a == "--table");
    let Some(dir) = args.iter().find(|a| *a != "--table") else {
        eprintln!("usage: parse_only INPUT_DIR [--table]");
        return ExitCode::from(2);
    };
    let mut opts = IngestOptions::new(dir);
    opts.payments = if table {
        PaymentRows::Table
    } else {
        PaymentRows::Fold
    };
    match read_folder(&opts) {
        Ok(inputs) => {
            let rows: usize = inputs
                .files
                .iter()
                .filter_map(|f| match &f.outcome {
                    FileOutcome::Read { sheets } => {
                        Some(sheets.iter().map(|s| s.rows).sum::<usize>())
                    }
                    _ => None,
                })
                .sum();
            println!("parse_only: {} files, {rows} rows", inputs.files.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("parse_only: {e}");
            ExitCode::from(2)
        }
    }
}
