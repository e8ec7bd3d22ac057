//! Ingest, the reader process: each input file is parsed by a child process of utfall
//! itself, under an address-space limit and a wall-clock timeout, so that a file that makes
//! the spreadsheet reader request 16 GiB, crash or spin costs that file only, never the run.
//! The child answers over a pipe in the compact format of `wire`; its stderr is discarded
//! (nothing it could say may carry an id), and it never writes a core dump.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;

use super::limits::{Exceeded, ReadLimits};
use super::wire::{self, Request};
use super::{IngestOptions, Parsed, SkipReason, parse_bytes, value};
use crate::ingest::schema::Matcher;

/// The hidden first argument that makes `utfall` a reader process.
pub const CHILD_ARG: &str = "__utfall-read-file";

/// Which files go to a reader process (`UTFALL_PARSE_ISOLATION`): `spreadsheets` (the
/// default: every format calamine reads), `all` (CSV and text too), `risky` (xls, ods: the
/// formats calamine reads into a dense grid) or `off`. CSV is read by our own code under the
/// size and row limits, and at national scale copying its rows back from a child process
/// costs about a fifth of the CPU time, so it stays in process by default.
const ENV_ISOLATION: &str = "UTFALL_PARSE_ISOLATION";

static CHILD_EXE: OnceLock<PathBuf> = OnceLock::new();

/// The first thing `main` does. In a reader process (started with `CHILD_ARG`) it reads the
/// one file it is asked for, answers and exits. In the `utfall` binary it enables reader
/// processes for `read_folder`; library users and unit tests that never call it parse in
/// process (with the reader's panics still caught).
pub fn enter() {
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new(CHILD_ARG)) {
        std::process::exit(serve());
    }
    if let Ok(exe) = std::env::current_exe() {
        let _ = CHILD_EXE.set(exe);
    }
}

/// The reader executable when `name` should be parsed in a child process.
pub fn child_for(ext: &str) -> Option<&'static Path> {
    let exe = CHILD_EXE.get()?;
    let mode = std::env::var(ENV_ISOLATION).unwrap_or_default();
    let isolate = match mode.trim() {
        "off" => false,
        "risky" => matches!(ext, "xls" | "ods"),
        "all" => true,
        _ => !matches!(ext, "csv" | "txt"),
    };
    isolate.then_some(exe.as_path())
}

/// The child's side: request on stdin, answer on stdout. Exit code 0 when an answer was
/// written, 3 for a request that cannot be understood.
fn serve() -> i32 {
    // Panics are caught and answered as "corrupt"; their messages would only go to a
    // discarded stderr, but stay silent anyway.
    std::panic::set_hook(Box::new(|_| {}));
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return 3;
    }
    let Ok(req) = wire::decode_request(&input) else {
        return 3;
    };
    drop(input);
    if !value::use_key(req.key) {
        return 3;
    }
    let answer = match std::fs::read(&req.path) {
        Err(e) => Err(SkipReason::Io {
            detail: e.kind().to_string(),
        }),
        Ok(bytes) => {
            let opts = IngestOptions {
                input_dir: PathBuf::from("."),
                datasets: req.datasets,
                districts: req.districts,
                limits: ReadLimits {
                    max_rows: req.max_rows,
                    max_unzipped_bytes: req.max_unzipped_bytes,
                    ..ReadLimits::default()
                },
                // Payments folded here when the run only needs the fold (far less to
                // send back); else the rows come back and the parent folds them.
                payments: if req.fold_payments {
                    super::PaymentRows::Fold
                } else {
                    super::PaymentRows::Table
                },
            };
            let matcher = Matcher::new(&opts.datasets);
            parse_bytes(&req.name, &req.display, &bytes, &opts, &matcher).map(|p| p.folded(&opts))
        }
    };
    let out = wire::encode_answer(&answer);
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return 3;
    }
    0
}

/// Parses one file in a reader process. Every way the child can fail becomes a reason:
/// out of memory, out of time, crashed, or a malformed answer.
pub fn read_in_child(
    exe: &Path,
    path: &Path,
    name: &str,
    display: &Path,
    opts: &IngestOptions,
) -> Result<Parsed, SkipReason> {
    let limits = &opts.limits;
    let request = wire::encode_request(&Request {
        key: *value::key(),
        path: path.to_path_buf(),
        name: name.to_string(),
        display: display.to_path_buf(),
        districts: opts.districts.clone(),
        datasets: opts.datasets.clone(),
        max_rows: limits.max_rows,
        fold_payments: opts.payments == super::PaymentRows::Fold,
        max_unzipped_bytes: limits.max_unzipped_bytes,
    });
    let memory = limits.parse_memory_bytes;
    // CPU time as a second line of defence behind the wall clock.
    let cpu = limits.parse_timeout.as_secs().saturating_add(5);
    let mut cmd = Command::new(exe);
    cmd.arg(CHILD_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: the closure runs in the forked child before exec and only calls setrlimit,
    // which is async-signal-safe; it touches no memory the parent's threads could hold.
    unsafe {
        cmd.pre_exec(move || {
            let set = |resource, value: u64| {
                let lim = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                libc::setrlimit(resource, &lim)
            };
            if set(libc::RLIMIT_AS, memory) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // A crash must not leave a core file holding personal data.
            set(libc::RLIMIT_CORE, 0);
            set(libc::RLIMIT_CPU, cpu);
            Ok(())
        });
    }
    let start_failed = |e: std::io::Error| SkipReason::Io {
        detail: format!("cannot start the reader process: {e}"),
    };
    let mut child = cmd.spawn().map_err(start_failed)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A child that died at once shows in its exit status below.
        let _ = stdin.write_all(&request);
    }
    let Some(mut stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(SkipReason::Corrupt);
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let ok = stdout.read_to_end(&mut buf).is_ok();
        let _ = tx.send((ok, buf));
    });
    let received = rx.recv_timeout(limits.parse_timeout);
    let timed_out = received.is_err();
    if timed_out {
        let _ = child.kill();
    }
    let status = child.wait();
    let time = || SkipReason::TooLarge {
        exceeded: Exceeded::Time {
            seconds: limits.parse_timeout.as_secs(),
        },
    };
    if timed_out {
        return Err(time());
    }
    let (read_ok, buf) = received.unwrap_or_default();
    let Ok(status) = status else {
        return Err(SkipReason::Corrupt);
    };
    match (status.code(), status.signal()) {
        (Some(0), _) if read_ok => wire::decode_answer(&buf).unwrap_or(Err(SkipReason::Corrupt)),
        // The allocator aborts when the address-space limit refuses memory.
        (_, Some(libc::SIGABRT | libc::SIGKILL)) => Err(SkipReason::TooLarge {
            exceeded: Exceeded::Memory {
                limit_mb: limits.memory_mb(),
            },
        }),
        (_, Some(libc::SIGXCPU)) => Err(time()),
        _ => Err(SkipReason::Corrupt),
    }
}
