//! Ingest, payments folded as they are read: one file's `utbetalningar` rows →
//! household-months (SPEC §4 "Active": the net of a household's rows in a month and the
//! largest counts any of them gives). A national run reads 2.7 M payment rows; folded per
//! file while the files are read in parallel, they never sit in memory all at once.
//!
//! Re-exports replace whole months, so every row of a household-month comes from one file
//! and folding per file gives what folding the merged rows would.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::ids::{self, IdList};
use crate::model::{ColumnData, DatasetSpec, Interner, Month, Sym};

/// The dataset folded here.
pub const PAYMENTS: &str = "utbetalningar";

/// Canonical column names of `utbetalningar` (SPEC §2) that the fold reads.
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
}

/// The reason for support that makes a household count as unemployed.
const UNEMPLOYMENT: &str = "arbetslöshet";

/// Whether a Forsorjningshinder text is the unemployment reason (any case, trimmed).
pub fn is_unemployment(text: &str) -> bool {
    text.trim().to_lowercase() == UNEMPLOYMENT
}

/// One household in one month within one scope: the net of its rows and the largest
/// counts any of its rows gives (SPEC §4 "Active").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HouseholdMonth {
    /// Household key: the id's symbol, or when the pack says ids are per district a
    /// number per (district, id) in that order (see `prepare`). 32 bits: a national run
    /// holds five million of these.
    pub household: u32,
    pub month: Month,
    pub net: Decimal,
    pub adults: u32,
    pub children: u32,
    pub young: u32,
    /// `Arbetslöshet` when any row says so, else the first row's reason.
    reason: Reason,
    pub unemployed: bool,
    pub jobbtorg: bool,
}

/// A reason symbol or none, in 4 bytes (an `Option<Sym>` takes 8; a national run holds
/// five million household-months).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Reason(u32);

impl Reason {
    /// No row gave one.
    const NONE: Reason = Reason(u32::MAX);

    fn of(sym: Option<Sym>) -> Reason {
        sym.map_or(Reason::NONE, |s| Reason(s.0))
    }

    fn get(self) -> Option<Sym> {
        (self != Reason::NONE).then_some(Sym(self.0))
    }

    /// As the wire carries it: a symbol's number or `u32::MAX`.
    pub(super) fn code(self) -> u32 {
        self.0
    }

    pub(super) fn from_code(code: u32) -> Reason {
        Reason(code)
    }
}

impl Default for HouseholdMonth {
    /// Household 0 in month 0-01 with nothing paid (a placeholder to overwrite).
    fn default() -> HouseholdMonth {
        EMPTY
    }
}

impl HouseholdMonth {
    /// `Arbetslöshet` when any row says so, else the first row's reason.
    pub fn reason(&self) -> Option<Sym> {
        self.reason.get()
    }

    /// An empty household-month of household 0 (tests build others from it).
    #[cfg(test)]
    pub fn test(month: Month) -> HouseholdMonth {
        HouseholdMonth { month, ..EMPTY }
    }

    /// The reason as the wire carries it.
    pub(super) fn reason_code(&self) -> Reason {
        self.reason
    }

    pub(super) fn set_reason_code(&mut self, reason: Reason) {
        self.reason = reason;
    }

    pub fn is_active(&self) -> bool {
        self.net > Decimal::ZERO
    }
}

/// One month of one file's payments. Symbols are the file's own until `remap`.
#[derive(Clone, Debug, PartialEq)]
pub struct MonthFold {
    pub month: Month,
    /// Rows of the month, counted as re-export resolution drops them (whole months).
    pub rows: usize,
    /// Household-months per district, sorted by district and household; `household` is
    /// the id's symbol.
    pub households: Vec<HouseholdMonth>,
    /// Parallel to `households`: the district of each.
    pub districts: Vec<Sym>,
    /// Households with rows in more than one district this month, folded over all their
    /// rows in file order (what the total counts for them instead of the districts' own).
    pub across: Vec<HouseholdMonth>,
    /// Rows per district (for `utfall check`'s coverage), sorted by district.
    pub rows_by_district: Vec<(Sym, usize)>,
}

