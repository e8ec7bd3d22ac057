//! Runs the indicator functions for every scope (each district and the total) in parallel,
//! for the report period and the same period a year earlier; then looks up targets and
//! asks the pack's `uppfyllelse` rule for each status. Rule failures become `fel`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rhai::{Dynamic, Map};
use rust_decimal::Decimal;

use super::prepare::Prepared;
use super::{Direction, Evaluation, Figure, IndicatorDef, IndicatorResult, Status, Target, Unit};
use crate::model::{Period, round_half_away};
use crate::rules::api::{
    DatasetUse, SetCache, Underlag, figure_from_dynamic, manual_rows, reset_missing_datasets,
    take_dataset_use,
};
use crate::rules::pack::{IndicatorSpec, ReportSettings, Targets, YearTargets};
use crate::rules::{RuleError, RulePack};

/// Something the controller should know about the figures (shown in Kontroll).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalWarning {
    #[error("no utbetalningar at all for {month}, a month of the report period")]
    MonthWithoutPayments { month: crate::model::Month },
    #[error("{district} has no befolkning row for {year}: its shares are missing")]
    DistrictWithoutPopulation { district: String, year: i32 },
    #[error("no befolkning year up to {year}: population shares are missing")]
    NoPopulation { year: i32 },
    #[error("no utbetalningar were read: payment indicators are missing")]
    NoPayments,
}

impl EvalWarning {
    /// The warning in Swedish, for the Kontroll sheet.
    pub fn message_sv(&self) -> String {
        match self {
            EvalWarning::MonthWithoutPayments { month } => format!(
                "Inga utbetalningar alls för {} {}, en månad i rapportperioden",
                month.name_sv(),
                month.year
            ),
            EvalWarning::DistrictWithoutPopulation { district, year } => {
                format!("{district} saknar befolkning för {year}: andelarna saknas")
            }
            EvalWarning::NoPopulation { year } => {
                format!("Ingen befolkning för {year} eller tidigare år: andelarna saknas")
            }
            EvalWarning::NoPayments => {
                "Inga utbetalningar lästes in: indikatorerna för utbetalningar saknas".into()
            }
        }
    }
}

/// The evaluation plus what went wrong on the way.
#[derive(Debug)]
pub struct EvalOutcome {
    pub evaluation: Evaluation,
    /// Distinct rule errors; `IndicatorResult::rule_error` indexes this.
    pub rule_errors: Vec<RuleError>,
    pub warnings: Vec<EvalWarning>,
    /// The sets the indicator rules built, for `budget::attach` (Nyckeltal asks for the
    /// same ones again); it takes them, so they do not outlive evaluation.
    pub sets: Option<Arc<SetCache>>,
}

/// Computes every indicator for every district and the total.
pub fn evaluate(
    data: Arc<Prepared>,
    pack: &RulePack,
    settings: &ReportSettings,
    specs: &[IndicatorSpec],
    targets: &Result<Targets, RuleError>,
    period: Period,
) -> EvalOutcome {
    let mut errors = ErrorList::default();
    let cache = Arc::new(SetCache::new(&data));
    let year = period.calendar_year();
    let year_targets: Vec<Option<&YearTargets>> = specs
        .iter()
        .map(|spec| {
            targets
                .as_ref()
                .ok()
                .and_then(|t| t.get(&spec.def.id))
                .and_then(|by_year| by_year.get(&year))
        })
        .collect();
    let targets_failed = targets.is_err();

    // Every figure and its status, in parallel over scopes.
    let per_scope: Vec<Vec<Pending>> = super::per_scope(data.total_scope(), |scope| {
        specs
            .iter()
            .zip(&year_targets)
            .enumerate()
            .map(|(i, (spec, year_targets))| {
                let (current, used) = trace_cached(pack, &data, &cache, scope, period, spec);
                let both = current.and_then(|c| {
                    let previous = period.previous_year();
                    trace_cached(pack, &data, &cache, scope, previous, spec)
                        .0
                        .map(|p| (c, p))
                });
                let mut p = result_for(&data, spec, *year_targets, period, (i, scope));
                p.read = used.read;
                match both {
                    Err(e) => p.error = Some(e),
                    Ok((current, previous)) => {
                        let def = &spec.def;
                        p.result.rounded = current.value.map(|v| round_half_away(v, def.decimals));
                        p.result.current = current;
                        p.result.previous = previous;
                        if targets_failed {
                            p.targets_error = true;
                        } else {
                            match fulfilment(pack, def, &p.result) {
                                Ok(status) => p.result.status = status,
                                Err(e) => p.error = Some(e),
                            }
                        }
                    }
                }
                p.result.suppressed = suppressed(
                    settings.small_number_threshold,
                    &spec.def,
                    &p.result.current,
                );
                p
            })
            .collect()
    });
    // The datasets the current period's figures read, so that warnings about missing
    // payments or population appear only for a pack that uses them.
    let read: BTreeSet<String> = per_scope
        .iter()
        .flatten()
        .flat_map(|p| p.read.iter().cloned())
        .collect();

    // Results by indicator, then scope; rule errors numbered in that order.
    let targets_error = targets.as_ref().err().map(|e| errors.index(e));
    let mut columns: Vec<std::vec::IntoIter<Pending>> =
        per_scope.into_iter().map(|v| v.into_iter()).collect();
    let mut results = Vec::with_capacity(specs.len() * (data.total_scope() + 1));
    for _ in specs {
        for column in &mut columns {
            let Some(p) = column.next() else { continue };
            let mut result = p.result;
            if let Some(e) = &p.error {
                result.rule_error = Some(errors.index(e));
            } else if p.targets_error {
                result.rule_error = targets_error;
            }
            results.push(result);
        }
    }

    let warnings = warnings(&data, period, &read);
    let population_year = data.population_year(year);
    EvalOutcome {
        evaluation: Evaluation {
            period,
            title: settings.title.clone(),
            file_stem: settings.file_stem.clone(),
            districts: data.district_names.clone(),
            indicators: specs.iter().map(|s| s.def.clone()).collect(),
            results,
            population_year,
            budget: Default::default(),
        },
        rule_errors: errors.0,
        warnings,
        sets: Some(cache),
    }
}

