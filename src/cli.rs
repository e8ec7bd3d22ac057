//! The command line: clap definitions of exactly what the user typed, resolved into a
//! validated `Task` (a `Config` and, for delivery and watching, their settings). No module
//! after this one sees raw flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::deliver::email::{Credentials, CredentialsError, TlsMode};
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
        /// Then email the workbooks, as `utfall send` does.
        #[arg(long)]
        send: bool,
        #[command(flatten)]
        delivery: DeliveryFlags,
    },
    /// Read and validate the exports and the rules and print an overview (in Swedish) of
    /// what was found; write nothing.
    Check {
        #[command(flatten)]
        folders: Folders,
        /// Report period to validate the rules for (default: the latest month).
        #[arg(long)]
        period: Option<String>,
    },
    /// Show how one indicator's figure was reached: its rule, numerator and denominator,
    /// the files and months it read, the target and why the status is what it is.
    Explain {
        /// The indicator's id (andel_barn) or its Swedish name.
        indicator: String,
        /// The district (default: the total).
        #[arg(long)]
        district: Option<String>,
        /// Report period (default: the latest month in utbetalningar).
        #[arg(long)]
        period: Option<String>,
        #[command(flatten)]
        folders: Folders,
    },
    /// Run the rule pack's own tests (rules/tester/<namn>/ with exports and forvantat.csv).
    Test {
        /// Folder holding the Rhai rule pack and its tester/ folder.
        #[arg(long, default_value = "rules")]
        rules: PathBuf,
        /// Accepted for symmetry with the other commands; each test carries its exports.
        #[arg(long, hide = true)]
        input: Option<PathBuf>,
    },
    /// Run once, then again whenever an export or a rule file is added, changed or removed.
    Watch {
        #[command(flatten)]
        folders: Folders,
        /// Folder the workbooks are written to.
        #[arg(long, default_value = "output")]
        output: PathBuf,
        /// Report period (default: the latest month, looked up again on every run).
        #[arg(long)]
        period: Option<String>,
        /// How long (ms) a new or changed file's size and modification time must stay the
        /// same before it is read.
        #[arg(long, default_value_t = 1000, value_name = "MS")]
        settle_ms: u64,
    },
    /// Email each district its workbook (and the whole report to its recipients), from the
    /// files the last run wrote into the output folder.
    Send {
        /// Folder holding the Rhai rule pack (recipients, SMTP settings).
        #[arg(long, default_value = "rules")]
        rules: PathBuf,
        /// Folder holding the workbooks and the JSON of the run.
        #[arg(long, default_value = "output")]
        output: PathBuf,
        /// Which report to send (default: the one written last).
        #[arg(long)]
        period: Option<String>,
        /// Accepted for symmetry with the other commands; send reads no exports.
        #[arg(long, hide = true)]
        input: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
        #[command(flatten)]
        delivery: DeliveryFlags,
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

/// How to deliver; each flag overrides the rule pack's `smtp` setting of the same meaning.
/// Credentials are never flags: UTFALL_SMTP_USER and UTFALL_SMTP_PASSWORD.
#[derive(Debug, Args)]
pub struct DeliveryFlags {
    /// Print who would get what; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// SMTP server; without one (here or in rapport()), .eml files are written instead.
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port (default 587 for starttls, 465 for tls, 25 for ingen).
    #[arg(long, value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// Connection security: starttls, tls (implicit) or ingen.
    #[arg(long, value_name = "MODE")]
    pub smtp_tls: Option<String>,
    /// Sender address (default: smtp.avsandare in rapport()).
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,
}

impl DeliveryFlags {
    fn any(&self) -> bool {
        self.dry_run
            || self.smtp_host.is_some()
            || self.smtp_port.is_some()
            || self.smtp_tls.is_some()
            || self.from.is_some()
    }
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

/// SMTP settings given as flags (each `None` falls back to the rule pack).
#[derive(Clone, Debug, Default)]
pub struct SmtpFlags {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<TlsMode>,
    pub from: Option<String>,
}

/// What `send` (or `run --send`) delivers and how.
#[derive(Clone, Debug)]
pub struct SendConfig {
    pub rules_dir: PathBuf,
    pub output_dir: PathBuf,
    /// `None`: the report written last into `output_dir`.
    pub period: Option<Period>,
    pub dry_run: bool,
    pub smtp: SmtpFlags,
    /// From the environment only.
    pub credentials: Option<Credentials>,
    pub quiet: bool,
}

/// How `watch` waits.
#[derive(Clone, Debug)]
pub struct WatchConfig {
    /// How long a changed file must stay unchanged before it is read.
    pub settle: Duration,
}

/// One command, resolved.
#[derive(Clone, Debug)]
pub enum Task {
    /// `run`, and with `--send` the delivery of what it wrote (its period filled in then).
    Run {
        config: Config,
        send: Option<SendConfig>,
    },
    Check(Config),
    /// `explain`: one indicator (id or name) for one district (`None` = the total).
    Explain {
        config: Config,
        indicator: String,
        district: Option<String>,
    },
    /// `test`: the rule tests of the pack in this folder.
    Test {
        rules_dir: PathBuf,
    },
    Watch {
        config: Config,
        watch: WatchConfig,
    },
    Send(SendConfig),
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
    #[error("--smtp-tls {value:?}: use starttls, tls or ingen")]
    SmtpTls { value: String },
    #[error("--dry-run, --smtp-* and --from only apply with --send")]
    DeliveryWithoutSend,
    #[error("{0}")]
    Credentials(#[from] CredentialsError),
}

impl Cli {
    /// Resolves the raw arguments into the task to carry out.
    pub fn into_task(self) -> Result<Task, ConfigError> {
        match self.command {
            Command::Run {
                folders,
                output,
                period,
                send,
                delivery,
            } => {
                if !send && delivery.any() {
                    return Err(ConfigError::DeliveryWithoutSend);
                }
                let config = config(folders, Some(output), period)?;
                let send = if send {
                    Some(send_config(
                        config.rules_dir.clone(),
                        config.output_dir.clone().unwrap_or_default(),
                        config.period,
                        config.quiet,
                        delivery,
                    )?)
                } else {
                    None
                };
                Ok(Task::Run { config, send })
            }
            Command::Check { folders, period } => Ok(Task::Check(config(folders, None, period)?)),
            Command::Explain {
                indicator,
                district,
                period,
                folders,
            } => Ok(Task::Explain {
                config: config(folders, None, period)?,
                indicator,
                district,
            }),
            Command::Test { rules, input: _ } => {
                if !rules.is_dir() {
                    return Err(ConfigError::RulesNotAFolder { path: rules });
                }
                Ok(Task::Test { rules_dir: rules })
            }
            Command::Watch {
                folders,
                output,
                period,
                settle_ms,
            } => Ok(Task::Watch {
                config: config(folders, Some(output), period)?,
                watch: WatchConfig {
                    settle: Duration::from_millis(settle_ms),
                },
            }),
            Command::Send {
                rules,
                output,
                period,
                input: _,
                quiet,
                delivery,
            } => {
                if !rules.is_dir() {
                    return Err(ConfigError::RulesNotAFolder { path: rules });
                }
                let period = period.as_deref().map(Period::parse).transpose()?;
                Ok(Task::Send(send_config(
                    rules, output, period, quiet, delivery,
                )?))
            }
        }
    }
}

fn config(
    folders: Folders,
    output_dir: Option<PathBuf>,
    period: Option<String>,
) -> Result<Config, ConfigError> {
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

fn send_config(
    rules_dir: PathBuf,
    output_dir: PathBuf,
    period: Option<Period>,
    quiet: bool,
    flags: DeliveryFlags,
) -> Result<SendConfig, ConfigError> {
    let tls = flags
        .smtp_tls
        .map(|t| TlsMode::parse(&t).ok_or(ConfigError::SmtpTls { value: t }))
        .transpose()?;
    Ok(SendConfig {
        rules_dir,
        output_dir,
        period,
        dry_run: flags.dry_run,
        smtp: SmtpFlags {
            host: flags.smtp_host,
            port: flags.smtp_port,
            tls,
            from: flags.from,
        },
        credentials: Credentials::from_env()?,
        quiet,
    })
}
