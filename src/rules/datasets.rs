//! Reads the datasets a rule pack declares in `datamangder()`: new datasets (columns with
//! header aliases, types, required columns, the month that re-exports replace by) and extra
//! header aliases for the standard ones. Gives the `DatasetSpec`s ingest classifies by; a
//! malformed declaration is a `RuleError` at the line that declares it, and is left out.

use std::sync::Arc;

use rhai::{Array, Dynamic, Map};

use super::pack::declaration_error;
use super::{RuleError, RulePack};
use crate::ingest::{normalise_header, standard_datasets};
use crate::model::{ColumnKind, ColumnSpec, DatasetSpec};

/// The script function declaring datasets.
pub const FUNCTION: &str = "datamangder";

/// The type words of `typ` (matched without case, diacritics, spaces, `_` or `-`, so
/// `månadsnamn` and `Ja_Nej` are accepted).
const TYPES: &str = "text, id, tal, heltal, manad, datum, janej, manadsnamn";

fn kind_of(word: &str) -> Option<ColumnKind> {
    Some(match normalise_header(word).as_str() {
        "text" => ColumnKind::Text,
        "id" => ColumnKind::Id,
        "tal" => ColumnKind::Number,
        "heltal" => ColumnKind::Integer,
        "manad" => ColumnKind::Month,
        "datum" => ColumnKind::Date,
        "janej" => ColumnKind::YesNo,
        // The year column is filled in once the period is known.
        "manadsnamn" => ColumnKind::MonthName { year: usize::MAX },
        _ => return None,
    })
}

/// The standard datasets with the pack's extra aliases, then the pack's own datasets.
/// Without `datamangder()` that is `standard_datasets()` and no error.
pub fn datasets(pack: &RulePack) -> (Vec<Arc<DatasetSpec>>, Vec<RuleError>) {
    let mut out = standard_datasets();
    if pack.file_defining(FUNCTION).is_none() && pack.file_mentioning(FUNCTION).is_none() {
        return (out.into_iter().map(Arc::new).collect(), Vec::new());
    }
    let mut errors = Vec::new();
    match pack.call(FUNCTION, ()) {
        Err(e) => errors.push(e),
        Ok(value) => match value.read_lock::<Array>().map(|a| a.clone()) {
            None => errors.push(declaration_error(
                pack,
                FUNCTION,
                "datamangder() must return an array of maps [#{ namn: …, kolumner: [...] }]".into(),
            )),
            Some(list) => {
                let standard = out.len();
                for (n, item) in list.iter().enumerate() {
                    if let Err(problem) = declare(item, standard, &mut out) {
                        let name = item
                            .read_lock::<Map>()
                            .and_then(|m| text(&m, "namn"))
                            .map_or_else(String::new, |name| format!(" {name:?}"));
                        errors.push(located(
                            pack,
                            &[name.trim(), problem.column.as_deref().unwrap_or("")],
                            format!("dataset #{}{name}: {}", n + 1, problem.message),
                        ));
                    }
                }
            }
        },
    }
    (out.into_iter().map(Arc::new).collect(), errors)
}

/// What is wrong with one declaration, and the column it concerns.
struct Problem {
    message: String,
    /// The column's name, quoted as in the source (`"Manad"`).
    column: Option<String>,
}

impl From<String> for Problem {
    fn from(message: String) -> Problem {
        Problem {
            message,
            column: None,
        }
    }
}

impl From<&str> for Problem {
    fn from(message: &str) -> Problem {
        Problem::from(message.to_string())
    }
}

