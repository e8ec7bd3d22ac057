//! `utfall check`: what a run would read and compute, as a short overview in Swedish for
//! the controller: datasets with their months and rows per district, replaced months,
//! rejected rows and files, rule errors with a caret, and indicators that cannot be
//! computed for want of a dataset. Takes the pipeline's stages; gives text, writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{month_ranges, year_ranges};
use crate::evaluate::EvalOutcome;
use crate::evaluate::prepare::col;
use crate::evaluate::trace;
use crate::ingest::{FileOutcome, Severity};
use crate::model::{ColumnData, Month, Period, Table};
use crate::pipeline::{Pack, Session, all_rule_errors};
use crate::rules::RuleError;

/// The overview and whether it found something wrong (exit code 1).
pub struct Overview {
    pub text: String,
    pub problems: bool,
}

/// What one dataset covers in one district (or in the rows without one).
#[derive(Default)]
struct Coverage {
    rows: usize,
    months: BTreeSet<Month>,
    years: BTreeSet<i64>,
}

impl Coverage {
    fn span(&self) -> String {
        if !self.months.is_empty() {
            month_ranges(&self.months)
        } else if !self.years.is_empty() {
            format!("år {}", year_ranges(&self.years))
        } else {
            String::new()
        }
    }
}

/// The column whose months (or years) say what a dataset covers: its re-export column,
/// else its first month or date column.
fn time_column(table: &Table) -> Option<&ColumnData> {
    if let Some(c) = table
        .spec
        .replace_by
        .as_deref()
        .and_then(|c| table.column(c))
    {
        return Some(c);
    }
    table
        .columns
        .iter()
        .find(|c| matches!(c, ColumnData::Month(_) | ColumnData::Date(_)))
}

/// Rows and months of a dataset per district, districts in the table's own naming.
fn coverage(table: &Table, session: &Session) -> BTreeMap<String, Coverage> {
    let interner = &session.data.interner;
    let districts = table.text(col::DISTRICT);
    let time = time_column(table);
    let mut out: BTreeMap<String, Coverage> = BTreeMap::new();
    for i in 0..table.len() {
        let district = match districts {
            Some(d) => d[i].map_or_else(
                || "(ingen stadsdel)".to_string(),
                |s| interner.resolve(s).to_string(),
            ),
            None => "(alla)".to_string(),
        };
        let c = out.entry(district).or_default();
        c.rows += 1;
        match time {
            Some(ColumnData::Month(v)) => c.months.extend(v[i]),
            Some(ColumnData::Date(v)) => c.months.extend(v[i].map(|d| d.month())),
            Some(ColumnData::Integer(v)) => c.years.extend(v[i]),
            _ => {}
        }
    }
    out
}

/// Rows and months per district of `utbetalningar` folded as it was read.
fn folded_coverage(session: &Session) -> BTreeMap<String, Coverage> {
    let interner = &session.data.interner;
    let mut out: BTreeMap<String, Coverage> = BTreeMap::new();
    for (d, months) in &session.data.payment_rows {
        let c = out.entry(interner.resolve(*d).to_string()).or_default();
        c.rows += months.values().sum::<usize>();
        c.months.extend(months.keys());
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        super::sv_number(rust_decimal::Decimal::from(n)),
        if n == 1 { one } else { many }
    )
}

