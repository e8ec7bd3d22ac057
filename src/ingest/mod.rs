//! Stage 1, ingest: a folder of exports → typed tables per dataset, with diagnostics.
//! Takes the input folder and the dataset specs, gives `Inputs`: one `Table` per dataset
//! (re-exports resolved, duplicates dropped), a record of every file, issues and replacements.
//!
//! Files are read in parallel, each into its own interner; they are merged in file-newness
//! order so that the result never depends on thread timing.

mod csv;
mod excel;
pub mod fold;
mod ids;
#[cfg(unix)]
mod isolate;
mod issue;
mod limits;
mod reexport;
mod schema;
mod sheet;
mod value;
#[cfg(unix)]
mod wire;
mod xlsx;

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once, mpsc};
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// The text of an export's bytes, whatever its encoding (the CSV reader's decoding).
pub use csv::decode as decode_text;
pub use issue::{Issue, RejectReason, RowLocation, Severity, SkipReason, column_letters};
pub use limits::{
    ENV_MAX_FILE_MB, ENV_MAX_ROWS, ENV_MAX_UNZIPPED_MB, ENV_PARSE_MEMORY_MB, ENV_PARSE_TIMEOUT_S,
    Exceeded, ReadLimits,
};
pub use reexport::summarise as summarise_replacements;
pub use schema::{norm as normalise_header, standard_datasets};

use crate::model::{ColumnData, DatasetSpec, Date, FileId, Interner, Month, RowOrigin, Sym, Table};
use fold::MonthFold;
use ids::{IdList, RunIds};
use schema::Matcher;
use sheet::{FileContents, FileCtx, Part};

/// What to read and how.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    pub input_dir: PathBuf,
    /// Usually `standard_datasets()`; the rule pack may add more.
    pub datasets: Vec<Arc<DatasetSpec>>,
    /// When set, a row whose `Stadsdel` is not listed is rejected.
    pub districts: Option<Vec<String>>,
    /// What one file may cost (defaults raised by environment variables).
    pub limits: ReadLimits,
    /// What becomes of `utbetalningar` rows.
    pub payments: PaymentRows,
}

/// What ingest does with the rows of `utbetalningar`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PaymentRows {
    /// A table like every other dataset's (the parse-only benchmark; library users).
    Table,
    /// Folded into household-months per file as the files are read (`Inputs::payments`);
    /// the rows themselves are dropped. What `utfall run` does unless rules read the rows.
    Fold,
    /// Both: folded, and kept as a table for rules that read the rows.
    FoldAndTable,
}

impl PaymentRows {
    fn fold(self) -> bool {
        self != PaymentRows::Table
    }

    fn table(self) -> bool {
        self != PaymentRows::Fold
    }
}

impl IngestOptions {
    /// Options for the standard datasets, no district list and the limits of the
    /// environment (`ReadLimits::from_env`).
    pub fn new(input_dir: impl Into<PathBuf>) -> IngestOptions {
        IngestOptions {
            input_dir: input_dir.into(),
            datasets: standard_datasets().into_iter().map(Arc::new).collect(),
            districts: None,
            limits: ReadLimits::from_env(),
            payments: PaymentRows::Table,
        }
    }
}

/// Called first thing in `main`: when this process was started as a reader process for
/// one file, reads it, answers the parent and exits; otherwise lets `read_folder` parse
/// each file in such a process (memory and time limited). Does nothing off Unix.
pub fn enter() {
    #[cfg(unix)]
    isolate::enter();
}

/// Everything ingest found.
#[derive(Debug)]
pub struct Inputs {
    pub interner: Interner,
    /// One entry per dataset of the options (an empty table when no file had it).
    pub tables: BTreeMap<String, Table>,
    /// Every file seen, index = `FileId`, ordered oldest to newest.
    pub files: Vec<FileRecord>,
    pub issues: Vec<Issue>,
    pub replacements: Vec<Replacement>,
    /// With `PaymentRows::Fold*`: the household-months of every month's newest export,
    /// sorted by month, symbols in `interner`.
    pub payments: Option<Vec<MonthFold>>,
}

