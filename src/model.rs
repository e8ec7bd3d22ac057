//! Typed values shared by every pipeline stage: months, dates, report periods, interned
//! text, columnar dataset tables and the rounding rule. Stages pass these between them;
//! nothing downstream of `ingest` sees a raw cell or a header string.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rust_decimal::{Decimal, RoundingStrategy};

// ------------------------------------------------------------------------------------------
// Calendar

/// A calendar month, ordered chronologically.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Month {
    pub year: i32,
    pub month: u8,
}

pub const MONTH_NAMES_SV: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];

impl Month {
    /// `None` unless `month` is 1..=12 and the year is plausible for an export (1900..=2999).
    pub fn new(year: i32, month: u32) -> Option<Month> {
        if (1..=12).contains(&month) && (1900..=2999).contains(&year) {
            Some(Month {
                year,
                month: month as u8,
            })
        } else {
            None
        }
    }

    /// Months since year 0, so that month arithmetic is plain integer arithmetic.
    pub fn ordinal(self) -> i32 {
        self.year * 12 + i32::from(self.month) - 1
    }

    pub fn from_ordinal(n: i32) -> Month {
        Month {
            year: n.div_euclid(12),
            month: (n.rem_euclid(12) + 1) as u8,
        }
    }

    pub fn plus(self, months: i32) -> Month {
        Month::from_ordinal(self.ordinal() + months)
    }

    /// The Swedish month name in lower case ("maj").
    pub fn name_sv(self) -> &'static str {
        MONTH_NAMES_SV[usize::from(self.month - 1)]
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.year, self.month)
    }
}

/// A calendar date (no time zone; exports carry none).
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// `None` for an impossible date (2019-02-30).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let m = Month::new(year, month)?;
        if day == 0 || day > days_in_month(m) {
            return None;
        }
        Some(Date {
            year,
            month: m.month,
            day: day as u8,
        })
    }

    pub fn month(self) -> Month {
        Month {
            year: self.year,
            month: self.month,
        }
    }

    /// Converts an Excel serial day number (1900 date system, the Lotus leap-year bug
    /// included) to a date; the fractional part (time of day) is ignored.
    pub fn from_excel_serial(serial: f64) -> Option<Date> {
        if !serial.is_finite() || !(1.0..2_958_466.0).contains(&serial) {
            return None;
        }
        // Serial 60 is the non-existent 1900-02-29; from 61 on, day 0 is 1899-12-30.
        let days = serial.floor() as i64;
        let days = if days < 60 { days + 1 } else { days };
        Some(civil_from_days(days - 25_569))
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        days_from_civil(self.year, u32::from(self.month), u32::from(self.day))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

pub fn days_in_month(m: Month) -> u32 {
    match m.month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(m.year) => 29,
        _ => 28,
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

// Howard Hinnant's civil calendar algorithms.
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    Date {
        year: y as i32,
        month: m,
        day: d,
    }
}

// ------------------------------------------------------------------------------------------
// Report period

/// What kind of report a period is: a month report, a tertial report or the full year.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub enum PeriodKind {
    Month,
    /// T1 = Jan–Apr, T2 = Jan–Aug.
    Tertial(u8),
    Year,
}

/// A report period: year to date, January up to and including `end`.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash)]
pub struct Period {
    pub kind: PeriodKind,
    pub end: Month,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("period {text:?} is not one of 2013, 2013-T1, 2013-T2, 2013-05")]
pub struct PeriodParseError {
    pub text: String,
}

impl Period {
    pub fn year(year: i32) -> Period {
        Period {
            kind: PeriodKind::Year,
            end: Month { year, month: 12 },
        }
    }

    pub fn month(m: Month) -> Period {
        Period {
            kind: PeriodKind::Month,
            end: m,
        }
    }