impl MonthFold {
    /// Puts the household-months in (district, household) order, and the across ones in
    /// household order.
    fn sort_by_district_and_household(&mut self) {
        let mut pairs: Vec<(Sym, HouseholdMonth)> = self
            .districts
            .iter()
            .copied()
            .zip(self.households.iter().copied())
            .collect();
        pairs.sort_by_key(|(d, hm)| (*d, hm.household));
        (self.districts, self.households) = pairs.into_iter().unzip();
        self.across.sort_by_key(|hm| hm.household);
    }

    /// An empty fold of `rows` rows in `month`.
    pub(super) fn new(month: Month, rows: usize) -> MonthFold {
        MonthFold {
            month,
            rows,
            households: Vec::new(),
            districts: Vec::new(),
            across: Vec::new(),
            rows_by_district: Vec::new(),
        }
    }

    /// Replaces file-local symbols by the run's (`map[local] = global`) and the file's
    /// household numbers by the run's (`households[file's] = run's`).
    pub fn remap(&mut self, map: &[Sym], households: &[u32]) {
        let sym = |s: Sym| map.get(s.0 as usize).copied().unwrap_or(s);
        for hm in self.households.iter_mut().chain(&mut self.across) {
            hm.household = households
                .get(hm.household as usize)
                .copied()
                .unwrap_or(hm.household);
            hm.reason = Reason::of(hm.reason().map(sym));
        }
        for d in &mut self.districts {
            *d = sym(*d);
        }
        for (d, _) in &mut self.rows_by_district {
            *d = sym(*d);
        }
    }
}

/// The running fold of one household-month's rows.
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
    fn add(&mut self, row: &Payment) {
        self.net += row.amount;
        self.adults = self.adults.max(row.adults);
        self.children = self.children.max(row.children);
        self.young = self.young.max(row.young);
        let reason = row.reason();
        if row.unemployed {
            if !self.unemployed {
                self.reason = reason;
            }
            self.unemployed = true;
        } else if self.reason.is_none() {
            self.reason = reason;
        }
        self.jobbtorg |= row.jobbtorg;
    }

    fn finish(self, household: u32, month: Month) -> HouseholdMonth {
        HouseholdMonth {
            household,
            month,
            net: self.net,
            adults: self.adults,
            children: self.children,
            young: self.young,
            reason: Reason::of(self.reason),
            unemployed: self.unemployed,
            jobbtorg: self.jobbtorg,
        }
    }
}

/// One payment row as the fold reads it (a missing count is 0, a missing Jobbtorg no).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Payment {
    pub amount: Decimal,
    pub adults: u32,
    pub children: u32,
    pub young: u32,
    reason: Reason,
    pub unemployed: bool,
    pub jobbtorg: bool,
}

impl Payment {
    pub fn new(amount: Decimal, counts: [u32; 3], reason: Option<Sym>) -> Payment {
        Payment {
            amount,
            adults: counts[0],
            children: counts[1],
            young: counts[2],
            reason: Reason::of(reason),
            unemployed: false,
            jobbtorg: false,
        }
    }

    pub fn reason(&self) -> Option<Sym> {
        self.reason.get()
    }
}

/// A count column's value as the fold counts it: missing or negative is 0.
pub fn count(v: Option<i64>) -> u32 {
    v.map_or(0, |x| u32::try_from(x).unwrap_or(0))
}

/// A valid row's place in the fold. Sorted, the rows of one household come together, in
/// month, then district, then file order ("the first row's reason"). The household is a
/// packed id (`ids::pack`), a long id's number with `LONG_ID` above it, or a symbol.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    id_high: u64,
    id_low: u64,
    month: i32,
    district: u32,
    row: u32,
}

/// `RowKey::id_high` of a long id: no packed id starts with eight 0xFF bytes (UTF-8 has
/// none).
const LONG_ID: u64 = u64::MAX;

impl RowKey {
    fn new(month: Month, district: Sym, id: u128, row: u32) -> RowKey {
        RowKey {
            id_high: (id >> 64) as u64,
            id_low: id as u64,
            month: month.ordinal(),
            district: district.0,
            row,
        }
    }

    fn id(&self) -> u128 {
        (u128::from(self.id_high) << 64) | u128::from(self.id_low)
    }

    fn same_household(&self, other: &RowKey) -> bool {
        self.id_high == other.id_high && self.id_low == other.id_low
    }
}

