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
use crate::deliver::{self, WriteError, file_name_part};
use crate::evaluate::prepare::{PAYMENTS, Prepared, prepare};
use crate::evaluate::{EvalOutcome, evaluate};
use crate::ingest::{
    self, FileOutcome, FileRecord, IngestOptions, Inputs, Issue, PaymentRows, Replacement, Severity,
};
use crate::model::{DatasetSpec, Month, Period, Table};
use crate::render::{RenderError, render_json, render_workbook};
use crate::report::{self, ControlData, ControlFile, ControlIssue, Scope};
use crate::rules::pack::{
    IndicatorSpec, ReportSettings, Targets, indicators, report_settings, targets,
};
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
    #[error("{}: no month in utbetalningar (or in another dataset) to take the report period from; give --period", dir.display())]
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
    #[error(transparent)]
    Explain(#[from] crate::authoring::explain::ExplainError),
    #[error("{}: no rule tests (a folder per test holding its exports and forvantat.csv)", dir.display())]
    NoRuleTests { dir: PathBuf },
    #[error(
        "the rule pack is broken ({errors} error(s), the first: {first}): the last report is kept"
    )]
    BrokenPack { errors: usize, first: String },
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
pub struct Log {
    quiet: bool,
    progress: bool,
    started: Instant,
}

impl Log {
    pub fn new(quiet: bool) -> Log {
        Log {
            quiet,
            // UTFALL_TIMINGS=1 shows the stage times also when stderr is no terminal
            // (the benchmark's profiling runs).
            progress: (!quiet && std::io::stderr().is_terminal())
                || std::env::var_os("UTFALL_TIMINGS").is_some(),
            started: Instant::now(),
        }
    }

    pub fn stage(&self, what: &str) {
        if self.progress {
            let memory = resident_mib().map_or(String::new(), |m| format!(" {m:>5} MiB"));
            let cpu = cpu_seconds().map_or(String::new(), |c| format!(" cpu {c:>6.2}s"));
            eprintln!(
                "[{:>6.2}s{cpu}{memory}] {what}",
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    pub fn info(&self, what: &str) {
        if !self.quiet {
            eprintln!("{what}");
        }
    }

    pub fn error(&self, what: &str) {
        eprintln!("{what}");
    }
}

/// The process's resident memory now, where the system tells it (Linux).
fn resident_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// CPU time (user + system) the process has used so far, where the system tells it
/// (Linux, in clock ticks of 1/100 s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
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
        Task::Check(config) => check(config),
        Task::Explain {
            config,
            indicator,
            district,
        } => explain(config, indicator, district.as_deref()),
        Task::Test { rules_dir } => {
            let tests = crate::authoring::ruletest::run_tests(rules_dir)?;
            // The pack's own errors once, with their caret; the tests they break say so.
            for e in &tests.pack_errors {
                eprintln!("error: {}", e.with_caret());
            }
            print!("{}", tests.text());
            Ok(tests.failed() > 0)
        }
        Task::Watch { config, watch } => {
            watch::watch(config, watch)?;
            Ok(false)
        }
        Task::Send(send) => Ok(email::send(send)?.failed > 0),
    }
}

/// `utfall check`: every stage up to evaluation, then the Swedish overview on stdout.
/// Diagnostics go to stderr as in `run`.
fn check(config: &Config) -> Result<bool, FatalError> {
    let log = Log::new(config.quiet);
    let pack = load_pack(&config.rules_dir)?;
    let session = read_inputs(&config.input_dir, &pack, &log)?;
    let period = session.period(config.period, &config.input_dir)?;
    let ingest_issues = report_ingest(&log, &session.record);
    let outcome = evaluate_period(&pack, &session, period);
    for e in all_rule_errors(&pack, &outcome) {
        log.error(&format!("error: {}", e.with_caret()));
    }
    let overview = crate::authoring::check::overview(&pack, &session, period, &outcome);
    print!("{}", overview.text);
    Ok(overview.problems || ingest_issues.errors > 0)
}

/// `utfall explain`: one figure, how it was reached, on stdout. `Ok(true)` when its rule
/// failed.
fn explain(config: &Config, indicator: &str, district: Option<&str>) -> Result<bool, FatalError> {
    let log = Log::new(true);
    let pack = load_pack(&config.rules_dir)?;
    // Unknown names are told before the exports are read.
    crate::authoring::explain::find_indicator(&pack.specs, indicator)?;
    let session = read_inputs(&config.input_dir, &pack, &log)?;
    let period = session.period(config.period, &config.input_dir)?;
    let outcome = evaluate_period(&pack, &session, period);
    let request = crate::authoring::explain::ExplainRequest {
        indicator: indicator.to_string(),
        district: district.map(str::to_string),
    };
    let explanation =
        crate::authoring::explain::explain(&pack, &session, period, &outcome, &request)?;
    print!("{}", explanation.text);
    Ok(explanation.failed)
}

/// Stage 2: the compiled rule pack and its declarations (report settings, indicators,
/// targets), with every error found while reading them.
pub struct Pack {
    pub pack: RulePack,
    pub settings: ReportSettings,
    pub specs: Vec<IndicatorSpec>,
    pub targets: Result<Targets, RuleError>,
    /// The datasets ingest classifies by: the standard ones (with the pack's extra aliases)
    /// and those declared in `datamangder()`.
    pub datasets: Vec<Arc<DatasetSpec>>,
    /// Compile errors and malformed declarations, in that order.
    pub errors: Vec<RuleError>,
}

impl Pack {
    /// True when a rule names `utbetalningar` as a string (`u.rader("utbetalningar")`):
    /// then the payment rows are kept as a table besides their household-months. Without
    /// it they are folded as they are read and dropped (2.7 M rows at national scale).
    pub fn reads_payment_rows(&self) -> bool {
        let quoted = [format!("\"{PAYMENTS}\""), format!("`{PAYMENTS}`")];
        self.pack
            .files
            .iter()
            .any(|f| quoted.iter().any(|q| f.text.contains(q.as_str())))
    }

