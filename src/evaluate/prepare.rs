//! Prepares the ingested tables for the rule pack's native functions: payments folded into
//! household-months per district and for the total (once per run), population by year and
//! district, and the other datasets shared behind `Arc`s. Scripts never see single rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use rust_decimal::Decimal;

use crate::ingest::fold::{MonthFold, fold_payments};
use crate::model::{Interner, Month, Sym, Table, sum_amounts};

/// Canonical column names of the standard datasets (SPEC §2) used natively.
pub mod col {
    // utbetalningar's, as the fold reads them.
    pub use crate::ingest::fold::col::*;
    pub const YEAR: &str = "Ar";
    pub const POPULATION: &str = "Folkmangd";
    pub const POP_CHILDREN: &str = "Barn0_17";
    pub const POP_YOUNG: &str = "Unga18_24";
    pub const POP_ADULTS: &str = "Vuxna18plus";
}

pub use crate::ingest::fold::PAYMENTS;
pub const POPULATION: &str = "befolkning";

pub use crate::ingest::fold::{HouseholdMonth, is_unemployment};

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
    /// `utbetalningar` rows per district and month (after re-export resolution), for
    /// `utfall check`: the rows themselves are usually folded away as they are read.
    pub payment_rows: BTreeMap<Sym, BTreeMap<Month, usize>>,
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

    /// Whether a dataset has any rows (`utbetalningar`: folded or kept).
    pub fn has_rows(&self, dataset: &str) -> bool {
        self.tables.get(dataset).is_some_and(|t| !t.is_empty())
            || (dataset == PAYMENTS && !self.payment_rows.is_empty())
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
    payments: Option<Vec<MonthFold>>,
    known_datasets: Vec<String>,
    listed_districts: Option<&[String]>,
    identity: HouseholdIdentity,
) -> Prepared {
    let mut interner = interner;
    // Folded while read, or else (payments kept as a table) folded here, as one file.
    let payments = payments.unwrap_or_else(|| {
        tables
            .get(PAYMENTS)
            .map(|t| {
                fold_payments(&t.spec, &t.columns, t.len(), &|s| {
                    interner.resolve(s).to_string()
                })
            })
            .unwrap_or_default()
    });
    // Per month a few hundred districts, not one entry per household-month.
    let present: BTreeSet<Sym> = payments
        .iter()
        .flat_map(|f| f.rows_by_district.iter().map(|(d, _)| *d))
        .collect();
    let mut payment_rows: BTreeMap<Sym, BTreeMap<Month, usize>> = BTreeMap::new();
    for f in &payments {
        for (d, rows) in &f.rows_by_district {
            *payment_rows
                .entry(*d)
                .or_default()
                .entry(f.month)
                .or_default() += rows;
        }
    }
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
    let (scopes, months_present) = build_scopes(payments, &districts, identity);
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
        payment_rows,
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

/// Builds the scopes from the months' folds (each month from its newest export): each
/// district's household-months, and the total's — with ids per district the districts'
/// own; with global ids the same, except that a household with rows in several districts
/// in a month is one household-month over all of them.
fn build_scopes(
    payments: Vec<MonthFold>,
    districts: &[Sym],
    identity: HouseholdIdentity,
) -> (Vec<PaymentScope>, BTreeSet<Month>) {
    let n = districts.len();
    // District symbol → scope, by the symbol's number (millions of lookups).
    let mut by_sym: Vec<Option<usize>> = Vec::new();
    for (i, d) in districts.iter().enumerate() {
        let k = d.0 as usize;
        if by_sym.len() <= k {
            by_sym.resize(k + 1, None);
        }
        by_sym[k] = Some(i);
    }
    let index = |d: &Sym| by_sym.get(d.0 as usize).copied().flatten();
    let months_present: BTreeSet<Month> = payments
        .iter()
        .filter(|f| !f.households.is_empty())
        .map(|f| f.month)
        .collect();
    // Each fold's runs of one report district (a fold holds a district's household-months
    // together, in household order): (scope, range in the fold).
    let runs: Vec<Vec<(usize, Range<usize>)>> = payments
        .par_iter()
        .map(|f| {
            let mut out = Vec::new();
            let mut start = 0;
            for run in f.districts.chunk_by(|a, b| a == b) {
                let end = start + run.len();
                if let Some(di) = index(&run[0]) {
                    out.push((di, start..end));
                }
                start = end;
            }
            out
        })
        .collect();
    // Ids per district: one number per (district, id), numbered in that order (so a
    // district's household-months stay in household order).
    let mut per_district: HashMap<(usize, u32), u32> = HashMap::new();
    if identity == HouseholdIdentity::PerDistrict {
        let mut keys: Vec<(usize, u32)> = payments
            .iter()
            .zip(&runs)
            .flat_map(|(f, r)| {
                r.iter().flat_map(|(di, range)| {
                    f.households[range.clone()]
                        .iter()
                        .map(move |hm| (*di, hm.household))
                })
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        per_district = keys.into_iter().zip(0u32..).collect();
    }
    let renumbered = |di: usize, hm: &HouseholdMonth| {
        let mut hm = *hm;
        if identity == HouseholdIdentity::PerDistrict
            && let Some(&k) = per_district.get(&(di, hm.household))
        {
            hm.household = k;
        }
        hm
    };
    // With global ids a household with rows in several districts in a month is one
    // household-month of the total over all of them: the total leaves out the districts'
    // own household-months of those households and takes the folded one instead.
    let global = identity == HouseholdIdentity::Global;
    let across: Vec<HouseholdSet> = payments
        .iter()
        .map(|f| HouseholdSet::of(f.across.iter().map(|hm| hm.household)))
        .collect();
    let in_total =
        |across: &HouseholdSet, hm: &HouseholdMonth| !global || !across.contains(&hm.household);
    // Exact sizes first (a national scope is millions of household-months, and growing
    // vectors by doubling would hold twice that for a moment), per scope and per month of
    // the total.
    let mut sizes = vec![0usize; n];
    for r in &runs {
        for (di, range) in r {
            sizes[*di] += range.len();
        }
    }
    let total_sizes: Vec<usize> = payments
        .par_iter()
        .zip(&runs)
        .zip(&across)
        .map(|((f, r), across)| {
            let own: usize = r
                .iter()
                .map(|(_, range)| match across.is_empty() {
                    true => range.len(),
                    false => f.households[range.clone()]
                        .iter()
                        .filter(|hm| in_total(across, hm))
                        .count(),
                })
                .sum();
            own + if global { f.across.len() } else { 0 }
        })
        .collect();
    let mut by_scope: Vec<Vec<HouseholdMonth>> =
        sizes.iter().map(|&k| Vec::with_capacity(k)).collect();
    let mut total: Vec<HouseholdMonth> = Vec::with_capacity(total_sizes.iter().sum());
    // Each scope's room cut into its months, so that the months can be written side by
    // side (both cores, each fold freed as soon as its month is written).
    let mut district_rooms: Vec<Vec<Room>> = runs.iter().map(|_| Vec::new()).collect();
    let mut rest: Vec<Room> = by_scope
        .iter_mut()
        .map(|v| v.spare_capacity_mut())
        .collect();
    for (rooms, r) in district_rooms.iter_mut().zip(&runs) {
        for (di, range) in r {
            let (here, after) = std::mem::take(&mut rest[*di]).split_at_mut(range.len());
            rest[*di] = after;
            rooms.push(here);
        }
    }
    let mut total_rooms: Vec<Room> = Vec::with_capacity(total_sizes.len());
    let mut after: Room = total.spare_capacity_mut();
    for &k in &total_sizes {
        let (here, later) = std::mem::take(&mut after).split_at_mut(k);
        total_rooms.push(here);
        after = later;
    }
    // A month at a time on each core: its districts' runs, then its month of the total;
    // what each scope was paid that month on the way.
    let paid_by_month: Vec<MonthPaid> = payments
        .into_par_iter()
        .zip(runs)
        .zip(across)
        .zip(district_rooms)
        .zip(total_rooms)
        .map(|((((f, r), across), rooms), total_room)| {
            let mut paid = MonthPaid::default();
            for ((di, range), room) in r.iter().zip(rooms) {
                let src = &f.households[range.clone()];
                for (slot, hm) in room.iter_mut().zip(src) {
                    slot.write(renumbered(*di, hm));
                }
                paid.add(*di, src);
            }
            MONTH_BUFFER.with_borrow_mut(|month| {
                month.clear();
                for (di, range) in &r {
                    month.extend(
                        f.households[range.clone()]
                            .iter()
                            .filter(|hm| in_total(&across, hm))
                            .map(|hm| renumbered(*di, hm)),
                    );
                }
                if global {
                    month.extend_from_slice(&f.across);
                }
                paid.add(n, month);
                let top = month.iter().map(|hm| hm.household).max().unwrap_or(0);
                sort_by_household_into(month, top, total_room);
            });
            paid
        })
        .collect();
    rayon::broadcast(|_| {
        SORT_BUFFERS.take();
        MONTH_BUFFER.take();
    });
    SORT_BUFFERS.take();
    MONTH_BUFFER.take();
    // SAFETY: the rooms above cut each scope's first `sizes[di]` slots (the total's first
    // Σ `total_sizes`) into pieces of exactly the lengths of the runs (the months) written
    // into them, and the pass wrote every slot of every piece: `renumbered` once per
    // household-month of its run, `sort_by_household_into` once per household-month of the
    // month (it checks that the lengths agree).
    for (v, &k) in by_scope.iter_mut().zip(&sizes) {
        unsafe { v.set_len(k) };
    }
    let total_len = total_sizes.iter().sum();
    unsafe { total.set_len(total_len) };
    by_scope.push(total);
    let mut paid: Vec<BTreeMap<Month, Decimal>> = vec![BTreeMap::new(); n + 1];
    for month in paid_by_month {
        for (scope, m, sum) in month.sums {
            *paid[scope].entry(m).or_default() += sum;
        }
    }
    let scopes = by_scope
        .into_par_iter()
        .zip(paid)
        .map(|(mut months, paid)| {
            // Months come in order, and each month in household order (household numbers
            // follow the ids' order in every file); a fold read some other way (a table
            // folded here) may not be.
            // In parallel: the total's check alone is a pass over a hundred megabytes,
            // and it would otherwise end the stage on one core.
            let key = |hm: &HouseholdMonth| (hm.month, hm.household);
            if !months.par_windows(2).all(|w| key(&w[0]) <= key(&w[1])) {
                months.par_sort_unstable_by_key(key);
            }
            PaymentScope { months, paid }
        })
        .collect();
    (scopes, months_present)
}

/// A scope's slots for one month, written before the scope's length is set.
type Room<'a> = &'a mut [std::mem::MaybeUninit<HouseholdMonth>];

/// What each scope (the total is number `n`) was paid in one month's fold.
#[derive(Default)]
struct MonthPaid {
    /// (scope, month, Σ net): a fold is one month, but the sums follow each
    /// household-month's own month as the whole scope's did.
    sums: Vec<(usize, Month, Decimal)>,
}

impl MonthPaid {
    fn add(&mut self, scope: usize, months: &[HouseholdMonth]) {
        for m in months.chunk_by(|a, b| a.month == b.month) {
            self.sums
                .push((scope, m[0].month, sum_amounts(m.iter().map(|hm| hm.net))));
        }
    }
}

/// A set of household numbers (the few with rows in several districts in a month), asked
/// about millions of times: one bit per number up to the largest.
struct HouseholdSet {
    bits: Vec<u64>,
}

impl HouseholdSet {
    fn of(households: impl Iterator<Item = u32>) -> HouseholdSet {
        let mut bits = Vec::new();
        for h in households {
            let (word, bit) = (h as usize / 64, h % 64);
            if bits.len() <= word {
                bits.resize(word + 1, 0);
            }
            bits[word] |= 1u64 << bit;
        }
        HouseholdSet { bits }
    }

    fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    fn contains(&self, h: &u32) -> bool {
        self.bits
            .get(*h as usize / 64)
            .is_some_and(|w| w & (1u64 << (h % 64)) != 0)
    }
}

thread_local! {
    /// Per worker thread, for `sort_by_household_into`: where each number is, and a month
    /// with a household twice (reused: fresh megabytes per month would be fresh pages for
    /// the system to clear). Emptied when the scopes are built.
    static SORT_BUFFERS: std::cell::RefCell<(Vec<u32>, Vec<HouseholdMonth>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    /// Per worker thread: one month of the total before it is put in household order.
    static MONTH_BUFFER: std::cell::RefCell<Vec<HouseholdMonth>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes one month of a scope into `out` in household order (numbers at most `top`). A
/// household is in a month once, so a pass over the numbers puts them in order without
/// comparisons; when one is there twice, an ordinary sort does it.
///
/// Panics if `out` is not exactly as long as `month`: the caller sets the scope's length
/// on the promise that every slot was written.
fn sort_by_household_into(
    month: &[HouseholdMonth],
    top: u32,
    out: &mut [std::mem::MaybeUninit<HouseholdMonth>],
) {
    const NOWHERE: u32 = u32::MAX;
    assert_eq!(month.len(), out.len(), "a month's room fits the month");
    SORT_BUFFERS.with_borrow_mut(|(at, repeated)| {
        at.clear();
        at.resize(top as usize + 1, NOWHERE);
        let mut once = true;
        for (i, hm) in month.iter().enumerate() {
            let slot = &mut at[hm.household as usize];
            if *slot != NOWHERE {
                once = false;
                break;
            }
            *slot = i as u32;
        }
        if once {
            let in_order = at.iter().filter(|&&i| i != NOWHERE);
            for (slot, &i) in out.iter_mut().zip(in_order) {
                slot.write(month[i as usize]);
            }
        } else {
            repeated.clear();
            repeated.extend_from_slice(month);
            repeated.sort_unstable_by_key(|hm| hm.household);
            out.write_copy_of_slice(repeated);
        }
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `sort_by_household_into` into a fresh vector.
    fn sorted(month: &[HouseholdMonth], top: u32) -> Vec<HouseholdMonth> {
        let mut out = Vec::with_capacity(month.len());
        sort_by_household_into(month, top, &mut out.spare_capacity_mut()[..month.len()]);
        // SAFETY: sort_by_household_into wrote all `month.len()` slots (it checks the length).
        unsafe { out.set_len(month.len()) };
        out
    }

    #[test]
    fn months_sort_by_household_with_and_without_repeats() {
        let m = Month::new(2019, 1).unwrap();
        let hm = |household: u32, net: i64| {
            let mut h = HouseholdMonth::test(m);
            (h.household, h.net) = (household, Decimal::from(net));
            h
        };
        let once = sorted(&[hm(7, 1), hm(0, 2), hm(3, 3), hm(9, 4)], 9);
        let got: Vec<(u32, Decimal)> = once.iter().map(|h| (h.household, h.net)).collect();
        let want: Vec<(u32, Decimal)> = [(0, 2), (3, 3), (7, 1), (9, 4)]
            .iter()
            .map(|&(h, n)| (h, Decimal::from(n)))
            .collect();
        assert_eq!(got, want);
        let twice = sorted(&[hm(5, 1), hm(2, 2), hm(5, 3)], 5);
        assert!(twice.is_sorted_by_key(|h| h.household));
        let nets: Vec<i64> = twice.iter().map(|h| h.net.try_into().unwrap()).collect();
        assert_eq!(nets.len(), 3);
        assert!(nets.contains(&1) && nets.contains(&3));
        assert!(sorted(&[], 0).is_empty());
    }
}
