//! The command line: clap definitions of exactly what the user typed, resolved into a
//! validated `Config`. No module after this one sees raw flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::model::{Period, PeriodParseError};

#[derive(Debug, Parser)]
#[command(
    name = "utfall",
    version,
    about = "Builds the follow-up workbooks of an ekonomiskt bistånd unit from its monthly exports"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the exports, compute every indicator and write the workbooks and the JSON.
    Run {
        #[command(flatten)]
        folders: Folders,
        /// Folder the workbooks are written to.
        #[arg(long, default_value = "output")]
        output: PathBuf,
        /// Report period: 2019 (year), 2019-T1, 2019-T2 (tertial) or 2019-05 (month).
        /// Default: the latest month present in utbetalningar.
        #[arg(long)]
        period: Option<String>,
    },
    /// Read and validate the exports and the rules; write nothing.
    Check {
        #[command(flatten)]
        folders: Folders,
        /// Report period to validate the rules for (default: the latest month).
        #[arg(long)]
        period: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct Folders {
    /// Folder holding the exports (xlsx, xlsm, xlsb, xls, ods, csv, txt).
    #[arg(long, default_value = "samples")]
    pub input: PathBuf,
    /// Folder holding the Rhai rule pack.
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What to do, resolved and validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub input_dir: PathBuf,
    pub rules_dir: PathBuf,
    /// `None` for `check`: nothing is written.
    pub output_dir: Option<PathBuf>,
    pub period: Option<Period>,
    pub quiet: bool,
}

/// Arguments that parse but make no sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--period: {0}")]
    Period(#[from] PeriodParseError),
    #[error("--input {path}: not a folder")]
    InputNotAFolder { path: PathBuf },
    #[error("--rules {path}: not a folder")]
    RulesNotAFolder { path: PathBuf },
}

impl Cli {
    /// Resolves the raw arguments into a `Config`.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let (folders, output_dir, period) = match self.command {
            Command::Run {
                folders,
                output,
                period,
            } => (folders, Some(output), period),
            Command::Check { folders, period } => (folders, None, period),
        };
        if !folders.input.is_dir() {
            return Err(ConfigError::InputNotAFolder {
                path: folders.input,
            });
        }
        if !folders.rules.is_dir() {
            return Err(ConfigError::RulesNotAFolder {
                path: folders.rules,
            });
        }
        let period = period.as_deref().map(Period::parse).transpose()?;
        Ok(Config {
            input_dir: folders.input,
            rules_dir: folders.rules,
            output_dir,
            period,
            quiet: folders.quiet,
        })
    }
}
