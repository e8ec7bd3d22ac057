//! The whole run, stage by stage: load rules → ingest → prepare → evaluate → report →
//! render → deliver. Collects every diagnostic, decides nothing about exit codes beyond
//! saying whether something was rejected (`RunSummary::problems`) or nothing could be
//! produced (`FatalError`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use crate::cli::{Config, ConfigError, Task};
use crate::deliver::email::{self, SendError};
use crate::deliver::watch::{self, WatchError};
use crate::deliver::{WriteError, file_name_part, write_atomic};
use crate::evaluate::prepare::{PAYMENTS, prepare};
use crate::evaluate::{EvalOutcome, evaluate};
use crate::ingest::{self, FileOutcome, IngestOptions, Inputs, Severity};
use crate::model::{Month, Period};
use crate::render::{RenderError, render_json, render_workbook};
use crate::report::{self, ControlData, ControlFile, ControlIssue, Scope};
use crate::rules::pack::{indicators, report_settings, targets};
use crate::rules::{Limits, PackError, RuleError, RulePack};

/// Nothing could be produced (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum FatalError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Folder(#[from] ingest::FolderError),
    #[error("{}: no usable input (no export with a known header was read)", dir.display())]
    NoUsableInput { dir: PathBuf },
    #[error("{}: no utbetalningar to take the report period from; give --period", dir.display())]
    NoPeriod { dir: PathBuf },
    #[error("cannot create the output folder {}: {source}", dir.display())]
    OutputFolder {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("rendering {file}: {source}")]
    Render { file: String, source: RenderError },
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Watch(#[from] WatchError),
}

/// What a finished run did.
#[derive(Debug)]
pub struct RunSummary {
    /// A row or file was rejected, or a rule failed (exit code 1).
    pub problems: bool,
    pub written: Vec<PathBuf>,
    pub period: Period,
}

/// Messages to stderr: progress only on a terminal, everything off with `--quiet` but
/// errors.
struct Log {
    quiet: bool,
    progress: bool,
    started: Instant,
}

