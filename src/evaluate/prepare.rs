//! Prepares the ingested tables for the rule pack's native functions: payments folded into
//! household-months per district and for the total (once per run), population by year and
//! district, and the other datasets shared behind `Arc`s. Scripts never see single rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use rust_decimal::Decimal;

use crate::model::{Interner, Month, Sym, Table};

/// Canonical column names of the standard datasets (SPEC §2) used natively.
pub mod col {
    pub const PERIOD: &str = "Period";
    pub const DISTRICT: &str = "Stadsdel";
    pub const HOUSEHOLD: &str = "HushallsID";
    pub const AMOUNT: &str = "Belopp";
    pub const ADULTS: &str = "AntalVuxna";
    pub const CHILDREN: &str = "AntalBarn";
    pub const YOUNG: &str = "AntalUnga18_24";
    pub const REASON: &str = "Forsorjningshinder";
    pub const JOBBTORG: &str = "AktuellJobbtorg";
    pub const YEAR: &str = "Ar";
    pub const POPULATION: &str = "Folkmangd";
    pub const POP_CHILDREN: &str = "Barn0_17";
    pub const POP_YOUNG: &str = "Unga18_24";
    pub const POP_ADULTS: &str = "Vuxna18plus";
}

pub const PAYMENTS: &str = "utbetalningar";
pub const POPULATION: &str = "befolkning";

/// The reason for support that makes a household count as unemployed.
const UNEMPLOYMENT: &str = "arbetslöshet";

/// One household in one month within one scope: the net of its rows and the largest
/// counts any of its rows gives (SPEC §4 "Active").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HouseholdMonth {
    /// Household key: the id's symbol, or (district, id) when the pack says ids are per
    /// district.
    pub household: u64,
    pub month: Month,
    pub net: Decimal,
    pub adults: u32,
    pub children: u32,
    pub young: u32,
    /// `Arbetslöshet` when any row says so, else the first row's reason.
    pub reason: Option<Sym>,
    pub unemployed: bool,
    pub jobbtorg: bool,
}

impl HouseholdMonth {
    pub fn is_active(&self) -> bool {
        self.net > Decimal::ZERO
    }
}

/// Household-months and paid amounts of one district, or of the total.
#[derive(Debug, Default)]
pub struct PaymentScope {
    /// Sorted by month, then household.
    pub months: Vec<HouseholdMonth>,
    /// Σ Belopp of every row per month, corrections and inactive households included.
    pub paid: BTreeMap<Month, Decimal>,
}

/// One district's population on 31 December of a year. `None` = not given.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Population {
    pub total: Option<Decimal>,
    pub children: Option<Decimal>,
    pub young: Option<Decimal>,
    pub adults: Option<Decimal>,
}

impl Population {
    pub fn get(&self, column: &str) -> Option<Option<Decimal>> {
        match column {
            col::POPULATION => Some(self.total),
            col::POP_CHILDREN => Some(self.children),
            col::POP_YOUNG => Some(self.young),
            col::POP_ADULTS => Some(self.adults),
            _ => None,
        }
    }
}

/// Everything the native functions read, built once per run and shared between threads.
#[derive(Debug)]
pub struct Prepared {
    pub interner: Arc<Interner>,
    /// The report's districts, in report order.
    pub districts: Vec<Sym>,
    pub district_names: Vec<String>,
    /// `districts.len() + 1` scopes: each district, then the total.
    pub scopes: Vec<PaymentScope>,
    /// Population by year, then by district symbol.
    pub population: BTreeMap<i32, HashMap<Sym, Population>>,
    pub tables: BTreeMap<String, Arc<Table>>,
    /// Months with any `utbetalningar` row at all.
    pub months_present: BTreeSet<Month>,
    /// Every dataset the run knows (read or not), for rule error messages.
    pub known_datasets: Vec<String>,
    /// Per dataset, its row numbers by scope (each district, then the total), built the
    /// first time a rule asks for the dataset.
    scope_rows: BTreeMap<String, OnceLock<Vec<Arc<Vec<u32>>>>>,
}

impl Prepared {
    pub fn total_scope(&self) -> usize {
        self.districts.len()
    }

    pub fn first_month(&self) -> Option<Month> {
        self.months_present.iter().next().copied()
    }

