//! Ingest, what one input file may cost: bytes on disk, rows, decompressed bytes of a
//! zip-based workbook, and (for the isolated reader process) memory and wall-clock time.
//! Defaults fit national exports with a wide margin; each can be raised by an environment
//! variable, so a controller with an unusual file is never stuck.

use std::time::Duration;

/// Limits on reading one file. A file over a limit is skipped as "too large" with the
/// limit's name and how to raise it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// Size on disk (`UTFALL_MAX_FILE_MB`).
    pub max_file_bytes: u64,
    /// Data rows of one file, all sheets together (`UTFALL_MAX_ROWS`).
    pub max_rows: u64,
    /// Sum of the uncompressed sizes of a zip-based workbook's parts, as its directory
    /// declares them (the zip reader refuses to inflate past that) (`UTFALL_MAX_UNZIPPED_MB`).
    pub max_unzipped_bytes: u64,
    /// Wall-clock time of the reader process for one file (`UTFALL_PARSE_TIMEOUT_S`).
    pub parse_timeout: Duration,
    /// Address space of the reader process (`UTFALL_PARSE_MEMORY_MB`).
    pub parse_memory_bytes: u64,
}

const MB: u64 = 1024 * 1024;

/// The environment variables, their defaults and what each bounds (for the README and
/// messages).
pub const ENV_MAX_FILE_MB: &str = "UTFALL_MAX_FILE_MB";
pub const ENV_MAX_ROWS: &str = "UTFALL_MAX_ROWS";
pub const ENV_MAX_UNZIPPED_MB: &str = "UTFALL_MAX_UNZIPPED_MB";
pub const ENV_PARSE_TIMEOUT_S: &str = "UTFALL_PARSE_TIMEOUT_S";
pub const ENV_PARSE_MEMORY_MB: &str = "UTFALL_PARSE_MEMORY_MB";

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_file_bytes: 1024 * MB,
            max_rows: 20_000_000,
            max_unzipped_bytes: 4096 * MB,
            parse_timeout: Duration::from_secs(300),
            parse_memory_bytes: 2048 * MB,
        }
    }
}

impl ReadLimits {
    /// The defaults, each replaced by its environment variable when that holds a positive
    /// whole number. An unusable value is ignored (the default stays): a typo must not lift
    /// a limit.
    pub fn from_env() -> ReadLimits {
        let get = |name: &str| -> Option<u64> {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
        };
        let d = ReadLimits::default();
        ReadLimits {
            max_file_bytes: get(ENV_MAX_FILE_MB).map_or(d.max_file_bytes, |n| n.saturating_mul(MB)),
            max_rows: get(ENV_MAX_ROWS).unwrap_or(d.max_rows),
            max_unzipped_bytes: get(ENV_MAX_UNZIPPED_MB)
                .map_or(d.max_unzipped_bytes, |n| n.saturating_mul(MB)),
            parse_timeout: get(ENV_PARSE_TIMEOUT_S).map_or(d.parse_timeout, Duration::from_secs),
            parse_memory_bytes: get(ENV_PARSE_MEMORY_MB)
                .map_or(d.parse_memory_bytes, |n| n.saturating_mul(MB)),
        }
    }

    pub fn memory_mb(&self) -> u64 {
        self.parse_memory_bytes / MB
    }
}

/// Which limit a file went over, for the one-line reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exceeded {
    FileSize { bytes: u64, limit: u64 },
    Rows { limit: u64 },
    Unzipped { bytes: u64, limit: u64 },
    Memory { limit_mb: u64 },
    Time { seconds: u64 },
}

impl Exceeded {
    pub fn en(&self) -> String {
        match self {
            Exceeded::FileSize { bytes, limit } => format!(
                "{} MB, more than the limit of {} MB ({ENV_MAX_FILE_MB})",
                bytes.div_ceil(MB),
                limit / MB
            ),
            Exceeded::Rows { limit } => {
                format!("more than {limit} rows ({ENV_MAX_ROWS})")
            }
            Exceeded::Unzipped { bytes, limit } => format!(
                "unpacks to {} MB, more than the limit of {} MB ({ENV_MAX_UNZIPPED_MB})",
                bytes.div_ceil(MB),
                limit / MB
            ),
            Exceeded::Memory { limit_mb } => format!(
                "reading it needs more than {limit_mb} MB of memory ({ENV_PARSE_MEMORY_MB})"
            ),
            Exceeded::Time { seconds } => {
                format!("reading it took longer than {seconds} s ({ENV_PARSE_TIMEOUT_S})")
            }
        }
    }

    pub fn sv(&self) -> String {
        match self {
            Exceeded::FileSize { bytes, limit } => format!(
                "{} MB, mer än gränsen {} MB ({ENV_MAX_FILE_MB})",
                bytes.div_ceil(MB),
                limit / MB
            ),
            Exceeded::Rows { limit } => format!("fler än {limit} rader ({ENV_MAX_ROWS})"),
            Exceeded::Unzipped { bytes, limit } => format!(
                "packas upp till {} MB, mer än gränsen {} MB ({ENV_MAX_UNZIPPED_MB})",
                bytes.div_ceil(MB),
                limit / MB
            ),
            Exceeded::Memory { limit_mb } => {
                format!("att läsa den kräver mer än {limit_mb} MB minne ({ENV_PARSE_MEMORY_MB})")
            }
            Exceeded::Time { seconds } => {
                format!("att läsa den tog längre än {seconds} s ({ENV_PARSE_TIMEOUT_S})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_variable_that_raises_the_limit() {
        let e = Exceeded::Unzipped {
            bytes: 5 * 1024 * MB,
            limit: 4096 * MB,
        };
        assert_eq!(
            e.en(),
            "unpacks to 5120 MB, more than the limit of 4096 MB (UTFALL_MAX_UNZIPPED_MB)"
        );
        assert!(
            Exceeded::Time { seconds: 3 }
                .sv()
                .contains("UTFALL_PARSE_TIMEOUT_S")
        );
    }
}
