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
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the temporary file must not linger; the original error is reported.
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
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
