//! Stage 6, deliver by watching: runs the whole pipeline once, then again whenever an export
//! in the input folder or a file of the rule pack is added, changed or removed. Takes a
//! `Config`; gives one log line per run. Filesystem events only wake the watcher: what
//! changed is decided by comparing size and modification time of every file with what the
//! last run read, once they have stopped changing and no program holds a lock on them.

use std::collections::{BTreeMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant, SystemTime};

use notify::{EventKind, RecursiveMode, Watcher};

use crate::cli::{Config, WatchConfig};
use crate::pipeline;

/// Events closer together than this are one change (a copy, an editor's save).
const DEBOUNCE: Duration = Duration::from_millis(200);

/// How many file names one log line lists before "and N more".
const NAMES_SHOWN: usize = 5;

/// The watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {}: {source}", path.display())]
    Notify {
        path: PathBuf,
        source: Box<notify::Error>,
    },
    #[error("cannot start watching: {0}")]
    Start(Box<notify::Error>),
    #[error("cannot handle Ctrl-C/SIGTERM: {0}")]
    Signal(#[from] ctrlc::Error),
}

/// What wakes the watcher.
enum Wake {
    Changed,
    Stop,
}

/// Size and modification time: a file whose stamp is unchanged is not read again for a
/// decision (ingest still reads the whole folder on a run).
type Stamp = (u64, Option<SystemTime>);

/// Every watched file with its stamp.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Snapshot(BTreeMap<PathBuf, Stamp>);

/// What differs between two snapshots.
#[derive(Debug, Default, PartialEq, Eq)]
struct Changes {
    added: Vec<PathBuf>,
    changed: Vec<PathBuf>,
    removed: Vec<PathBuf>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// Files that must be complete before a run reads them.
    fn present(&self) -> impl Iterator<Item = &PathBuf> {
        self.added.iter().chain(&self.changed)
    }

    /// `utb_2019-06.csv added, mal.rhai changed, … and 3 more`.
    fn describe(&self) -> String {
        let mut all = Vec::new();
        for (paths, word) in [
            (&self.added, "added"),
            (&self.changed, "changed"),
            (&self.removed, "removed"),
        ] {
            for p in paths {
                all.push(format!("{} {word}", file_name(p)));
            }
        }
        let more = all.len().saturating_sub(NAMES_SHOWN);
        all.truncate(NAMES_SHOWN);
        let mut s = all.join(", ");
        if more > 0 {
            s.push_str(&format!(" and {more} more"));
        }
        s
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn diff(old: &Snapshot, new: &Snapshot) -> Changes {
    let mut c = Changes::default();
    for (p, stamp) in &new.0 {
        match old.0.get(p) {
            None => c.added.push(p.clone()),
            Some(s) if s != stamp => c.changed.push(p.clone()),
            Some(_) => {}
        }
    }
    c.removed = old
        .0
        .keys()
        .filter(|p| !new.0.contains_key(*p))
        .cloned()
        .collect();
    c
}

/// The folders watched and the files to leave out (the outputs, should the output folder
/// be the input folder).
struct Watched {
    input: PathBuf,
    rules: PathBuf,
    ignore: HashSet<PathBuf>,
}

impl Watched {
    /// Stamps of the exports (every file ingest would look at) and the `*.rhai` files.
    fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::default();
        self.add(&mut s, &self.input, |name| {
            !name.starts_with('.') && !name.starts_with("~$")
        });
        self.add(&mut s, &self.rules, |name| name.ends_with(".rhai"));
        s
    }

    fn add(&self, s: &mut Snapshot, dir: &Path, wanted: impl Fn(&str) -> bool) {
        // A folder that cannot be listed (removed, renamed) shows as files removed; the run
        // then reports it.
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if !wanted(&name) || self.ignore.contains(&path) {
                continue;
            }
            if let Ok(meta) = std::fs::metadata(&path)
                && meta.is_file()
            {
                s.0.insert(path, (meta.len(), meta.modified().ok()));
            }
        }
    }
}

/// The lock file a program keeps beside a file it has open: Excel's `~$name` (long names
/// lose their first two characters) or LibreOffice's `.~lock.name#`.
fn lock_beside(path: &Path) -> Option<PathBuf> {
    let dir = path.parent()?;
    let name = file_name(path);
    let short: String = name.chars().skip(2).collect();
    [
        format!("~${name}"),
        format!("~${short}"),
        format!(".~lock.{name}#"),
    ]
    .into_iter()
    .map(|n| dir.join(n))
    .find(|p| p.exists())
}