    /// Parses `2013`, `2013-T1`, `2013-T2` (T3 is the full year) or `2013-05`.
    pub fn parse(text: &str) -> Result<Period, PeriodParseError> {
        let err = || PeriodParseError {
            text: text.to_string(),
        };
        let t = text.trim();
        let (y, rest) = match t.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (t, None),
        };
        if y.len() != 4 {
            return Err(err());
        }
        let year: i32 = y.parse().map_err(|_| err())?;
        Month::new(year, 1).ok_or_else(err)?;
        match rest {
            None => Ok(Period::year(year)),
            Some(r) if r.eq_ignore_ascii_case("t1") => Ok(Period {
                kind: PeriodKind::Tertial(1),
                end: Month { year, month: 4 },
            }),
            Some(r) if r.eq_ignore_ascii_case("t2") => Ok(Period {
                kind: PeriodKind::Tertial(2),
                end: Month { year, month: 8 },
            }),
            Some(r) if r.eq_ignore_ascii_case("t3") => Ok(Period::year(year)),
            Some(r) if r.len() == 2 => {
                let m: u32 = r.parse().map_err(|_| err())?;
                Month::new(year, m).map(Period::month).ok_or_else(err)
            }
            Some(_) => Err(err()),
        }
    }

    pub fn calendar_year(self) -> i32 {
        self.end.year
    }

    /// The months January..end of the period's year.
    pub fn months(self) -> Vec<Month> {
        (1..=self.end.month)
            .map(|m| Month {
                year: self.end.year,
                month: m,
            })
            .collect()
    }

    pub fn month_count(self) -> u32 {
        u32::from(self.end.month)
    }

    pub fn contains(self, m: Month) -> bool {
        m.year == self.end.year && m.month <= self.end.month
    }

    /// The same period one year earlier.
    pub fn previous_year(self) -> Period {
        Period {
            kind: self.kind,
            end: self.end.plus(-12),
        }
    }

    /// The label used in file names and JSON: `2013`, `2013-T2`, `2013-05`.
    pub fn label(self) -> String {
        match self.kind {
            PeriodKind::Year => format!("{}", self.end.year),
            PeriodKind::Tertial(t) => format!("{}-T{}", self.end.year, t),
            PeriodKind::Month => self.end.to_string(),
        }
    }

    /// The period line of the workbook: "januari–maj 2013", "helår 2013".
    pub fn label_sv(self) -> String {
        match self.kind {
            PeriodKind::Year => format!("januari–december {}", self.end.year),
            _ if self.end.month == 1 => format!("januari {}", self.end.year),
            _ => format!("januari–{} {}", self.end.name_sv(), self.end.year),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

// ------------------------------------------------------------------------------------------
// Numbers

/// Rounds half away from zero (31,25 → 31,3), the rule for display and for comparing an
/// outcome with its target. `round_dp` alone would be banker's rounding.
pub fn round_half_away(value: Decimal, decimals: u32) -> Decimal {
    value.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero)
}

/// A number read from an export stays below 10^15 (a million billion) in magnitude
/// (`ingest` rejects the row). No export of a social-assistance unit comes near it, and
/// below it no sum of a national run's millions of rows can overflow a `Decimal`, whose
/// arithmetic would panic: five million rows of 10^15 make 5·10^21. (The parts of 10^15;
/// a test holds them to it.)
pub const NUMBER_LIMIT: Decimal = Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0);

/// A number a rule hands back stays below 10^24 in magnitude (`rules::api::number` makes it
/// a rule error): far above any sum of exported numbers (above), and far enough below a
/// `Decimal`'s 7.9·10^28 that the budget's native sums and differences of a few dozen such
/// numbers cannot overflow. (The parts of 10^24; a test holds them to it.)
pub const RULE_NUMBER_LIMIT: Decimal =
    Decimal::from_parts(0xA100_0000, 0x1BCE_CCED, 0xD3C2, false, 0);