    /// The latest population year not after `year`.
    pub fn population_year(&self, year: i32) -> Option<i32> {
        self.population.range(..=year).next_back().map(|(y, _)| *y)
    }

    /// Population of a scope in a year: a district's own row, or for the total the sum
    /// over the report's districts (`None` for a column when any district lacks it).
    pub fn population_of(&self, scope: usize, year: i32) -> Option<Population> {
        let by_district = self.population.get(&year)?;
        if let Some(d) = self.districts.get(scope) {
            return by_district.get(d).copied();
        }
        let mut sum = Population {
            total: Some(Decimal::ZERO),
            children: Some(Decimal::ZERO),
            young: Some(Decimal::ZERO),
            adults: Some(Decimal::ZERO),
        };
        for d in &self.districts {
            let p = by_district.get(d).copied().unwrap_or_default();
            let add = |a: Option<Decimal>, b: Option<Decimal>| Some(a? + b?);
            sum.total = add(sum.total, p.total);
            sum.children = add(sum.children, p.children);
            sum.young = add(sum.young, p.young);
            sum.adults = add(sum.adults, p.adults);
        }
        Some(sum)
    }

    /// The rows of `dataset` that belong to a scope: a district's own rows, or for the
    /// total the rows of every report district. A dataset without Stadsdel belongs whole
    /// to every scope.
    pub fn rows_of_scope(&self, dataset: &str, scope: usize) -> Arc<Vec<u32>> {
        let (Some(table), Some(cell)) = (self.tables.get(dataset), self.scope_rows.get(dataset))
        else {
            return Arc::new(Vec::new());
        };
        let by_scope = cell.get_or_init(|| {
            let n = self.districts.len();
            let Some(districts) = table.text(col::DISTRICT) else {
                let all = Arc::new((0..table.len() as u32).collect::<Vec<_>>());
                return vec![all; n + 1];
            };
            let index: HashMap<Sym, usize> = self
                .districts
                .iter()
                .enumerate()
                .map(|(i, d)| (*d, i))
                .collect();
            let mut rows: Vec<Vec<u32>> = vec![Vec::new(); n + 1];
            for (i, d) in districts.iter().enumerate() {
                if let Some(&di) = d.as_ref().and_then(|d| index.get(d)) {
                    rows[di].push(i as u32);
                    rows[n].push(i as u32);
                }
            }
            rows.into_iter().map(Arc::new).collect()
        });
        by_scope.get(scope).cloned().unwrap_or_default()
    }

    /// The district symbol of a scope, `None` for the total.
    pub fn district_of(&self, scope: usize) -> Option<Sym> {
        self.districts.get(scope).copied()
    }
}

/// How households are identified (SPEC §4 "Household identity").
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HouseholdIdentity {
    /// One case system: the same id is the same household in every district.
    Global,
    /// Each district numbers its own cases: households are keyed by (Stadsdel, HushallsID).
    PerDistrict,
}

/// Builds the prepared data. `listed_districts` are the pack's districts, if it lists
/// them; otherwise the districts present in `utbetalningar` are used, sorted by name.
pub fn prepare(
    interner: Interner,
    tables: BTreeMap<String, Table>,
    known_datasets: Vec<String>,
    listed_districts: Option<&[String]>,
    identity: HouseholdIdentity,
) -> Prepared {
    let mut interner = interner;
    let payments = tables.get(PAYMENTS);
    let present: BTreeSet<Sym> = payments
        .and_then(|t| t.text(col::DISTRICT))
        .map(|v| v.iter().flatten().copied().collect())
        .unwrap_or_default();
    let districts: Vec<Sym> = match listed_districts {
        Some(names) => names.iter().map(|n| interner.intern(n)).collect(),
        None => {
            let mut v: Vec<Sym> = present.into_iter().collect();
            v.sort_by(|a, b| swedish_order(interner.resolve(*a), interner.resolve(*b)));
            v
        }
    };
    let district_names = districts
        .iter()
        .map(|d| interner.resolve(*d).to_string())
        .collect();
    let (scopes, months_present) = match payments {
        Some(t) => fold_payments(t, &districts, identity, &interner),
        None => (
            (0..=districts.len())
                .map(|_| PaymentScope::default())
                .collect(),
            BTreeSet::new(),
        ),
    };
    let population = tables
        .get(POPULATION)
        .map(fold_population)
        .unwrap_or_default();
    Prepared {
        interner: Arc::new(interner),
        districts,
        district_names,
        scopes,
        population,
        scope_rows: tables
            .keys()
            .map(|k| (k.clone(), OnceLock::new()))
            .collect(),
        tables: tables.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
        months_present,
        known_datasets,
    }
}

