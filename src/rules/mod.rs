//! Stage 2, rules: loads the Rhai rule pack from `rules/`, compiles each file once with
//! the engine's limits set, and calls the pack's functions. A failing file or function
//! becomes a `RuleError` with `rules/<file>.rhai:<line>:<col>`; it never aborts the run.

pub mod api;
pub mod datasets;
pub mod pack;

use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, FuncArgs, Position, Scope};
use sha2::{Digest, Sha256};

/// Limits every rule call runs under. A controller's rule that loops forever, recurses
/// without end or builds a huge value is stopped and reported, never hangs the run.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub max_expr_depth: usize,
    pub wall_clock: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 5_000_000,
            max_call_levels: 48,
            max_string_size: 100_000,
            max_array_size: 100_000,
            max_map_size: 10_000,
            max_expr_depth: 64,
            wall_clock: Duration::from_secs(10),
        }
    }
}

/// Environment variables that raise (or lower) the rule limits: a controller whose pack
/// legitimately needs more never has to recompile.
pub const ENV_RULE_MAX_OPERATIONS: &str = "UTFALL_RULE_MAX_OPERATIONS";
pub const ENV_RULE_TIMEOUT_S: &str = "UTFALL_RULE_TIMEOUT_S";
pub const ENV_RULE_MAX_SIZE: &str = "UTFALL_RULE_MAX_SIZE";

impl Limits {
    /// The defaults, with `UTFALL_RULE_MAX_OPERATIONS` (operations per call),
    /// `UTFALL_RULE_TIMEOUT_S` (wall clock per call) and `UTFALL_RULE_MAX_SIZE` (characters
    /// of a string, items of an array; maps get a tenth) taken from the environment when
    /// they hold a positive whole number. Call depth stays fixed: deeper would risk the
    /// native stack.
    pub fn from_env() -> Limits {
        let get = |name: &str| -> Option<u64> {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
        };
        let mut l = Limits::default();
        if let Some(n) = get(ENV_RULE_MAX_OPERATIONS) {
            l.max_operations = n;
        }
        if let Some(n) = get(ENV_RULE_TIMEOUT_S) {
            l.wall_clock = Duration::from_secs(n);
        }
        if let Some(n) = get(ENV_RULE_MAX_SIZE).and_then(|n| usize::try_from(n).ok()) {
            l.max_string_size = n;
            l.max_array_size = n;
            l.max_map_size = (n / 10).max(1);
        }
        l
    }
}

/// A rule that could not be compiled or failed while running.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct RuleError {
    /// As shown to the user: `rules/indikatorer.rhai`.
    pub file: String,
    /// 1-based; 0 when the error has no position.
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The source line the error points at, for a caret display.
    pub source_line: Option<String>,
}

impl RuleError {
    /// The error with the offending line and a caret under the column, compiler style.
    pub fn with_caret(&self) -> String {
        match &self.source_line {
            Some(text) if self.column > 0 => {
                let pad: String = text
                    .chars()
                    .take(self.column - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                format!("{self}\n    {text}\n    {pad}^")
            }
            _ => self.to_string(),
        }
    }
}

/// The rule folder cannot be used at all (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("cannot read the rule folder {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the rule folder {path} holds no .rhai files")]
    Empty { path: PathBuf },
}

/// One `.rhai` file of the pack.
pub struct RuleFile {
    /// As shown in messages: `rules/mal.rhai`.
    pub display: String,
    pub text: String,
    /// `None` when the file does not compile (its error is in `RulePack::errors`).
    pub ast: Option<AST>,
}

/// The compiled rule pack and the engine that runs it.
pub struct RulePack {
    pub engine: Engine,
    pub files: Vec<RuleFile>,
    /// Compile errors, one per broken file.
    pub errors: Vec<RuleError>,
    /// SHA-256 over file names and contents, shown in Kontroll so a report can be tied to
    /// the exact rules that made it.
    pub fingerprint: String,
    limits: Limits,
    /// The file defining each script function (the first, as `file_defining` says), so a
    /// rule call does not search every file's functions.
    defined_in: std::collections::HashMap<String, usize>,
}