/// Whether `n`, read from an export, is below `NUMBER_LIMIT` in magnitude.
pub fn within_number_limit(n: Decimal) -> bool {
    n.abs() < NUMBER_LIMIT
}

/// Whether `n`, handed back by a rule, is below `RULE_NUMBER_LIMIT` in magnitude.
pub fn within_rule_number_limit(n: Decimal) -> bool {
    n.abs() < RULE_NUMBER_LIMIT
}

/// Σ of amounts, the same `Decimal` as adding them one by one (`Iterator::sum`), scale and
/// all, at a fraction of the cost: a national run sums five million nets. The mantissas
/// are added as integers at the larger of the two scales, as `Decimal` addition does (an
/// xlsx export's amounts come in scales 0, 1 and 2: 7739, 6859.5, 5604.12), and like it a
/// zero amount leaves the sum as it is and a zero sum becomes the next amount. A sum of
/// zero, whose scale and sign follow `Decimal`'s own paths, and a partial sum or rescaled
/// amount beyond a `Decimal`'s 96 bits, where its addition would round, are left to
/// `Decimal` addition.
pub fn sum_amounts<I>(amounts: I) -> Decimal
where
    I: Iterator<Item = Decimal> + Clone,
{
    const MANTISSA_LIMIT: i128 = 1 << 96;
    let fits = |m: i128| m.checked_abs().is_some_and(|a| a < MANTISSA_LIMIT);
    let exact = || -> Option<Decimal> {
        let mut scale = 0;
        let mut total: i128 = 0;
        for a in amounts.clone() {
            let mut m = a.mantissa();
            if m == 0 {
                continue;
            }
            if total == 0 {
                (total, scale) = (m, a.scale());
                continue;
            }
            if a.scale() > scale {
                total = total.checked_mul(10i128.checked_pow(a.scale() - scale)?)?;
                scale = a.scale();
            } else if a.scale() < scale {
                m = m.checked_mul(10i128.checked_pow(scale - a.scale())?)?;
            }
            if !(fits(m) && fits(total)) {
                return None;
            }
            total += m;
            if !fits(total) {
                return None;
            }
        }
        if total == 0 {
            return None;
        }
        Decimal::try_from_i128_with_scale(total, scale).ok()
    };
    exact().unwrap_or_else(|| amounts.sum())
}

// ------------------------------------------------------------------------------------------
// Interned text

/// An interned string: district names, household ids, categories. Cheap to copy and compare.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Sym(pub u32);

/// Owns the text behind every `Sym` of one run (or of one file while it is read).
/// Every string sits in one buffer (no allocation per string, nothing to free one by one) and
/// a small open-addressing table finds a string's symbol. A national file interns a district,
/// a household id and a reason for every row, so this is on the hottest path of ingest.
#[derive(Default, Debug, Clone)]
pub struct Interner {
    text: String,
    /// End offset in `text` of each symbol's string, in `Sym` order.
    ends: Vec<usize>,
    /// Linear probing over a power-of-two table kept at most half full.
    slots: Vec<Slot>,
}

/// A table slot: `sym` is the symbol + 1 (0 = free); `tag` is the high half of its hash
/// (which also places it, so growing never rehashes text). A text of up to 15 bytes (an id,
/// a district) is held in the slot too: finding it costs one memory access, not three.
#[derive(Copy, Clone, Default, Debug)]
struct Slot {
    sym: u32,
    tag: u32,
    /// The text's length when it is held in `short`, else `u8::MAX`.
    len: u8,
    short: [u8; SHORT],
}

const SHORT: usize = 15;

impl Slot {
    fn new(sym: Sym, tag: u32, s: &str) -> Slot {
        let mut slot = Slot {
            sym: sym.0 + 1,
            tag,
            len: u8::MAX,
            short: [0; SHORT],
        };
        if s.len() <= SHORT {
            slot.len = s.len() as u8;
            slot.short[..s.len()].copy_from_slice(s.as_bytes());
        }
        slot
    }

