//! Budget follow-up, key figures over the years and monthly outcome (part of stage 3,
//! evaluate). Takes the prepared data (`huvudbok`, `budget`, payments) and the pack's budget
//! layout; folds every ledger and budget line natively into (scope, layout row, month) sums
//! once, then calls the pack's periodisation and forecast rules once per (row, scope). Gives
//! a `BudgetEvaluation` that `report` lays out. Money is exact `Decimal` in kronor throughout.

pub mod layout;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rhai::{Array, Dynamic, Map};
use rust_decimal::Decimal;

use self::layout::{COSTS, INCOME, Item, Layout, SumOf, claims, read_layout};
use super::prepare::{Prepared, col};
use super::{EvalOutcome, Unit};
use crate::model::{Month, Period, Sym};
use crate::rules::api::{
    SetCache, Underlag, figure_from_dynamic, number, paid_out, reset_missing_datasets,
    take_missing_datasets,
};
use crate::rules::pack::IndicatorSpec;
use crate::rules::{RuleError, RulePack};

pub const LEDGER: &str = "huvudbok";
pub const BUDGET: &str = "budget";
/// The label of the row that collects lines no layout row claims.
pub const UNCLAIMED_LABEL: &str = "Ej i uppställningen";
/// Its group in the JSON.
pub const UNCLAIMED_GROUP: &str = "ej_fordelat";

