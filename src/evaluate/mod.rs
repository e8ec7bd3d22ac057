//! Stage 3, evaluate: runs the rule pack's indicator functions for every district and the
//! total, for the report period and the same period a year earlier, then applies the
//! targets and the fulfilment rule. Takes `Inputs` and a compiled `RulePack`; gives an
//! `Evaluation`, a typed result that `report` turns into tables.

use rust_decimal::Decimal;

use crate::model::Period;

/// Which way is better for an indicator.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Direction {
    LowerIsBetter,
    HigherIsBetter,
}

/// The unit an indicator is expressed in. `Percent` values are in percent (0.45 = 0,45 %).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Unit {
    Count,
    Percent,
    Kronor,
    ThousandKronor,
    Months,
}

impl Unit {
    /// The unit as the rule pack and the workbook write it.
    pub fn label(self) -> &'static str {
        match self {
            Unit::Count => "st",
            Unit::Percent => "%",
            Unit::Kronor => "kr",
            Unit::ThousandKronor => "tkr",
            Unit::Months => "mån",
        }
    }

    pub fn parse(s: &str) -> Option<Unit> {
        match s.trim() {
            "st" => Some(Unit::Count),
            "%" => Some(Unit::Percent),
            "kr" => Some(Unit::Kronor),
            "tkr" => Some(Unit::ThousandKronor),
            "mån" | "man" => Some(Unit::Months),
            _ => None,
        }
    }
}

/// Where in the rule pack something is defined: `rules/indikatorer.rhai` lines 12–18.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSource {
    pub file: String,
    pub first_line: usize,
    pub last_line: usize,
}

/// Which months an indicator's figure covers, for the Period column. The computation
/// itself is the rule's; this only says what it did.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Window {
    /// January..the period's end (the default).
    #[default]
    YearToDate,
    /// Only the period's last month (a snapshot).
    LastMonth,
    /// The n months ending with the period's last month.
    Rolling(u32),
}

impl Window {
    /// The Period column's text: "januari–maj 2019", "maj 2019", "juni 2018–maj 2019".
    pub fn label_sv(self, period: Period) -> String {
        let end = period.end;
        match self {
            Window::YearToDate => period.label_sv(),
            Window::LastMonth => format!("{} {}", end.name_sv(), end.year),
            Window::Rolling(n) => {
                let start = end.plus(1 - n as i32);
                format!(
                    "{} {}–{} {}",
                    start.name_sv(),
                    start.year,
                    end.name_sv(),
                    end.year
                )
            }
        }
    }
}

/// An indicator as the rule pack declares it.
#[derive(Clone, Debug)]
pub struct IndicatorDef {
    pub id: String,
    pub name: String,
    pub unit: Unit,
    pub decimals: u32,
    pub direction: Direction,
    pub window: Window,
    /// Where the computing function is defined (for `explain`).
    pub source: Option<RuleSource>,
}

/// A target: a number, or a direction relative to the previous year's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Value(Decimal),
    Decrease,
    Increase,
}

impl Target {
    /// "minska", "öka" or the number.
    pub fn label_sv(&self) -> String {
        match self {
            Target::Value(v) => v.normalize().to_string(),
            Target::Decrease => "minska".to_string(),
            Target::Increase => "öka".to_string(),
        }
    }
}

/// The fulfilment status of one figure.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum Status {
    Met,
    PartlyMet,
    NotMet,
    NoTarget,
    Missing,
    Error,
}