/// Waits `d`, absorbing change events; `false` when told to stop.
fn wait(rx: &Receiver<Wake>, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        match rx.recv_timeout(left) {
            Ok(Wake::Changed) => {}
            Err(RecvTimeoutError::Timeout) => return true,
            Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// Blocks until something changes and the burst of events is over; `false` when told to
/// stop.
fn next_change(rx: &Receiver<Wake>) -> bool {
    match rx.recv() {
        Ok(Wake::Changed) => {}
        Ok(Wake::Stop) | Err(_) => return false,
    }
    loop {
        match rx.recv_timeout(DEBOUNCE) {
            Ok(Wake::Changed) => {}
            Err(RecvTimeoutError::Timeout) => return true,
            Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// Waits until no watched file changes for `settle` and no file changed since `last` is
/// locked by another program; gives that state, or `None` when told to stop.
fn settle(
    rx: &Receiver<Wake>,
    watched: &Watched,
    last: &Snapshot,
    settle: Duration,
    log: &impl Fn(&str),
) -> Option<Snapshot> {
    let mut current = watched.snapshot();
    let mut reported = HashSet::new();
    loop {
        if !wait(rx, settle) {
            return None;
        }
        let next = watched.snapshot();
        if next == current {
            let changes = diff(last, &next);
            let locked: Vec<(PathBuf, PathBuf)> = changes
                .present()
                .filter_map(|p| lock_beside(p).map(|l| (p.clone(), l)))
                .collect();
            if locked.is_empty() {
                return Some(next);
            }
            for (file, lock) in locked {
                if reported.insert(file.clone()) {
                    log(&format!(
                        "watch: waiting for {}: open in another program ({} beside it)",
                        file_name(&file),
                        file_name(&lock)
                    ));
                }
            }
        }
        current = next;
    }
}

/// Watches until SIGINT or SIGTERM; a run in progress always finishes first.
///
/// Fails only when the folders cannot be watched or the signal handler cannot be set; a
/// failed run is logged and the watcher goes on.
pub fn watch(config: &Config, settings: &WatchConfig) -> Result<(), WatchError> {
    let log = |s: &str| {
        if !config.quiet {
            eprintln!("{s}");
        }
    };
    let (tx, rx) = channel();
    let fs_tx = tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Reading a file changes nothing; anything else (or an error) makes a fresh look.
        if let Ok(e) = &event
            && matches!(e.kind, EventKind::Access(_))
        {
            return;
        }
        let _ = fs_tx.send(Wake::Changed);
    })
    .map_err(|e| WatchError::Start(Box::new(e)))?;
    for dir in [&config.input_dir, &config.rules_dir] {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError::Notify {
                path: dir.clone(),
                source: Box::new(source),
            })?;
    }
    ctrlc::set_handler(move || {
        let _ = tx.send(Wake::Stop);
    })?;

    let mut watched = Watched {
        input: config.input_dir.clone(),
        rules: config.rules_dir.clone(),
        ignore: HashSet::new(),
    };
    log(&format!(
        "watch: watching {} and {}; Ctrl-C stops",
        config.input_dir.display(),
        config.rules_dir.display()
    ));
    let mut last = Snapshot::default();
    let mut runs = 0usize;
    loop {
        if runs > 0 && !next_change(&rx) {
            break;
        }
        let Some(now) = settle(&rx, &watched, &last, settings.settle, &log) else {
            break;
        };
        let changes = diff(&last, &now);
        if runs > 0 && changes.is_empty() {
            continue;
        }
        runs += 1;
        let what = if runs == 1 {
            let rules = now
                .0
                .keys()
                .filter(|p| p.starts_with(&config.rules_dir))
                .count();
            format!("start: {} exports, {rules} rule files", now.0.len() - rules)
        } else {
            changes.describe()
        };
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            pipeline::run_with(config, pipeline::BrokenPack::KeepPrevious)
        }));
        let secs = started.elapsed().as_secs_f64();
        match outcome {
            Ok(Ok(summary)) => {
                log(&format!(
                    "watch: run {runs} ({what}): wrote {} files (period {}){} in {secs:.1} s",
                    summary.written.len(),
                    summary.period,
                    if summary.problems {
                        ", with problems (see above and the Kontroll sheet)"
                    } else {
                        ""
                    }
                ));
                watched.ignore.extend(summary.written);
            }
            Ok(Err(e)) => eprintln!("watch: run {runs} ({what}): nothing written: {e}"),
            Err(_) => eprintln!("watch: run {runs} ({what}): failed unexpectedly; watching on"),
        }
        last = now;
    }
    log(&format!("watch: stopped after {runs} run(s)"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(entries: &[(&str, u64)]) -> Snapshot {
        Snapshot(
            entries
                .iter()
                .map(|(p, n)| (PathBuf::from(p), (*n, None)))
                .collect(),
        )
    }

    #[test]
    fn diff_names_added_changed_and_removed_files() {
        let c = diff(
            &snap(&[("in/a.csv", 1), ("in/b.csv", 2), ("rules/mal.rhai", 3)]),
            &snap(&[("in/a.csv", 1), ("in/c.csv", 5), ("rules/mal.rhai", 4)]),
        );
        assert_eq!(c.describe(), "c.csv added, mal.rhai changed, b.csv removed");
        assert!(diff(&snap(&[("a", 1)]), &snap(&[("a", 1)])).is_empty());
    }

    #[test]
    fn long_lists_are_cut() {
        let new = snap(&[
            ("1", 1),
            ("2", 1),
            ("3", 1),
            ("4", 1),
            ("5", 1),
            ("6", 1),
            ("7", 1),
        ]);
        assert!(
            diff(&Snapshot::default(), &new)
                .describe()
                .ends_with("and 2 more")
        );
    }

    #[test]
    fn excel_and_libreoffice_locks_are_found() {
        let dir = std::env::temp_dir().join(format!("utfall-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("utbetalningar_2019-06.xlsx");
        std::fs::write(&f, "x").unwrap();
        assert_eq!(lock_beside(&f), None);
        std::fs::write(dir.join("~$betalningar_2019-06.xlsx"), "").unwrap();
        assert!(lock_beside(&f).is_some());
        std::fs::remove_file(dir.join("~$betalningar_2019-06.xlsx")).unwrap();
        std::fs::write(dir.join(".~lock.utbetalningar_2019-06.xlsx#"), "").unwrap();
        assert!(lock_beside(&f).is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