#[derive(Clone, Debug)]
pub struct FileRecord {
    pub id: FileId,
    pub path: PathBuf,
    /// The file name only.
    pub name: String,
    /// The date in the file name, else the (UTC) date of its modification time.
    pub export_date: Option<Date>,
    pub outcome: FileOutcome,
}

#[derive(Clone, Debug)]
pub enum FileOutcome {
    Read { sheets: Vec<SheetRecord> },
    Skipped { reason: SkipReason },
    Duplicate { of: FileId },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SheetRecord {
    /// `None` for a CSV file.
    pub sheet: Option<String>,
    /// `None`: not an export we know (an `UnknownSheet` note says so).
    pub dataset: Option<String>,
    /// Rows kept from this sheet (before re-export replacement).
    pub rows: usize,
    pub rejected: usize,
    /// The months of its rows (for month- and date-replaced datasets).
    pub months: Vec<Month>,
}

/// A month (or year) of a dataset whose rows in `replaced` gave way to those in `kept`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    pub dataset: String,
    /// `2019-03`, or `2019` for datasets replaced per year.
    pub period: String,
    pub kept: FileId,
    pub replaced: FileId,
    pub rows_dropped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{}: cannot list the input folder: {source}", path.display())]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
}

const EXPORT_EXTENSIONS: [&str; 7] = ["xlsx", "xlsm", "xlsb", "xls", "ods", "csv", "txt"];

fn extension(name: &str) -> String {
    Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

fn is_export(name: &str) -> bool {
    EXPORT_EXTENSIONS.contains(&extension(name).as_str())
}

/// The export date written in a file name: `2024-05-08`, `2024_05_08` or `20240508`, not
/// part of a longer digit run, a valid date; with several, the latest.
pub fn name_export_date(name: &str) -> Option<Date> {
    let b = name.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let num = |i: usize, n: usize| -> Option<u32> {
        (i..i + n).all(digit).then(|| {
            b[i..i + n]
                .iter()
                .fold(0, |a, d| a * 10 + u32::from(d - b'0'))
        })
    };
    let mut best: Option<Date> = None;
    for i in 0..b.len() {
        if (i > 0 && digit(i - 1)) || !(b[i..].starts_with(b"19") || b[i..].starts_with(b"20")) {
            continue;
        }
        let Some(y) = num(i, 4) else { continue };
        for sep in [None, Some(b'-'), Some(b'_')] {
            let s = usize::from(sep.is_some());
            if sep.is_some_and(|c| b.get(i + 4) != Some(&c) || b.get(i + 7) != Some(&c)) {
                continue;
            }
            let (Some(m), Some(d)) = (num(i + 4 + s, 2), num(i + 6 + 2 * s, 2)) else {
                continue;
            };
            if digit(i + 8 + 2 * s) {
                continue;
            }
            if let Some(date) = Date::new(y as i32, m, d) {
                best = best.max(Some(date));
            }
        }
    }
    best
}

fn utc_date(t: SystemTime) -> Option<Date> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Date::from_excel_serial((secs / 86_400) as f64 + 25_569.0)
}

/// A file as listed, with what decides its newness.
#[derive(Clone)]
struct Listed {
    path: PathBuf,
    name: String,
    display: PathBuf,
    export_date: Option<Date>,
    mtime_nanos: u128,
    /// Bytes on disk.
    size: u64,
}

impl Listed {
    fn new(path: PathBuf, name: String, display: PathBuf, mtime: Option<SystemTime>) -> Listed {
        let export_date = name_export_date(&name).or_else(|| mtime.and_then(utc_date));
        let mtime_nanos = mtime
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        Listed {
            path,
            name,
            display,
            export_date,
            mtime_nanos,
            size: 0,
        }
    }