/// Orders district names the Swedish way: å, ä, ö after z.
pub fn swedish_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(s: &str) -> Vec<u32> {
        s.chars()
            .flat_map(char::to_lowercase)
            .map(|c| match c {
                'å' => 'z' as u32 + 1,
                'ä' | 'æ' => 'z' as u32 + 2,
                'ö' | 'ø' => 'z' as u32 + 3,
                c => c as u32,
            })
            .collect()
    }
    key(a).cmp(&key(b)).then_with(|| a.cmp(b))
}

/// The running fold of one household-month's rows (SPEC §4 "Active").
#[derive(Default)]
struct Accumulator {
    net: Decimal,
    adults: u32,
    children: u32,
    young: u32,
    reason: Option<Sym>,
    unemployed: bool,
    jobbtorg: bool,
}

impl Accumulator {
    fn add(&mut self, row: &PaymentRow) {
        self.net += row.amount;
        self.adults = self.adults.max(row.adults);
        self.children = self.children.max(row.children);
        self.young = self.young.max(row.young);
        if row.unemployed {
            if !self.unemployed {
                self.reason = row.reason;
            }
            self.unemployed = true;
        } else if self.reason.is_none() {
            self.reason = row.reason;
        }
        self.jobbtorg |= row.jobbtorg;
    }

    fn finish(self, household: u64, month: Month) -> HouseholdMonth {
        HouseholdMonth {
            household,
            month,
            net: self.net,
            adults: self.adults,
            children: self.children,
            young: self.young,
            reason: self.reason,
            unemployed: self.unemployed,
            jobbtorg: self.jobbtorg,
        }
    }
}

/// One payment row, read from the table's columns.
struct PaymentRow {
    amount: Decimal,
    adults: u32,
    children: u32,
    young: u32,
    reason: Option<Sym>,
    unemployed: bool,
    jobbtorg: bool,
}

/// A payment row's place in the fold: sorted, equal (district, household, month) runs are
/// one household-month. `row` keeps the files' order within a run ("the first row's
/// reason").
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    district: u32,
    household: u64,
    month: i32,
    row: u32,
}