/// An error in `fn datamangder` at the first line naming `needles[0]` (the dataset, quoted),
/// then at the next line from there naming `needles[1]` (the column); else at the function.
fn located(pack: &RulePack, needles: &[&str], message: String) -> RuleError {
    let mut e = declaration_error(pack, FUNCTION, message);
    let Some(file) = pack.file_defining(FUNCTION) else {
        return e;
    };
    let Some((first, last)) = pack.function_lines(file, FUNCTION) else {
        return e;
    };
    let lines: Vec<&str> = pack.files[file].text.lines().collect();
    let mut from = first;
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        let hit =
            (from..last.min(lines.len())).find_map(|i| lines[i].find(needle).map(|col| (i, col)));
        if let Some((i, col)) = hit {
            e.line = i + 1;
            e.column = lines[i][..col].chars().count() + 1;
            e.source_line = Some(lines[i].to_string());
            from = i;
        }
    }
    e
}

fn text(m: &Map, key: &str) -> Option<String> {
    m.get(key)
        .and_then(|v| v.clone().into_string().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A text or an array of texts.
fn texts(v: &Dynamic, what: &str) -> Result<Vec<String>, String> {
    if let Ok(s) = v.clone().into_string() {
        return Ok(vec![s.trim().to_string()]);
    }
    let list = v
        .read_lock::<Array>()
        .map(|a| a.clone())
        .ok_or_else(|| format!("{what} must be a text or a list of texts [\"…\", …]"))?;
    list.into_iter()
        .map(|a| {
            a.into_string()
                .map(|s| s.trim().to_string())
                .map_err(|t| format!("{what}: expected a text, got {t}"))
        })
        .collect()
}

fn unknown_keys(m: &Map, known: &[&str], what: &str) -> Result<(), String> {
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{what}: unknown key {:?} (known: {})",
            k.as_str(),
            known.join(", ")
        )),
        None => Ok(()),
    }
}

/// Adds one declaration to `out` (`standard` = how many of `out` are standard datasets).
fn declare(item: &Dynamic, standard: usize, out: &mut Vec<DatasetSpec>) -> Result<(), Problem> {
    let m = item
        .read_lock::<Map>()
        .map(|m| m.clone())
        .ok_or("not a map #{ namn: …, kolumner: [...] }")?;
    let name = text(&m, "namn").ok_or("field namn (text) is missing")?;
    if let Some(i) = out[..standard].iter().position(|d| d.name == name) {
        unknown_keys(
            &m,
            &["namn", "alias"],
            "a standard dataset takes only alias",
        )?;
        return Ok(add_aliases(&mut out[i], &m)?);
    }
    if out.iter().any(|d| d.name == name) {
        return Err("declared twice".into());
    }
    unknown_keys(&m, &["namn", "kolumner", "period"], "dataset")?;
    let list = m
        .get("kolumner")
        .and_then(|v| v.read_lock::<Array>().map(|a| a.clone()))
        .ok_or("field kolumner must be a list of columns [#{ namn: …, typ: … }, …]")?;
    let mut columns: Vec<ColumnSpec> = Vec::with_capacity(list.len());
    for (n, c) in list.iter().enumerate() {
        let column = column_from(c).map_err(|e| Problem {
            message: format!("column #{}: {e}", n + 1),
            column: c
                .read_lock::<Map>()
                .and_then(|m| text(&m, "namn"))
                .map(|name| format!("{name:?}")),
        })?;
        if columns
            .iter()
            .any(|o| normalise_header(&o.name) == normalise_header(&column.name))
        {
            return Err(format!("column {:?} is declared twice", column.name).into());
        }
        columns.push(column);
    }
    let replace_by = period(&m, &mut columns)?;
    if let Some(c) = columns
        .iter()
        .find(|c| c.kind == ColumnKind::MonthName { year: usize::MAX })
    {
        return Err(Problem {
            message: format!(
                "column {:?} is a manadsnamn: name it with its year column in period: [\"År-kolumn\", {:?}]",
                c.name, c.name
            ),
            column: Some(format!("{:?}", c.name)),
        });
    }
    if !columns.iter().any(|c| c.required) {
        return Err(
            "no column has kravs: true (a header is recognised by its required columns)".into(),
        );
    }
    out.push(DatasetSpec {
        name,
        columns,
        replace_by,
    });
    Ok(())
}