    /// `Some(equal)` when the slot holds its text, `None` when the buffer must be asked.
    fn holds(&self, s: &str) -> Option<bool> {
        let len = usize::from(self.len);
        (len <= SHORT).then(|| self.short.get(..len) == Some(s.as_bytes()))
    }
}

/// A per-process seed: the table's layout cannot be predicted from outside, so a crafted
/// file cannot make every id collide. Symbols are numbered in order of first sight, so the
/// seed never shows in any result.
fn hash_seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
    })
}

/// FxHash-style: eight bytes per multiply, far cheaper than SipHash for short ids.
fn hash_text(s: &str, seed: u64) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mix = |h: u64, w: u64| (h.rotate_left(26) ^ w).wrapping_mul(K);
    let bytes = s.as_bytes();
    let mut h = seed;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(w));
    }
    h = mix(h, bytes.len() as u64);
    h
}

/// The slot index of a tag in a table of `len` (a power of two) slots: its high bits, which
/// the multiplies mix best.
fn home(tag: u32, len: usize) -> usize {
    let bits = len.trailing_zeros();
    if bits == 0 {
        0
    } else {
        (tag >> (32 - bits.min(32))) as usize & (len - 1)
    }
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Sym {
        if self.slots.len() < 2 * (self.ends.len() + 1) {
            self.grow();
        }
        let tag = (hash_text(s, hash_seed()) >> 32) as u32;
        match self.probe(s, tag) {
            Ok(sym) => sym,
            Err(free) => {
                let sym = Sym(self.ends.len() as u32);
                self.text.push_str(s);
                self.ends.push(self.text.len());
                self.slots[free] = Slot::new(sym, tag, s);
                sym
            }
        }
    }

    pub fn get(&self, s: &str) -> Option<Sym> {
        if self.slots.is_empty() {
            return None;
        }
        self.probe(s, (hash_text(s, hash_seed()) >> 32) as u32).ok()
    }

    /// The symbol of `s`, or the free slot where it would go. The table must not be empty.
    fn probe(&self, s: &str, tag: u32) -> Result<Sym, usize> {
        let mask = self.slots.len() - 1;
        let mut i = home(tag, self.slots.len());
        loop {
            let slot = &self.slots[i];
            if slot.sym == 0 {
                return Err(i);
            }
            let sym = Sym(slot.sym - 1);
            if slot.tag == tag && slot.holds(s).unwrap_or_else(|| self.resolve(sym) == s) {
                return Ok(sym);
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the table (at least 16 slots) and puts every symbol back where its tag says.
    fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); len]);
        for slot in old.into_iter().filter(|s| s.sym != 0) {
            let mut at = home(slot.tag, len);
            while self.slots[at].sym != 0 {
                at = (at + 1) & (len - 1);
            }
            self.slots[at] = slot;
        }
    }

    /// The text of a symbol made by this interner ("" for any other).
    pub fn resolve(&self, sym: Sym) -> &str {
        let i = sym.0 as usize;
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

// ------------------------------------------------------------------------------------------
// Dataset schemas and tables

/// How a column's cells are read.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum ColumnKind {
    /// Free text, trimmed, interned (district, category).
    Text,
    /// An identifier of a person or household: interned; personnummer-like values are
    /// replaced by a keyed hash on reading. Never written to any output.
    Id,
    /// An exact decimal number (money, population, outcomes): `1 234,50`, `1234.5`.
    Number,
    /// A whole number (counts, years, account numbers).
    Integer,
    /// A month: Excel date, date serial, `2013-05`, `2013-05-31`, `maj 2013`, `201305`.
    Month,
    /// A day: Excel date, date serial, `2013-05-31`.
    Date,
    /// Ja/Nej, J/N, 1/0, X/empty, true/false, any case. Empty reads as "no".
    YesNo,
    /// A Swedish month name (`Januari`, `maj`, `sept.`) or number 1..12, read together with
    /// the year in column `year` (an index into the dataset's columns) and stored as that
    /// month, so that the pair is the row's month.
    MonthName { year: usize },
}