/// Rows per month, counted in runs (a file is mostly one month).
fn months_of(months: impl Iterator<Item = i32>) -> BTreeMap<Month, usize> {
    let mut counts: BTreeMap<Month, usize> = BTreeMap::new();
    let mut run: Option<(i32, usize)> = None;
    for m in months {
        match &mut run {
            Some((month, n)) if *month == m => *n += 1,
            _ => {
                if let Some((month, n)) = run.replace((m, 1)) {
                    *counts.entry(Month::from_ordinal(month)).or_default() += n;
                }
            }
        }
    }
    if let Some((month, n)) = run {
        *counts.entry(Month::from_ordinal(month)).or_default() += n;
    }
    counts
}

/// Folds sorted row keys into one `MonthFold` per month of `row_counts` (every key's
/// month must be one of them). `rows[k.row]` is a key's row; `number(key, k)` gives the
/// household number of a key whose id is the `k`th distinct one.
fn fold_sorted(
    keys: &[RowKey],
    rows: &[Payment],
    row_counts: BTreeMap<Month, usize>,
    number: &dyn Fn(&RowKey, u32) -> u32,
) -> Vec<MonthFold> {
    let months: Vec<i32> = row_counts.keys().map(|m| m.ordinal()).collect();
    let mut out: Vec<MonthFold> = row_counts
        .into_iter()
        .map(|(m, n)| MonthFold::new(m, n))
        .collect();
    // Each household's rows, per month, per district.
    let runs = || {
        keys.chunk_by(|a, b| a.same_household(b))
            .enumerate()
            .flat_map(|(k, h)| h.chunk_by(|a, b| a.month == b.month).map(move |m| (k, m)))
            .filter_map(|(k, in_month)| {
                let m = months.binary_search(&in_month[0].month).ok()?;
                Some((k, m, in_month))
            })
    };
    // First pass: household-months and rows per month and district, so that the second
    // places each household-month where it belongs (district order, and within a
    // district the keys' order) without sorting or staging.
    let mut households: Vec<Vec<usize>> = vec![Vec::new(); out.len()];
    let mut rows_by: Vec<Vec<usize>> = vec![Vec::new(); out.len()];
    for (_, m, in_month) in runs() {
        for run in in_month.chunk_by(|a, b| a.district == b.district) {
            let d = run[0].district as usize;
            if households[m].len() <= d {
                households[m].resize(d + 1, 0);
                rows_by[m].resize(d + 1, 0);
            }
            households[m][d] += 1;
            rows_by[m][d] += run.len();
        }
    }
    let mut next: Vec<Vec<usize>> = Vec::with_capacity(out.len());
    for (f, counts) in out.iter_mut().zip(&households) {
        let total: usize = counts.iter().sum();
        f.households = vec![EMPTY; total];
        f.districts = Vec::with_capacity(total);
        let mut starts = Vec::with_capacity(counts.len());
        for (d, &n) in counts.iter().enumerate() {
            starts.push(f.districts.len());
            f.districts.extend(std::iter::repeat_n(Sym(d as u32), n));
        }
        next.push(starts);
    }
    for (f, counts) in out.iter_mut().zip(rows_by) {
        f.rows_by_district = counts
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(d, n)| (Sym(d as u32), n))
            .collect();
    }
    let row = |k: &RowKey| rows.get(k.row as usize);
    let fold = |run: &[RowKey]| {
        let mut acc = Accumulator::default();
        for r in run.iter().filter_map(row) {
            acc.add(r);
        }
        acc
    };
    let mut in_file_order: Vec<RowKey> = Vec::new();
    for (k, m, in_month) in runs() {
        let n = number(&in_month[0], k as u32);
        let f = &mut out[m];
        let mut several = false;
        for run in in_month.chunk_by(|a, b| a.district == b.district) {
            several |= run[0].district != in_month[0].district;
            let at = &mut next[m][run[0].district as usize];
            if let Some(slot) = f.households.get_mut(*at) {
                *slot = fold(run).finish(n, f.month);
            }
            *at += 1;
        }
        // The total: a household with rows in several districts is one household-month
        // over all its rows, in file order.
        if several {
            in_file_order.clear();
            in_file_order.extend_from_slice(in_month);
            in_file_order.sort_unstable_by_key(|k| k.row);
            f.across.push(fold(&in_file_order).finish(n, f.month));
        }
    }
    out
}

