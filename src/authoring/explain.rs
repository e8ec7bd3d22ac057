//! `utfall explain INDICATOR`: how one figure was reached, for the controller who wonders.
//! Takes the pipeline's stages and one indicator (id or Swedish name) and district; gives
//! text: the declaration, the rule's source with its comment, numerator and denominator,
//! the files and months the rule read, the target that applied and the fulfilment rule's
//! inputs and answer. Only aggregate figures, file names and months: never an id.

use std::collections::BTreeSet;
use std::fmt::Write;

use rhai::Dynamic;

use super::{month_ranges, sv_number, sv_optional};
use rust_decimal::Decimal;

use crate::evaluate::{
    Direction, EvalOutcome, IndicatorDef, IndicatorResult, Target, Window, fulfilment_input, trace,
};
use crate::ingest::FileOutcome;
use crate::model::{Month, Period, round_half_away};
use crate::pipeline::{Pack, Session};
use crate::rules::RulePack;
use crate::rules::pack::IndicatorSpec;

/// What to explain: an indicator (id or name) and a district (`None` = the total).
#[derive(Clone, Debug)]
pub struct ExplainRequest {
    pub indicator: String,
    pub district: Option<String>,
}

/// The indicator or district asked for does not exist (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("unknown indicator {given:?}; the pack's indicators are: {valid}")]
    UnknownIndicator { given: String, valid: String },
    #[error("unknown district {given:?}; the report's districts are: {valid} (or Totalt)")]
    UnknownDistrict { given: String, valid: String },
}

/// The explanation and whether the figure's rule failed (exit code 1).
pub struct Explanation {
    pub text: String,
    pub failed: bool,
}