impl Log {
    fn new(quiet: bool) -> Log {
        Log {
            quiet,
            progress: !quiet && std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    fn stage(&self, what: &str) {
        if self.progress {
            eprintln!("[{:>6.2}s] {what}", self.started.elapsed().as_secs_f64());
        }
    }

    fn info(&self, what: &str) {
        if !self.quiet {
            eprintln!("{what}");
        }
    }

    fn error(&self, what: &str) {
        eprintln!("{what}");
    }
}

/// How many diagnostics of one kind stderr shows before pointing to Kontroll.
const SHOWN_PER_KIND: usize = 20;

/// Carries out one command. `Ok(true)`: it finished, but something was rejected, a rule
/// failed or a message was not delivered (exit code 1).
pub fn execute(task: &Task) -> Result<bool, FatalError> {
    match task {
        Task::Run { config, send } => {
            let summary = run(config)?;
            let Some(send) = send else {
                return Ok(summary.problems);
            };
            let mut send = send.clone();
            send.period = Some(summary.period);
            let sent = email::send(&send)?;
            Ok(summary.problems || sent.failed > 0)
        }
        Task::Check(config) => Ok(run(config)?.problems),
        Task::Watch { config, watch } => {
            watch::watch(config, watch)?;
            Ok(false)
        }
        Task::Send(send) => Ok(email::send(send)?.failed > 0),
    }
}

/// Runs `utfall run` (or `check` when the config has no output folder).
pub fn run(config: &Config) -> Result<RunSummary, FatalError> {
    let log = Log::new(config.quiet);
    log.stage("loading rules");
    let pack = RulePack::load(&config.rules_dir, Limits::from_env())?;
    let mut rule_errors: Vec<RuleError> = pack.errors.clone();
    let (settings, settings_error) = report_settings(&pack);
    rule_errors.extend(settings_error);

    log.stage("reading exports");
    let mut options = IngestOptions::new(&config.input_dir);
    options.districts = settings.districts.clone();
    let known_datasets: Vec<String> = options.datasets.iter().map(|d| d.name.clone()).collect();
    let inputs = ingest::read_folder(&options)?;
    if inputs.tables.values().all(|t| t.is_empty()) {
        report_ingest(&log, &inputs);
        return Err(FatalError::NoUsableInput {
            dir: config.input_dir.clone(),
        });
    }
    let period = match config.period {
        Some(p) => p,
        None => latest_month(&inputs)
            .map(Period::month)
            .ok_or_else(|| FatalError::NoPeriod {
                dir: config.input_dir.clone(),
            })?,
    };

    log.stage("evaluating indicators");
    let (specs, declaration_errors) = indicators(&pack);
    rule_errors.extend(declaration_errors);
    let targets = targets(&pack);
    let control_files = control_files(&inputs);
    let ingest_issues = report_ingest(&log, &inputs);
    let Inputs {
        interner, tables, ..
    } = inputs;
    let data = Arc::new(prepare(
        interner,
        tables,
        known_datasets,
        settings.districts.as_deref(),
        settings.identity,
    ));
    let mut outcome = evaluate(data.clone(), &pack, &settings, &specs, &targets, period);
    let threshold = settings.small_number_threshold;
    crate::evaluate::budget::attach(&mut outcome, &data, &pack, &specs, threshold);
    for e in &outcome.rule_errors {
        if !rule_errors.contains(e) {
            rule_errors.push(e.clone());
        }
    }
    for e in &rule_errors {
        log.error(&format!("error: {}", e.with_caret()));
    }
    for w in &outcome.warnings {
        log.info(&format!("warning: {w}"));
    }
    let problems = ingest_issues.errors > 0 || !rule_errors.is_empty();

    let control = ControlData {
        files: control_files,
        rejected_rows: ingest_issues.rejected,
        replacements: ingest_issues.replacements,
        rule_errors: rule_errors
            .iter()
            .map(|e| ControlIssue {
                location: format!("{}:{}:{}", e.file, e.line, e.column),
                message: e.message.clone(),
            })
            .collect(),
        warnings: outcome.warnings.iter().map(|w| w.message_sv()).collect(),
        rule_fingerprint: pack.fingerprint.clone(),
        generated_by: format!("utfall {}", env!("CARGO_PKG_VERSION")),
    };

    let Some(output_dir) = &config.output_dir else {
        log.info(&format!(
            "checked {}: period {}, {} indicators, {} districts; nothing written",
            config.input_dir.display(),
            period,
            specs.len(),
            outcome.evaluation.districts.len()
        ));
        return Ok(RunSummary {
            problems,
            written: Vec::new(),
            period,
        });
    };

    log.stage("writing workbooks");
    let written = write_outputs(output_dir, &outcome, &control)?;
    log.info(&format!(
        "wrote {} files to {} (period {})",
        written.len(),
        output_dir.display(),
        period
    ));
    Ok(RunSummary {
        problems,
        written,
        period,
    })
}

/// The latest month with payments: the default report period.
fn latest_month(inputs: &Inputs) -> Option<Month> {
    inputs
        .tables
        .get(PAYMENTS)?
        .month("Period")?
        .iter()
        .flatten()
        .max()
        .copied()
}

/// Ingest's diagnostics, split for Kontroll and counted for the exit code.
struct IngestReport {
    errors: usize,
    rejected: Vec<ControlIssue>,
    replacements: Vec<String>,
}

fn report_ingest(log: &Log, inputs: &Inputs) -> IngestReport {
    let mut errors = 0;
    let mut rejected = Vec::new();
    let mut shown = 0;
    for issue in &inputs.issues {
        let severity = issue.severity();
        if severity == Severity::Error {
            errors += 1;
        }
        if severity <= Severity::Warning {
            if shown < SHOWN_PER_KIND {
                log.error(&format!("{severity}: {issue}"));
            }
            shown += 1;
        }
        let file = issue
            .file()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let location = match issue.sheet() {
            Some(sheet) => format!("{file} [{sheet}]"),
            None => file,
        };
        rejected.push(ControlIssue {
            location,
            message: issue.message_sv(),
        });
    }
    if shown > SHOWN_PER_KIND {
        log.error(&format!(
            "… and {} more (see the Kontroll sheet)",
            shown - SHOWN_PER_KIND
        ));
    }
    let name = |id: crate::model::FileId| {
        inputs
            .files
            .get(id.0 as usize)
            .map_or_else(String::new, |f| f.name.clone())
    };
    let replacements = inputs
        .replacements
        .iter()
        .map(|r| {
            let text = format!(
                "{} {}: {} ersätter {} ({} rader)",
                r.dataset,
                r.period,
                name(r.kept),
                name(r.replaced),
                r.rows_dropped
            );
            log.info(&format!(
                "note: {} {}: {} replaces {} ({} rows)",
                r.dataset,
                r.period,
                name(r.kept),
                name(r.replaced),
                r.rows_dropped
            ));
            text
        })
        .collect();
    IngestReport {
        errors,
        rejected,
        replacements,
    }
}

fn month_span(months: &[Month]) -> String {
    match (months.iter().min(), months.iter().max()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}–{b}"),
        _ => String::new(),
    }
}

fn control_files(inputs: &Inputs) -> Vec<ControlFile> {
    let mut out = Vec::new();
    for f in &inputs.files {
        match &f.outcome {
            FileOutcome::Read { sheets } => {
                for s in sheets {
                    out.push(ControlFile {
                        name: f.name.clone(),
                        dataset: s.dataset.clone(),
                        sheet: s.sheet.clone(),
                        rows: s.rows,
                        rejected: s.rejected,
                        months: month_span(&s.months),
                        outcome: if s.dataset.is_some() {
                            "inläst".into()
                        } else {
                            "okänd rubrikrad, lästes inte".into()
                        },
                    });
                }
            }
            FileOutcome::Skipped { reason } => out.push(ControlFile {
                name: f.name.clone(),
                dataset: None,
                sheet: None,
                rows: 0,
                rejected: 0,
                months: String::new(),
                outcome: reason.sv(),
            }),
            FileOutcome::Duplicate { of } => out.push(ControlFile {
                name: f.name.clone(),
                dataset: None,
                sheet: None,
                rows: 0,
                rejected: 0,
                months: String::new(),
                outcome: format!(
                    "dubblett av {}",
                    inputs
                        .files
                        .get(of.0 as usize)
                        .map_or("", |o| o.name.as_str())
                ),
            }),
        }
    }
    // Ingest orders files by newness; a controller looks them up by name.
    out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.sheet.cmp(&b.sheet)));
    out
}