/// Builds the overview of a checked folder for `period`.
pub fn overview(pack: &Pack, session: &Session, period: Period, outcome: &EvalOutcome) -> Overview {
    let mut s = String::new();
    let record = &session.record;
    let _ = writeln!(
        s,
        "Regelpaket: {} regelfiler (fingeravtryck {})",
        pack.pack.files.len(),
        pack.pack.fingerprint
    );
    let _ = writeln!(s, "Rapportperiod: {} ({})", period, period.label_sv());

    // Datasets, with the files that hold them.
    let mut files_of: BTreeMap<String, usize> = BTreeMap::new();
    for f in &record.files {
        if let FileOutcome::Read { sheets } = &f.outcome {
            for ds in sheets.iter().filter_map(|s| s.dataset.as_ref()) {
                *files_of.entry(ds.clone()).or_default() += 1;
            }
        }
    }
    let _ = writeln!(s, "\nDatamängder:");
    let mut absent = Vec::new();
    for (name, table) in &session.data.tables {
        if !session.data.has_rows(name) {
            absent.push(name.as_str());
            continue;
        }
        let per_district = if table.is_empty() {
            folded_coverage(session)
        } else {
            coverage(table, session)
        };
        let mut all = Coverage::default();
        for c in per_district.values() {
            all.rows += c.rows;
            all.months.extend(&c.months);
            all.years.extend(&c.years);
        }
        let _ = writeln!(
            s,
            "  {name}: {}, {}{}",
            plural(files_of.get(name).copied().unwrap_or(0), "fil", "filer"),
            plural(all.rows, "rad", "rader"),
            match all.span() {
                span if span.is_empty() => String::new(),
                span => format!(", {span}"),
            }
        );
        for (district, c) in &per_district {
            let _ = writeln!(
                s,
                "    {district}: {}{}",
                plural(c.rows, "rad", "rader"),
                match c.span() {
                    span if span.is_empty() => String::new(),
                    span => format!(", {span}"),
                }
            );
        }
    }
    if !absent.is_empty() {
        let _ = writeln!(s, "  Saknas i indata: {}", absent.join(", "));
    }

    let _ = writeln!(s, "\nErsatta månader (omexporter):");
    let name = |id: crate::model::FileId| {
        record
            .files
            .get(id.0 as usize)
            .map_or_else(String::new, |f| f.name.clone())
    };
    if record.replacements.is_empty() {
        let _ = writeln!(s, "  inga");
    }
    for r in &crate::ingest::summarise_replacements(&record.replacements) {
        let _ = writeln!(
            s,
            "  {} {}: {} ersätter {} ({})",
            r.dataset,
            r.period,
            name(r.kept),
            name(r.replaced),
            plural(r.rows_dropped, "rad", "rader")
        );
    }

    let _ = writeln!(s, "\nAvvisade rader och filer:");
    let mut rejected = 0;
    let mut notes = Vec::new();
    for issue in &record.issues {
        let location = issue.location();
        let line = format!("  {location}: {}", issue.message_sv());
        if issue.severity() <= Severity::Warning {
            rejected += usize::from(issue.severity() == Severity::Error);
            let _ = writeln!(s, "{line}");
        } else {
            notes.push(line);
        }
    }
    if record
        .issues
        .iter()
        .all(|i| i.severity() > Severity::Warning)
    {
        let _ = writeln!(s, "  inga");
    }
    if !notes.is_empty() {
        let _ = writeln!(s, "\nNoteringar:");
        for n in notes {
            let _ = writeln!(s, "{n}");
        }
    }

    let rule_errors: Vec<RuleError> = all_rule_errors(pack, outcome);
    let _ = writeln!(s, "\nRegelfel:");
    if rule_errors.is_empty() {
        let _ = writeln!(s, "  inga");
    }
    for e in &rule_errors {
        for line in e.with_caret().lines() {
            let _ = writeln!(s, "  {line}");
        }
    }

    // What the total of the period rests on: indicators whose rule asks for a dataset the
    // input does not have.
    let _ = writeln!(s, "\nIndikatorer som inte kan beräknas (underlag saknas):");
    let total = session.data.total_scope();
    let mut cannot = 0;
    for spec in &pack.specs {
        let (_, used) = trace(&pack.pack, &session.data, total, period, spec);
        if used.missing.is_empty() {
            continue;
        }
        cannot += 1;
        let why: Vec<String> = used
            .missing
            .iter()
            .map(|d| {
                let present = session.data.has_rows(d);
                if present {
                    format!("{d} täcker inte perioden")
                } else {
                    format!("ingen fil med {d}")
                }
            })
            .collect();
        let _ = writeln!(
            s,
            "  {} ({}): {}",
            spec.def.id,
            spec.def.name,
            why.join(", ")
        );
    }
    if cannot == 0 {
        let _ = writeln!(s, "  inga");
    }

    for w in &outcome.warnings {
        if s.contains("\nVarningar:\n") {
            let _ = writeln!(s, "  {}", w.message_sv());
        } else {
            let _ = writeln!(s, "\nVarningar:\n  {}", w.message_sv());
        }
    }

    let computed = outcome
        .evaluation
        .results
        .iter()
        .filter(|r| r.district.is_none() && r.current.value.is_some())
        .count();
    let _ = writeln!(
        s,
        "\nSammanfattning: {} av {} indikatorer har ett värde för totalen, {}, {}, {}. Inget skrevs.",
        computed,
        pack.specs.len(),
        plural(
            rejected,
            "avvisad rad eller fil",
            "avvisade rader eller filer"
        ),
        plural(rule_errors.len(), "regelfel", "regelfel"),
        plural(
            cannot,
            "indikator utan underlag",
            "indikatorer utan underlag"
        ),
    );
    Overview {
        text: s,
        problems: rejected > 0 || !rule_errors.is_empty(),
    }
}