    /// SPEC §2 newness: export date, then mtime, then file name (as `newness_key`).
    fn newness(&self) -> (Option<Date>, u128, &str) {
        (self.export_date, self.mtime_nanos, &self.name)
    }
}

/// One file's contents waiting for the merge, its interner packed into one buffer (a
/// national file holds ~100 000 ids; two dozen hash maps of them would dominate memory).
struct Parsed {
    text: String,
    /// End offsets in `text` of the file's symbols, in `Sym` order.
    ends: Vec<usize>,
    parts: Vec<Part>,
    sheets: Vec<SheetRecord>,
    issues: Vec<Issue>,
    /// `utbetalningar` folded (file-local symbols and household numbers), when the
    /// options say so.
    payments: Vec<MonthFold>,
    /// The file's household ids, in the order of its household numbers.
    household_ids: IdList,
}

impl Parsed {
    fn from(c: FileContents) -> Parsed {
        let (payments, household_ids) = match c.payments.is_empty() {
            true => Default::default(),
            false => c.payments.fold(),
        };
        let n = c.interner.len();
        let mut text = String::new();
        let mut ends = Vec::with_capacity(n);
        for i in 0..n {
            text.push_str(c.interner.resolve(Sym(i as u32)));
            ends.push(text.len());
        }
        text.shrink_to_fit();
        Parsed {
            text,
            ends,
            parts: c.parts,
            sheets: c.sheets,
            issues: c.issues,
            // Payment rows taken while read (`PaymentRows::Fold`) are folded now.
            payments,
            household_ids,
        }
    }

    /// The text of a file-local symbol.
    fn string(&self, sym: Sym) -> &str {
        let i = sym.0 as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.ends
            .get(i)
            .and_then(|&end| self.text.get(start..end))
            .unwrap_or("")
    }

    /// Folds this file's `utbetalningar` rows into household-months (all its sheets of
    /// payments together), dropping the rows unless they are kept as a table too.
    fn folded(mut self, opts: &IngestOptions) -> Parsed {
        let Some(d) = opts.datasets.iter().position(|s| s.name == fold::PAYMENTS) else {
            return self;
        };
        if !opts.payments.fold() || !self.parts.iter().any(|p| p.dataset == d) {
            return self;
        }
        let spec = &opts.datasets[d];
        let (mine, rest): (Vec<Part>, Vec<Part>) = std::mem::take(&mut self.parts)
            .into_iter()
            .partition(|p| p.dataset == d);
        self.parts = rest;
        let text = |s: Sym| self.string(s).to_string();
        let mut payments = match mine.as_slice() {
            [one] => fold::fold_payments(spec, &one.columns, one.rows.len(), &text),
            // Several sheets of payments: one fold over all their rows, in sheet order.
            several => {
                let same: Vec<Sym> = (0..self.ends.len() as u32).map(Sym).collect();
                let mut table = Table::new(spec.clone());
                for part in several {
                    append(
                        &mut table,
                        FileId(0),
                        part,
                        &vec![true; part.rows.len()],
                        &same,
                    );
                }
                fold::fold_payments(spec, &table.columns, table.len(), &text)
            }
        };
        let household_ids = fold::number_by_id(&mut payments, &text);
        (self.payments, self.household_ids) = (payments, household_ids);
        if opts.payments.table() {
            self.parts.extend(mine);
        }
        self
    }

    fn strings(&self) -> impl Iterator<Item = &str> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, b)| &self.text[a..*b])
    }
}

enum Loaded {
    Skipped(SkipReason),
    /// An exact copy of the file at this index (a newer one).
    Duplicate {
        of: usize,
    },
    Read(Result<Parsed, SkipReason>),
}

