//! Stage 6, deliver: puts rendered files in place. Every file is written to a temporary
//! name in the same folder, flushed to disk and renamed over the final name, so a crash or
//! a failed run never leaves a half-written file and the previous files stay valid.
//! `watch` re-runs the pipeline when the inputs change; `email` sends what a run wrote.

pub mod email;
pub mod watch;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Writes `bytes` to `path` atomically (temporary file + rename in the same folder).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    stage(path, bytes)?.commit().map(drop)
}

/// A file written under its temporary name and flushed to disk, waiting to be renamed
/// over its final name. Dropped without `commit`, it removes its temporary file, so a
/// run can write many files while it still renders and put them in place only when all
/// are ready.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    done: bool,
}

/// The first half of `write_atomic`: writes `bytes` to a temporary name in `path`'s
/// folder and flushes it to disk. Fails if the file cannot be created, written or
/// flushed; no temporary file stays behind then.
pub fn stage(path: &Path, bytes: &[u8]) -> Result<Staged, WriteError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staged = Staged {
        tmp: dir.join(format!(".{name}.{}.tmp", std::process::id())),
        path: path.to_path_buf(),
        done: false,
    };
    let result = (|| {
        let mut f = File::create(&staged.tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    // On failure, dropping `staged` removes the temporary file.
    result.map(|()| staged).map_err(|source| WriteError {
        path: path.to_path_buf(),
        source,
    })
}

impl Staged {
    /// Renames the temporary file over the final name and returns that name.
    pub fn commit(mut self) -> Result<PathBuf, WriteError> {
        self.done = true;
        match fs::rename(&self.tmp, &self.path) {
            Ok(()) => Ok(std::mem::take(&mut self.path)),
            Err(source) => {
                // Best effort: the temporary file must not linger; the rename's error is
                // reported.
                let _ = fs::remove_file(&self.tmp);
                Err(WriteError {
                    path: std::mem::take(&mut self.path),
                    source,
                })
            }
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Makes a district name safe as part of a file name on every platform.
pub fn file_name_part(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("utfall-deliver-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.xlsx");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn staged_file_dropped_uncommitted_leaves_the_old_file_and_no_temporary() {
        let dir = std::env::temp_dir().join(format!("utfall-stage-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.xlsx");
        write_atomic(&p, b"old").unwrap();
        let staged = stage(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"old");
        drop(staged);
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        assert_eq!(stage(&p, b"new").unwrap().commit().unwrap(), p);
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_write_keeps_nothing_under_the_final_name() {
        let p = Path::new("/nonexistent-utfall-dir/x.xlsx");
        assert!(write_atomic(p, b"x").is_err());
        assert!(!p.exists());
    }

    #[test]
    fn district_names_become_safe_file_name_parts() {
        assert_eq!(file_name_part("Östermalm"), "Östermalm");
        assert_eq!(file_name_part("../a/b"), "_a_b");
        assert_eq!(file_name_part("Norr: mitt"), "Norr_ mitt");
    }
}