fn column_from(c: &Dynamic) -> Result<ColumnSpec, String> {
    let m = c
        .read_lock::<Map>()
        .map(|m| m.clone())
        .ok_or("not a map #{ namn: …, alias: [...], typ: …, kravs: … }")?;
    let name = text(&m, "namn").ok_or("field namn (text) is missing")?;
    let what = format!("column {name:?}");
    unknown_keys(&m, &["namn", "alias", "typ", "kravs"], &what)?;
    let aliases = match m.get("alias") {
        None => Vec::new(),
        Some(v) => texts(v, &format!("{what}: alias"))?,
    };
    let kind = match m.get("typ") {
        None => ColumnKind::Text,
        Some(v) => {
            let word = v
                .clone()
                .into_string()
                .map_err(|_| format!("{what}: typ must be a text, one of {TYPES}"))?;
            kind_of(&word).ok_or_else(|| format!("{what}: typ {word:?} is not one of {TYPES}"))?
        }
    };
    let required = match m.get("kravs") {
        None => false,
        Some(v) => v
            .as_bool()
            .map_err(|_| format!("{what}: kravs must be true or false"))?,
    };
    Ok(ColumnSpec {
        name,
        aliases,
        kind,
        required,
    })
}

/// `period`: one month, date or year column, or [year column, month-name column]. Period
/// columns become required. Gives the column re-exports replace by.
fn period(m: &Map, columns: &mut [ColumnSpec]) -> Result<Option<String>, String> {
    let Some(v) = m.get("period") else {
        return Ok(None);
    };
    let names = texts(v, "period")?;
    let index = |n: &str| {
        columns
            .iter()
            .position(|c| c.name == n)
            .ok_or_else(|| format!("period: {n:?} is not one of the columns"))
    };
    match names.as_slice() {
        [one] => {
            let i = index(one)?;
            match columns[i].kind {
                ColumnKind::Month | ColumnKind::Date | ColumnKind::Integer => {}
                _ => {
                    return Err(format!(
                        "period: {one:?} must be a manad, datum or heltal (year) column, or give [year, manadsnamn]"
                    ));
                }
            }
            columns[i].required = true;
            Ok(Some(one.clone()))
        }
        [year, month] => {
            let (y, mo) = (index(year)?, index(month)?);
            if columns[y].kind != ColumnKind::Integer {
                return Err(format!(
                    "period: the year column {year:?} must be typ heltal"
                ));
            }
            if !matches!(columns[mo].kind, ColumnKind::MonthName { .. }) {
                return Err(format!(
                    "period: the month column {month:?} must be typ manadsnamn"
                ));
            }
            columns[mo].kind = ColumnKind::MonthName { year: y };
            columns[y].required = true;
            columns[mo].required = true;
            Ok(Some(month.clone()))
        }
        _ => Err("period must name one column, or two: [year column, month-name column]".into()),
    }
}