    /// True when a file does not compile or a declaration (`rapport()`, `indikatorer()`,
    /// `mal()`) is malformed: the pack as a whole is broken, not just one figure.
    pub fn is_broken(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// Loads and compiles the rule pack and reads its declarations. Fails (exit code 2) only
/// when the folder cannot be read or holds no rule file.
pub fn load_pack(dir: &Path) -> Result<Pack, FatalError> {
    let pack = RulePack::load(dir, Limits::from_env())?;
    let mut errors: Vec<RuleError> = pack.errors.clone();
    let (settings, settings_error) = report_settings(&pack);
    errors.extend(settings_error);
    let (specs, declaration_errors) = indicators(&pack);
    errors.extend(declaration_errors);
    let targets = targets(&pack);
    if let Err(e) = &targets {
        errors.push(e.clone());
    }
    let (datasets, dataset_errors) = crate::rules::datasets::datasets(&pack);
    errors.extend(dataset_errors);
    let mut distinct: Vec<RuleError> = Vec::new();
    for e in errors {
        if !distinct.contains(&e) {
            distinct.push(e);
        }
    }
    Ok(Pack {
        pack,
        settings,
        specs,
        targets,
        datasets,
        errors: distinct,
    })
}

/// What ingest recorded about the files, kept after the tables went into `Prepared`.
pub struct IngestRecord {
    pub files: Vec<FileRecord>,
    pub issues: Vec<Issue>,
    pub replacements: Vec<Replacement>,
}

/// Stages 1 and 3a: the exports read and prepared for evaluation.
pub struct Session {
    pub data: Arc<Prepared>,
    pub record: IngestRecord,
    /// The default report period's month (see `latest_month`).
    pub latest_month: Option<Month>,
}

impl Session {
    /// The report period: the one asked for, else the latest month with payments.
    pub fn period(&self, asked: Option<Period>, dir: &Path) -> Result<Period, FatalError> {
        match asked {
            Some(p) => Ok(p),
            None => self
                .latest_month
                .map(Period::month)
                .ok_or_else(|| FatalError::NoPeriod {
                    dir: dir.to_path_buf(),
                }),
        }
    }
}

/// Reads every export of `dir` with the pack's settings and prepares household-months and
/// indexes. Fails when the folder cannot be listed or nothing in it is usable; `log` gets
/// the reasons first.
pub fn read_inputs(dir: &Path, pack: &Pack, log: &Log) -> Result<Session, FatalError> {
    let mut options = IngestOptions::new(dir);
    options.districts = pack.settings.districts.clone();
    options.datasets = pack.datasets.clone();
    options.payments = if pack.reads_payment_rows() {
        PaymentRows::FoldAndTable
    } else {
        PaymentRows::Fold
    };
    let known_datasets: Vec<String> = options.datasets.iter().map(|d| d.name.clone()).collect();
    let inputs = ingest::read_folder(&options)?;
    let no_payments = inputs.payments.as_ref().is_none_or(|p| p.is_empty());
    if no_payments && inputs.tables.values().all(|t| t.is_empty()) {
        let Inputs {
            files,
            issues,
            replacements,
            ..
        } = inputs;
        report_ingest(
            log,
            &IngestRecord {
                files,
                issues,
                replacements,
            },
        );
        // A dataset whose declaration is broken is not read: say why before giving up.
        for e in &pack.errors {
            log.error(&format!("error: {}", e.with_caret()));
        }
        return Err(FatalError::NoUsableInput {
            dir: dir.to_path_buf(),
        });
    }
    let latest_month = latest_month(&inputs);
    let Inputs {
        interner,
        tables,
        files,
        issues,
        replacements,
        payments,
    } = inputs;
    log.stage("preparing household months");
    release_free_memory();
    let data = Arc::new(prepare(
        interner,
        tables,
        payments,
        known_datasets,
        pack.settings.districts.as_deref(),
        pack.settings.identity,
    ));
    Ok(Session {
        data,
        record: IngestRecord {
            files,
            issues,
            replacements,
        },
        latest_month,
    })
}

/// Stage 3b: every indicator, target, status and the budget for one period. The outcome's
/// `rule_errors` are the pack's own errors followed by those of the rule calls, distinct.
pub fn evaluate_period(pack: &Pack, session: &Session, period: Period) -> EvalOutcome {
    use crate::evaluate::budget;
    // The budget's groundwork (its layout, the ledger folded) needs nothing of the
    // indicators: one worker makes it while the other starts on the scopes.
    let (mut outcome, groundwork) = rayon::join(
        || {
            evaluate(
                session.data.clone(),
                &pack.pack,
                &pack.settings,
                &pack.specs,
                &pack.targets,
                period,
            )
        },
        || budget::groundwork(&session.data, &pack.pack, period),
    );
    let threshold = pack.settings.small_number_threshold;
    budget::attach(
        &mut outcome,
        &session.data,
        &pack.pack,
        &pack.specs,
        threshold,
        groundwork,
    );
    outcome
}

/// The pack's errors and the evaluation's, each once, pack errors first.
pub fn all_rule_errors(pack: &Pack, outcome: &EvalOutcome) -> Vec<RuleError> {
    let mut all = pack.errors.clone();
    for e in &outcome.rule_errors {
        if !all.contains(e) {
            all.push(e.clone());
        }
    }
    all
}

/// What `run` does when the pack is broken (a file that does not compile, a malformed
/// declaration).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BrokenPack {
    /// Produce the report anyway: the affected figures are `fel` (`run`).
    Report,
    /// Write nothing, so the last good report stays (`watch`).
    KeepPrevious,
}

/// Runs `utfall run`: every stage, then the workbooks and the JSON.
pub fn run(config: &Config) -> Result<RunSummary, FatalError> {
    run_with(config, BrokenPack::Report)
}

/// Runs `utfall run`, treating a broken pack as `broken` says.
pub fn run_with(config: &Config, broken: BrokenPack) -> Result<RunSummary, FatalError> {
    let log = Log::new(config.quiet);
    large_blocks_from_the_system();
    log.stage("loading rules");
    let pack = load_pack(&config.rules_dir)?;
    if broken == BrokenPack::KeepPrevious
        && let Some(first) = pack.errors.first()
    {
        for e in &pack.errors {
            log.error(&format!("error: {}", e.with_caret()));
        }
        return Err(FatalError::BrokenPack {
            errors: pack.errors.len(),
            first: first.to_string(),
        });
    }

    log.stage("reading exports");
    let session = read_inputs(&config.input_dir, &pack, &log)?;
    let period = session.period(config.period, &config.input_dir)?;
    let ingest_issues = report_ingest(&log, &session.record);

    log.stage("evaluating indicators");
    let outcome = reusing_large_blocks(|| evaluate_period(&pack, &session, period));
    let rule_errors = all_rule_errors(&pack, &outcome);
    for e in &rule_errors {
        log.error(&format!("error: {}", e.with_caret()));
    }
    for w in &outcome.warnings {
        log.info(&format!("warning: {w}"));
    }
    let problems = ingest_issues.errors > 0 || !rule_errors.is_empty();

    let control = ControlData {
        files: control_files(&session.record.files),
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
        rule_fingerprint: pack.pack.fingerprint.clone(),
        generated_by: format!("utfall {}", env!("CARGO_PKG_VERSION")),
    };
    // The household-months and tables are no longer needed: the workbooks are made from
    // the evaluation alone, and at national scale the data is the larger part. Freeing
    // millions of allocations takes a while: another thread does it while rendering.
    let freeing = std::thread::spawn(move || {
        drop(session);
        release_free_memory();
    });

    let Some(output_dir) = &config.output_dir else {
        log.info(&format!(
            "checked {}: period {}, {} indicators, {} districts; nothing written",
            config.input_dir.display(),
            period,
            pack.specs.len(),
            outcome.evaluation.districts.len()
        ));
        return Ok(RunSummary {
            problems,
            written: Vec::new(),
            period,
        });
    };

    log.stage("writing workbooks");
    let written = write_outputs(output_dir, &outcome, &control, &log)?;
    // Nothing of it can fail; waiting only keeps the process's peak memory honest.
    let _ = freeing.join();
    log.stage("written");
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

/// Blocks over 1 MiB come from the system and go back to it when freed (glibc keeps freed
/// memory in its per-thread arenas otherwise), so the readers' buffers do not linger under
/// the household-months built after reading, the run's largest structure. Set when a run
/// starts, and again after evaluation (`reusing_large_blocks`).
fn large_blocks_from_the_system() {
    set_allocator_thresholds(1 << 20, DEFAULT_TRIM_THRESHOLD);
}

/// glibc's own default for keeping freed memory at the top of a heap.
const DEFAULT_TRIM_THRESHOLD: i32 = 128 << 10;

/// Runs `f` with blocks up to 32 MiB taken from and given back to the allocator's heaps
/// instead of the system. Evaluation builds and drops sets of a few MiB (a grouping of the
/// total's million household-months by household): from the system, each would be fresh
/// pages again (≈ 3 µs a page on the benchmark machine). What evaluation leaves free is
/// reused by the renderers (the same threads, the same heaps) and handed back with the
/// session's memory by the thread that frees it (`run_with`), not here: trimming takes
/// the one core that would start the rendering.
fn reusing_large_blocks<T>(f: impl FnOnce() -> T) -> T {
    set_allocator_thresholds(32 << 20, 32 << 20);
    let result = f();
    large_blocks_from_the_system();
    result
}

fn set_allocator_thresholds(mmap: i32, trim: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, mmap);
        libc::mallopt(libc::M_TRIM_THRESHOLD, trim);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (mmap, trim);
}

fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The default report period's month: the latest with payments; without payments (a pack
/// of other datasets), the latest in any dataset's month column that re-exports replace by.
fn latest_month(inputs: &Inputs) -> Option<Month> {
    let latest = |table: &Table, column: &str| table.month(column)?.iter().flatten().max().copied();
    if let Some(folds) = inputs.payments.as_ref().filter(|p| !p.is_empty()) {
        return folds.iter().map(|f| f.month).max();
    }
    if let Some(payments) = inputs.tables.get(PAYMENTS).filter(|t| !t.is_empty()) {
        return latest(payments, "Period");
    }
    inputs
        .tables
        .values()
        .filter_map(|t| latest(t, t.spec.replace_by.as_deref()?))
        .max()
}

/// Ingest's diagnostics, split for Kontroll and counted for the exit code.
struct IngestReport {
    errors: usize,
    rejected: Vec<ControlIssue>,
    replacements: Vec<String>,
}

fn report_ingest(log: &Log, inputs: &IngestRecord) -> IngestReport {
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
        let location = issue.location();
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
    let replacements = ingest::summarise_replacements(&inputs.replacements)
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

fn control_files(files: &[FileRecord]) -> Vec<ControlFile> {
    let mut out = Vec::new();
    for f in files {
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
            FileOutcome::Skipped { reason } => out.push(unread(f, reason.sv())),
            FileOutcome::Duplicate { of } => out.push(unread(
                f,
                format!(
                    "dubblett av {}",
                    files.get(of.0 as usize).map_or("", |o| o.name.as_str())
                ),
            )),
        }
    }
    // Ingest orders files by newness; a controller looks them up by name.
    out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.sheet.cmp(&b.sheet)));
    out
}