/// Reads every export in `opts.input_dir` (not recursive; `~$` lock files and hidden files
/// ignored). Fails only when the folder cannot be listed; unreadable files, bad rows and
/// unknown sheets become issues.
pub fn read_folder(opts: &IngestOptions) -> Result<Inputs, FolderError> {
    let list_err = |source| FolderError::List {
        path: opts.input_dir.clone(),
        source,
    };
    let shown_dir = opts
        .input_dir
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_default();
    let mut listed = Vec::new();
    for entry in std::fs::read_dir(&opts.input_dir).map_err(list_err)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("~$") || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let display = shown_dir.join(&name);
        let mut l = Listed::new(path, name, display, meta.modified().ok());
        l.size = meta.len();
        listed.push(l);
    }
    listed.sort_by(|a, b| a.newness().cmp(&b.newness()));

    // Hash every export that has another of its size first: of byte-identical files only
    // the newest is parsed. A file over the size limit is neither hashed nor parsed.
    let max_bytes = opts.limits.max_file_bytes;
    let mut same_size: HashMap<u64, usize> = HashMap::new();
    for f in listed.iter().filter(|f| is_export(&f.name)) {
        *same_size.entry(f.size).or_default() += 1;
    }
    let hashes: Vec<Option<Result<Option<[u8; 32]>, SkipReason>>> = listed
        .par_iter()
        .map(|f| {
            is_export(&f.name).then(|| {
                if f.size > max_bytes {
                    return Err(SkipReason::TooLarge {
                        exceeded: Exceeded::FileSize {
                            bytes: f.size,
                            limit: max_bytes,
                        },
                    });
                }
                if same_size.get(&f.size).is_none_or(|&n| n < 2) {
                    return Ok(None); // no other file can be a copy of it
                }
                hash_file(&f.path).map(Some).map_err(|e| SkipReason::Io {
                    detail: e.kind().to_string(),
                })
            })
        })
        .collect();
    let mut owner: HashMap<[u8; 32], usize> = HashMap::new();
    let mut duplicate_of: Vec<Option<usize>> = vec![None; listed.len()];
    for (i, h) in hashes.iter().enumerate().rev() {
        if let Some(Ok(Some(hash))) = h {
            match owner.get(hash) {
                Some(&o) => duplicate_of[i] = Some(o),
                None => {
                    owner.insert(*hash, i);
                }
            }
        }
    }

    let matcher = Matcher::new(&opts.datasets);
    let load = |i: usize| {
        let f = &listed[i];
        match (&hashes[i], duplicate_of[i]) {
            (None, _) => Loaded::Skipped(SkipReason::NotAnExportFormat),
            (Some(Err(reason)), _) => Loaded::Skipped(reason.clone()),
            (Some(Ok(_)), Some(of)) => Loaded::Duplicate { of },
            (Some(Ok(_)), None) => {
                Loaded::Read(read_one(f, opts, &matcher).map(|p| p.folded(opts)))
            }
        }
    };
    // One reader thread per core takes the files in list order; this thread merges each
    // file as soon as every older one is merged, so the (serial) merge runs while the
    // rest is still being read instead of after it. The merge order, and so every symbol
    // number, is the list order whatever the timing. (Taking the largest files first
    // instead left the merge waiting for the list's first files until the end of reading:
    // its whole backlog then ran on one core.)
    let n = listed.len();
    let readers = std::thread::available_parallelism().map_or(2, |k| k.get());
    let next = AtomicUsize::new(0);
    let inputs = std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<(usize, Loaded)>();
        for _ in 0..readers.min(n) {
            let (tx, next, load) = (tx.clone(), &next, &load);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    if tx.send((i, load(i))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, Loaded> = BTreeMap::new();
        let mut at = 0;
        let in_order = std::iter::from_fn(|| {
            while !waiting.contains_key(&at) {
                let (i, loaded) = rx.recv().ok()?;
                waiting.insert(i, loaded);
            }
            let loaded = waiting.remove(&at)?;
            at += 1;
            Some((listed[at - 1].clone(), loaded))
        });
        assemble(&listed, in_order, opts)
    });
    Ok(inputs)
}