/// Everything the Budget, Nyckeltal and Månadsutfall sheets and the JSON `budget` array
/// show. Empty (the default) when there is nothing to show.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BudgetEvaluation {
    /// The table's lines in display order (the layout's, plus "Ej i uppställningen" when
    /// some line is unclaimed). Empty without a layout.
    pub lines: Vec<BudgetLine>,
    /// One per (line with figures, scope): districts in order, then the total.
    pub figures: Vec<BudgetFigures>,
    /// Ledger and budget lines the table could not place, for Kontroll.
    pub unclaimed: Vec<Unclaimed>,
    pub key_figures: KeyFigures,
    pub monthly: Vec<MonthlyScope>,
    /// The label of the row Månadsutfall compares payments with.
    pub paid_against: Option<String>,
    /// Whether the input had any ledger / budget rows at all.
    pub has_ledger: bool,
    pub has_budget: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LineKind {
    Heading,
    Row,
    Subtotal,
    Difference,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BudgetLine {
    pub label: String,
    pub kind: LineKind,
    /// `intakter`, `kostnader`, `netto`, a subtotal's name or `ej_fordelat`.
    pub group: String,
    /// −1 when the line is income (shown positive), else 1.
    pub sign: i32,
}

/// One line's figures for one scope, in kronor, signed as shown (income positive). The
/// deviations are budget − outcome in Kommun-Bas signs: positive is a surplus on any line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BudgetFigures {
    /// Index into `BudgetEvaluation::lines`.
    pub line: usize,
    /// `None` = the total.
    pub district: Option<usize>,
    pub budget_year: Option<Decimal>,
    pub budget_period: Option<Decimal>,
    pub outcome_period: Option<Decimal>,
    pub previous_outcome_period: Option<Decimal>,
    pub deviation: Option<Decimal>,
    pub forecast_year: Option<Decimal>,
    pub forecast_deviation: Option<Decimal>,
    /// A rule failed for this line (its figures that depend on the rule are missing).
    pub rule_error: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnclaimedReason {
    /// No row of the layout claims the line: it is on "Ej i uppställningen".
    NoRow,
    /// The line's Stadsdel is not one of the report's districts: not counted.
    OtherDistrict,
}

/// Ledger or budget lines left out of the layout's rows, summed per account, activity and
/// district.
#[derive(Clone, Debug, PartialEq)]
pub struct Unclaimed {
    pub dataset: &'static str,
    pub reason: UnclaimedReason,
    /// The report district, if the line belongs to one.
    pub district: Option<usize>,
    /// The Stadsdel text as given (`None` when empty).
    pub district_name: Option<String>,
    pub account: i64,
    pub activity: Option<String>,
    pub rows: usize,
    pub amount: Decimal,
    /// "2019-01–2019-03" for ledger lines, the year for budget lines.
    pub span: String,
}

/// A value shown in Nyckeltal or Månadsutfall.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Shown {
    Value(Decimal),
    Missing,
    /// Below the small-number threshold.
    Suppressed,
    /// A rule failed.
    Error,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyFigures {
    /// The report year and every earlier year present in the input, oldest first.
    pub years: Vec<i32>,
    /// Ordered by scope (districts, then the total), then figure.
    pub rows: Vec<KeyFigureRow>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct KeyFigureRow {
    pub label: String,
    pub unit: Unit,
    pub decimals: u32,
    pub district: Option<usize>,
    /// Parallel to `KeyFigures::years`.
    pub values: Vec<Shown>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MonthlyScope {
    pub district: Option<usize>,
    /// January..December of the report year.
    pub months: Vec<MonthlyFigures>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MonthlyFigures {
    pub month: Month,
    /// Active households; `Missing` for months after the period or without payments.
    pub households: Shown,
    pub paid: Option<Decimal>,
    /// The month's share of the `paid_against` row's budget, by the periodisation rule.
    pub budget: Option<Decimal>,
}

/// Computes the budget, key figures and monthly outcome and puts them into `outcome`;
/// rule failures join `outcome.rule_errors`. Never fails: a broken budget rule leaves its
/// figures missing and the rest of the report is produced. `groundwork` is
/// `groundwork(data, pack, outcome's period)` (checked in debug builds).
pub fn attach(
    outcome: &mut EvalOutcome,
    data: &Arc<Prepared>,
    pack: &RulePack,
    specs: &[IndicatorSpec],
    threshold: Option<Decimal>,
    groundwork: Groundwork,
) {
    let period = outcome.evaluation.period;
    debug_assert_eq!(groundwork.period, period, "groundwork made for another period");
    // Nyckeltal asks for the indicators' sets again; after this nobody does.
    let cache = outcome
        .sets
        .take()
        .unwrap_or_else(|| Arc::new(SetCache::new(data)));
    let (budget, errors) =
        evaluate_budget_with(data, &cache, pack, specs, period, threshold, groundwork);
    outcome.evaluation.budget = budget;
    for e in errors {
        if !outcome.rule_errors.contains(&e) {
            outcome.rule_errors.push(e);
        }
    }
}

/// What the budget takes from the rule pack's layout and the ledger before any scope is
/// computed: the layout, its rows, and the ledger and budget folded by scope, row and
/// month. It needs nothing of the indicators, so a run makes it while they are evaluated
/// (one pass over every ledger line, which would otherwise keep one core alone).
pub struct Groundwork {
    /// The period it was made for (its year's ledger and budget).
    period: Period,
    layout: Option<Layout>,
    rows: Vec<RowDef>,
    folded: Folded,
    /// The layout's error, if any: the first of the budget's errors.
    errors: Vec<RuleError>,
}

/// The budget's groundwork for the report year of `period`.
pub fn groundwork(data: &Prepared, pack: &RulePack, period: Period) -> Groundwork {
    let mut errors = Vec::new();
    let layout = match read_layout(pack) {
        Ok(l) => l,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let rows: Vec<RowDef> = layout
        .as_ref()
        .map(|l| {
            l.items
                .iter()
                .filter_map(|i| match i {
                    Item::Row {
                        label,
                        group,
                        accounts,
                        activities,
                    } => Some(RowDef {
                        label: label.clone(),
                        group: group.clone(),
                        accounts: accounts.clone(),
                        activities: activities.clone(),
                    }),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let folded = Folded::new(data, &rows, period.calendar_year());
    Groundwork {
        period,
        layout,
        rows,
        folded,
        errors,
    }
}

/// The budget, key figures and monthly outcome from the groundwork, with the sets the
/// indicators' rule calls built on the same data, and the rule errors met on the way.
fn evaluate_budget_with(
    data: &Arc<Prepared>,
    cache: &Arc<SetCache>,
    pack: &RulePack,
    specs: &[IndicatorSpec],
    period: Period,
    threshold: Option<Decimal>,
    groundwork: Groundwork,
) -> (BudgetEvaluation, Vec<RuleError>) {
    let Groundwork {
        period: _,
        layout,
        rows,
        folded,
        mut errors,
    } = groundwork;
    let mut out = BudgetEvaluation {
        unclaimed: folded.unclaimed.clone(),
        has_ledger: folded.has_ledger,
        has_budget: folded.has_budget,
        paid_against: layout.as_ref().and_then(|l| l.paid_against.clone()),
        ..BudgetEvaluation::default()
    };
    let total = data.total_scope();
    let ctx = Ctx {
        data,
        cache,
        pack,
        period,
        folded: &folded,
        rows: &rows,
    };

    if let Some(layout) = &layout {
        out.lines = lines(layout, folded.any_unclaimed());
        let per_scope = super::per_scope(total, |s| ctx.table(layout, &out.lines, s));
        for (figures, errs) in per_scope {
            out.figures.extend(figures);
            push_distinct(&mut errors, errs);
        }
    }

    let key_ids: Vec<String> = layout.as_ref().map_or_else(
        || {
            layout::DEFAULT_KEY_FIGURES
                .iter()
                .map(|s| s.to_string())
                .collect()
        },
        |l| l.key_figures.clone(),
    );
    let years = key_figure_years(data, &folded, period);
    let per_scope = super::per_scope(total, |s| {
        ctx.key_figures(specs, &key_ids, &years, s, threshold)
    });
    for (rows, errs) in per_scope {
        out.key_figures.rows.extend(rows);
        push_distinct(&mut errors, errs);
    }
    out.key_figures.years = years;

    if !data.months_present.is_empty() || folded.has_ledger {
        let against = layout.as_ref().and_then(|l| {
            let name = l.paid_against.as_ref()?;
            rows.iter().position(|r| &r.label == name)
        });
        let per_scope = super::per_scope(total, |s| {
            ctx.monthly(layout.as_ref(), against, s, threshold)
        });
        for (m, errs) in per_scope {
            out.monthly.push(m);
            push_distinct(&mut errors, errs);
        }
    }
    (out, errors)
}

fn push_distinct(into: &mut Vec<RuleError>, errs: Vec<RuleError>) {
    for e in errs {
        if !into.contains(&e) {
            into.push(e);
        }
    }
}

/// A layout row, flattened for matching.
#[derive(Clone, Debug)]
struct RowDef {
    label: String,
    group: String,
    accounts: Vec<(i64, i64)>,
    activities: Vec<layout::Activity>,
}

/// The display lines: the layout's, with "Ej i uppställningen" before the first sum of
/// every line (or last) when some line is unclaimed.
fn lines(layout: &Layout, unclaimed: bool) -> Vec<BudgetLine> {
    let mut out = Vec::new();
    let mut placed = !unclaimed;
    let unclaimed_line = || BudgetLine {
        label: UNCLAIMED_LABEL.into(),
        kind: LineKind::Row,
        group: UNCLAIMED_GROUP.into(),
        sign: 1,
    };
    let group_of = |name: &str| {
        layout.items.iter().find_map(|i| match i {
            Item::Row { label, group, .. } if label == name => Some(group.clone()),
            _ => None,
        })
    };
    for item in &layout.items {
        let line = match item {
            Item::Heading(l) => BudgetLine {
                label: l.clone(),
                kind: LineKind::Heading,
                group: String::new(),
                sign: 1,
            },
            Item::Row { label, group, .. } => BudgetLine {
                label: label.clone(),
                kind: LineKind::Row,
                group: group.clone(),
                sign: if group == INCOME { -1 } else { 1 },
            },
            Item::Sum { label, group, of } => {
                if matches!(of, SumOf::All) && !placed {
                    out.push(unclaimed_line());
                    placed = true;
                }
                // A sum of income only is shown positive, like its rows.
                let income_only = match of {
                    SumOf::Groups(g) => !g.is_empty() && g.iter().all(|g| g == INCOME),
                    SumOf::Lines(names) => {
                        !names.is_empty()
                            && names.iter().all(|n| {
                                group_of(n).as_deref() == Some(INCOME)
                                    || out.iter().any(|l: &BudgetLine| &l.label == n && l.sign < 0)
                            })
                    }
                    SumOf::All => false,
                };
                BudgetLine {
                    label: label.clone(),
                    kind: LineKind::Subtotal,
                    group: group.clone(),
                    sign: if income_only { -1 } else { 1 },
                }
            }
            Item::Difference { label, .. } => BudgetLine {
                label: label.clone(),
                kind: LineKind::Difference,
                group: label.clone(),
                sign: 1,
            },
        };
        out.push(line);
    }
    if !placed {
        out.push(unclaimed_line());
    }
    out
}

// ------------------------------------------------------------------------------------------
// Folding the ledger and the budget (once, natively)

/// Ledger sums per (scope, leaf, month) and budget sums per (scope, leaf) for the report
/// year. Leaves are the layout's rows, then the unclaimed row.
struct Folded {
    leaves: usize,
    /// By `slot(scope, leaf)`: a vector instead of a map, as every ledger line adds to
    /// two slots (its district's and the total's).
    ledger: Vec<BTreeMap<Month, Decimal>>,
    budget: Vec<Decimal>,
    /// Months with any ledger line at all.
    ledger_months: BTreeSet<Month>,
    unclaimed: Vec<Unclaimed>,
    has_ledger: bool,
    has_budget: bool,
}

impl Folded {
    fn new(data: &Prepared, rows: &[RowDef], year: i32) -> Folded {
        let leaves = rows.len() + 1;
        let slots = (data.total_scope() + 1) * leaves;
        let mut f = Folded {
            leaves,
            ledger: vec![BTreeMap::new(); slots],
            budget: vec![Decimal::ZERO; slots],
            ledger_months: BTreeSet::new(),
            unclaimed: Vec::new(),
            has_ledger: false,
            has_budget: false,
        };
        // District symbol → scope by the symbol's number (a lookup per ledger line); a
        // district listed twice is its last scope.
        let mut scope_of: Vec<Option<usize>> = Vec::new();
        for (i, d) in data.districts.iter().enumerate() {
            let k = d.0 as usize;
            if scope_of.len() <= k {
                scope_of.resize(k + 1, None);
            }
            scope_of[k] = Some(i);
        }
        let district_index = |d: Sym| scope_of.get(d.0 as usize).copied().flatten();
        let total = data.total_scope();
        // Which leaf a (Konto, Verksamhet) goes to, decided once per distinct pair.
        let mut leaf_of: HashMap<(i64, Option<Sym>), usize> = HashMap::new();
        let mut classify = |konto: i64, verksamhet: Option<Sym>| -> usize {
            *leaf_of.entry((konto, verksamhet)).or_insert_with(|| {
                let v = verksamhet.map(|s| data.interner.resolve(s));
                rows.iter()
                    .position(|r| claims(&r.accounts, &r.activities, konto, v))
                    .unwrap_or(rows.len())
            })
        };
        type Key = (&'static str, UnclaimedReason, Option<Sym>, i64, Option<Sym>);
        let mut unclaimed: BTreeMap<Key, (usize, Decimal, String, String)> = BTreeMap::new();
        let mut note = |key: Key, amount: Decimal, when: &dyn Fn() -> String| {
            let when = when();
            let e = unclaimed
                .entry(key)
                .or_insert((0, Decimal::ZERO, when.clone(), when.clone()));
            e.0 += 1;
            e.1 += amount;
            if when < e.2 {
                e.2 = when.clone();
            }
            if when > e.3 {
                e.3 = when;
            }
        };

        // Where a ledger or budget line goes: its district's scope (None: no district) and
        // its leaf row; a line of a district outside the report, or claimed by no row, is
        // noted for Kontroll (the latter still counts, on the "Ej i uppställningen" line).
        let mut place = |dataset: &'static str,
                         d: Option<Sym>,
                         k: i64,
                         v: Option<Sym>,
                         amount: Decimal,
                         when: &dyn Fn() -> String|
         -> Option<(Option<usize>, usize)> {
            let scope = match d {
                None => None,
                Some(sym) => match district_index(sym) {
                    Some(s) => Some(s),
                    None => {
                        note(
                            (dataset, UnclaimedReason::OtherDistrict, d, k, v),
                            amount,
                            when,
                        );
                        return None;
                    }
                },
            };
            let leaf = classify(k, v);
            if leaf == rows.len() {
                note((dataset, UnclaimedReason::NoRow, d, k, v), amount, when);
            }
            Some((scope, leaf))
        };

        if let Some(t) = data.tables.get(LEDGER)
            && let (Some(months), Some(accounts), Some(amounts)) = (
                t.month(col::PERIOD),
                t.integer("Konto"),
                t.number(col::AMOUNT),
            )
        {
            let districts = t.text(col::DISTRICT);
            let activities = t.text("Verksamhet");
            let mut previous_month = None;
            for i in 0..t.len() {
                let (Some(m), Some(k), Some(a)) = (months[i], accounts[i], amounts[i]) else {
                    continue;
                };
                f.has_ledger = true;
                // A ledger file is one month: its lines come in runs of the same month.
                if previous_month != Some(m) {
                    f.ledger_months.insert(m);
                    previous_month = Some(m);
                }
                let d = districts.and_then(|c| c[i]);
                let v = activities.and_then(|c| c[i]);
                let Some((scope, leaf)) = place(LEDGER, d, k, v, a, &|| m.to_string()) else {
                    continue;
                };
                for s in scope.into_iter().chain([total]) {
                    *f.ledger[s * leaves + leaf].entry(m).or_default() += a;
                }
            }
        }
        if let Some(t) = data.tables.get(BUDGET)
            && let (Some(years), Some(accounts), Some(amounts)) = (
                t.integer(col::YEAR),
                t.integer("Konto"),
                t.number(col::AMOUNT),
            )
        {
            let districts = t.text(col::DISTRICT);
            let activities = t.text("Verksamhet");
            for i in 0..t.len() {
                let (Some(y), Some(k), Some(a)) = (years[i], accounts[i], amounts[i]) else {
                    continue;
                };
                f.has_budget = true;
                if y != i64::from(year) {
                    continue;
                }
                let d = districts.and_then(|c| c[i]);
                let v = activities.and_then(|c| c[i]);
                let Some((scope, leaf)) = place(BUDGET, d, k, v, a, &|| y.to_string()) else {
                    continue;
                };
                for s in scope.into_iter().chain([total]) {
                    f.budget[s * leaves + leaf] += a;
                }
            }
        }
        f.unclaimed = unclaimed
            .into_iter()
            .map(
                |((dataset, reason, d, k, v), (rows, amount, first, last))| Unclaimed {
                    dataset,
                    reason,
                    district: d.and_then(district_index),
                    district_name: d.map(|s| data.interner.resolve(s).to_string()),
                    account: k,
                    activity: v.map(|s| data.interner.resolve(s).to_string()),
                    rows,
                    amount,
                    span: if first == last {
                        first
                    } else {
                        format!("{first}–{last}")
                    },
                },
            )
            .collect();
        f
    }

    /// Whether some line is on "Ej i uppställningen".
    fn any_unclaimed(&self) -> bool {
        self.unclaimed
            .iter()
            .any(|u| u.reason == UnclaimedReason::NoRow)
    }

    fn unclaimed_leaf(&self) -> usize {
        self.leaves - 1
    }

    /// Σ of a leaf's ledger lines in the months of `period` (January..end of its year).
    fn outcome(&self, scope: usize, leaf: usize, period: Period) -> Decimal {
        self.months(scope, leaf).map_or(Decimal::ZERO, |m| {
            m.range(period.months()[0]..=period.end)
                .map(|(_, v)| *v)
                .sum()
        })
    }

    /// A leaf's ledger sums by month.
    fn months(&self, scope: usize, leaf: usize) -> Option<&BTreeMap<Month, Decimal>> {
        self.ledger.get(scope * self.leaves + leaf)
    }

    fn month_outcome(&self, scope: usize, leaf: usize, month: Month) -> Decimal {
        self.months(scope, leaf)
            .and_then(|m| m.get(&month))
            .copied()
            .unwrap_or_default()
    }

    /// Whether the ledger covers any month of `period`: before the exports begin the
    /// outcome is unknown, not zero.
    fn covers(&self, period: Period) -> bool {
        period
            .months()
            .iter()
            .any(|m| self.ledger_months.contains(m))
    }

    fn budget(&self, scope: usize, leaf: usize) -> Option<Decimal> {
        self.has_budget.then(|| {
            self.budget
                .get(scope * self.leaves + leaf)
                .copied()
                .unwrap_or_default()
        })
    }
}

// ------------------------------------------------------------------------------------------
// The table, per scope

struct Ctx<'a> {
    data: &'a Arc<Prepared>,
    cache: &'a Arc<SetCache>,
    pack: &'a RulePack,
    period: Period,
    folded: &'a Folded,
    rows: &'a [RowDef],
}

/// Raw (Kommun-Bas signed) figures of one line.
#[derive(Clone, Copy, Default)]
struct Raw {
    budget_year: Option<Decimal>,
    budget_period: Option<Decimal>,
    outcome: Option<Decimal>,
    previous: Option<Decimal>,
    forecast: Option<Decimal>,
    error: bool,
}

impl Raw {
    fn add(self, o: Raw) -> Raw {
        let add = |a: Option<Decimal>, b: Option<Decimal>| Some(a? + b?);
        Raw {
            budget_year: add(self.budget_year, o.budget_year),
            budget_period: add(self.budget_period, o.budget_period),
            outcome: add(self.outcome, o.outcome),
            previous: add(self.previous, o.previous),
            forecast: add(self.forecast, o.forecast),
            error: self.error || o.error,
        }
    }

    fn zero() -> Raw {
        Raw {
            budget_year: Some(Decimal::ZERO),
            budget_period: Some(Decimal::ZERO),
            outcome: Some(Decimal::ZERO),
            previous: Some(Decimal::ZERO),
            forecast: Some(Decimal::ZERO),
            error: false,
        }
    }
}

impl Ctx<'_> {
    fn district_name(&self, scope: usize) -> Option<&str> {
        self.data.district_names.get(scope).map(String::as_str)
    }

    /// The map a periodisation or forecast rule gets.
    fn rule_input(
        &self,
        label: &str,
        group: &str,
        scope: usize,
        months: u32,
        budget_year: Option<Decimal>,
        leaf: Option<usize>,
    ) -> Map {
        let d = |v: Option<Decimal>| v.map_or(Dynamic::UNIT, Dynamic::from_decimal);
        let year = self.period.calendar_year();
        let mut m = Map::new();
        m.insert("rad".into(), label.into());
        m.insert("grupp".into(), group.into());
        m.insert(
            "stadsdel".into(),
            self.district_name(scope).map_or(Dynamic::UNIT, Into::into),
        );
        m.insert("ar".into(), Dynamic::from_int(i64::from(year)));
        m.insert("manader".into(), Dynamic::from_int(i64::from(months)));
        m.insert("budget_helar".into(), d(budget_year));
        let period = Period::month(Month {
            year,
            month: months.clamp(1, 12) as u8,
        });
        let outcome = leaf.map(|l| self.folded.outcome(scope, l, period));
        m.insert(
            "utfall".into(),
            d(outcome.filter(|_| self.folded.covers(period))),
        );
        let per_month = |y: i32, n: u32| -> Array {
            (1..=n)
                .map(|mo| {
                    let month = Month {
                        year: y,
                        month: mo as u8,
                    };
                    Dynamic::from_decimal(leaf.map_or(Decimal::ZERO, |l| {
                        self.folded.month_outcome(scope, l, month)
                    }))
                })
                .collect()
        };
        m.insert("utfall_per_manad".into(), per_month(year, months).into());
        let previous = Period::year(year - 1);
        m.insert(
            "foregaende_per_manad".into(),
            if leaf.is_some() && self.folded.covers(previous) {
                per_month(year - 1, 12).into()
            } else {
                Dynamic::UNIT
            },
        );
        m
    }

    /// Calls a periodisation or forecast rule; `Ok(None)` when it returns ().
    fn call_rule(&self, function: &str, input: Map) -> Result<Option<Decimal>, RuleError> {
        let v = self.pack.call(function, (input,))?;
        number(&v, function).map_err(|e| {
            layout::error_at_function(
                self.pack,
                function,
                format!("{function}() must return a number of kronor: {e}"),
            )
        })
    }

    fn leaf_raw(
        &self,
        layout: &Layout,
        label: &str,
        group: &str,
        leaf: usize,
        scope: usize,
        errors: &mut Vec<RuleError>,
    ) -> Raw {
        let f = self.folded;
        let months = self.period.month_count();
        let budget_year = f.budget(scope, leaf);
        let outcome =
            (f.has_ledger && f.covers(self.period)).then(|| f.outcome(scope, leaf, self.period));
        let previous_period = self.period.previous_year();
        let previous = (f.has_ledger && f.covers(previous_period))
            .then(|| f.outcome(scope, leaf, previous_period));
        let mut raw = Raw {
            budget_year,
            outcome,
            previous,
            ..Raw::default()
        };
        // Both rules get the same map: built once.
        let input = (budget_year.is_some() || outcome.is_some())
            .then(|| self.rule_input(label, group, scope, months, budget_year, Some(leaf)));
        if let Some(input) = input.as_ref().filter(|_| budget_year.is_some()) {
            match self.call_rule(&layout.periodisation, input.clone()) {
                Ok(v) => raw.budget_period = v,
                Err(e) => {
                    raw.error = true;
                    errors.push(e);
                }
            }
        }
        if let Some(input) = input.filter(|_| outcome.is_some()) {
            match self.call_rule(&layout.forecast, input) {
                Ok(v) => raw.forecast = v,
                Err(e) => {
                    raw.error = true;
                    errors.push(e);
                }
            }
        }
        raw
    }

    fn table(
        &self,
        layout: &Layout,
        lines: &[BudgetLine],
        scope: usize,
    ) -> (Vec<BudgetFigures>, Vec<RuleError>) {
        let mut errors = Vec::new();
        let mut raws: HashMap<&str, Raw> = HashMap::new();
        let district = self.data.districts.get(scope).map(|_| scope);
        // Every leaf first (the rows, then the unclaimed one), so a sum may cover rows
        // wherever they stand.
        let mut leaves: Vec<(&str, Raw)> = self
            .rows
            .iter()
            .enumerate()
            .map(|(leaf, r)| {
                let raw = self.leaf_raw(layout, &r.label, &r.group, leaf, scope, &mut errors);
                (r.group.as_str(), raw)
            })
            .collect();
        let has_unclaimed_line = lines.iter().any(|l| {
            l.kind == LineKind::Row && l.group == UNCLAIMED_GROUP && l.label == UNCLAIMED_LABEL
        });
        if has_unclaimed_line {
            let raw = self.leaf_raw(
                layout,
                UNCLAIMED_LABEL,
                UNCLAIMED_GROUP,
                self.folded.unclaimed_leaf(),
                scope,
                &mut errors,
            );
            leaves.push((UNCLAIMED_GROUP, raw));
        }
        let mut out = Vec::new();
        let mut rows_seen = 0usize;
        for (index, line) in lines.iter().enumerate() {
            let item = layout
                .items
                .iter()
                .find(|i| !matches!(i, Item::Heading(_)) && i.label() == line.label);
            let raw = match (line.kind, item) {
                (LineKind::Heading, _) => continue,
                (LineKind::Row, Some(Item::Row { .. })) => {
                    rows_seen += 1;
                    leaves.get(rows_seen - 1).map_or_else(Raw::default, |l| l.1)
                }
                (LineKind::Row, _) => leaves.last().map_or_else(Raw::default, |l| l.1),
                (LineKind::Subtotal, Some(Item::Sum { of, .. })) => match of {
                    SumOf::All => leaves.iter().fold(Raw::zero(), |a, (_, r)| a.add(*r)),
                    SumOf::Groups(groups) => leaves
                        .iter()
                        .filter(|(g, _)| groups.iter().any(|x| x == g))
                        .fold(Raw::zero(), |a, (_, r)| a.add(*r)),
                    SumOf::Lines(names) => names.iter().fold(Raw::zero(), |a, n| {
                        a.add(raws.get(n.as_str()).copied().unwrap_or_default())
                    }),
                },
                (LineKind::Difference, Some(Item::Difference { frame, against, .. })) => {
                    let base = raws.get(against.as_str()).copied().unwrap_or_default();
                    let frame_year = frame.of(self.district_name(scope));
                    let mut frame_period = None;
                    if frame_year.is_some() {
                        let input = self.rule_input(
                            &line.label,
                            &line.group,
                            scope,
                            self.period.month_count(),
                            frame_year,
                            None,
                        );
                        match self.call_rule(&layout.periodisation, input) {
                            Ok(v) => frame_period = v,
                            Err(e) => errors.push(e),
                        }
                    }
                    let minus = |a: Option<Decimal>, b: Option<Decimal>| Some(a? - b?);
                    Raw {
                        budget_year: minus(frame_year, base.budget_year),
                        budget_period: minus(frame_period, base.budget_period),
                        outcome: minus(frame_period, base.outcome),
                        previous: None,
                        forecast: minus(frame_year, base.forecast),
                        error: base.error,
                    }
                }
                _ => continue,
            };
            raws.insert(line.label.as_str(), raw);
            let sign = Decimal::from(line.sign);
            let shown = |v: Option<Decimal>| v.map(|x| x * sign);
            let minus = |a: Option<Decimal>, b: Option<Decimal>| Some(a? - b?);
            let difference = line.kind == LineKind::Difference;
            out.push(BudgetFigures {
                line: index,
                district,
                budget_year: shown(raw.budget_year),
                budget_period: shown(raw.budget_period),
                outcome_period: shown(raw.outcome),
                previous_outcome_period: shown(raw.previous),
                // Budget − utfall in Kommun-Bas signs: positive is a surplus on income
                // (more came in) as on costs (less went out).
                deviation: if difference {
                    None
                } else {
                    minus(raw.budget_period, raw.outcome)
                },
                forecast_year: shown(raw.forecast),
                forecast_deviation: if difference {
                    None
                } else {
                    minus(raw.budget_year, raw.forecast)
                },
                rule_error: raw.error,
            });
        }
        (out, errors)
    }

    // --------------------------------------------------------------------------------------
    // Nyckeltal

    fn key_figures(
        &self,
        specs: &[IndicatorSpec],
        ids: &[String],
        years: &[i32],
        scope: usize,
        threshold: Option<Decimal>,
    ) -> (Vec<KeyFigureRow>, Vec<RuleError>) {
        let mut errors = Vec::new();
        let district = self.data.districts.get(scope).map(|_| scope);
        let period_of = |y: i32| Period {
            kind: self.period.kind,
            end: Month {
                year: y,
                month: self.period.end.month,
            },
        };
        let mut out = Vec::new();
        for id in ids {
            let Some(spec) = specs.iter().find(|s| &s.def.id == id) else {
                continue;
            };
            let values = years
                .iter()
                .map(|&y| {
                    let u = Underlag {
                        data: self.data.clone(),
                        scope,
                        period: period_of(y),
                        indicator: Some((spec.def.id.clone(), spec.def.name.clone())),
                        cache: self.cache.clone(),
                    };
                    reset_missing_datasets();
                    let result = self.pack.call(&spec.function, (u,));
                    let missing = !take_missing_datasets().is_empty();
                    match result {
                        Err(e) => {
                            errors.push(e);
                            Shown::Error
                        }
                        Ok(_) if missing => Shown::Missing,
                        Ok(v) => match figure_from_dynamic(&v) {
                            Ok(f) => match f.value {
                                Some(_) if small(threshold, spec.def.unit, &f) => Shown::Suppressed,
                                Some(x) => Shown::Value(x),
                                None => Shown::Missing,
                            },
                            Err(_) => Shown::Error,
                        },
                    }
                })
                .collect();
            out.push(KeyFigureRow {
                label: spec.def.name.clone(),
                unit: spec.def.unit,
                decimals: spec.def.decimals,
                district,
                values,
            });
        }
        if self.folded.has_ledger {
            let groups: Vec<&str> = self.rows.iter().map(|r| r.group.as_str()).collect();
            let sum = |p: Period, keep: &dyn Fn(usize) -> bool| -> Shown {
                if !self.folded.covers(p) {
                    return Shown::Missing;
                }
                Shown::Value(
                    (0..self.folded.leaves)
                        .filter(|&l| keep(l))
                        .map(|l| self.folded.outcome(scope, l, p))
                        .sum(),
                )
            };
            let groups = &groups;
            let in_group = |g: &'static str| move |l: usize| groups.get(l) == Some(&g);
            let negate = |s: Shown| match s {
                Shown::Value(v) => Shown::Value(-v),
                other => other,
            };
            let has_groups = !self.rows.is_empty();
            let mut money = |label: &str, values: Vec<Shown>| {
                out.push(KeyFigureRow {
                    label: label.into(),
                    unit: Unit::ThousandKronor,
                    decimals: 0,
                    district,
                    values,
                });
            };
            if has_groups {
                money(
                    "Kostnader enligt huvudboken",
                    years
                        .iter()
                        .map(|&y| sum(period_of(y), &in_group(COSTS)))
                        .collect(),
                );
                money(
                    "Intäkter enligt huvudboken",
                    years
                        .iter()
                        .map(|&y| negate(sum(period_of(y), &in_group(INCOME))))
                        .collect(),
                );
            }
            money(
                "Netto enligt huvudboken",
                years
                    .iter()
                    .map(|&y| sum(period_of(y), &|_| true))
                    .collect(),
            );
        }
        (out, errors)
    }

    // --------------------------------------------------------------------------------------
    // Månadsutfall

    fn monthly(
        &self,
        layout: Option<&Layout>,
        against: Option<usize>,
        scope: usize,
        threshold: Option<Decimal>,
    ) -> (MonthlyScope, Vec<RuleError>) {
        let mut errors = Vec::new();
        let year = self.period.calendar_year();
        let district = self.data.districts.get(scope).map(|_| scope);
        let payments = &self.data.scopes[scope];
        // The scope is sorted by month: the year is one slice of it.
        let months = &payments.months;
        let lo = months.partition_point(|hm| hm.month.year < year);
        let hi = months.partition_point(|hm| hm.month.year <= year).max(lo);
        let mut active = [0u32; 12];
        for hm in &months[lo..hi] {
            if paid_out(hm)
                && let Some(n) = active.get_mut(usize::from(hm.month.month).wrapping_sub(1))
            {
                *n += 1;
            }
        }
        // Cumulative periodised budget, month by month; the month's budget is the step.
        let mut cumulative: Vec<Option<Decimal>> = vec![Some(Decimal::ZERO)];
        if let (Some(layout), Some(leaf)) = (layout, against) {
            let row = &self.rows[leaf];
            let budget_year = self.folded.budget(scope, leaf);
            for n in 1..=12u32 {
                let v = match budget_year {
                    None => None,
                    Some(_) => {
                        let input = self.rule_input(
                            &row.label,
                            &row.group,
                            scope,
                            n,
                            budget_year,
                            Some(leaf),
                        );
                        match self.call_rule(&layout.periodisation, input) {
                            Ok(v) => v,
                            Err(e) => {
                                if !errors.contains(&e) {
                                    errors.push(e);
                                }
                                None
                            }
                        }
                    }
                };
                cumulative.push(v);
            }
        }
        let months = (1..=12u8)
            .map(|mo| {
                let month = Month { year, month: mo };
                let reported =
                    self.period.contains(month) && self.data.months_present.contains(&month);
                let households = match active[usize::from(mo) - 1] {
                    _ if !reported => Shown::Missing,
                    n if threshold.is_some_and(|t| n > 0 && Decimal::from(n) < t) => {
                        Shown::Suppressed
                    }
                    n => Shown::Value(Decimal::from(n)),
                };
                let paid = reported.then(|| payments.paid.get(&month).copied().unwrap_or_default());
                let i = usize::from(mo);
                let budget = match (cumulative.get(i - 1), cumulative.get(i)) {
                    (Some(Some(a)), Some(Some(b))) => Some(*b - *a),
                    _ => None,
                };
                MonthlyFigures {
                    month,
                    households,
                    paid,
                    budget,
                }
            })
            .collect();
        (MonthlyScope { district, months }, errors)
    }
}

/// Small numbers hidden for secrecy, as for the indicators: counts below the threshold.
fn small(threshold: Option<Decimal>, unit: Unit, f: &super::Figure) -> bool {
    let Some(limit) = threshold else { return false };
    let small = |v: Option<Decimal>| v.is_some_and(|x| x > Decimal::ZERO && x < limit);
    match unit {
        Unit::Count => small(f.value),
        Unit::Percent => small(f.numerator),
        _ => false,
    }
}

/// The report year and every earlier year with payments or ledger lines.
fn key_figure_years(data: &Prepared, folded: &Folded, period: Period) -> Vec<i32> {
    let year = period.calendar_year();
    let first = data
        .months_present
        .iter()
        .chain(folded.ledger_months.iter())
        .map(|m| m.year)
        .min();
    match first {
        Some(f) if f <= year => (f..=year).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