/// One column a dataset may have.
#[derive(Clone, Debug)]
pub struct ColumnSpec {
    /// The canonical name, as the SPEC and the rule pack write it (`HushallsID`).
    pub name: String,
    /// Other header texts accepted for it (`Hushåll`, `Ärende`).
    pub aliases: Vec<String>,
    pub kind: ColumnKind,
    /// A header row must have every required column to be classified as this dataset,
    /// and a row missing a value in one is rejected.
    pub required: bool,
}

/// A dataset: the columns that identify it and how re-exports replace each other.
#[derive(Clone, Debug)]
pub struct DatasetSpec {
    pub name: String,
    pub columns: Vec<ColumnSpec>,
    /// The column whose month decides re-export replacement (newer file wins per month);
    /// for an `Integer` year column, per year. `None`: rows of all files are kept.
    pub replace_by: Option<String>,
}

impl DatasetSpec {
    /// A spec of optional columns, no aliases, no re-export column (tests build tables).
    #[cfg(test)]
    pub fn of(name: &str, columns: &[(&str, ColumnKind)]) -> DatasetSpec {
        DatasetSpec {
            name: name.into(),
            columns: columns
                .iter()
                .map(|(n, k)| ColumnSpec {
                    name: n.to_string(),
                    aliases: vec![],
                    kind: *k,
                    required: false,
                })
                .collect(),
            replace_by: None,
        }
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// The column values of a table, one vector per column, `None` for an empty or missing cell.
#[derive(Clone, Debug)]
pub enum ColumnData {
    Text(Vec<Option<Sym>>),
    Number(Vec<Option<Decimal>>),
    Integer(Vec<Option<i64>>),
    Month(Vec<Option<Month>>),
    Date(Vec<Option<Date>>),
    Bool(Vec<Option<bool>>),
}

impl ColumnData {
    /// An empty column of the storage type for `kind`.
    pub fn for_kind(kind: ColumnKind) -> ColumnData {
        match kind {
            ColumnKind::Text | ColumnKind::Id => ColumnData::Text(Vec::new()),
            ColumnKind::Number => ColumnData::Number(Vec::new()),
            ColumnKind::Integer => ColumnData::Integer(Vec::new()),
            ColumnKind::Month | ColumnKind::MonthName { .. } => ColumnData::Month(Vec::new()),
            ColumnKind::Date => ColumnData::Date(Vec::new()),
            ColumnKind::YesNo => ColumnData::Bool(Vec::new()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ColumnData::Text(v) => v.len(),
            ColumnData::Number(v) => v.len(),
            ColumnData::Integer(v) => v.len(),
            ColumnData::Month(v) => v.len(),
            ColumnData::Date(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Identifies an input file within one run (index into `Inputs::files`).
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct FileId(pub u32);

/// Where a table row came from, so that any figure can be traced to files and rows
/// without naming the household.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct RowOrigin {
    pub file: FileId,
    /// The row number as Excel shows it (1-based), or the CSV line's record number + 1.
    pub row: u32,
}

/// A dataset's rows after ingest and re-export resolution, stored by column.
#[derive(Clone, Debug)]
pub struct Table {
    pub spec: Arc<DatasetSpec>,
    /// Parallel to `spec.columns`; a column absent from every file holds only `None`.
    pub columns: Vec<ColumnData>,
    pub origin: Vec<RowOrigin>,
}

impl Table {
    pub fn new(spec: Arc<DatasetSpec>) -> Table {
        let columns = spec
            .columns
            .iter()
            .map(|c| ColumnData::for_kind(c.kind))
            .collect();
        Table {
            spec,
            columns,
            origin: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.origin.len()
    }

    pub fn is_empty(&self) -> bool {
        self.origin.is_empty()
    }

    pub fn column(&self, name: &str) -> Option<&ColumnData> {
        self.spec
            .column_index(name)
            .and_then(|i| self.columns.get(i))
    }

    pub fn text(&self, name: &str) -> Option<&[Option<Sym>]> {
        match self.column(name)? {
            ColumnData::Text(v) => Some(v),
            _ => None,
        }
    }

    pub fn number(&self, name: &str) -> Option<&[Option<Decimal>]> {
        match self.column(name)? {
            ColumnData::Number(v) => Some(v),
            _ => None,
        }
    }

    pub fn integer(&self, name: &str) -> Option<&[Option<i64>]> {
        match self.column(name)? {
            ColumnData::Integer(v) => Some(v),
            _ => None,
        }
    }

    pub fn month(&self, name: &str) -> Option<&[Option<Month>]> {
        match self.column(name)? {
            ColumnData::Month(v) => Some(v),
            _ => None,
        }
    }

    pub fn date(&self, name: &str) -> Option<&[Option<Date>]> {
        match self.column(name)? {
            ColumnData::Date(v) => Some(v),
            _ => None,
        }
    }

    pub fn boolean(&self, name: &str) -> Option<&[Option<bool>]> {
        match self.column(name)? {
            ColumnData::Bool(v) => Some(v),
            _ => None,
        }
    }
}

/// A path as shown to the user: relative to the input folder's parent when possible.
pub type DisplayPath = PathBuf;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_limits_are_10_to_the_15_and_24() {
        assert_eq!(NUMBER_LIMIT, Decimal::from(10i64.pow(15)));
        assert!(within_number_limit(Decimal::from(-999_999_999_999_999i64)));
        assert!(!within_number_limit(-NUMBER_LIMIT));
        assert_eq!(RULE_NUMBER_LIMIT, Decimal::from(10i128.pow(24)));
        assert!(within_rule_number_limit(Decimal::from(5 * 10i128.pow(21))));
        assert!(!within_rule_number_limit(-RULE_NUMBER_LIMIT));
    }

    #[test]
    fn sum_amounts_is_decimal_addition() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let plain = |v: &[Decimal]| v.iter().copied().sum::<Decimal>();
        let same = |v: &[Decimal]| {
            let fast = sum_amounts(v.iter().copied());
            let slow = plain(v);
            assert_eq!(fast, slow, "{v:?}");
            assert_eq!(fast.to_string(), slow.to_string(), "{v:?}");
            assert_eq!(fast.scale(), slow.scale(), "{v:?}");
        };
        same(&[]);
        same(&[d("0")]);
        same(&[d("-0.00")]);
        same(&[d("-0")]);
        same(&[d("12.50")]);
        same(&[d("-1.00"), d("1.00")]);
        same(&[d("1.00"), d("-1.00")]);
        same(&[d("-5"), d("5")]);
        same(&[d("-5.00"), d("2.00"), d("3.00")]);
        same(&[d("100"), d("-100"), d("0")]);
        // Mixed scales: added at the larger one.
        same(&[d("1.5"), d("2.25"), d("-3")]);
        same(&[d("1"), d("0.10")]);
        // At the top of 96 bits.
        same(&[Decimal::MAX, Decimal::MIN]);
        same(&[Decimal::MIN, Decimal::MAX, d("-1")]);
        // Mixed scales, cancelling to zero at a larger scale than the first amount's.
        same(&[d("7739"), d("6859.5"), d("5604.12"), d("-20203.62")]);
        same(&[d("-1.5"), d("1.50")]);
        same(&[d("0.001"), d("2"), d("-0.001"), d("-2")]);
        same(&[d("0.01"), d("-0.01"), d("5")]);
        same(&[d("5"), d("0.00"), d("1.0")]);
        same(&[d("-0.00"), d("0"), d("0.000")]);
        // Pseudo-random nets, both signs, many cancelling, at kronor and öre scales.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..400 {
            let scale = [0, 2, 4][round % 3];
            let len = (round * 7) % 60;
            let v: Vec<Decimal> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let m = (x % 2_000_001) as i64 - 1_000_000;
                    Decimal::new(if round % 5 == 0 { m % 3 } else { m }, scale)
                })
                .collect();
            same(&v);
            // The same amounts normalised, as an xlsx export's come: scales 0 to 4 mixed.
            let normalised: Vec<Decimal> = v.iter().map(|a| a.normalize()).collect();
            same(&normalised);
        }
    }

    #[test]
    fn interner_numbers_strings_in_order_of_first_sight() {
        let mut i = Interner::default();
        assert_eq!(i.get("a"), None);
        assert_eq!(i.resolve(Sym(0)), "");
        let words: Vec<String> = (0..5000).map(|n| format!("H{n:08}")).collect();
        for (n, w) in words.iter().enumerate() {
            assert_eq!(i.intern(w), Sym(n as u32));
        }
        // Empty, long, non-ASCII and prefix-sharing texts, then everything again.
        let odd = [
            "",
            "Östermalm",
            "Kommun 001",
            "Kommun 0011",
            &"x".repeat(100),
        ];
        let first: Vec<Sym> = odd.iter().map(|w| i.intern(w)).collect();
        assert_eq!(first[0], Sym(5000));
        for (n, w) in words.iter().enumerate() {
            assert_eq!(i.intern(w), Sym(n as u32));
            assert_eq!(i.get(w), Some(Sym(n as u32)));
            assert_eq!(i.resolve(Sym(n as u32)), w);
        }
        for (w, s) in odd.iter().zip(&first) {
            assert_eq!(i.intern(w), *s);
            assert_eq!(i.resolve(*s), *w);
        }
        assert_eq!(i.len(), 5005);
        assert_eq!(i.get("H99999999"), None);
        assert_eq!(i.resolve(Sym(5005)), "");
    }

    #[test]
    fn excel_serials_convert_like_excel() {
        assert_eq!(Date::from_excel_serial(1.0), Date::new(1900, 1, 1));
        assert_eq!(Date::from_excel_serial(61.0), Date::new(1900, 3, 1));
        assert_eq!(Date::from_excel_serial(41425.0), Date::new(2013, 5, 31));
        assert_eq!(Date::from_excel_serial(43466.75), Date::new(2019, 1, 1));
        assert_eq!(Date::from_excel_serial(-3.0), None);
    }

    #[test]
    fn periods_parse_and_label() {
        let p = Period::parse("2013-T2").unwrap();
        assert_eq!(p.end, Month::new(2013, 8).unwrap());
        assert_eq!(p.label(), "2013-T2");
        assert_eq!(p.month_count(), 8);
        assert_eq!(
            Period::parse("2013").unwrap().label_sv(),
            "januari–december 2013"
        );
        assert_eq!(
            Period::parse("2013-05").unwrap().label_sv(),
            "januari–maj 2013"
        );
        assert_eq!(
            Period::parse("2013-05").unwrap().previous_year().label(),
            "2012-05"
        );
        assert!(Period::parse("2013-13").is_err());
        assert!(Period::parse("13-05").is_err());
        assert!(Period::parse("2013-T4").is_err());
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(round_half_away(d("31.25"), 1), d("31.3"));
        assert_eq!(round_half_away(d("-31.25"), 1), d("-31.3"));
        assert_eq!(round_half_away(d("0.125"), 2), d("0.13"));
        assert_eq!(round_half_away(d("2.5"), 0), d("3"));
    }

    #[test]
    fn month_arithmetic_crosses_years() {
        let m = Month::new(2019, 3).unwrap();
        assert_eq!(m.plus(-11), Month::new(2018, 4).unwrap());
        assert_eq!(m.plus(10), Month::new(2020, 1).unwrap());
    }
}