/// SHA-256 of a file, streamed (a large export is never held twice).
fn hash_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Parses one listed file: in a reader process when `enter` enabled them, else here.
fn read_one(f: &Listed, opts: &IngestOptions, matcher: &Matcher) -> Result<Parsed, SkipReason> {
    #[cfg(unix)]
    if let Some(exe) = isolate::child_for(&extension(&f.name)) {
        return isolate::read_in_child(exe, &f.path, &f.name, &f.display, opts);
    }
    // One buffer per reader thread for every file it reads: fresh pages for each file
    // would cost the system more than the copy.
    FILE_BYTES.with_borrow_mut(|bytes| {
        bytes.clear();
        let read = std::fs::File::open(&f.path).and_then(|mut file| {
            bytes.reserve(usize::try_from(f.size).unwrap_or(0));
            file.read_to_end(bytes)
        });
        match read {
            Err(e) => Err(SkipReason::Io {
                detail: e.kind().to_string(),
            }),
            Ok(_) => parse_bytes(&f.name, &f.display, bytes, opts, matcher),
        }
    })
}

thread_local! {
    /// A reader thread's buffer for the bytes of the file it reads.
    static FILE_BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Reads one file given as bytes (for tests and for callers that already hold the bytes),
/// as if it were the only file of a folder. Never fails: problems become issues.
pub fn read_file_bytes(name: &str, bytes: &[u8], opts: &IngestOptions) -> Inputs {
    let matcher = Matcher::new(&opts.datasets);
    let listed = Listed::new(
        PathBuf::from(name),
        name.to_string(),
        PathBuf::from(name),
        None,
    );
    let loaded = if is_export(name) {
        Loaded::Read(
            parse_bytes(name, &listed.display, bytes, opts, &matcher).map(|p| p.folded(opts)),
        )
    } else {
        Loaded::Skipped(SkipReason::NotAnExportFormat)
    };
    assemble(
        std::slice::from_ref(&listed),
        std::iter::once((listed.clone(), loaded)),
        opts,
    )
}

thread_local! {
    /// Set while this thread runs a spreadsheet reader whose panics are caught.
    static IN_READER: Cell<bool> = const { Cell::new(false) };
}

/// Installs, once, a panic hook that keeps quiet about panics of a spreadsheet reader
/// (they are caught and reported as one line) and leaves every other panic to the
/// previous hook.
fn quiet_reader_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_READER.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Parses one file's bytes under the row and unpacked-size limits, catching a panic of
/// the spreadsheet reader. Fails with the reason the file is skipped.
fn parse_bytes(
    name: &str,
    display: &Path,
    bytes: &[u8],
    opts: &IngestOptions,
    matcher: &Matcher,
) -> Result<Parsed, SkipReason> {
    let mut ctx = FileCtx {
        datasets: &opts.datasets,
        matcher,
        districts: opts.districts.as_deref(),
        intake: match opts.payments {
            PaymentRows::Fold => opts.datasets.iter().position(|s| s.name == fold::PAYMENTS),
            PaymentRows::Table | PaymentRows::FoldAndTable => None,
        },
        file: display.to_path_buf(),
        out: FileContents::default(),
        rows_seen: 0,
        max_rows: opts.limits.max_rows,
    };
    let ext = extension(name);
    let is_text = matches!(ext.as_str(), "csv" | "txt");
    if is_text && ctx.intake.is_some() {
        // A payment row is rarely under 32 bytes. Capped: beyond a million rows the
        // vectors grow as usual (a reader process has an address-space limit).
        ctx.out
            .payments
            .expect_rows((bytes.len() / 32).min(1 << 20));
    }
    quiet_reader_panics();
    IN_READER.with(|r| r.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if is_text {
            csv::read_csv(bytes, &mut ctx);
            Ok(())
        } else {
            excel::read_workbook(bytes, &ext, &opts.limits, &mut ctx)
        }
    }));
    IN_READER.with(|r| r.set(false));
    match outcome {
        Ok(Ok(())) if ctx.over_rows() => Err(SkipReason::TooLarge {
            exceeded: Exceeded::Rows {
                limit: opts.limits.max_rows,
            },
        }),
        Ok(Ok(())) => Ok(Parsed::from(ctx.out)),
        Ok(Err(reason)) => Err(reason),
        Err(_) => Err(SkipReason::Corrupt),
    }
}