fn same(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// Finds the indicator by id or Swedish name, ignoring case.
pub fn find_indicator<'a>(
    specs: &'a [IndicatorSpec],
    given: &str,
) -> Result<(usize, &'a IndicatorSpec), ExplainError> {
    specs
        .iter()
        .enumerate()
        .find(|(_, s)| same(&s.def.id, given) || same(&s.def.name, given))
        .ok_or_else(|| ExplainError::UnknownIndicator {
            given: given.to_string(),
            valid: specs
                .iter()
                .map(|s| s.def.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The district's index, `None` for the total (no district, "Totalt", "total").
pub fn find_district(
    districts: &[String],
    given: Option<&str>,
) -> Result<Option<usize>, ExplainError> {
    let Some(given) = given else { return Ok(None) };
    if same(given, "Totalt") || same(given, "total") {
        return Ok(None);
    }
    districts
        .iter()
        .position(|d| same(d, given))
        .map(Some)
        .ok_or_else(|| ExplainError::UnknownDistrict {
            given: given.to_string(),
            valid: districts.join(", "),
        })
}

/// The source lines of the rule function with the comment lines just above it, numbered.
fn source_with_comment(
    pack: &RulePack,
    file: &str,
    first: usize,
    last: usize,
) -> Vec<(usize, String)> {
    let Some(f) = pack.files.iter().find(|f| f.display == file) else {
        return Vec::new();
    };
    let lines: Vec<&str> = f.text.lines().collect();
    let mut start = first;
    while start > 1
        && lines
            .get(start - 2)
            .is_some_and(|l| l.trim_start().starts_with("//"))
    {
        start -= 1;
    }
    (start..=last.min(lines.len()))
        .filter_map(|n| lines.get(n - 1).map(|l| (n, l.to_string())))
        .collect()
}

/// What the numerator and denominator count, from the rule's comment
/// (`barn i aktiva hushåll i snitt per månad ÷ barn 0–17 år × 100`).
fn counted_from_comment(lines: &[(usize, String)], first: usize) -> Option<(String, String)> {
    let comment: Vec<&str> = lines
        .iter()
        .filter(|(n, _)| *n < first)
        .map(|(_, l)| l.trim_start().trim_start_matches('/').trim())
        .collect();
    let line = comment.iter().find(|l| l.contains('÷'))?;
    let (left, right) = line.split_once('÷')?;
    // "Periodens sista månad: arbetslösa … ÷ …": what precedes a colon is a heading.
    let numerator = left.rsplit(':').next().unwrap_or(left).trim();
    // "… ÷ vuxna 18+ × 100. Saknas när …": the denominator ends at × or a full stop.
    let right = right.split('×').next().unwrap_or(right);
    let denominator = right
        .split(". ")
        .next()
        .unwrap_or(right)
        .trim()
        .trim_end_matches('.');
    (!numerator.is_empty() && !denominator.is_empty())
        .then(|| (numerator.to_string(), denominator.to_string()))
}

/// The months a figure covers, for listing the files that contributed.
fn window_months(window: Window, period: Period) -> BTreeSet<Month> {
    match window {
        Window::YearToDate => period.months().into_iter().collect(),
        Window::LastMonth => [period.end].into(),
        Window::Rolling(n) => (0..n as i32).map(|k| period.end.plus(-k)).collect(),
    }
}

fn target_text(t: &Option<Target>) -> String {
    match t {
        None => "ingen".to_string(),
        Some(Target::Value(v)) => sv_number(*v),
        Some(t) => t.label_sv(),
    }
}

fn dynamic_text(v: Option<&Dynamic>) -> String {
    match v {
        None => "()".to_string(),
        Some(d) if d.is_unit() => "() (saknas)".to_string(),
        Some(d) if d.is_string() => format!("\"{d}\""),
        Some(d) => d
            .as_decimal()
            .map(sv_number)
            .unwrap_or_else(|_| d.to_string()),
    }
}

/// Explains one indicator for one district (or the total) in `period`.
pub fn explain(
    pack: &Pack,
    session: &Session,
    period: Period,
    outcome: &EvalOutcome,
    request: &ExplainRequest,
) -> Result<Explanation, ExplainError> {
    let (index, spec) = find_indicator(&pack.specs, &request.indicator)?;
    let eval = &outcome.evaluation;
    let district = find_district(&eval.districts, request.district.as_deref())?;
    let def = &spec.def;
    let scope_name = district.map_or_else(
        || "Totalt (alla stadsdelar)".to_string(),
        |d| eval.districts[d].clone(),
    );
    let mut s = String::new();
    let _ = writeln!(s, "Indikator: {} ({})", def.name, def.id);
    let _ = writeln!(
        s,
        "Enhet: {}, {} decimaler, {} är bättre",
        def.unit.label(),
        def.decimals,
        match def.direction {
            Direction::LowerIsBetter => "lägre",
            Direction::HigherIsBetter => "högre",
        }
    );
    let _ = writeln!(s, "Stadsdel: {scope_name}");
    let _ = writeln!(s, "Period: {} ({})", period, def.window.label_sv(period));

    // The rule.
    let mut counted = None;
    match &def.source {
        Some(src) => {
            let _ = writeln!(
                s,
                "\nRegel: {} rad {}–{} (funktionen {})",
                src.file, src.first_line, src.last_line, spec.function
            );
            let lines = source_with_comment(&pack.pack, &src.file, src.first_line, src.last_line);
            for (n, l) in &lines {
                let _ = writeln!(s, "  {n:>4} | {l}");
            }
            counted = counted_from_comment(&lines, src.first_line);
        }
        None => match pack.pack.file_mentioning(&spec.function) {
            Some(f) => {
                let _ = writeln!(
                    s,
                    "\nRegel: funktionen {}() står i {}, som inte kan kompileras (se Status)",
                    spec.function, pack.pack.files[f].display
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "\nRegel: funktionen {}() finns inte i regelpaketet",
                    spec.function
                );
            }
        },
    }

    let Some(result) = eval.result(index, district) else {
        return Ok(Explanation {
            text: s,
            failed: true,
        });
    };
    write_figure(&mut s, pack, def, result, counted);

    // What the rule read.
    let scope = district.unwrap_or(session.data.total_scope());
    let (_, used) = trace(&pack.pack, &session.data, scope, period, spec);
    write_underlag(
        &mut s,
        session,
        &used.read,
        &used.missing,
        def.window,
        period,
        eval.population_year,
    );

    write_target(
        &mut s,
        pack,
        def.id.as_str(),
        period,
        district.map(|d| eval.districts[d].as_str()),
        result,
    );
    let failed = write_status(&mut s, pack, outcome, spec, result);
    Ok(Explanation { text: s, failed })
}

fn write_figure(
    s: &mut String,
    pack: &Pack,
    def: &IndicatorDef,
    r: &IndicatorResult,
    counted: Option<(String, String)>,
) {
    let unit = def.unit.label();
    let _ = writeln!(s, "\nUtfall:");
    if r.suppressed {
        let _ = writeln!(
            s,
            "  döljs: under sekretessgränsen {} (visas som .. i rapporten)",
            sv_optional(pack.settings.small_number_threshold)
        );
        return;
    }
    // Enough decimals to see what the rounding did, not the full 28 digits.
    let shown = |v: Option<Decimal>| {
        v.map_or_else(
            || "saknas".to_string(),
            |v| format!("{} {unit}", sv_number(round_half_away(v, 6))),
        )
    };
    let _ = writeln!(
        s,
        "  värde {} (avrundat till {} decimaler: {})",
        shown(r.current.value),
        def.decimals,
        shown(r.rounded)
    );
    let (num_what, den_what) = match counted {
        Some((n, d)) => (format!(": {n}"), format!(": {d}")),
        None => (String::new(), String::new()),
    };
    if r.current.numerator.is_some() || r.current.denominator.is_some() {
        let _ = writeln!(
            s,
            "  täljare {}{num_what}",
            sv_optional(r.current.numerator)
        );
        if r.current.denominator.is_some() {
            let _ = writeln!(
                s,
                "  nämnare {}{den_what}",
                sv_optional(r.current.denominator)
            );
        }
    }
    let _ = writeln!(
        s,
        "  samma period föregående år: {}",
        shown(r.previous.value)
    );
}

fn write_underlag(
    s: &mut String,
    session: &Session,
    read: &BTreeSet<String>,
    missing: &BTreeSet<String>,
    window: Window,
    period: Period,
    population_year: Option<i32>,
) {
    let _ = writeln!(s, "\nUnderlag (datamängder som regeln läste):");
    if read.is_empty() {
        let _ = writeln!(s, "  inga");
    }
    let months = window_months(window, period);
    let record = &session.record;
    for dataset in read {
        let mut line = format!("  {dataset}");
        if missing.contains(dataset) {
            line.push_str(": saknas för perioden (värdet blir saknas, inte 0)");
        }
        if dataset == "befolkning"
            && let Some(y) = population_year
        {
            line.push_str(&format!(" (befolkningsår {y})"));
        }
        let _ = writeln!(s, "{line}");
        for f in &record.files {
            let FileOutcome::Read { sheets } = &f.outcome else {
                continue;
            };
            for sheet in sheets
                .iter()
                .filter(|sh| sh.dataset.as_deref() == Some(dataset))
            {
                let replaced: BTreeSet<String> = record
                    .replacements
                    .iter()
                    .filter(|r| r.replaced == f.id && &r.dataset == dataset)
                    .map(|r| r.period.clone())
                    .collect();
                let name = match &sheet.sheet {
                    Some(sh) => format!("{} [{sh}]", f.name),
                    None => f.name.clone(),
                };
                if sheet.months.is_empty() {
                    let _ = writeln!(s, "    {name}: alla rader ({})", sheet.rows);
                    continue;
                }
                let used: BTreeSet<Month> = sheet
                    .months
                    .iter()
                    .filter(|m| months.contains(m) && !replaced.contains(&m.to_string()))
                    .copied()
                    .collect();
                if !used.is_empty() {
                    let _ = writeln!(s, "    {name}: {}", month_ranges(&used));
                }
            }
        }
    }
}

fn write_target(
    s: &mut String,
    pack: &Pack,
    id: &str,
    period: Period,
    district: Option<&str>,
    r: &IndicatorResult,
) {
    let year = period.calendar_year();
    let _ = writeln!(s, "\nMål {year}:");
    let year_targets = pack
        .targets
        .as_ref()
        .ok()
        .and_then(|t| t.get(id))
        .and_then(|by_year| by_year.get(&year));
    let why = match (year_targets, district) {
        (None, _) if pack.targets.is_err() => "mal() kunde inte läsas (se Status)".to_string(),
        (None, _) => format!("ingen målsättning för {year} i mal()"),
        (Some(t), Some(d)) if t.districts.contains_key(d) => {
            format!("stadsdelens eget årsmål ({d})")
        }
        (Some(t), Some(_)) if t.unit.is_some() => {
            "enhetens årsmål (stadsdelen har inget eget)".to_string()
        }
        (Some(t), None) if t.unit.is_some() => "enhetens årsmål (totalen)".to_string(),
        (Some(_), _) => "inget årsmål angivet".to_string(),
    };
    let _ = writeln!(s, "  målet som gällde: {} — {why}", target_text(&r.target));
    let _ = writeln!(s, "  KF:s årsmål: {}", target_text(&r.kf_target));
    // Where the target is written, when it can be found.
    if let Some(f) = pack.pack.file_defining("mal") {
        let file = &pack.pack.files[f];
        let quoted = format!("\"{id}\"");
        let year_text = format!("ar: {year}");
        if let Some(n) = file
            .text
            .lines()
            .position(|l| l.contains(&quoted) && l.contains(&year_text))
        {
            let _ = writeln!(s, "  står i {} rad {}", file.display, n + 1);
        }
    }
}

fn write_status(
    s: &mut String,
    pack: &Pack,
    outcome: &EvalOutcome,
    spec: &IndicatorSpec,
    r: &IndicatorResult,
) -> bool {
    let _ = writeln!(s, "\nStatus: {} ({})", r.status.code(), r.status.label_sv());
    if let Some(e) = r.rule_error.and_then(|i| outcome.rule_errors.get(i)) {
        let _ = writeln!(s, "  regeln misslyckades:");
        for line in e.with_caret().lines() {
            let _ = writeln!(s, "    {line}");
        }
        return true;
    }
    let rule = pack.pack.file_defining("uppfyllelse").map(|f| {
        let (a, b) = pack.pack.function_lines(f, "uppfyllelse").unwrap_or((0, 0));
        format!("{} rad {a}–{b}", pack.pack.files[f].display)
    });
    let f = fulfilment_input(&spec.def, r);
    let _ = writeln!(
        s,
        "  uppfyllelse(f) i {} fick:",
        rule.unwrap_or_else(|| "regelpaketet".to_string())
    );
    for key in ["utfall", "foregaende", "mal", "riktning"] {
        let _ = writeln!(s, "    f.{key} = {}", dynamic_text(f.get(key)));
    }
    let _ = writeln!(s, "  och svarade \"{}\".", r.status.code());
    if r.suppressed {
        let _ = writeln!(s, "  (utfallet visas inte: under sekretessgränsen)");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerator_and_denominator_are_read_from_the_comment() {
        let lines = vec![
            (
                3,
                "// barn i aktiva hushåll i snitt per månad ÷ barn 0–17 år × 100".to_string(),
            ),
            (4, "fn andel_barn(u) {".to_string()),
        ];
        assert_eq!(
            counted_from_comment(&lines, 4),
            Some((
                "barn i aktiva hushåll i snitt per månad".to_string(),
                "barn 0–17 år".to_string()
            ))
        );
        let lines = vec![
            (1, "// Periodens sista månad: arbetslösa hushåll på Jobbtorg ÷ arbetslösa hushåll × 100".to_string()),
            (2, "fn f(u) {".to_string()),
        ];
        assert_eq!(
            counted_from_comment(&lines, 2).map(|c| c.0),
            Some("arbetslösa hushåll på Jobbtorg".to_string())
        );
        assert_eq!(counted_from_comment(&[(2, "fn f(u) {".into())], 2), None);
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let e =
            find_district(&["Kungsholmen".into(), "Norrmalm".into()], Some("Solna")).unwrap_err();
        assert!(e.to_string().contains("Kungsholmen, Norrmalm"), "{e}");
        assert_eq!(
            find_district(&["Kungsholmen".into()], Some("kungsholmen")).unwrap(),
            Some(0)
        );
        assert_eq!(
            find_district(&["Kungsholmen".into()], Some("Totalt")).unwrap(),
            None
        );
    }
}