/// One figure with its status, before its rule error (if any) is numbered.
struct Pending {
    result: IndicatorResult,
    /// The indicator's or the fulfilment rule's error.
    error: Option<RuleError>,
    /// The targets could not be read: the figure gets their error.
    targets_error: bool,
    /// The datasets the current period's rule read.
    read: BTreeSet<String>,
}

/// A result for indicator `i` and `scope` with its targets and comment, before figures.
fn result_for(
    data: &Prepared,
    spec: &IndicatorSpec,
    year_targets: Option<&YearTargets>,
    period: Period,
    (i, scope): (usize, usize),
) -> Pending {
    let district = data.districts.get(scope).map(|_| scope);
    let district_name = district.map(|d| data.district_names[d].as_str());
    let target = year_targets.and_then(|t| {
        district_name
            .and_then(|n| t.districts.get(n))
            .or(t.unit.as_ref())
            .cloned()
    });
    Pending {
        result: IndicatorResult {
            indicator: i,
            district,
            current: Figure::default(),
            previous: Figure::default(),
            rounded: None,
            target,
            kf_target: year_targets.and_then(|t| t.kf.clone()),
            status: Status::Error,
            comment: comment(data, &spec.def, period, scope),
            rule_error: None,
            suppressed: false,
        },
        error: None,
        targets_error: false,
        read: BTreeSet::new(),
    }
}

/// Distinct rule errors in first-seen order.
#[derive(Default)]
struct ErrorList(Vec<RuleError>);

impl ErrorList {
    fn index(&mut self, e: &RuleError) -> usize {
        match self.0.iter().position(|x| x == e) {
            Some(i) => i,
            None => {
                self.0.push(e.clone());
                self.0.len() - 1
            }
        }
    }
}

/// Computes one indicator for one scope and period, and says which datasets its rule read
/// and which of them the input lacks (then the figure is `saknas`). Used by `evaluate`, and
/// by `check` and `explain` to say what a figure rests on.
pub fn trace(
    pack: &RulePack,
    data: &Arc<Prepared>,
    scope: usize,
    period: Period,
    spec: &IndicatorSpec,
) -> (Result<Figure, RuleError>, DatasetUse) {
    trace_cached(
        pack,
        data,
        &Arc::new(SetCache::new(data)),
        scope,
        period,
        spec,
    )
}

/// `trace` with the sets of other calls on the same data shared through `cache`.
pub fn trace_cached(
    pack: &RulePack,
    data: &Arc<Prepared>,
    cache: &Arc<SetCache>,
    scope: usize,
    period: Period,
    spec: &IndicatorSpec,
) -> (Result<Figure, RuleError>, DatasetUse) {
    let u = Underlag {
        data: data.clone(),
        scope,
        period,
        indicator: Some((spec.def.id.clone(), spec.def.name.clone())),
        cache: cache.clone(),
    };
    reset_missing_datasets();
    let value = pack.call(&spec.function, (u,));
    let used = take_dataset_use();
    let value = match value {
        Ok(v) => v,
        Err(e) => return (Err(e), used),
    };
    if !used.missing.is_empty() {
        return (Ok(Figure::default()), used);
    }
    let figure = figure_from_dynamic(&value).map_err(|message| {
        let file = pack.file_defining(&spec.function);
        let (display, line) = match file {
            Some(f) => (
                pack.files[f].display.clone(),
                pack.function_lines(f, &spec.function).map_or(0, |l| l.0),
            ),
            None => ("rules".into(), 0),
        };
        RuleError {
            file: display,
            line,
            column: usize::from(line > 0),
            message: format!(
                "{}() returned something that is not a figure: {message}",
                spec.function
            ),
            source_line: None,
        }
    });
    (figure, used)
}

fn decimal(v: Option<Decimal>) -> Dynamic {
    v.map_or(Dynamic::UNIT, Dynamic::from_decimal)
}