/// A Kontroll row for a file that was not read, with why.
fn unread(f: &FileRecord, outcome: String) -> ControlFile {
    ControlFile {
        name: f.name.clone(),
        dataset: None,
        sheet: None,
        rows: 0,
        rejected: 0,
        months: String::new(),
        outcome,
    }
}

/// Which districts each Kontroll text names (case-insensitively), found once per run: per
/// district workbook, checking every text against the ~290 other names was O(n²) and a
/// sixth of the rendering stage at national scale. Texts naming no district are left out.
fn district_mentions<'a>(
    control: &'a ControlData,
    districts: &[String],
) -> std::collections::HashMap<&'a str, Vec<usize>> {
    let lower: Vec<String> = districts.iter().map(|d| d.to_lowercase()).collect();
    let texts = control
        .files
        .iter()
        .flat_map(|f| [&f.name, &f.outcome])
        .chain(
            control
                .rejected_rows
                .iter()
                .flat_map(|i| [&i.location, &i.message]),
        )
        .chain(&control.replacements)
        .chain(control.rule_errors.iter().map(|i| &i.message))
        .chain(&control.warnings);
    let mut mentions = std::collections::HashMap::new();
    for text in texts {
        if mentions.contains_key(text.as_str()) {
            continue;
        }
        let text_lower = text.to_lowercase();
        let named: Vec<usize> = (0..lower.len())
            .filter(|&d| text_lower.contains(lower[d].as_str()))
            .collect();
        if !named.is_empty() {
            mentions.insert(text.as_str(), named);
        }
    }
    mentions
}