/// `alias: #{ "Belopp": ["Summa utbetalt"] }` for a standard dataset.
fn add_aliases(spec: &mut DatasetSpec, m: &Map) -> Result<(), String> {
    let Some(v) = m.get("alias") else {
        return Ok(());
    };
    let map = v
        .read_lock::<Map>()
        .map(|a| a.clone())
        .ok_or("alias must be a map #{ \"Kolumn\": [\"Rubrik\", …] }")?;
    for (column, list) in map {
        let known: Vec<String> = spec.columns.iter().map(|c| c.name.clone()).collect();
        let col = spec
            .columns
            .iter_mut()
            .find(|c| c.name == column.as_str())
            .ok_or_else(|| {
                format!(
                    "alias: {:?} is not a column of {} ({})",
                    column.as_str(),
                    spec.name,
                    known.join(", ")
                )
            })?;
        col.aliases
            .extend(texts(&list, &format!("alias[{:?}]", column.as_str()))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Limits;

    fn read(src: &str) -> (Vec<Arc<DatasetSpec>>, Vec<RuleError>) {
        let pack = RulePack::from_sources(
            vec![("rules/datamangder.rhai".into(), src.into())],
            Limits::default(),
        );
        datasets(&pack)
    }

    #[test]
    fn a_new_dataset_with_a_month_name_period() {
        let (ds, errors) = read(
            r#"fn datamangder() { [
                #{ namn: "sos", kolumner: [
                    #{ namn: "Ar", alias: ["År"], typ: "heltal" },
                    #{ namn: "Manad", alias: "Månad", typ: "månadsnamn" },
                    #{ namn: "Hushall", alias: ["Antal hushåll"], typ: "tal" },
                ], period: ["Ar", "Manad"] },
            ] }"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let sos = ds.iter().find(|d| d.name == "sos").unwrap();
        assert_eq!(sos.replace_by.as_deref(), Some("Manad"));
        assert_eq!(sos.columns[1].kind, ColumnKind::MonthName { year: 0 });
        assert!(sos.columns[0].required && sos.columns[1].required);
        assert!(!sos.columns[2].required);
        assert_eq!(sos.columns[1].aliases, ["Månad"]);
        assert_eq!(ds.len(), standard_datasets().len() + 1);
    }

    #[test]
    fn aliases_for_a_standard_dataset() {
        let (ds, errors) = read(
            r#"fn datamangder() { [ #{ namn: "utbetalningar", alias: #{ "Belopp": ["Summa utbetalt"] } } ] }"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let u = ds.iter().find(|d| d.name == "utbetalningar").unwrap();
        let belopp = &u.columns[u.column_index("Belopp").unwrap()];
        assert_eq!(belopp.aliases, ["Utbetalt", "Summa utbetalt"]);
    }

    #[test]
    fn malformed_declarations_are_located_and_left_out() {
        let (ds, errors) = read(
            "fn datamangder() {\n    [\n        #{ namn: \"sos\", kolumner: [ #{ namn: \"Ar\", typ: \"decimal\", kravs: true } ] },\n        #{ namn: \"ok\", kolumner: [ #{ namn: \"X\", kravs: true } ] },\n    ]\n}\n",
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].line, errors[0].column), (3, 46), "{errors:?}");
        assert!(
            errors[0].to_string().starts_with("rules/datamangder.rhai:3:46: dataset #1 \"sos\": column #1: column \"Ar\": typ \"decimal\""),
            "{}",
            errors[0]
        );
        assert!(ds.iter().any(|d| d.name == "ok"));
        assert!(!ds.iter().any(|d| d.name == "sos"));
    }

    #[test]
    fn other_mistakes_are_told() {
        for (src, wanted) in [
            (
                r#"#{ namn: "a", kolumner: [ #{ namn: "M", typ: "manadsnamn", kravs: true } ] }"#,
                "period",
            ),
            (r#"#{ namn: "a", kolumner: [ #{ namn: "X" } ] }"#, "kravs"),
            (
                r#"#{ namn: "a", kolumner: [ #{ namn: "X", krav: true } ] }"#,
                "unknown key \"krav\"",
            ),
            (
                r#"#{ namn: "a", kolumner: [ #{ namn: "X", kravs: true } ], period: "X" }"#,
                "manad, datum or heltal",
            ),
            (
                r#"#{ namn: "utbetalningar", alias: #{ "Okand": ["x"] } }"#,
                "not a column of utbetalningar",
            ),
            (r#"#{ namn: "utbetalningar", kolumner: [] }"#, "only alias"),
        ] {
            let (_, errors) = read(&format!("fn datamangder() {{ [ {src} ] }}"));
            assert_eq!(errors.len(), 1, "{src}");
            assert!(errors[0].message.contains(wanted), "{src}: {}", errors[0]);
        }
        let (_, errors) = read("fn datamangder() { 42 }");
        assert!(errors[0].message.contains("array of maps"));
    }

    #[test]
    fn no_declaration_gives_the_standard_datasets() {
        let (ds, errors) = read("fn rapport() { #{} }");
        assert!(errors.is_empty());
        assert_eq!(ds.len(), standard_datasets().len());
    }
}