/// A placeholder, overwritten before anyone reads it.
pub(super) const EMPTY: HouseholdMonth = HouseholdMonth {
    household: 0,
    month: Month { year: 0, month: 1 },
    net: Decimal::ZERO,
    adults: 0,
    children: 0,
    young: 0,
    reason: Reason::NONE,
    unemployed: false,
    jobbtorg: false,
};

thread_local! {
    /// The intake vectors of the reader thread's last file, for its next one.
    static SPARE: std::cell::Cell<(Vec<RowKey>, Vec<Payment>)> =
        const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}

/// The payment rows of one file as they are read, when they are folded and not kept
/// (`PaymentRows::Fold`): a sort key and the fold's fields per row, no table, and no
/// household id interned as text.
#[derive(Debug, Default)]
pub struct PaymentIntake {
    keys: Vec<RowKey>,
    rows: Vec<Payment>,
    /// Ids too long to pack, numbered in order of first sight.
    long_ids: Interner,
    /// Per reason symbol of the file: whether it is the unemployment reason.
    unemployment: Vec<Option<bool>>,
    expected: usize,
}

impl PaymentIntake {
    /// Whether the file's reason symbol `sym` (text `text`) is the unemployment reason;
    /// looked at once per symbol.
    pub fn is_unemployment(&mut self, sym: Sym, text: &str) -> bool {
        let i = sym.0 as usize;
        if self.unemployment.len() <= i {
            self.unemployment.resize(i + 1, None);
        }
        *self.unemployment[i].get_or_insert_with(|| is_unemployment(text))
    }

    /// Takes one valid row. `district` is a symbol of the file's interner.
    pub fn push(&mut self, month: Month, district: Sym, id: &str, payment: Payment) {
        let key = match ids::pack(id) {
            Some(k) => k,
            None => (u128::from(LONG_ID) << 64) | u128::from(self.long_ids.intern(id).0),
        };
        if self.rows.capacity() == 0 {
            // The vectors of the thread's previous file, if any (already written pages).
            (self.keys, self.rows) = SPARE.take();
            self.keys.reserve(self.expected);
            self.rows.reserve(self.expected);
        }
        let row = self.rows.len() as u32;
        self.keys.push(RowKey::new(month, district, key, row));
        self.rows.push(payment);
    }

    /// How many rows the file may hold: room for them is made with the first row (no
    /// copying as the vectors grow; pages never written cost nothing).
    pub fn expect_rows(&mut self, rows: usize) {
        self.expected = rows;
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The file's household-months (household = the id's number in the file's `IdList`),
    /// one `MonthFold` per month, and that list.
    pub fn fold(self) -> (Vec<MonthFold>, IdList) {
        let PaymentIntake {
            mut keys,
            mut rows,
            long_ids,
            ..
        } = self;
        let row_counts = months_of(keys.iter().map(|k| k.month));
        // Long ids in text order: a long id's key becomes its rank among them.
        let long: Vec<&str> = (0..long_ids.len() as u32)
            .map(|s| long_ids.resolve(Sym(s)))
            .collect();
        let mut by_text: Vec<u32> = (0..long.len() as u32).collect();
        by_text.sort_unstable_by_key(|&s| long[s as usize]);
        let mut rank = vec![0u64; long.len()];
        for (r, &s) in by_text.iter().enumerate() {
            rank[s as usize] = r as u64;
        }
        for k in keys.iter_mut().filter(|k| k.id_high == LONG_ID) {
            k.id_low = rank.get(k.id_low as usize).copied().unwrap_or(0);
        }
        keys.sort_unstable();
        let mut list = IdList {
            packed: Vec::new(),
            long: by_text
                .iter()
                .map(|&s| long[s as usize].to_string())
                .collect(),
        };
        list.packed = keys
            .chunk_by(|a, b| a.same_household(b))
            .map(|h| h[0])
            .filter(|k| k.id_high != LONG_ID)
            .map(|k| k.id())
            .collect();
        // Keys sorted by id: the kth distinct id is number k.
        let folds = fold_sorted(&keys, &rows, row_counts, &|_, k| k);
        keys.clear();
        rows.clear();
        SPARE.set((keys, rows));
        (folds, list)
    }
}

/// The typed columns of `utbetalningar` in a part or table laid out by `spec`.
struct Columns<'a> {
    period: &'a [Option<Month>],
    district: &'a [Option<Sym>],
    household: &'a [Option<Sym>],
    amount: &'a [Option<Decimal>],
    adults: Option<&'a [Option<i64>]>,
    children: Option<&'a [Option<i64>]>,
    young: Option<&'a [Option<i64>]>,
    reason: Option<&'a [Option<Sym>]>,
    jobbtorg: Option<&'a [Option<bool>]>,
}