/// A read file waiting for the merge.
struct Piece {
    id: FileId,
    /// File-local symbol → the run's.
    map: Vec<Sym>,
    parts: Vec<Part>,
    /// Its `utbetalningar` folded (file-local symbols and household numbers).
    payments: Vec<MonthFold>,
    household_ids: IdList,
}

/// Puts the files together: duplicates, records, interner merge, re-exports, tables.
/// `loaded` gives every listed file with what became of it, in list order.
fn assemble(
    listed: &[Listed],
    loaded: impl Iterator<Item = (Listed, Loaded)>,
    opts: &IngestOptions,
) -> Inputs {
    // A duplicate names the newer file it copies, which comes later in the list.
    let names: Vec<PathBuf> = listed.iter().map(|l| l.display.clone()).collect();
    let mut interner = Interner::default();
    let mut files = Vec::with_capacity(listed.len());
    let mut issues = Vec::new();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut run_ids = RunIds::default();
    for (i, (l, load)) in loaded.enumerate() {
        let id = FileId(i as u32);
        let outcome = match load {
            Loaded::Skipped(reason) | Loaded::Read(Err(reason)) => {
                issues.push(Issue::FileSkipped {
                    file: l.display.clone(),
                    reason: reason.clone(),
                });
                FileOutcome::Skipped { reason }
            }
            Loaded::Duplicate { of: o } => {
                issues.push(Issue::DuplicateFile {
                    file: l.display.clone(),
                    of: names[o].clone(),
                });
                FileOutcome::Duplicate {
                    of: FileId(o as u32),
                }
            }
            Loaded::Read(Ok(contents)) => {
                let map: Vec<Sym> = contents.strings().map(|t| interner.intern(t)).collect();
                run_ids.absorb(&contents.household_ids);
                issues.extend(contents.issues);
                pieces.push(Piece {
                    id,
                    map,
                    parts: contents.parts,
                    payments: contents.payments,
                    household_ids: contents.household_ids,
                });
                FileOutcome::Read {
                    sheets: contents.sheets,
                }
            }
        };
        files.push(FileRecord {
            id,
            path: l.path,
            name: l.name,
            export_date: l.export_date,
            outcome,
        });
    }

    // Payments folded per file: per month the newest export's household-months.
    let mut payments = None;
    let mut payment_replacements = Vec::new();
    if opts.payments.fold() {
        let counts: Vec<(FileId, Month, usize)> = pieces
            .iter()
            .flat_map(|p| p.payments.iter().map(|f| (p.id, f.month, f.rows)))
            .collect();
        let (winners, reps) = reexport::resolve_counts(fold::PAYMENTS, &counts);
        payment_replacements = reps;
        let numbers: Vec<Vec<u32>> = pieces
            .par_iter()
            .map(|p| run_ids.numbers(&p.household_ids))
            .collect();
        let mut months = Vec::new();
        for (k, p) in pieces.iter_mut().enumerate() {
            for f in std::mem::take(&mut p.payments) {
                if winners.get(&f.month) == Some(&p.id) {
                    months.push((k, f));
                }
            }
            p.household_ids = IdList::default();
        }
        months
            .par_iter_mut()
            .for_each(|(k, f)| f.remap(&pieces[*k].map, &numbers[*k]));
        let mut months: Vec<MonthFold> = months.into_iter().map(|(_, f)| f).collect();
        months.sort_by_key(|f| f.month);
        payments = Some(months);
    }

    // Each dataset's parts, taken out of the files; the datasets' tables are then built
    // side by side, each part freed once copied.
    let mut taken: Vec<Vec<(FileId, usize, Part)>> =
        opts.datasets.iter().map(|_| Vec::new()).collect();
    for (k, piece) in pieces.iter_mut().enumerate() {
        for part in std::mem::take(&mut piece.parts) {
            if let Some(mine) = taken.get_mut(part.dataset) {
                mine.push((piece.id, k, part));
            }
        }
    }
    let pieces = &pieces;
    let built: Vec<(Table, Vec<Replacement>)> = opts
        .datasets
        .par_iter()
        .zip(taken)
        .map(|(spec, taken)| {
            let folded = opts.payments.fold() && spec.name == fold::PAYMENTS;
            if folded && !opts.payments.table() {
                return (Table::new(spec.clone()), Vec::new());
            }
            let refs: Vec<(FileId, &Part)> = taken.iter().map(|(id, _, p)| (*id, p)).collect();
            let (masks, reps) = reexport::resolve(&spec.name, &refs, spec.replace_by.is_some());
            let kept = masks.iter().flatten().filter(|k| **k).count();
            let mut table = Table::new(spec.clone());
            reserve(&mut table, kept);
            for ((id, k, part), mask) in taken.into_iter().zip(&masks) {
                append(&mut table, id, &part, mask, &pieces[k].map);
            }
            (table, reps)
        })
        .collect();
    let mut tables = BTreeMap::new();
    let mut replacements = Vec::new();
    for (spec, (table, mut reps)) in opts.datasets.iter().zip(built) {
        if opts.payments.fold() && !opts.payments.table() && spec.name == fold::PAYMENTS {
            replacements.append(&mut payment_replacements);
        }
        replacements.append(&mut reps);
        tables.insert(spec.name.clone(), table);
    }

    Inputs {
        interner,
        tables,
        files,
        issues,
        replacements,
        payments,
    }
}