/// Folds the payment rows into household-months per district and for the total, by
/// sorting row keys and folding equal runs (deterministic, no per-row hashing).
fn fold_payments(
    t: &Table,
    districts: &[Sym],
    identity: HouseholdIdentity,
    interner: &Interner,
) -> (Vec<PaymentScope>, BTreeSet<Month>) {
    let n = districts.len();
    let mut scopes: Vec<PaymentScope> = (0..=n).map(|_| PaymentScope::default()).collect();
    let mut months_present = BTreeSet::new();
    let (Some(period), Some(district), Some(household), Some(amount)) = (
        t.month(col::PERIOD),
        t.text(col::DISTRICT),
        t.text(col::HOUSEHOLD),
        t.number(col::AMOUNT),
    ) else {
        return (scopes, months_present);
    };
    let count = |name: &str, i: usize| -> u32 {
        t.integer(name)
            .and_then(|v| v[i])
            .map_or(0, |x| u32::try_from(x).unwrap_or(0))
    };
    let reasons = t.text(col::REASON);
    let jobbtorg = t.boolean(col::JOBBTORG);
    let district_index: HashMap<Sym, u32> = districts
        .iter()
        .enumerate()
        .map(|(i, d)| (*d, i as u32))
        .collect();
    // The unemployment reason is recognised once per distinct symbol, not per row.
    let unemployment: HashMap<Sym, bool> = reasons
        .map(|r| {
            let distinct: BTreeSet<Sym> = r.iter().flatten().copied().collect();
            distinct
                .into_iter()
                .map(|s| (s, is_unemployment(interner.resolve(s))))
                .collect()
        })
        .unwrap_or_default();
    let row_at = |i: usize| {
        let reason = reasons.and_then(|r| r[i]);
        PaymentRow {
            amount: amount[i].unwrap_or_default(),
            adults: count(col::ADULTS, i),
            children: count(col::CHILDREN, i),
            young: count(col::YOUNG, i),
            reason,
            unemployed: reason.is_some_and(|s| unemployment.get(&s).copied().unwrap_or(false)),
            jobbtorg: jobbtorg.and_then(|j| j[i]).unwrap_or(false),
        }
    };

    let mut keys = Vec::with_capacity(t.len());
    for i in 0..t.len() {
        let (Some(m), Some(d), Some(h), Some(_)) =
            (period[i], district[i], household[i], amount[i])
        else {
            continue;
        };
        months_present.insert(m);
        let Some(&di) = district_index.get(&d) else {
            continue;
        };
        let household = match identity {
            HouseholdIdentity::Global => u64::from(h.0),
            HouseholdIdentity::PerDistrict => (u64::from(di) + 1) << 32 | u64::from(h.0),
        };
        keys.push(RowKey {
            district: di,
            household,
            month: m.ordinal(),
            row: i as u32,
        });
    }

    // Each district: runs of equal (district, household, month).
    keys.par_sort_unstable();
    let fold_runs = |keys: &[RowKey], same: fn(&RowKey, &RowKey) -> bool| {
        let mut out = Vec::new();
        let mut start = 0;
        while start < keys.len() {
            let mut end = start + 1;
            while end < keys.len() && same(&keys[start], &keys[end]) {
                end += 1;
            }
            let mut acc = Accumulator::default();
            for k in &keys[start..end] {
                acc.add(&row_at(k.row as usize));
            }
            let first = &keys[start];
            out.push(acc.finish(first.household, Month::from_ordinal(first.month)));
            start = end;
        }
        out
    };
    let by_district: Vec<Vec<HouseholdMonth>> = (0..n as u32)
        .into_par_iter()
        .map(|d| {
            let lo = keys.partition_point(|k| k.district < d);
            let hi = keys.partition_point(|k| k.district <= d);
            fold_runs(&keys[lo..hi], |a, b| {
                a.household == b.household && a.month == b.month
            })
        })
        .collect();
    // The total: the union of the districts' rows, a household once per month (with ids
    // per district, households never meet across districts, so the districts' own
    // household-months are the total's).
    let total = match identity {
        HouseholdIdentity::PerDistrict => by_district.iter().flatten().copied().collect(),
        HouseholdIdentity::Global => {
            keys.par_sort_unstable_by_key(|k| (k.household, k.month, k.row));
            fold_runs(&keys, |a, b| {
                a.household == b.household && a.month == b.month
            })
        }
    };
    drop(keys);
    for (scope, months) in scopes
        .iter_mut()
        .zip(by_district.into_iter().chain([total]))
    {
        scope.months = months;
        scope
            .months
            .par_sort_unstable_by_key(|hm| (hm.month, hm.household));
        for hm in &scope.months {
            *scope.paid.entry(hm.month).or_default() += hm.net;
        }
    }
    (scopes, months_present)
}

/// Whether a Forsorjningshinder text is the unemployment reason (any case, trimmed).
pub fn is_unemployment(text: &str) -> bool {
    text.trim().to_lowercase() == UNEMPLOYMENT
}

fn fold_population(t: &Table) -> BTreeMap<i32, HashMap<Sym, Population>> {
    let mut out: BTreeMap<i32, HashMap<Sym, Population>> = BTreeMap::new();
    let (Some(years), Some(districts)) = (t.integer(col::YEAR), t.text(col::DISTRICT)) else {
        return out;
    };
    let get = |name: &str, i: usize| t.number(name).and_then(|v| v[i]);
    for i in 0..t.len() {
        let (Some(y), Some(d)) = (years[i], districts[i]) else {
            continue;
        };
        let Ok(y) = i32::try_from(y) else { continue };
        let p = out.entry(y).or_default().entry(d).or_default();
        // Rows are in file-newness order: a later non-missing value wins, a missing one
        // never replaces a value.
        let merge = |slot: &mut Option<Decimal>, v: Option<Decimal>| {
            if v.is_some() {
                *slot = v;
            }
        };
        merge(&mut p.total, get(col::POPULATION, i));
        merge(&mut p.children, get(col::POP_CHILDREN, i));
        merge(&mut p.young, get(col::POP_YOUNG, i));
        merge(&mut p.adults, get(col::POP_ADULTS, i));
    }
    out
}
