//! Ingest, payments folded as they are read: one file's `utbetalningar` rows →
//! household-months (SPEC §4 "Active": the net of a household's rows in a month and the
//! largest counts any of them gives). A national run reads 2.7 M payment rows; folded per
//! file while the files are read in parallel, they never sit in memory all at once.
//!
//! Re-exports replace whole months, so every row of a household-month comes from one file
//! and folding per file gives what folding the merged rows would.

use rust_decimal::Decimal;

use crate::model::{ColumnData, DatasetSpec, Month, Sym};

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
    /// `Arbetslöshet` when any row says so, else the first row's reason: a symbol's
    /// number or `NO_REASON` (an `Option<Sym>` would take 8 bytes of five million).
    reason: u32,
    pub unemployed: bool,
    pub jobbtorg: bool,
}

/// `HouseholdMonth::reason` when no row gave one.
const NO_REASON: u32 = u32::MAX;

impl HouseholdMonth {
    /// `Arbetslöshet` when any row says so, else the first row's reason.
    pub fn reason(&self) -> Option<Sym> {
        (self.reason != NO_REASON).then_some(Sym(self.reason))
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
    fn new(month: Month, rows: usize) -> MonthFold {
        MonthFold {
            month,
            rows,
            households: Vec::new(),
            districts: Vec::new(),
            across: Vec::new(),
            rows_by_district: Vec::new(),
        }
    }

    /// Replaces file-local symbols by the run's (`map[local] = global`).
    pub fn remap(&mut self, map: &[Sym]) {
        let sym = |s: Sym| map.get(s.0 as usize).copied().unwrap_or(s);
        for hm in self.households.iter_mut().chain(&mut self.across) {
            hm.household = sym(Sym(hm.household)).0;
            if let Some(r) = hm.reason() {
                hm.reason = sym(r).0;
            }
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

    fn finish(self, household: u32, month: Month) -> HouseholdMonth {
        HouseholdMonth {
            household,
            month,
            net: self.net,
            adults: self.adults,
            children: self.children,
            young: self.young,
            reason: self.reason.map_or(NO_REASON, |s| s.0),
            unemployed: self.unemployed,
            jobbtorg: self.jobbtorg,
        }
    }
}

/// One payment row, read from the columns.
struct PaymentRow {
    amount: Decimal,
    adults: u32,
    children: u32,
    young: u32,
    reason: Option<Sym>,
    unemployed: bool,
    jobbtorg: bool,
}

/// A valid row's place in the fold: sorted, equal (district, household, month) runs are
/// one household-month; `row` keeps the file's order within a run ("the first row's
/// reason").
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    month: i32,
    district: u32,
    household: u32,
    row: u32,
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

    fn row(&self, i: usize, unemployment: &dyn Fn(Sym) -> bool) -> PaymentRow {
        let count = |c: Option<&[Option<i64>]>| {
            c.and_then(|v| v.get(i).copied().flatten())
                .map_or(0, |x| u32::try_from(x).unwrap_or(0))
        };
        let reason = self.reason.and_then(|r| r.get(i).copied().flatten());
        PaymentRow {
            amount: self.amount.get(i).copied().flatten().unwrap_or_default(),
            adults: count(self.adults),
            children: count(self.children),
            young: count(self.young),
            reason,
            unemployed: reason.is_some_and(unemployment),
            jobbtorg: self
                .jobbtorg
                .and_then(|j| j.get(i).copied().flatten())
                .unwrap_or(false),
        }
    }
}

/// Folds the payment rows of one file (or of a merged table: then `months_rows` counts
/// the table's rows). `text` resolves the columns' symbols (to recognise unemployment).
/// Gives one `MonthFold` per month with rows, sorted by month.
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

    let mut out: Vec<MonthFold> = Vec::new();
    let mut keys = Vec::with_capacity(rows);
    // Every row with a month counts for its month; only complete rows are folded. A file
    // is mostly one month: counted in runs, one map update per run instead of per row.
    let mut row_counts: std::collections::BTreeMap<Month, usize> = Default::default();
    let mut run: Option<(Month, usize)> = None;
    for i in 0..rows.min(c.period.len()) {
        let Some(m) = c.period[i] else { continue };
        match &mut run {
            Some((month, n)) if *month == m => *n += 1,
            _ => {
                if let Some((month, n)) = run.replace((m, 1)) {
                    *row_counts.entry(month).or_default() += n;
                }
            }
        }
        let (Some(Some(d)), Some(Some(h)), Some(Some(_))) =
            (c.district.get(i), c.household.get(i), c.amount.get(i))
        else {
            continue;
        };
        keys.push(RowKey {
            month: m.ordinal(),
            district: d.0,
            household: h.0,
            row: i as u32,
        });
    }
    if let Some((month, n)) = run {
        *row_counts.entry(month).or_default() += n;
    }
    keys.sort_unstable();

    let mut start = 0;
    for (month, count) in row_counts {
        let mut fold = MonthFold::new(month, count);
        let end = start + keys[start..].partition_point(|k| k.month == month.ordinal());
        let month_keys = &mut keys[start..end];
        // Per district: runs of equal (district, household).
        let mut a = 0;
        while a < month_keys.len() {
            let k = month_keys[a];
            let mut b = a + 1;
            while b < month_keys.len()
                && month_keys[b].district == k.district
                && month_keys[b].household == k.household
            {
                b += 1;
            }
            let mut acc = Accumulator::default();
            for r in &month_keys[a..b] {
                acc.add(&c.row(r.row as usize, &unemployment));
            }
            fold.households.push(acc.finish(k.household, month));
            fold.districts.push(Sym(k.district));
            match fold.rows_by_district.last_mut() {
                Some((d, n)) if d.0 == k.district => *n += b - a,
                _ => fold.rows_by_district.push((Sym(k.district), b - a)),
            }
            a = b;
        }
        // The total: a household with rows in several districts is one household-month
        // over all its rows, in file order.
        month_keys.sort_unstable_by_key(|k| (k.household, k.row));
        let mut a = 0;
        while a < month_keys.len() {
            let k = month_keys[a];
            let mut b = a + 1;
            let mut several = false;
            while b < month_keys.len() && month_keys[b].household == k.household {
                several |= month_keys[b].district != k.district;
                b += 1;
            }
            if several {
                let mut acc = Accumulator::default();
                for r in &month_keys[a..b] {
                    acc.add(&c.row(r.row as usize, &unemployment));
                }
                fold.across.push(acc.finish(k.household, month));
            }
            a = b;
        }
        start = end;
        // Held until every file is read: no slack from growing.
        fold.households.shrink_to_fit();
        fold.districts.shrink_to_fit();
        out.push(fold);
    }
    out
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
        let columns = vec![
            ColumnData::Month(rows.iter().map(|r| Some(r.0)).collect()),
            ColumnData::Text(rows.iter().map(|r| Some(Sym(r.1))).collect()),
            ColumnData::Text(rows.iter().map(|r| Some(Sym(r.2))).collect()),
            ColumnData::Number(rows.iter().map(|r| Some(Decimal::from(r.3))).collect()),
            ColumnData::Integer(rows.iter().map(|r| Some(r.4)).collect()),
            ColumnData::Text(rows.iter().map(|r| Some(Sym(r.5))).collect()),
        ];
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
                reason: 2,
                unemployed: false,
                jobbtorg: false,
            }],
            districts: vec![Sym(0)],
            across: Vec::new(),
            rows_by_district: vec![(Sym(0), 1)],
        };
        f.remap(&[Sym(10), Sym(11), Sym(12)]);
        assert_eq!(f.households[0].household, 11);
        assert_eq!(f.households[0].reason(), Some(Sym(12)));
        assert_eq!(f.districts, vec![Sym(10)]);
        assert_eq!(f.rows_by_district, vec![(Sym(10), 1)]);
    }
}