impl<'a> Columns<'a> {
    fn of(spec: &DatasetSpec, columns: &'a [ColumnData]) -> Option<Columns<'a>> {
        let get = |name: &str| spec.column_index(name).and_then(|i| columns.get(i));
        let text = |name: &str| match get(name) {
            Some(ColumnData::Text(v)) => Some(v.as_slice()),
            _ => None,
        };
        let integer = |name: &str| match get(name) {
            Some(ColumnData::Integer(v)) => Some(v.as_slice()),
            _ => None,
        };
        let (Some(ColumnData::Month(period)), Some(ColumnData::Number(amount))) =
            (get(col::PERIOD), get(col::AMOUNT))
        else {
            return None;
        };
        Some(Columns {
            period,
            district: text(col::DISTRICT)?,
            household: text(col::HOUSEHOLD)?,
            amount,
            adults: integer(col::ADULTS),
            children: integer(col::CHILDREN),
            young: integer(col::YOUNG),
            reason: text(col::REASON),
            jobbtorg: match get(col::JOBBTORG) {
                Some(ColumnData::Bool(v)) => Some(v),
                _ => None,
            },
        })
    }

    fn row(&self, i: usize, unemployment: &dyn Fn(Sym) -> bool) -> Payment {
        let counted =
            |c: Option<&[Option<i64>]>| count(c.and_then(|v| v.get(i).copied().flatten()));
        let reason = self.reason.and_then(|r| r.get(i).copied().flatten());
        let mut p = Payment::new(
            self.amount.get(i).copied().flatten().unwrap_or_default(),
            [
                counted(self.adults),
                counted(self.children),
                counted(self.young),
            ],
            reason,
        );
        p.unemployed = reason.is_some_and(unemployment);
        p.jobbtorg = self
            .jobbtorg
            .and_then(|j| j.get(i).copied().flatten())
            .unwrap_or(false);
        p
    }
}

/// Folds the payment rows of one file (or of a merged table: then `months_rows` counts
/// the table's rows). `text` resolves the columns' symbols (to recognise unemployment).
/// Gives one `MonthFold` per month with rows, sorted by month; `household` is the id's
/// symbol.
pub fn fold_payments(
    spec: &DatasetSpec,
    columns: &[ColumnData],
    rows: usize,
    text: &dyn Fn(Sym) -> String,
) -> Vec<MonthFold> {
    let Some(c) = Columns::of(spec, columns) else {
        return Vec::new();
    };
    // The unemployment reason is recognised once per distinct symbol, not per row.
    let mut unemployment_of: Vec<Option<bool>> = Vec::new();
    if let Some(reasons) = c.reason {
        for s in reasons.iter().flatten() {
            let i = s.0 as usize;
            if unemployment_of.len() <= i {
                unemployment_of.resize(i + 1, None);
            }
            if unemployment_of[i].is_none() {
                unemployment_of[i] = Some(is_unemployment(&text(*s)));
            }
        }
    }
    let unemployment =
        |s: Sym| -> bool { unemployment_of.get(s.0 as usize).copied().flatten() == Some(true) };

    let n = rows.min(c.period.len());
    // Every row with a month counts for its month; only complete rows are folded.
    let row_counts = months_of(c.period[..n].iter().flatten().map(|m| m.ordinal()));
    let mut keys = Vec::with_capacity(n);
    let mut payments = Vec::with_capacity(n);
    for i in 0..n {
        let (Some(m), Some(Some(d)), Some(Some(h)), Some(Some(_))) = (
            c.period[i],
            c.district.get(i),
            c.household.get(i),
            c.amount.get(i),
        ) else {
            continue;
        };
        keys.push(RowKey::new(m, *d, u128::from(h.0), payments.len() as u32));
        payments.push(c.row(i, &unemployment));
    }
    keys.sort_unstable();
    fold_sorted(&keys, &payments, row_counts, &|k, _| k.id_low as u32)
}

/// Renumbers the households of folds whose `household` is a symbol of `text` (what
/// `fold_payments` gives) by their ids' order, as `PaymentIntake::fold` numbers them,
/// and gives the file's id list.
pub fn number_by_id(folds: &mut [MonthFold], text: &dyn Fn(Sym) -> String) -> IdList {
    let mut syms: Vec<u32> = folds
        .iter()
        .flat_map(|f| f.households.iter().chain(&f.across))
        .map(|hm| hm.household)
        .collect();
    syms.sort_unstable();
    syms.dedup();
    let mut list = IdList::default();
    let texts: Vec<String> = syms.iter().map(|&s| text(Sym(s))).collect();
    for t in &texts {
        match ids::pack(t) {
            Some(k) => list.packed.push(k),
            None => list.long.push(t.clone()),
        }
    }
    list.packed.sort_unstable();
    list.long.sort_unstable();
    let number = |i: usize| -> u32 {
        let t = &texts[i];
        match ids::pack(t) {
            Some(k) => list.number_of_packed(k),
            None => list.number_of_long(t),
        }
        .unwrap_or(0)
    };
    let numbers: Vec<u32> = (0..syms.len()).map(number).collect();
    for f in folds.iter_mut() {
        for hm in f.households.iter_mut().chain(&mut f.across) {
            if let Ok(i) = syms.binary_search(&hm.household) {
                hm.household = numbers[i];
            }
        }
        f.sort_by_district_and_household();
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ColumnKind, DatasetSpec};

    fn spec() -> DatasetSpec {
        DatasetSpec {
            replace_by: Some(col::PERIOD.into()),
            ..DatasetSpec::of(
                PAYMENTS,
                &[
                    (col::PERIOD, ColumnKind::Month),
                    (col::DISTRICT, ColumnKind::Text),
                    (col::HOUSEHOLD, ColumnKind::Text),
                    (col::AMOUNT, ColumnKind::Number),
                    (col::ADULTS, ColumnKind::Integer),
                    (col::REASON, ColumnKind::Text),
                ],
            )
        }
    }

    /// (month, district, household, amount, adults, reason) rows as `spec()`'s columns.
    fn columns_of(rows: &[(Month, u32, u32, i64, i64, u32)]) -> Vec<ColumnData> {
        vec![
            ColumnData::Month(rows.iter().map(|r| Some(r.0)).collect()),
            ColumnData::Text(rows.iter().map(|r| Some(Sym(r.1))).collect()),
            ColumnData::Text(rows.iter().map(|r| Some(Sym(r.2))).collect()),
            ColumnData::Number(rows.iter().map(|r| Some(Decimal::from(r.3))).collect()),
            ColumnData::Integer(rows.iter().map(|r| Some(r.4)).collect()),
            ColumnData::Text(rows.iter().map(|r| Some(Sym(r.5))).collect()),
        ]
    }

    #[test]
    fn folds_per_district_and_across_districts() {
        let m = Month::new(2019, 5).unwrap();
        let n = Month::new(2019, 6).unwrap();
        // symbols: 0 = district A, 1 = district B, 2 = household x, 3 = y,
        // 4 = "Arbetslöshet", 5 = "Sjukdom"
        let rows: [(Month, u32, u32, i64, i64, u32); 5] = [
            (m, 0, 2, 100, 1, 5),
            (m, 1, 2, -30, 2, 4),
            (m, 0, 3, 50, 1, 5),
            (n, 0, 2, 10, 1, 5),
            (m, 0, 2, 5, 3, 5),
        ];
        let columns = columns_of(&rows);
        let names = ["A", "B", "x", "y", "Arbetslöshet", "Sjukdom"];
        let text = |s: Sym| names[s.0 as usize].to_string();
        let folds = fold_payments(&spec(), &columns, rows.len(), &text);
        assert_eq!(folds.len(), 2);
        let may = &folds[0];
        assert_eq!((may.month, may.rows), (m, 4));
        // A/x (rows 0 and 4), A/y, B/x
        let got: Vec<(u32, u32, i64, u32)> = may
            .households
            .iter()
            .zip(&may.districts)
            .map(|(h, d)| (d.0, h.household, h.net.try_into().unwrap(), h.adults))
            .collect();
        assert_eq!(got, vec![(0, 2, 105, 3), (0, 3, 50, 1), (1, 2, -30, 2)]);
        assert_eq!(may.rows_by_district, vec![(Sym(0), 3), (Sym(1), 1)]);
        // x is in both districts: one household-month over its three rows; unemployed
        // because one row says so, and the reason is that row's.
        assert_eq!(may.across.len(), 1);
        let x = may.across[0];
        assert_eq!((x.household, x.net, x.adults), (2, Decimal::from(75), 3));
        assert!(x.unemployed);
        assert_eq!(x.reason(), Some(Sym(4)));
        assert_eq!(folds[1].households.len(), 1);
        assert!(folds[1].across.is_empty());
    }

    /// The intake (rows taken as read, ids as keys) folds as `fold_payments` over the same
    /// rows as columns does, once that fold's symbols are numbered by id.
    #[test]
    fn intake_folds_as_the_columns_do() {
        let m = Month::new(2019, 5).unwrap();
        let n = Month::new(2019, 6).unwrap();
        let long = "a-household-id-longer-than-fifteen-bytes";
        let names = ["A", "B", "x", "y", "Arbetslöshet", "Sjukdom", long, "w"];
        // (month, district, household, amount, adults, reason) as symbols of `names`
        let rows: [(Month, u32, u32, i64, i64, u32); 9] = [
            (m, 0, 2, 100, 1, 5),
            (m, 1, 2, -30, 2, 4),
            (m, 0, 3, 50, 1, 5),
            (n, 0, 2, 10, 1, 5),
            (m, 0, 2, 5, 3, 5),
            (m, 1, 6, 7, 1, 5),
            (m, 0, 6, 8, 2, 4),
            (n, 1, 7, 9, 1, 5),
            (m, 1, 3, 1, 4, 5),
        ];
        let columns = columns_of(&rows);
        let text = |s: Sym| names[s.0 as usize].to_string();
        let mut expected = fold_payments(&spec(), &columns, rows.len(), &text);
        let expected_ids = number_by_id(&mut expected, &text);

        let mut intake = PaymentIntake::default();
        for r in &rows {
            let reason = Sym(r.5);
            let mut p = Payment::new(Decimal::from(r.3), [count(Some(r.4)), 0, 0], Some(reason));
            p.unemployed = intake.is_unemployment(reason, names[r.5 as usize]);
            intake.push(r.0, Sym(r.1), names[r.2 as usize], p);
        }
        assert_eq!(intake.len(), rows.len());
        let (got, ids) = intake.fold();
        assert_eq!(got, expected);
        assert_eq!(ids, expected_ids);
        assert_eq!(ids.long, vec![long.to_string()]);
        // x, y and the long id are in both districts in May.
        assert_eq!(got[0].across.len(), 3);
        assert_eq!(got[0].rows_by_district, vec![(Sym(0), 4), (Sym(1), 3)]);
    }

    #[test]
    fn remap_replaces_every_symbol() {
        let m = Month::new(2019, 1).unwrap();
        let mut f = MonthFold {
            month: m,
            rows: 1,
            households: vec![HouseholdMonth {
                household: 1,
                month: m,
                net: Decimal::ONE,
                adults: 1,
                children: 0,
                young: 0,
                reason: Reason(2),
                unemployed: false,
                jobbtorg: false,
            }],
            districts: vec![Sym(0)],
            across: Vec::new(),
            rows_by_district: vec![(Sym(0), 1)],
        };
        f.remap(&[Sym(10), Sym(11), Sym(12)], &[20, 21]);
        assert_eq!(f.households[0].household, 21);
        assert_eq!(f.households[0].reason(), Some(Sym(12)));
        assert_eq!(f.districts, vec![Sym(10)]);
        assert_eq!(f.rows_by_district, vec![(Sym(10), 1)]);
    }
}