/// Kontroll for one district's workbook: nothing that names another district.
fn control_for_district(control: &ControlData, others: &[&str]) -> ControlData {
    let names_other = |s: &str| {
        let lower = s.to_lowercase();
        others.iter().any(|o| lower.contains(&o.to_lowercase()))
    };
    let mut c = control.clone();
    for f in &mut c.files {
        if names_other(&f.name) {
            f.name = "(annan stadsdels fil)".into();
        }
        if names_other(&f.outcome) {
            f.outcome = "(gäller annan stadsdel)".into();
        }
    }
    c.rejected_rows
        .retain(|i| !names_other(&i.location) && !names_other(&i.message));
    c.replacements.retain(|r| !names_other(r));
    c.rule_errors.retain(|i| !names_other(&i.message));
    c.warnings.retain(|w| !names_other(w));
    c
}

/// Renders and writes the whole workbook, one per district and the JSON. District
/// workbooks are rendered in parallel; every file is written atomically.
fn write_outputs(
    dir: &Path,
    outcome: &EvalOutcome,
    control: &ControlData,
) -> Result<Vec<PathBuf>, FatalError> {
    std::fs::create_dir_all(dir).map_err(|source| FatalError::OutputFolder {
        dir: dir.to_path_buf(),
        source,
    })?;
    remove_stale_temporaries(dir);
    let eval = &outcome.evaluation;
    let stem = format!(
        "{}_{}",
        file_name_part(&eval.file_stem),
        eval.period.label()
    );
    let mut jobs: Vec<(String, Scope)> = vec![(format!("{stem}.xlsx"), Scope::Whole)];
    for (i, d) in eval.districts.iter().enumerate() {
        jobs.push((
            format!("{stem}_{}.xlsx", file_name_part(d)),
            Scope::District(i),
        ));
    }
    let rendered: Vec<Result<(String, Vec<u8>), FatalError>> = jobs
        .into_par_iter()
        .map(|(name, scope)| {
            let scoped;
            let control = match scope {
                Scope::Whole => control,
                Scope::District(i) => {
                    let others: Vec<&str> = eval
                        .districts
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, d)| d.as_str())
                        .collect();
                    scoped = control_for_district(control, &others);
                    &scoped
                }
            };
            let wb = report::build(eval, control, scope);
            let bytes = render_workbook(&wb).map_err(|source| FatalError::Render {
                file: name.clone(),
                source,
            })?;
            Ok((name, bytes))
        })
        .collect();
    let json_name = format!("{stem}.json");
    let json = render_json(eval, control).map_err(|source| FatalError::Render {
        file: json_name.clone(),
        source,
    })?;
    // Everything is rendered before anything is written: a render failure leaves the
    // previous outputs untouched.
    let mut files = Vec::new();
    for r in rendered {
        files.push(r?);
    }
    files.push((json_name, json));
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// Removes the temporary files (`.<name>.<pid>.tmp`, see `deliver::write_atomic`) that a
/// run killed while writing left in the output folder. Only ours: an output name, and a
/// process that no longer runs (a run writing into the same folder right now keeps its).
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
            continue;
        };
        let Some((output, pid)) = inner.rsplit_once('.') else {
            continue;
        };
        let ours = [".xlsx", ".json", ".eml"]
            .iter()
            .any(|x| output.ends_with(x));
        if ours && pid.parse::<u32>().is_ok_and(|p| !process_running(p)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn process_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only asks whether the process exists; nothing is sent.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    true
}