thread_local! {
    /// The wall-clock deadline of the rule call running on this thread.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Builds the sandboxed engine: standard library only, no module resolver (no file or
/// network access from scripts), limits set, the native API registered.
pub fn build_engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(rhai::packages::Package::as_shared_module(
        &rhai::packages::StandardPackage::new(),
    ));
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth);
    engine.set_max_modules(0);
    engine.on_progress(|ops| {
        // Checking the clock on every operation would be costly; every 256 is enough even
        // when each operation is a native call over a large table.
        if ops % 256 != 0 {
            return None;
        }
        let late = DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() > t));
        late.then(|| Dynamic::from("wall-clock budget exceeded"))
    });
    api::register(&mut engine);
    engine
}

impl RulePack {
    /// Loads and compiles every `*.rhai` file of `dir` (sorted by name). Files that do not
    /// compile are kept with their error; only an unreadable or empty folder is an `Err`.
    pub fn load(dir: &Path, limits: Limits) -> Result<RulePack, PackError> {
        let entries = std::fs::read_dir(dir).map_err(|source| PackError::Unreadable {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rhai") && p.is_file())
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(PackError::Empty {
                path: dir.to_path_buf(),
            });
        }
        let dir_label = dir
            .file_name()
            .map_or_else(|| "rules".to_string(), |n| n.to_string_lossy().into_owned());
        let mut sources = Vec::new();
        for p in paths {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let display = format!("{dir_label}/{name}");
            let text = std::fs::read(&p).map_err(|source| PackError::Unreadable {
                path: p.clone(),
                source,
            })?;
            sources.push((display, String::from_utf8_lossy(&text).into_owned()));
        }
        Ok(RulePack::from_sources(sources, limits))
    }

    /// Compiles in-memory sources (display name, text); used by `load` and by tests.
    pub fn from_sources(sources: Vec<(String, String)>, limits: Limits) -> RulePack {
        let engine = build_engine(&limits);
        let mut hasher = Sha256::new();
        let mut files = Vec::new();
        let mut errors = Vec::new();
        for (display, text) in sources {
            hasher.update(display.as_bytes());
            hasher.update([0]);
            hasher.update(text.as_bytes());
            hasher.update([0]);
            let ast = match engine.compile(&text) {
                Ok(mut ast) => {
                    ast.set_source(display.clone());
                    Some(ast)
                }
                Err(e) => {
                    errors.push(error_at(&display, &text, e.1, e.0.to_string()));
                    None
                }
            };
            files.push(RuleFile { display, text, ast });
        }
        let digest = hasher.finalize();
        let fingerprint = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let mut defined_in = std::collections::HashMap::new();
        for (i, f) in files.iter().enumerate() {
            for m in f.ast.iter().flat_map(|ast| ast.iter_functions()) {
                defined_in.entry(m.name.to_string()).or_insert(i);
            }
        }
        RulePack {
            engine,
            files,
            errors,
            fingerprint,
            limits,
            defined_in,
        }
    }

    /// The file that defines script function `name` (with any number of parameters).
    pub fn file_defining(&self, name: &str) -> Option<usize> {
        self.defined_in.get(name).copied()
    }

    /// Whether some file *tried* to define `name` (true also for a file that does not
    /// compile, so its indicators become `fel` rather than "undefined").
    pub fn file_mentioning(&self, name: &str) -> Option<usize> {
        let needle = format!("fn {name}(");
        self.files.iter().position(|f| f.text.contains(&needle))
    }

    /// The lines (1-based, inclusive) of `fn name(...) { ... }` in file `file`, found by
    /// matching braces from the definition; used by `explain` and rule locations.
    pub fn function_lines(&self, file: usize, name: &str) -> Option<(usize, usize)> {
        let text = &self.files.get(file)?.text;
        let needle = format!("fn {name}(");
        let start = text.find(&needle)?;
        let first_line = text[..start].matches('\n').count() + 1;
        let mut depth = 0i32;
        let mut seen_open = false;
        for (i, c) in text[start..].char_indices() {
            match c {
                '{' => {
                    depth += 1;
                    seen_open = true;
                }
                '}' => {
                    depth -= 1;
                    if seen_open && depth == 0 {
                        let last = text[..start + i].matches('\n').count() + 1;
                        return Some((first_line, last));
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Calls script function `name` with `args`, under the limits and the wall-clock
    /// budget. Errors come back with the innermost script position.
    pub fn call(&self, name: &str, args: impl FuncArgs) -> Result<Dynamic, RuleError> {
        let Some(idx) = self.file_defining(name) else {
            let (file, text) = match self.file_mentioning(name) {
                Some(i) => (self.files[i].display.clone(), None),
                None => ("rules".to_string(), None::<String>),
            };
            let compile_error = self.errors.iter().find(|e| e.file == file);
            return Err(match compile_error {
                Some(e) => e.clone(),
                None => RuleError {
                    file,
                    line: 0,
                    column: 0,
                    message: format!("function {name}() is not defined in the rule pack"),
                    source_line: text,
                },
            });
        };
        let file = &self.files[idx];
        let Some(ast) = file.ast.as_ref() else {
            return Err(RuleError {
                file: file.display.clone(),
                line: 0,
                column: 0,
                message: "file did not compile".into(),
                source_line: None,
            });
        };
        let mut scope = Scope::new();
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        DEADLINE.with(|d| d.set(Some(Instant::now() + self.limits.wall_clock)));
        let result = self
            .engine
            .call_fn_with_options::<Dynamic>(options, &mut scope, ast, name, args);
        DEADLINE.with(|d| d.set(None));
        result.map_err(|e| self.runtime_error(idx, name, *e))
    }

    fn runtime_error(&self, file_idx: usize, called: &str, err: EvalAltResult) -> RuleError {
        let (source, pos, message) = innermost(err);
        let index = self
            .files
            .iter()
            .position(|f| Some(f.display.as_str()) == source.as_deref())
            .unwrap_or(file_idx);
        let file = &self.files[index];
        if pos.is_none() {
            // Limits (operations, wall clock) stop a script without a position: point at
            // the function that was running.
            if let Some((line, _)) = self.function_lines(index, called) {
                return error_at(
                    &file.display,
                    &file.text,
                    Position::new(line as u16, 1),
                    message,
                );
            }
        }
        error_at(&file.display, &file.text, pos, message)
    }
}

/// Walks nested function-call errors to the one that really failed and describes it.
fn innermost(err: EvalAltResult) -> (Option<String>, Position, String) {
    let mut source = None;
    let mut current = err;
    loop {
        match current {
            EvalAltResult::ErrorInFunctionCall(_, src, inner, _) => {
                if !src.is_empty() {
                    source = Some(src);
                }
                current = *inner;
            }
            EvalAltResult::ErrorInModule(_, inner, _) => current = *inner,
            other => {
                let pos = other.position();
                let message = describe(&other);
                return (source, pos, message);
            }
        }
    }
}

/// A message that says what a controller can do about the error.
fn describe(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorTooManyOperations(_) => {
            "the rule ran too long (operation limit reached; an endless loop?)".into()
        }
        EvalAltResult::ErrorTerminated(_, _) => {
            "the rule ran too long (wall-clock budget exceeded; an endless loop?)".into()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "too many nested function calls (endless recursion?)".into()
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            format!("{what} too large (the rule builds too big a value)")
        }
        EvalAltResult::ErrorRuntime(value, _) => format!("rule failed: {value}"),
        other => {
            // Rhai appends " (line x, position y)" itself; the location is already first.
            let text = other.to_string();
            match text.rfind(" (line ") {
                Some(i) if text.ends_with(')') => text[..i].to_string(),
                _ => text,
            }
        }
    }
}

fn error_at(file: &str, text: &str, pos: Position, message: String) -> RuleError {
    let line = pos.line().unwrap_or(0);
    let column = pos.position().unwrap_or(0);
    let source_line = (line > 0)
        .then(|| text.lines().nth(line - 1).map(str::to_string))
        .flatten();
    RuleError {
        file: file.to_string(),
        line,
        column,
        message,
        source_line,
    }
}

impl fmt::Debug for RulePack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RulePack")
            .field(
                "files",
                &self.files.iter().map(|f| &f.display).collect::<Vec<_>>(),
            )
            .field("errors", &self.errors)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(src: &str) -> RulePack {
        RulePack::from_sources(vec![("rules/t.rhai".into(), src.into())], Limits::default())
    }

    #[test]
    fn syntax_error_reports_file_line_and_column() {
        let p = pack("fn ok() { 1 }\n\nfn broken() {\n    let x = ;\n}\n");
        assert_eq!(p.errors.len(), 1);
        let e = &p.errors[0];
        assert_eq!((e.file.as_str(), e.line), ("rules/t.rhai", 4));
        assert!(e.column >= 13, "{e:?}");
        assert!(e.with_caret().contains("let x = ;"));
    }

    #[test]
    fn runtime_error_points_at_the_innermost_line() {
        let p = pack(
            "fn inner(x) {\n  let y = x;\n  y.no_such_method()\n}\nfn outer() {\n  inner(1)\n}\n",
        );
        let e = p.call("outer", ()).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().starts_with("rules/t.rhai:3:"), "{e}");
    }

    #[test]
    fn thrown_error_is_reported_with_its_value() {
        let p = pack("fn f() {\n  throw \"inget värde\";\n}\n");
        let e = p.call("f", ()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("inget värde"), "{e}");
    }

    #[test]
    fn endless_loop_is_stopped() {
        let p = pack("fn f() {\n  loop { }\n}\n");
        let e = p.call("f", ()).unwrap_err();
        assert!(e.message.contains("too long"), "{e}");
        assert_eq!(e.line, 1, "points at the looping function: {e}");
    }

    #[test]
    fn wall_clock_budget_stops_a_slow_rule() {
        let limits = Limits {
            max_operations: 0, // unlimited: only the clock can stop it
            wall_clock: Duration::from_millis(50),
            ..Limits::default()
        };
        let p = RulePack::from_sources(
            vec![(
                "rules/t.rhai".into(),
                "fn f() { let n = 0; loop { n += 1; } }".into(),
            )],
            limits,
        );
        let started = Instant::now();
        let e = p.call("f", ()).unwrap_err();
        assert!(e.message.contains("wall-clock"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn endless_recursion_and_huge_values_are_stopped() {
        let limits = Limits {
            wall_clock: Duration::from_secs(1),
            ..Limits::default()
        };
        let p = RulePack::from_sources(vec![("rules/t.rhai".into(), "fn r(n) { r(n + 1) }\nfn big() { let s = \"x\"; loop { s += s; } }\nfn arr() { let a = []; loop { a.push(1); } }\n".into())], limits);
        assert!(
            p.call("r", (rhai::INT::from(1),))
                .unwrap_err()
                .message
                .contains("nested")
        );
        assert!(p.call("big", ()).unwrap_err().message.contains("too large"));
        let e = p.call("arr", ()).unwrap_err();
        assert!(
            e.message.contains("too large") || e.message.contains("too long"),
            "{e}"
        );
    }

    #[test]
    fn scripts_cannot_import_files() {
        let p = pack("fn f() {\n  import \"/etc/hostname\" as x;\n  1\n}\n");
        let e = p.call("f", ()).unwrap_err();
        assert!(e.message.contains("modules"), "{e}");
    }

    #[test]
    fn decimal_literals_are_exact() {
        let p = pack("fn f() { 0.1 + 0.2 == 0.3 }");
        assert!(p.call("f", ()).unwrap().as_bool().unwrap());
    }

    #[test]
    fn function_lines_are_found() {
        let p = pack("// x\nfn a() {\n  if true { 1 } else { 2 }\n}\nfn b() { 2 }\n");
        assert_eq!(p.function_lines(0, "a"), Some((2, 4)));
        assert_eq!(p.function_lines(0, "b"), Some((5, 5)));
    }
}

#[cfg(test)]
mod arithmetic_tests {
    use super::*;

    #[test]
    fn mixed_int_and_decimal_arithmetic_works_in_scripts() {
        let p = RulePack::from_sources(
            vec![(
                "rules/t.rhai".into(),
                "fn f() { let d = 7.5; [d / 3, d != 0, d == \"minska\", d * 1.10, 3 < d] }".into(),
            )],
            Limits::default(),
        );
        let v = p.call("f", ()).unwrap();
        assert_eq!(v.to_string(), "[2.5, true, false, 8.250, true]");
    }
}