fn target_dynamic(t: &Option<Target>) -> Dynamic {
    match t {
        None => Dynamic::UNIT,
        Some(Target::Value(v)) => Dynamic::from_decimal(*v),
        Some(Target::Decrease) => "minska".into(),
        Some(Target::Increase) => "öka".into(),
    }
}

/// The map `f` the pack's `uppfyllelse(f)` gets for a result: both values rounded to the
/// indicator's decimals (half away from zero) as the SPEC compares them. `explain` shows it.
pub fn fulfilment_input(def: &IndicatorDef, r: &IndicatorResult) -> Map {
    let mut m = Map::new();
    m.insert("utfall".into(), decimal(r.rounded));
    m.insert(
        "foregaende".into(),
        decimal(r.previous.value.map(|v| round_half_away(v, def.decimals))),
    );
    m.insert("mal".into(), target_dynamic(&r.target));
    m.insert(
        "riktning".into(),
        match def.direction {
            Direction::LowerIsBetter => "lägre".into(),
            Direction::HigherIsBetter => "högre".into(),
        },
    );
    m.insert(
        "decimaler".into(),
        Dynamic::from_int(i64::from(def.decimals)),
    );
    m.insert("indikator".into(), def.id.clone().into());
    m
}

/// Asks the pack's `uppfyllelse(f)` for the status.
fn fulfilment(
    pack: &RulePack,
    def: &IndicatorDef,
    r: &IndicatorResult,
) -> Result<Status, RuleError> {
    let m = fulfilment_input(def, r);
    let value = pack.call("uppfyllelse", (m,))?;
    let code = value.clone().into_string().unwrap_or_default();
    Status::parse_code(code.trim()).ok_or_else(|| {
        let f = pack.file_defining("uppfyllelse");
        let (file, line) = match f {
            Some(f) => (
                pack.files[f].display.clone(),
                pack.function_lines(f, "uppfyllelse").map_or(0, |l| l.0),
            ),
            None => ("rules".into(), 0),
        };
        RuleError {
            file,
            line,
            column: usize::from(line > 0),
            message: format!(
                "uppfyllelse() returned {code:?}; expected helt, delvis, ej, ingen_malsattning, saknas or fel"
            ),
            source_line: None,
        }
    })
}

/// The comment for an indicator in `manuella_utfall` (Kommentar), newest row winning.
fn comment(data: &Prepared, def: &IndicatorDef, period: Period, scope: usize) -> Option<String> {
    let t = data.tables.get("manuella_utfall")?;
    let (ind, per, com) = (
        t.text("Indikator")?,
        t.text("Period")?,
        t.text("Kommentar")?,
    );
    let district = t.text("Stadsdel");
    let own = data.district_of(scope);
    let label = period.label().to_lowercase();
    let matches = |s: &str, want: &str| s.trim().to_lowercase() == want.to_lowercase();
    let mut found = None;
    for i in manual_rows(data, scope) {
        let (Some(id), Some(p), Some(c)) = (ind[i], per[i], com[i]) else {
            continue;
        };
        let id_text = data.interner.resolve(id);
        if district.and_then(|d| d[i]) == own
            && (matches(id_text, &def.id) || matches(id_text, &def.name))
            && data.interner.resolve(p).trim().to_lowercase() == label
        {
            found = Some(data.interner.resolve(c).to_string());
        }
    }
    found
}

/// Small numbers hidden for secrecy: a count below the threshold, or a share whose
/// numerator is (zero is shown: it discloses nobody).
fn suppressed(threshold: Option<Decimal>, def: &IndicatorDef, f: &Figure) -> bool {
    let Some(limit) = threshold else { return false };
    let small = |v: Option<Decimal>| v.is_some_and(|x| x > Decimal::ZERO && x < limit);
    match def.unit {
        Unit::Count => small(f.value),
        Unit::Percent => small(f.numerator),
        _ => false,
    }
}

fn warnings(data: &Prepared, period: Period, read: &BTreeSet<String>) -> Vec<EvalWarning> {
    let mut out = Vec::new();
    if !read.contains(super::prepare::PAYMENTS) {
        // A pack of other datasets (Socialstyrelsen's statistics): nothing to warn about.
    } else if data.months_present.is_empty() {
        out.push(EvalWarning::NoPayments);
    } else {
        for m in period.months() {
            if !data.months_present.contains(&m) {
                out.push(EvalWarning::MonthWithoutPayments { month: m });
            }
        }
    }
    let year = period.calendar_year();
    if !read.contains(super::prepare::POPULATION) {
        return out;
    }
    match data.population_year(year) {
        None => out.push(EvalWarning::NoPopulation { year }),
        Some(y) => {
            let by_district: BTreeMap<_, _> = data
                .population
                .get(&y)
                .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
                .unwrap_or_default();
            for (d, name) in data.districts.iter().zip(&data.district_names) {
                if !by_district.contains_key(d) {
                    out.push(EvalWarning::DistrictWithoutPopulation {
                        district: name.clone(),
                        year: y,
                    });
                }
            }
        }
    }
    out
}