fn reserve(table: &mut Table, n: usize) {
    table.origin.reserve_exact(n);
    for c in &mut table.columns {
        match c {
            ColumnData::Text(v) => v.reserve_exact(n),
            ColumnData::Number(v) => v.reserve_exact(n),
            ColumnData::Integer(v) => v.reserve_exact(n),
            ColumnData::Month(v) => v.reserve_exact(n),
            ColumnData::Date(v) => v.reserve_exact(n),
            ColumnData::Bool(v) => v.reserve_exact(n),
        }
    }
}

fn filtered<T: Clone>(dst: &mut Vec<Option<T>>, src: &[Option<T>], mask: &[bool]) {
    dst.extend(
        src.iter()
            .zip(mask)
            .filter(|(_, k)| **k)
            .map(|(v, _)| v.clone()),
    );
}

fn append(table: &mut Table, file: FileId, part: &Part, mask: &[bool], syms: &[Sym]) {
    for (dst, src) in table.columns.iter_mut().zip(&part.columns) {
        match (dst, src) {
            (ColumnData::Text(d), ColumnData::Text(s)) => d.extend(
                s.iter()
                    .zip(mask)
                    .filter(|(_, k)| **k)
                    .map(|(v, _)| v.and_then(|sym| syms.get(sym.0 as usize).copied())),
            ),
            (ColumnData::Number(d), ColumnData::Number(s)) => filtered(d, s, mask),
            (ColumnData::Integer(d), ColumnData::Integer(s)) => filtered(d, s, mask),
            (ColumnData::Month(d), ColumnData::Month(s)) => filtered(d, s, mask),
            (ColumnData::Date(d), ColumnData::Date(s)) => filtered(d, s, mask),
            (ColumnData::Bool(d), ColumnData::Bool(s)) => filtered(d, s, mask),
            _ => {}
        }
    }
    table.origin.extend(
        part.rows
            .iter()
            .zip(mask)
            .filter(|(_, k)| **k)
            .map(|(row, _)| RowOrigin { file, row: *row }),
    );
}

#[cfg(test)]
mod tests;