/// Kontroll for the workbook of district `own`: nothing that names another district.
/// `mentions` is `district_mentions` of the same `control`.
fn control_for_district(
    control: &ControlData,
    mentions: &std::collections::HashMap<&str, Vec<usize>>,
    own: usize,
) -> ControlData {
    let names_other = |s: &str| {
        mentions
            .get(s)
            .is_some_and(|ds| ds.iter().any(|&d| d != own))
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

/// Renders and writes the whole workbook, one per district and the JSON. Files are
/// rendered in parallel; writer threads write and flush each one under a temporary name
/// while the rest still render (flushing waits on the disk, not on a core), and only when
/// every file is ready are they renamed into place: a render or write failure leaves the
/// previous outputs untouched.
fn write_outputs(
    dir: &Path,
    outcome: &EvalOutcome,
    control: &ControlData,
    log: &Log,
) -> Result<Vec<PathBuf>, FatalError> {
    /// Files flushed at the same time; the disk, not the CPU, is what they wait for.
    const WRITERS: usize = 4;
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
    let json_name = format!("{stem}.json");
    let json_index = jobs.len();
    let mentions = district_mentions(control, &eval.districts);
    let index = report::Index::new(eval);
    let render = |(name, scope): (String, Scope)| {
        let scoped;
        let control = match scope {
            Scope::Whole => control,
            Scope::District(i) => {
                scoped = control_for_district(control, &mentions, i);
                &scoped
            }
        };
        let wb = report::build_indexed(&index, control, scope);
        render_workbook(&wb).map_err(|source| FatalError::Render { file: name, source })
    };

    // Rendered files go to the writers by number: (index in `jobs`, or `json_index`).
    let (to_writers, from_renderers) = std::sync::mpsc::channel::<(usize, PathBuf, Vec<u8>)>();
    let from_renderers = std::sync::Mutex::new(from_renderers);
    let (rendered, staged) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                s.spawn(|| {
                    let mut staged = Vec::new();
                    loop {
                        let next = match from_renderers.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => break,
                        };
                        let Ok((i, path, bytes)) = next else {
                            break;
                        };
                        staged.push((i, deliver::stage(&path, &bytes)));
                    }
                    staged
                })
            })
            .collect();
        let (workbooks, json) = in_render_pool(|| {
            rayon::join(
                || {
                    // The whole unit's workbook, the largest, is the first job; the districts'
                    // are handed out one at a time, so neither core is left to finish a last
                    // batch of them alone.
                    jobs.into_par_iter()
                        .with_max_len(1)
                        .enumerate()
                        .map_with(to_writers.clone(), |to_writers, (i, (name, scope))| {
                            let path = dir.join(&name);
                            let bytes = render((name, scope))?;
                            // A writer gone means it panicked; the scope's join reports that.
                            let _ = to_writers.send((i, path, bytes));
                            Ok(())
                        })
                        .collect::<Vec<Result<(), FatalError>>>()
                },
                || {
                    let bytes =
                        render_json(eval, control).map_err(|source| FatalError::Render {
                            file: json_name.clone(),
                            source,
                        })?;
                    let _ = to_writers.send((json_index, dir.join(&json_name), bytes));
                    Ok::<(), FatalError>(())
                },
            )
        });
        drop(to_writers);
        let mut staged = Vec::new();
        for w in writers {
            match w.join() {
                Ok(s) => staged.extend(s),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        ((json, workbooks), staged)
    });
    // Any failure returns here, and dropping `staged` removes every temporary file.
    let (json, workbooks) = rendered;
    json?;
    for r in workbooks {
        r?;
    }
    let mut staged = staged;
    staged.sort_by_key(|(i, _)| *i);
    let staged = staged
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Result<Vec<_>, _>>()?;
    log.stage("rendered and flushed; renaming into place");
    let mut written = Vec::new();
    for s in staged {
        written.push(s.commit()?);
    }
    Ok(written)
}

/// Runs `f` (the rendering) on one thread more than the global pool has (one per core).
/// A renderer is off its core now and then: rust_xlsxwriter assembles a workbook's sheet
/// with charts on a thread of its own and waits for it, and each streamed sheet creates
/// and reads back a temporary file. With a thread per core the core sat idle meanwhile:
/// national run, 1.83 cores busy while rendering; with one more thread, 1.88 (4 + 4
/// alternating runs). The global pool follows `RAYON_NUM_THREADS`, and so does this one.
/// Where no pool can be made, the global one does it.
fn in_render_pool<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let threads = rayon::current_num_threads() + 1;
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("render-{i}"))
        .build()
    {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_runs_on_one_thread_more_than_the_global_pool() {
        let global = rayon::current_num_threads();
        assert_eq!(in_render_pool(rayon::current_num_threads), global + 1);
        // What it runs comes back whole.
        let squares: Vec<u64> = in_render_pool(|| {
            use rayon::prelude::*;
            (0..100u64).into_par_iter().map(|i| i * i).collect()
        });
        assert_eq!(squares.len(), 100);
        assert_eq!(squares[99], 9801);
    }
}