impl Status {
    /// The JSON spelling: helt, delvis, ej, ingen_malsattning, saknas, fel.
    pub fn code(self) -> &'static str {
        match self {
            Status::Met => "helt",
            Status::PartlyMet => "delvis",
            Status::NotMet => "ej",
            Status::NoTarget => "ingen_malsattning",
            Status::Missing => "saknas",
            Status::Error => "fel",
        }
    }

    pub fn parse_code(s: &str) -> Option<Status> {
        [
            Status::Met,
            Status::PartlyMet,
            Status::NotMet,
            Status::NoTarget,
            Status::Missing,
            Status::Error,
        ]
        .into_iter()
        .find(|st| st.code() == s)
    }

    /// The words shown in the workbook.
    pub fn label_sv(self) -> &'static str {
        match self {
            Status::Met => "Uppfylls helt",
            Status::PartlyMet => "Uppfylls delvis",
            Status::NotMet => "Uppfylls ej",
            Status::NoTarget => "Ingen målsättning",
            Status::Missing => "Saknas",
            Status::Error => "Fel",
        }
    }

    /// A symbol that differs in shape as well as colour, for black-and-white print.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Met => "●",
            Status::PartlyMet => "◐",
            Status::NotMet => "○",
            Status::NoTarget => "–",
            Status::Missing => "..",
            Status::Error => "✖",
        }
    }
}

/// One computed figure with its underlag.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figure {
    /// Unrounded, in the indicator's unit. `None` = saknas (no data, 0 ÷ 0, no population).
    pub value: Option<Decimal>,
    pub numerator: Option<Decimal>,
    pub denominator: Option<Decimal>,
}

/// The outcome of one indicator for one district (or the total) in the report period.
#[derive(Clone, Debug)]
pub struct IndicatorResult {
    /// Index into `Evaluation::indicators`.
    pub indicator: usize,
    /// Index into `Evaluation::districts`; `None` = the total.
    pub district: Option<usize>,
    pub current: Figure,
    /// The same indicator for the same period one year earlier.
    pub previous: Figure,
    /// `current.value` rounded half away from zero to the indicator's decimals.
    pub rounded: Option<Decimal>,
    /// The target the status was judged against (the district's own årsmål where the pack
    /// gives one, else the unit's).
    pub target: Option<Target>,
    pub kf_target: Option<Target>,
    pub status: Status,
    /// A comment from `manuella_utfall`, or why the status is `fel`/`saknas`.
    pub comment: Option<String>,
    /// Index into `Evaluation::rule_errors` when a rule failed for this figure.
    pub rule_error: Option<usize>,
    /// True when the small-number threshold hides this figure (shown as `..`).
    pub suppressed: bool,
}

/// Everything the report stage needs: the period, the districts, the indicators and one
/// result per (indicator, district or total).
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub period: Period,
    pub title: String,
    /// The report's file-name stem (`Uppfoljning_ekonomiskt_bistand`).
    pub file_stem: String,
    /// District names in report order.
    pub districts: Vec<String>,
    pub indicators: Vec<IndicatorDef>,
    /// Ordered by indicator, then districts in order, then the total.
    pub results: Vec<IndicatorResult>,
    /// The befolkning year the shares used, if any.
    pub population_year: Option<i32>,
    /// Budget table, key figures over the years and monthly outcome (empty when the input
    /// and the pack give nothing to show).
    pub budget: budget::BudgetEvaluation,
}

impl Evaluation {
    /// The result for an indicator and a district (`None` = total).
    pub fn result(&self, indicator: usize, district: Option<usize>) -> Option<&IndicatorResult> {
        self.results
            .iter()
            .find(|r| r.indicator == indicator && r.district == district)
    }
}

/// `f` of every scope (districts `0..total`, then the total), computed in parallel and
/// returned in scope order. The total is as large as all districts together: it goes
/// first, and the districts are handed out one at a time, so the other core works through
/// them meanwhile instead of one core finishing the total, or a last batch of districts,
/// alone.
fn per_scope<T: Send>(total: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    use rayon::prelude::*;
    let mut order: Vec<usize> = (0..=total).collect();
    order.rotate_right(1);
    let mut done: Vec<(usize, T)> = order
        .into_par_iter()
        .with_max_len(1)
        .map(|scope| (scope, f(scope)))
        .collect();
    done.sort_by_key(|(scope, _)| *scope);
    done.into_iter().map(|(_, t)| t).collect()
}

pub mod budget;
pub mod prepare;
mod run;

pub use run::{EvalOutcome, EvalWarning, evaluate, fulfilment_input, trace};

#[cfg(test)]
mod tests;
