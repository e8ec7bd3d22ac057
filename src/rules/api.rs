//! The native functions rule scripts call. Scripts get typed views of the prepared data
//! (`Underlag` for one district or the total in one period, `Hushallsmanader` for a set of
//! household-months, `Rader` for rows of any dataset) and aggregate them natively, so no
//! script runs per input row. Scripts return values; they never format.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rhai::{Array, Dynamic, Engine, EvalAltResult, INT, Map, Position};
use rust_decimal::Decimal;

use crate::evaluate::Figure;
use crate::evaluate::prepare::{HouseholdMonth, PAYMENTS, Prepared, col};
use crate::model::{
    ColumnData, Date, Month, Period, Sym, Table, days_in_month, round_half_away, sum_amounts,
    within_rule_number_limit,
};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

thread_local! {
    /// The datasets the current rule call read, and those it asked for that no input file
    /// provided. Set per call on the thread that runs it (rule calls never cross threads).
    static DATASET_USE: std::cell::RefCell<DatasetUse> = std::cell::RefCell::new(DatasetUse::default());
}

/// Which datasets one rule call touched: what `explain` lists as the figure's underlag and
/// what `check` reports as missing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatasetUse {
    /// Every dataset the rule read (present or not).
    pub read: std::collections::BTreeSet<String>,
    /// Datasets it needed that the input does not have (for the period): the figure is
    /// `saknas`, never 0.
    pub missing: std::collections::BTreeSet<String>,
}

fn note_read(dataset: &str) {
    DATASET_USE.with(|u| {
        let mut u = u.borrow_mut();
        if !u.read.contains(dataset) {
            u.read.insert(dataset.to_string());
        }
    });
}

fn note_missing(dataset: &str) {
    DATASET_USE.with(|u| {
        let mut u = u.borrow_mut();
        u.read.insert(dataset.to_string());
        u.missing.insert(dataset.to_string());
    });
}

/// Clears the record of dataset use before a rule call.
pub fn reset_missing_datasets() {
    DATASET_USE.with(|u| *u.borrow_mut() = DatasetUse::default());
}

/// The datasets the last rule call needed but the input did not have. A figure built on
/// one of them is `saknas`, never 0.
pub fn take_missing_datasets() -> Vec<String> {
    take_dataset_use().missing.into_iter().collect()
}

/// Everything the last rule call read and missed; clears the record.
pub fn take_dataset_use() -> DatasetUse {
    DATASET_USE.with(|u| std::mem::take(&mut *u.borrow_mut()))
}

fn fail<T>(message: impl Into<String>) -> Fallible<T> {
    Err(Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(message.into()),
        Position::NONE,
    )))
}

/// The data of one scope (a district or the total) for one report period, as scripts see
/// it: `u.aktiva()`, `u.befolkning("Barn0_17")`, `u.rader("avslut")`.
#[derive(Clone)]
pub struct Underlag {
    pub data: Arc<Prepared>,
    pub scope: usize,
    pub period: Period,
    /// The indicator being computed (id, name), for `manuellt()`.
    pub indicator: Option<(String, String)>,
    /// Sets shared with the other rule calls of the same evaluation.
    pub cache: Arc<SetCache>,
}

/// Household-month sets and dataset facts that many rule calls of one evaluation ask for:
/// `aktiva(u)` of a scope and period is read by most indicators, for the report period
/// and a year earlier, and again by Nyckeltal; at national scale the total's set alone
/// holds a million household-months. Each is built on first use, then shared between
/// threads. A cache belongs to one `Prepared`; asked about other data it computes afresh.
pub struct SetCache {
    data: Arc<Prepared>,
    /// Active household-months of a scope in a span of months (the first and last month).
    active: Cells<(usize, Month, Month), Selection>,
    /// The earliest month of a date or month column of a whole dataset, by the table's
    /// address (tables live as long as the `Prepared` the cache holds) and column name.
    first_months: Mutex<HashMap<(usize, String), Option<Month>>>,
    /// Text columns as codes of their distinct values, by table address and column.
    text_codes: Cells<(usize, String), TextCodes>,
}

/// Values built once per key on first use: the map is locked only to find a key's cell.
type Cells<K, V> = Mutex<HashMap<K, Arc<OnceLock<Arc<V>>>>>;

/// The value of `key`, built by `build` the first time. The map is locked only to find the
/// key's cell; the value is built outside the lock, and a second caller of the same key
/// waits for the first instead of building it too.
fn once_per_key<K: std::hash::Hash + Eq, V>(
    cells: &Cells<K, V>,
    key: K,
    build: impl FnOnce() -> Arc<V>,
) -> Arc<V> {
    let cell = cells
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default()
        .clone();
    cell.get_or_init(build).clone()
}

/// A text column's cells as small numbers, so a filter decides once per distinct value
/// instead of once per row.
struct TextCodes {
    /// Per row, an index into `values`; `EMPTY_CELL` for an empty cell.
    codes: Vec<u32>,
    /// The distinct values in order of first appearance.
    values: Vec<Sym>,
}

const EMPTY_CELL: u32 = u32::MAX;

impl TextCodes {
    fn new(column: &[Option<Sym>]) -> TextCodes {
        let mut index: HashMap<Sym, u32> = HashMap::new();
        let mut values = Vec::new();
        let codes = column
            .iter()
            .map(|cell| match cell {
                None => EMPTY_CELL,
                Some(s) => *index.entry(*s).or_insert_with(|| {
                    values.push(*s);
                    values.len() as u32 - 1
                }),
            })
            .collect();
        TextCodes { codes, values }
    }
}

impl std::fmt::Debug for SetCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetCache").finish_non_exhaustive()
    }
}

impl SetCache {
    pub fn new(data: &Arc<Prepared>) -> SetCache {
        SetCache {
            data: data.clone(),
            active: Mutex::new(HashMap::new()),
            first_months: Mutex::new(HashMap::new()),
            text_codes: Mutex::new(HashMap::new()),
        }
    }

    fn text_codes(
        &self,
        data: &Arc<Prepared>,
        table: &Arc<Table>,
        column: &str,
        cells: &[Option<Sym>],
    ) -> Arc<TextCodes> {
        let build = || Arc::new(TextCodes::new(cells));
        if !Arc::ptr_eq(&self.data, data) {
            return build();
        }
        once_per_key(
            &self.text_codes,
            (Arc::as_ptr(table) as usize, column.to_string()),
            build,
        )
    }

    /// The active household-months of `scope` from `start` to `end` (inclusive).
    fn active(
        &self,
        data: &Arc<Prepared>,
        scope: usize,
        start: Month,
        end: Month,
    ) -> Arc<Selection> {
        let build = || Arc::new(Selection::new(active_between(data, scope, start, end)));
        if !Arc::ptr_eq(&self.data, data) {
            return build();
        }
        once_per_key(&self.active, (scope, start, end), build)
    }

    fn first_month(
        &self,
        data: &Arc<Prepared>,
        table: &Arc<Table>,
        column: &str,
        compute: impl FnOnce() -> Option<Month>,
    ) -> Option<Month> {
        if !Arc::ptr_eq(&self.data, data) {
            return compute();
        }
        let key = (Arc::as_ptr(table) as usize, column.to_string());
        if let Some(m) = self
            .first_months
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return *m;
        }
        let m = compute();
        self.first_months
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, m);
        m
    }
}

/// The indices of a scope's active household-months from `start` to `end`. The scope's
/// vector is sorted by month, so the span is one slice of it.
fn active_between(data: &Prepared, scope: usize, start: Month, end: Month) -> Vec<u32> {
    let Some(payments) = data.scopes.get(scope) else {
        return Vec::new();
    };
    let months = &payments.months;
    let lo = months.partition_point(|hm| hm.month < start);
    let hi = months.partition_point(|hm| hm.month <= end).max(lo);
    (lo..hi)
        .filter(|&i| paid_out(&months[i]))
        .map(|i| i as u32)
        .collect()
}

/// `hm.is_active()`, net paid > 0, decided from the sign and the mantissa instead of a
/// `Decimal` comparison (which aligns scales first): scanned millions of times per run.
pub fn paid_out(hm: &HouseholdMonth) -> bool {
    hm.net.is_sign_positive() && !hm.net.is_zero()
}

/// A set of household-months: ascending indices into the scope's sorted vector, and its
/// grouping by household, built the first time a function needs it.
struct Selection {
    indices: Vec<u32>,
    households: OnceLock<Groups>,
    /// Σ AntalVuxna, AntalBarn and AntalUnga18_24, taken in one pass the first time one
    /// is asked for (the population shares ask for each of a shared set).
    counts: OnceLock<[u64; 3]>,
}

/// A set grouped by household.
struct Groups {
    /// The set's indices ordered by household, then ascending.
    order: Vec<u32>,
    /// Where each household's run starts in `order`, then `order.len()`.
    bounds: Vec<u32>,
}

impl Groups {
    /// Groups `indices` (ascending) by household: equal to a stable sort of the indices by
    /// household. Households are numbered densely in practice, so most sets are grouped by
    /// counting (one pass to count, one to place); a set whose households span a range much
    /// wider than the set is radix sorted instead. Either way no comparison sort: the
    /// total's set holds a million household-months.
    fn build(indices: &[u32], months: &[HouseholdMonth]) -> Groups {
        let households: Vec<u32> = indices
            .iter()
            .map(|&i| months[i as usize].household)
            .collect();
        let (Some(&low), Some(&high)) = (households.iter().min(), households.iter().max()) else {
            return Groups {
                order: Vec::new(),
                bounds: vec![0],
            };
        };
        let range = (high - low) as usize + 1;
        if range <= 2 * indices.len() + 1024 {
            Groups::by_counting(indices, &households, low, range)
        } else {
            Groups::by_radix(indices, &households)
        }
    }

    /// A counting sort over the households' range `low..low + range`.
    fn by_counting(indices: &[u32], households: &[u32], low: u32, range: usize) -> Groups {
        let mut next = vec![0u32; range];
        for &h in households {
            next[(h - low) as usize] += 1;
        }
        // Each household's first slot in `order`, and the runs' bounds, in household order.
        let mut bounds = Vec::new();
        let mut start = 0u32;
        for slot in next.iter_mut() {
            let n = *slot;
            if n > 0 {
                bounds.push(start);
            }
            *slot = start;
            start += n;
        }
        bounds.push(start);
        let mut order = vec![0u32; indices.len()];
        for (&i, &h) in indices.iter().zip(households) {
            let slot = &mut next[(h - low) as usize];
            order[*slot as usize] = i;
            *slot += 1;
        }
        Groups { order, bounds }
    }

    /// A radix sort of (household, index) keys, for households spread over a wide range.
    fn by_radix(indices: &[u32], households: &[u32]) -> Groups {
        // Household in the high half, index in the low: sorting the keys by the high half
        // keeps the indices of a household in the set's order.
        let mut keys: Vec<u64> = indices
            .iter()
            .zip(households)
            .map(|(&i, &h)| (u64::from(h) << 32) | u64::from(i))
            .collect();
        sort_by_high_half(&mut keys);
        let mut bounds = Vec::new();
        let mut previous = None;
        for (k, key) in keys.iter().enumerate() {
            let household = (key >> 32) as u32;
            if previous != Some(household) {
                bounds.push(k as u32);
                previous = Some(household);
            }
        }
        bounds.push(keys.len() as u32);
        Groups {
            order: keys.into_iter().map(|key| key as u32).collect(),
            bounds,
        }
    }

    fn households(&self) -> usize {
        self.bounds.len() - 1
    }

    /// Each household's indices.
    fn runs(&self) -> impl Iterator<Item = &[u32]> {
        self.bounds
            .windows(2)
            .map(|w| &self.order[w[0] as usize..w[1] as usize])
    }
}

/// Sorts keys by their high 32 bits, stably: a least-significant-digit radix sort over
/// only as many bits as the largest key has (households are numbered from zero, so
/// usually two passes). Small inputs go to the standard stable sort.
fn sort_by_high_half(keys: &mut Vec<u64>) {
    const DIGIT_BITS: u32 = 11;
    if keys.len() < 1 << 12 {
        keys.sort_by_key(|key| key >> 32);
        return;
    }
    let max = keys.iter().map(|key| key >> 32).max().unwrap_or(0);
    let bits = u64::BITS - max.leading_zeros();
    let passes = bits.div_ceil(DIGIT_BITS);
    if passes == 0 {
        return;
    }
    let width = bits.div_ceil(passes);
    let mask = (1u64 << width) - 1;
    let mut from = std::mem::take(keys);
    let mut to = vec![0u64; from.len()];
    let mut counts = vec![0usize; 1 << width];
    for pass in 0..passes {
        let shift = 32 + pass * width;
        counts.fill(0);
        for key in &from {
            counts[((key >> shift) & mask) as usize] += 1;
        }
        if counts.contains(&from.len()) {
            // Every key has the same digit: this pass would not move anything.
            continue;
        }
        let mut start = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = start;
            start += n;
        }
        for &key in &from {
            let slot = &mut counts[((key >> shift) & mask) as usize];
            to[*slot] = key;
            *slot += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    *keys = from;
}

impl Selection {
    fn new(indices: Vec<u32>) -> Selection {
        Selection {
            indices,
            households: OnceLock::new(),
            counts: OnceLock::new(),
        }
    }
}

/// A set of household-months of one scope.
#[derive(Clone)]
pub struct Hushallsmanader {
    data: Arc<Prepared>,
    scope: usize,
    selection: Arc<Selection>,
}

/// Rows of one dataset within one scope.
#[derive(Clone)]
pub struct Rader {
    data: Arc<Prepared>,
    cache: Arc<SetCache>,
    table: Arc<Table>,
    period: Period,
    selection: Arc<Vec<u32>>,
    /// The dataset is not in the input at all: every operation gives an empty result and
    /// the figure becomes `saknas`.
    absent: bool,
}

/// Every function registered for scripts, with its signature and a one-line description,
/// in the order the README documents them. A unit test checks this against the engine.
pub const API: &[(&str, &str)] = &[
    (
        "manader(u)",
        "number of months in the report period (January..end)",
    ),
    ("ar(u)", "the report year"),
    ("stadsdel(u)", "the district's name, or () for the total"),
    (
        "aktiva(u)",
        "active household-months (net paid > 0) in the period",
    ),
    (
        "aktiva_sista_manaden(u)",
        "active household-months in the period's last month",
    ),
    (
        "aktiva_fonster(u, n)",
        "active household-months in the n months ending with the period's last month; () when the window starts before the first month in the data",
    ),
    (
        "utbetalt(u)",
        "Σ Belopp of every payment row in the period (corrections included)",
    ),
    (
        "befolkning(u, kolumn)",
        "population column (Folkmangd, Barn0_17, Unga18_24, Vuxna18plus) of the latest year not after the report year; () when missing",
    ),
    (
        "rader(u, dataset)",
        "rows of a dataset in this district (or all report districts)",
    ),
    (
        "manuellt(u)",
        "the manual outcome (manuella_utfall) for this indicator, period and district; ()",
    ),
    (
        "manuellt(u, indikator)",
        "the manual outcome of another indicator id or name",
    ),
    (
        "antal(h)",
        "number of household-months (or rows) in the set",
    ),
    ("hushall(h)", "number of distinct households in the set"),
    (
        "summa(h, falt)",
        "Σ of AntalVuxna, AntalBarn, AntalUnga18_24, Personer or Belopp",
    ),
    (
        "storsta_per_hushall(h, falt)",
        "Σ over distinct households of their largest value of the field in the set",
    ),
    (
        "dar(h, falt, varde)",
        "household-months where Forsorjningshinder or AktuellJobbtorg equals the value",
    ),
    (
        "dar_minst(h, falt, n)",
        "household-months whose field (AntalBarn, Personer, …) is at least n",
    ),
    (
        "minst_manader(h, n)",
        "household-months of households present in at least n months of the set",
    ),
    ("antal(r)", "number of rows"),
    ("summa(r, kolumn)", "Σ of a number column"),
    ("unika(r, kolumn)", "number of distinct values of a column"),
    (
        "dar(r, kolumn, varde)",
        "rows whose column equals the value (text ignores case; Ja/Nej for yes/no)",
    ),
    (
        "dar_en_av(r, kolumn, varden)",
        "rows whose column equals any of an array of values",
    ),
    (
        "i_perioden(r, kolumn)",
        "rows whose date or month column lies in the report period",
    ),
    (
        "pagaende(r, start, slut)",
        "rows started by the period's end and not ended by it (empty slut = ongoing)",
    ),
    (
        "kvot(taljare, namnare)",
        "a figure: taljare ÷ namnare with its underlag; () when namnare is 0",
    ),
    (
        "andel(taljare, namnare)",
        "a figure in percent: taljare ÷ namnare × 100",
    ),
    (
        "antal(x)",
        "a count figure: the value with numerator x and no denominator",
    ),
    ("varde(x)", "a figure with only a value (manual outcomes)"),
    ("saknas()", "a missing figure"),
    (
        "avrunda(x, decimaler)",
        "x rounded half away from zero (31,25 → 31,3)",
    ),
];

/// Registers the native types and functions on the engine.
pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Underlag>("Underlag")
        .register_type_with_name::<Hushallsmanader>("Hushallsmanader")
        .register_type_with_name::<Rader>("Rader");

    engine
        .register_fn("manader", |u: &mut Underlag| INT::from(u.period.month_count()))
        .register_fn("ar", |u: &mut Underlag| INT::from(u.period.calendar_year()))
        .register_fn("stadsdel", |u: &mut Underlag| -> Dynamic {
            u.data
                .district_of(u.scope)
                .map_or(Dynamic::UNIT, |d| u.data.interner.resolve(d).into())
        })
        .register_fn("aktiva", |u: &mut Underlag| {
            let end = u.period.end;
            u.active(first_of_year(end), end)
        })
        .register_fn("aktiva_sista_manaden", |u: &mut Underlag| {
            let end = u.period.end;
            u.active(end, end)
        })
        .register_fn("aktiva_fonster", |u: &mut Underlag, n: INT| -> Fallible<Dynamic> {
            if !(1..=120).contains(&n) {
                return fail(format!("aktiva_fonster: {n} months is not 1..120"));
            }
            note_read(PAYMENTS);
            let end = u.period.end;
            let start = end.plus(-(n as i32) + 1);
            match u.data.first_month() {
                Some(first) if first <= start => Ok(Dynamic::from(u.active(start, end))),
                _ => Ok(Dynamic::UNIT),
            }
        })
        .register_fn("utbetalt", |u: &mut Underlag| -> Decimal {
            u.note_payment_coverage();
            let p = u.period;
            u.data.scopes[u.scope]
                .paid
                .iter()
                .filter(|(m, _)| p.contains(**m))
                .map(|(_, v)| *v)
                .sum()
        })
        .register_fn("befolkning", |u: &mut Underlag, column: &str| -> Fallible<Dynamic> {
            note_read("befolkning");
            let Some(year) = u.data.population_year(u.period.calendar_year()) else {
                return Ok(Dynamic::UNIT);
            };
            let Some(pop) = u.data.population_of(u.scope, year) else {
                return Ok(Dynamic::UNIT);
            };
            match pop.get(column) {
                Some(v) => Ok(v.map_or(Dynamic::UNIT, Dynamic::from_decimal)),
                None => fail(format!(
                    "befolkning: unknown column {column:?} (Folkmangd, Barn0_17, Unga18_24, Vuxna18plus)"
                )),
            }
        })
        .register_fn("rader", |u: &mut Underlag, dataset: &str| u.rows(dataset))
        .register_fn("manuellt", |u: &mut Underlag| -> Fallible<Dynamic> {
            let Some((id, name)) = u.indicator.clone() else {
                return fail("manuellt(): no current indicator; give its id");
            };
            Ok(u.manual(&[id.as_str(), name.as_str()]))
        })
        .register_fn("manuellt", |u: &mut Underlag, indicator: &str| -> Fallible<Dynamic> {
            Ok(u.manual(&[indicator]))
        });

    engine
        .register_fn("antal", |h: &mut Hushallsmanader| {
            Decimal::from(h.selection.indices.len())
        })
        .register_fn("hushall", |h: &mut Hushallsmanader| {
            Decimal::from(h.groups().households())
        })
        .register_fn(
            "summa",
            |h: &mut Hushallsmanader, field: &str| -> Fallible<Decimal> {
                Ok(h.sum(HouseholdField::parse(field)?))
            },
        )
        .register_fn(
            "storsta_per_hushall",
            |h: &mut Hushallsmanader, field: &str| -> Fallible<Decimal> {
                Ok(h.largest_per_household(HouseholdField::parse(field)?))
            },
        )
        .register_fn(
            "dar",
            |h: &mut Hushallsmanader, field: &str, value: Dynamic| -> Fallible<Hushallsmanader> {
                h.where_field(field, &value)
            },
        )
        .register_fn(
            "dar_minst",
            |h: &mut Hushallsmanader, field: &str, least: Dynamic| -> Fallible<Hushallsmanader> {
                let f = HouseholdField::parse(field)?;
                let Some(least) = number(&least, "dar_minst")? else {
                    return fail("dar_minst needs a number");
                };
                Ok(h.filter(|hm| f.decimal(hm) >= least))
            },
        )
        .register_fn("minst_manader", |h: &mut Hushallsmanader, n: INT| {
            h.at_least_months(n)
        });

    engine
        .register_fn("antal", |r: &mut Rader| Decimal::from(r.selection.len()))
        .register_fn(
            "summa",
            |r: &mut Rader, column: &str| -> Fallible<Decimal> {
                match r.table.number(column) {
                    Some(v) => Ok(r.selection.iter().filter_map(|&i| v[i as usize]).sum()),
                    None => fail(format!(
                        "summa: {column:?} is not a number column of this dataset"
                    )),
                }
            },
        )
        .register_fn(
            "unika",
            |r: &mut Rader, column: &str| -> Fallible<Decimal> { r.distinct(column) },
        )
        .register_fn(
            "dar",
            |r: &mut Rader, column: &str, value: Dynamic| -> Fallible<Rader> {
                r.where_any(column, std::slice::from_ref(&value))
            },
        )
        .register_fn(
            "dar_en_av",
            |r: &mut Rader, column: &str, values: Array| -> Fallible<Rader> {
                r.where_any(column, &values)
            },
        )
        .register_fn(
            "i_perioden",
            |r: &mut Rader, column: &str| -> Fallible<Rader> { r.in_period(column) },
        )
        .register_fn(
            "pagaende",
            |r: &mut Rader, start: &str, end: &str| -> Fallible<Rader> { r.ongoing(start, end) },
        );

    engine
        .register_fn("kvot", |t: Dynamic, n: Dynamic| -> Fallible<Map> {
            ratio(&t, &n, Decimal::ONE)
        })
        .register_fn("andel", |t: Dynamic, n: Dynamic| -> Fallible<Map> {
            ratio(&t, &n, Decimal::ONE_HUNDRED)
        })
        .register_fn("antal", |x: Dynamic| -> Fallible<Map> {
            let v = number(&x, "antal")?;
            Ok(figure_map(v, v, None))
        })
        .register_fn("varde", |x: Dynamic| -> Fallible<Map> {
            let v = number(&x, "varde")?;
            Ok(figure_map(v, None, None))
        })
        .register_fn("saknas", || figure_map(None, None, None))
        .register_fn(
            "avrunda",
            |x: Dynamic, decimals: INT| -> Fallible<Dynamic> {
                let Some(v) = number(&x, "avrunda")? else {
                    return Ok(Dynamic::UNIT);
                };
                let dp = u32::try_from(decimals).unwrap_or(0).min(20);
                Ok(Dynamic::from_decimal(round_half_away(v, dp)))
            },
        );
}

/// Reads a script value as a number: INT, Decimal or () (missing). A number of 10^24 or
/// more in magnitude is an error (`RULE_NUMBER_LIMIT`): native sums and differences of it
/// could overflow.
pub fn number(x: &Dynamic, what: &str) -> Fallible<Option<Decimal>> {
    if x.is_unit() {
        return Ok(None);
    }
    let n = if let Ok(i) = x.as_int() {
        Decimal::from(i)
    } else if let Ok(d) = x.as_decimal() {
        d
    } else {
        return fail(format!("{what}: expected a number, got {}", x.type_name()));
    };
    if !within_rule_number_limit(n) {
        return fail(format!("{what}: {n} is too large (10^24 or more)"));
    }
    Ok(Some(n))
}

fn ratio(t: &Dynamic, n: &Dynamic, scale: Decimal) -> Fallible<Map> {
    let t = number(t, "kvot/andel täljare")?;
    let n = number(n, "kvot/andel nämnare")?;
    let value = match (t, n) {
        (Some(t), Some(n)) if !n.is_zero() => t.checked_div(n).and_then(|q| q.checked_mul(scale)),
        _ => None,
    };
    Ok(figure_map(value, t, n))
}

fn figure_map(
    value: Option<Decimal>,
    numerator: Option<Decimal>,
    denominator: Option<Decimal>,
) -> Map {
    let d = |v: Option<Decimal>| v.map_or(Dynamic::UNIT, Dynamic::from_decimal);
    let mut m = Map::new();
    m.insert("varde".into(), d(value));
    m.insert("taljare".into(), d(numerator));
    m.insert("namnare".into(), d(denominator));
    m
}

/// Converts what an indicator function returned into a `Figure`: a map from
/// `kvot`/`andel`/`antal`/`varde`, a bare number, or () for missing.
pub fn figure_from_dynamic(x: &Dynamic) -> Result<Figure, String> {
    if let Some(m) = x.read_lock::<Map>() {
        let get = |k: &str| -> Result<Option<Decimal>, String> {
            match m.get(k) {
                None => Ok(None),
                Some(v) => number(v, k).map_err(|e| e.to_string()),
            }
        };
        return Ok(Figure {
            value: get("varde")?,
            numerator: get("taljare")?,
            denominator: get("namnare")?,
        });
    }
    let value = number(x, "indicator result").map_err(|e| e.to_string())?;
    Ok(Figure {
        value,
        numerator: None,
        denominator: None,
    })
}

/// A field of a household-month that scripts sum or compare.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum HouseholdField {
    Adults,
    Children,
    Young,
    Persons,
    Net,
}

impl HouseholdField {
    fn parse(field: &str) -> Fallible<HouseholdField> {
        Ok(match field {
            "AntalVuxna" => HouseholdField::Adults,
            "AntalBarn" => HouseholdField::Children,
            "AntalUnga18_24" => HouseholdField::Young,
            "Personer" => HouseholdField::Persons,
            "Belopp" => HouseholdField::Net,
            other => {
                return fail(format!(
                    "unknown household field {other:?} (AntalVuxna, AntalBarn, AntalUnga18_24, Personer, Belopp)"
                ));
            }
        })
    }

    /// The field as a whole number; `None` for the amount, which is money.
    fn count(self, hm: &HouseholdMonth) -> Option<u64> {
        match self {
            HouseholdField::Adults => Some(u64::from(hm.adults)),
            HouseholdField::Children => Some(u64::from(hm.children)),
            HouseholdField::Young => Some(u64::from(hm.young)),
            HouseholdField::Persons => Some(u64::from(hm.adults) + u64::from(hm.children)),
            HouseholdField::Net => None,
        }
    }

    fn decimal(self, hm: &HouseholdMonth) -> Decimal {
        match self.count(hm) {
            Some(n) => Decimal::from(n),
            None => hm.net,
        }
    }
}

/// The first month of `end`'s year: where a year-to-date period starts.
fn first_of_year(end: Month) -> Month {
    Month {
        year: end.year,
        month: 1,
    }
}

/// Text comparison for script values: trimmed, case-insensitive.
fn same_text(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// Reads a yes/no script value: true/false or the words the exports use.
fn yes_no(value: &Dynamic) -> Option<bool> {
    if let Ok(b) = value.as_bool() {
        return Some(b);
    }
    let s = value.clone().into_string().ok()?;
    match s.trim().to_lowercase().as_str() {
        "ja" | "j" | "1" | "x" | "true" => Some(true),
        "nej" | "n" | "0" | "" | "false" => Some(false),
        _ => None,
    }
}

impl Underlag {
    /// Marks the figure `saknas` when no month of the period has any payment at all (a
    /// year before the exports begin is unknown, not zero).
    fn note_payment_coverage(&self) {
        note_read(PAYMENTS);
        let covered = self
            .period
            .months()
            .iter()
            .any(|m| self.data.months_present.contains(m));
        if !covered {
            note_missing(PAYMENTS);
        }
    }

    /// The active household-months from `start` to `end`, shared through the cache.
    fn active(&self, start: Month, end: Month) -> Hushallsmanader {
        self.note_payment_coverage();
        Hushallsmanader {
            data: self.data.clone(),
            scope: self.scope,
            selection: self.cache.active(&self.data, self.scope, start, end),
        }
    }

    fn rows(&self, dataset: &str) -> Fallible<Rader> {
        let Some(table) = self.data.tables.get(dataset).filter(|t| !t.is_empty()) else {
            if !self.data.known_datasets.iter().any(|d| d == dataset) {
                let known = self.data.known_datasets.join(", ");
                return fail(format!("unknown dataset {dataset:?} (known: {known})"));
            }
            if self.data.has_rows(dataset) {
                // Folded into household-months as read, the rows themselves not kept.
                return fail(format!(
                    "the rows of {dataset} are kept only when a rule names the dataset in \
                     quotes, as in u.rader(\"{dataset}\")"
                ));
            }
            note_missing(dataset);
            return Ok(Rader {
                data: self.data.clone(),
                cache: self.cache.clone(),
                table: Arc::new(Table::new(Arc::new(crate::model::DatasetSpec {
                    name: dataset.to_string(),
                    columns: Vec::new(),
                    replace_by: None,
                }))),
                period: self.period,
                selection: Arc::new(Vec::new()),
                absent: true,
            });
        };
        note_read(dataset);
        let selection = self.data.rows_of_scope(dataset, self.scope);
        Ok(Rader {
            data: self.data.clone(),
            cache: self.cache.clone(),
            table: table.clone(),
            period: self.period,
            selection,
            absent: false,
        })
    }

    /// The newest non-missing manual outcome for the period and this scope.
    fn manual(&self, names: &[&str]) -> Dynamic {
        note_read("manuella_utfall");
        let Some(t) = self
            .data
            .tables
            .get("manuella_utfall")
            .filter(|t| !t.is_empty())
        else {
            // Nothing reported by hand at all: the figure is missing for want of the file.
            note_missing("manuella_utfall");
            return Dynamic::UNIT;
        };
        let (Some(ind), Some(per), Some(val)) =
            (t.text("Indikator"), t.text("Period"), t.number("Utfall"))
        else {
            return Dynamic::UNIT;
        };
        let district = t.text(col::DISTRICT);
        let interner = &self.data.interner;
        let label = self.period.label();
        let own = self.data.district_of(self.scope);
        let mut found = None;
        for i in manual_rows(&self.data, self.scope) {
            let (Some(id), Some(p), Some(v)) = (ind[i], per[i], val[i]) else {
                continue;
            };
            let row_district = district.and_then(|d| d[i]);
            if row_district != own {
                continue;
            }
            if !names.iter().any(|n| same_text(interner.resolve(id), n)) {
                continue;
            }
            if same_text(interner.resolve(p), &label) {
                found = Some(v);
            }
        }
        found.map_or(Dynamic::UNIT, Dynamic::from_decimal)
    }
}

/// The rows of `manuella_utfall` that can be a scope's (in file order): a district's own
/// rows; every row for the total, whose rows are those without Stadsdel.
pub fn manual_rows(data: &Prepared, scope: usize) -> impl Iterator<Item = usize> {
    const MANUAL: &str = "manuella_utfall";
    let table = data.tables.get(MANUAL);
    // A district listed twice shares its rows; then every row is read and checked.
    let once = |d: Sym| data.districts.iter().filter(|x| **x == d).count() == 1;
    let own = match (data.district_of(scope), table) {
        (Some(d), Some(t)) if t.text(col::DISTRICT).is_some() && once(d) => {
            Some(data.rows_of_scope(MANUAL, scope))
        }
        _ => None,
    };
    let all = match &own {
        Some(_) => 0,
        None => table.map_or(0, |t| t.len()),
    };
    let own_rows = own
        .into_iter()
        .flat_map(|rows| (0..rows.len()).map(move |k| rows[k] as usize));
    own_rows.chain(0..all)
}

impl Hushallsmanader {
    fn months(&self) -> &[HouseholdMonth] {
        &self.data.scopes[self.scope].months
    }

    fn iter(&self) -> impl Iterator<Item = &HouseholdMonth> + Clone {
        let months = self.months();
        self.selection
            .indices
            .iter()
            .map(move |&i| &months[i as usize])
    }

    /// The set grouped by household. Sorting instead of hashing keeps it fast on a million
    /// months; the grouping is kept with the set, which the cache shares between calls.
    fn groups(&self) -> &Groups {
        self.selection
            .households
            .get_or_init(|| Groups::build(&self.selection.indices, self.months()))
    }

    /// Σ of a field; whole numbers are added as integers (the same sum, without a
    /// `Decimal` addition per household-month).
    fn sum(&self, field: HouseholdField) -> Decimal {
        let counts = || {
            *self.selection.counts.get_or_init(|| {
                let mut sums = [0u64; 3];
                for hm in self.iter() {
                    sums[0] += u64::from(hm.adults);
                    sums[1] += u64::from(hm.children);
                    sums[2] += u64::from(hm.young);
                }
                sums
            })
        };
        Decimal::from(match field {
            HouseholdField::Net => return sum_amounts(self.iter().map(|hm| hm.net)),
            HouseholdField::Adults => counts()[0],
            HouseholdField::Children => counts()[1],
            HouseholdField::Young => counts()[2],
            HouseholdField::Persons => counts()[0] + counts()[1],
        })
    }

    /// Σ over distinct households of their largest value of the field in the set.
    fn largest_per_household(&self, field: HouseholdField) -> Decimal {
        let months = self.months();
        let groups = self.groups();
        if field == HouseholdField::Net {
            return groups
                .runs()
                .filter_map(|run| run.iter().map(|&i| months[i as usize].net).max())
                .sum();
        }
        Decimal::from(
            groups
                .runs()
                .filter_map(|run| {
                    run.iter()
                        .map(|&i| field.count(&months[i as usize]).unwrap_or(0))
                        .max()
                })
                .sum::<u64>(),
        )
    }

    /// The household-months of households present in at least `n` months of the set, in
    /// the set's order; the result comes already grouped (its runs are the parent's).
    fn at_least_months(&self, n: INT) -> Hushallsmanader {
        let groups = self.groups();
        let enough = |run: &&[u32]| run.len() as INT >= n;
        // The kept indices as bits over the span of the set (not over the whole scope:
        // the total's is millions long).
        let indices = &self.selection.indices;
        let first = indices.first().copied().unwrap_or(0);
        let span = indices
            .last()
            .map_or(0, |&last| (last - first) as usize + 1);
        let mut keep = vec![0u64; span.div_ceil(64)];
        let mut order = Vec::new();
        let mut bounds = vec![0u32];
        for run in groups.runs().filter(enough) {
            for &i in run {
                let bit = (i - first) as usize;
                keep[bit / 64] |= 1 << (bit % 64);
            }
            order.extend_from_slice(run);
            bounds.push(order.len() as u32);
        }
        let kept = |i: u32| {
            let bit = (i - first) as usize;
            keep[bit / 64] & (1 << (bit % 64)) != 0
        };
        let indices = indices.iter().copied().filter(|&i| kept(i)).collect();
        let households = OnceLock::new();
        let _ = households.set(Groups { order, bounds });
        Hushallsmanader {
            data: self.data.clone(),
            scope: self.scope,
            selection: Arc::new(Selection {
                indices,
                households,
                counts: OnceLock::new(),
            }),
        }
    }

    fn filter(&self, keep: impl Fn(&HouseholdMonth) -> bool) -> Hushallsmanader {
        let months = self.months();
        let selection = self
            .selection
            .indices
            .iter()
            .copied()
            .filter(|&i| keep(&months[i as usize]))
            .collect();
        Hushallsmanader {
            data: self.data.clone(),
            scope: self.scope,
            selection: Arc::new(Selection::new(selection)),
        }
    }

    fn where_field(&self, field: &str, value: &Dynamic) -> Fallible<Hushallsmanader> {
        match field {
            "Forsorjningshinder" => {
                let Ok(wanted) = value.clone().into_string() else {
                    return fail("dar(\"Forsorjningshinder\", …) needs a text value");
                };
                let interner = self.data.interner.clone();
                let unemployment = crate::evaluate::prepare::is_unemployment(&wanted);
                Ok(self.filter(|hm| {
                    if unemployment {
                        hm.unemployed
                    } else {
                        hm.reason()
                            .is_some_and(|r| same_text(interner.resolve(r), &wanted))
                    }
                }))
            }
            "AktuellJobbtorg" => match yes_no(value) {
                Some(b) => Ok(self.filter(|hm| hm.jobbtorg == b)),
                None => fail("dar(\"AktuellJobbtorg\", …) needs Ja/Nej or true/false"),
            },
            other => fail(format!(
                "dar: household-months can be filtered on Forsorjningshinder or AktuellJobbtorg, not {other:?}"
            )),
        }
    }
}

impl Rader {
    fn column(&self, name: &str) -> Fallible<&ColumnData> {
        static EMPTY: ColumnData = ColumnData::Bool(Vec::new());
        if self.absent {
            return Ok(&EMPTY);
        }
        match self.table.column(name) {
            Some(c) => Ok(c),
            None => fail(format!(
                "dataset {} has no column {name:?}",
                self.table.spec.name
            )),
        }
    }

    fn with(&self, selection: Vec<u32>) -> Rader {
        Rader {
            data: self.data.clone(),
            cache: self.cache.clone(),
            table: self.table.clone(),
            period: self.period,
            selection: Arc::new(selection),
            absent: self.absent,
        }
    }

    fn keep(&self, mut f: impl FnMut(usize) -> bool) -> Rader {
        self.with(
            self.selection
                .iter()
                .copied()
                .filter(|&i| f(i as usize))
                .collect(),
        )
    }

    fn distinct(&self, name: &str) -> Fallible<Decimal> {
        let c = self.column(name)?;
        let mut keys: Vec<String> = self
            .selection
            .iter()
            .filter_map(|&i| cell_key(c, i as usize, &self.data))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Ok(Decimal::from(keys.len()))
    }

    fn where_any(&self, name: &str, values: &[Dynamic]) -> Fallible<Rader> {
        let c = self.column(name)?;
        Ok(match c {
            ColumnData::Text(v) => {
                let wanted: Vec<String> = values
                    .iter()
                    .filter_map(|x| x.clone().into_string().ok())
                    .map(|s| s.trim().to_lowercase())
                    .collect();
                let interner = &self.data.interner;
                let codes = self.cache.text_codes(&self.data, &self.table, name, v);
                // Whether each distinct value is wanted, decided when first met
                // (0 = not yet, 1 = no, 2 = yes).
                let mut decided = vec![0u8; codes.values.len()];
                self.keep(|i| {
                    let Some(&code) = codes.codes.get(i).filter(|c| **c != EMPTY_CELL) else {
                        return false;
                    };
                    let slot = &mut decided[code as usize];
                    if *slot == 0 {
                        let t = interner.resolve(codes.values[code as usize]);
                        *slot = 1 + u8::from(wanted.contains(&t.trim().to_lowercase()));
                    }
                    *slot == 2
                })
            }
            ColumnData::Bool(v) => {
                let wanted: Vec<bool> = values.iter().filter_map(yes_no).collect();
                self.keep(|i| wanted.contains(&v[i].unwrap_or(false)))
            }
            ColumnData::Number(v) => {
                let wanted: Vec<Decimal> = values
                    .iter()
                    .filter_map(|x| number(x, "dar").ok().flatten())
                    .collect();
                self.keep(|i| v[i].is_some_and(|x| wanted.contains(&x)))
            }
            ColumnData::Integer(v) => {
                let wanted: Vec<Decimal> = values
                    .iter()
                    .filter_map(|x| number(x, "dar").ok().flatten())
                    .collect();
                self.keep(|i| v[i].is_some_and(|x| wanted.contains(&Decimal::from(x))))
            }
            ColumnData::Month(_) | ColumnData::Date(_) => {
                return fail(format!("dar: use i_perioden for the date column {name:?}"));
            }
        })
    }

    fn in_period(&self, name: &str) -> Fallible<Rader> {
        let p = self.period;
        if self.absent {
            return Ok(self.clone());
        }
        // A period that ends before the dataset's first dated row is outside what the
        // exports cover: unknown, not zero.
        if self.first_month(name)?.is_some_and(|first| first > p.end) {
            note_missing(&self.table.spec.name);
        }
        Ok(match self.column(name)? {
            ColumnData::Date(v) => self.keep(|i| v[i].is_some_and(|d| p.contains(d.month()))),
            ColumnData::Month(v) => self.keep(|i| v[i].is_some_and(|m| p.contains(m))),
            ColumnData::Integer(v) => {
                let y = i64::from(p.calendar_year());
                self.keep(|i| v[i] == Some(y))
            }
            _ => {
                return fail(format!(
                    "i_perioden: {name:?} is not a date, month or year column"
                ));
            }
        })
    }

    /// The earliest month in a date or month column of the whole dataset (once per run:
    /// every scope and period asks).
    fn first_month(&self, name: &str) -> Fallible<Option<Month>> {
        let column = self.column(name)?;
        Ok(self
            .cache
            .first_month(&self.data, &self.table, name, || match column {
                ColumnData::Date(v) => v.iter().flatten().map(|d| d.month()).min(),
                ColumnData::Month(v) => v.iter().flatten().min().copied(),
                _ => None,
            }))
    }

    fn ongoing(&self, start: &str, end: &str) -> Fallible<Rader> {
        if self.absent {
            return Ok(self.clone());
        }
        let last_day = period_end_date(self.period.end);
        let starts = dates(self.column(start)?, start)?;
        let ends = dates(self.column(end)?, end)?;
        Ok(self.keep(|i| {
            let started = starts(i).is_none_or(|d| d <= last_day);
            let open = ends(i).is_none_or(|d| d > last_day);
            started && open
        }))
    }
}

fn period_end_date(m: Month) -> Date {
    Date {
        year: m.year,
        month: m.month,
        day: days_in_month(m) as u8,
    }
}

/// A date accessor over a Date or Month column (a month counts as its last day).
fn dates<'a>(c: &'a ColumnData, name: &str) -> Fallible<Box<dyn Fn(usize) -> Option<Date> + 'a>> {
    match c {
        ColumnData::Date(v) => Ok(Box::new(move |i| v[i])),
        ColumnData::Month(v) => Ok(Box::new(move |i| v[i].map(period_end_date))),
        _ => fail(format!("{name:?} is not a date column")),
    }
}

/// A comparable text key for a cell, for distinct counts.
fn cell_key(c: &ColumnData, i: usize, data: &Prepared) -> Option<String> {
    match c {
        ColumnData::Text(v) => v[i].map(|s| data.interner.resolve(s).to_string()),
        ColumnData::Number(v) => v[i].map(|x| x.normalize().to_string()),
        ColumnData::Integer(v) => v[i].map(|x| x.to_string()),
        ColumnData::Month(v) => v[i].map(|x| x.to_string()),
        ColumnData::Date(v) => v[i].map(|x| x.to_string()),
        ColumnData::Bool(v) => v[i].map(|x| x.to_string()),
    }
}

#[cfg(test)]
mod cache_tests {
    //! The cache and its shortcuts give what the plain definitions give.

    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::evaluate::prepare::{HouseholdIdentity, prepare};
    use crate::model::{ColumnKind, DatasetSpec, FileId, Interner, PeriodKind, RowOrigin};

    /// Payments over 2018–2019 in two districts: some households in both, some months
    /// net zero or negative, counts varying between months.
    fn data() -> Arc<Prepared> {
        let columns = [
            ("Period", ColumnKind::Month),
            ("Stadsdel", ColumnKind::Text),
            ("HushallsID", ColumnKind::Id),
            ("Belopp", ColumnKind::Number),
            ("AntalVuxna", ColumnKind::Integer),
            ("AntalBarn", ColumnKind::Integer),
            ("AntalUnga18_24", ColumnKind::Integer),
        ];
        let spec = Arc::new(DatasetSpec::of(PAYMENTS, &columns));
        let mut interner = Interner::default();
        let mut t = Table::new(spec);
        let mut row = 0u32;
        for year in [2018, 2019] {
            for month in 1..=12u32 {
                for h in 0..40u32 {
                    if (h * 7 + month + year as u32).is_multiple_of(5) {
                        continue;
                    }
                    let district = if h % 3 == 0 { "A" } else { "B" };
                    let amount = match (h + month) % 6 {
                        0 => "0",
                        1 => "-150.50",
                        _ => "1200.25",
                    };
                    let cells = [
                        (0, format!("{year}-{month:02}")),
                        (1, district.to_string()),
                        (2, format!("H{h}")),
                        (3, amount.to_string()),
                        (4, (1 + (h + month) % 3).to_string()),
                        (5, ((h * month) % 4).to_string()),
                        (6, (h % 2).to_string()),
                    ];
                    for (c, text) in cells {
                        match &mut t.columns[c] {
                            ColumnData::Month(v) => v.push(Month::new(year, month)),
                            ColumnData::Text(v) => v.push(Some(interner.intern(&text))),
                            ColumnData::Number(v) => v.push(text.parse().ok()),
                            ColumnData::Integer(v) => v.push(text.parse().ok()),
                            _ => unreachable!("fixture columns"),
                        }
                    }
                    t.origin.push(RowOrigin {
                        file: FileId(0),
                        row,
                    });
                    row += 1;
                }
            }
        }
        let tables = BTreeMap::from([(PAYMENTS.to_string(), t)]);
        Arc::new(prepare(
            interner,
            tables,
            None,
            vec![PAYMENTS.into()],
            None,
            HouseholdIdentity::Global,
        ))
    }

    fn underlag(data: &Arc<Prepared>, cache: &Arc<SetCache>, scope: usize, year: i32) -> Underlag {
        Underlag {
            data: data.clone(),
            scope,
            period: Period::year(year),
            indicator: None,
            cache: cache.clone(),
        }
    }

    /// `aktiva(u)` as the SPEC defines it, by scanning the scope.
    fn plain_active(data: &Prepared, scope: usize, period: Period) -> Vec<u32> {
        let months = &data.scopes[scope].months;
        (0..months.len() as u32)
            .filter(|&i| {
                let hm = &months[i as usize];
                hm.is_active() && period.contains(hm.month)
            })
            .collect()
    }

    #[test]
    fn cached_active_set_equals_the_plain_filter_for_every_scope_and_year() {
        let data = data();
        let cache = Arc::new(SetCache::new(&data));
        for scope in 0..=data.total_scope() {
            for year in [2018, 2019] {
                let u = underlag(&data, &cache, scope, year);
                let h = u.active(Month { year, month: 1 }, Month { year, month: 12 });
                let plain = plain_active(&data, scope, Period::year(year));
                assert!(!plain.is_empty());
                assert_eq!(h.selection.indices, plain, "scope {scope}, {year}");
            }
        }
        let may = Period {
            kind: PeriodKind::Month,
            end: Month {
                year: 2019,
                month: 5,
            },
        };
        let u = Underlag {
            period: may,
            ..underlag(&data, &cache, 0, 2019)
        };
        let h = u.active(Month::new(2019, 1).unwrap_or(may.end), may.end);
        assert_eq!(h.selection.indices, plain_active(&data, 0, may));
    }

    #[test]
    fn cache_keys_distinguish_scope_and_period_and_share_equal_ones() {
        let data = data();
        let cache = Arc::new(SetCache::new(&data));
        let jan = |year| Month { year, month: 1 };
        let dec = |year| Month { year, month: 12 };
        let set = |scope, year| cache.active(&data, scope, jan(year), dec(year));
        assert!(Arc::ptr_eq(&set(0, 2019), &set(0, 2019)));
        assert!(!Arc::ptr_eq(&set(0, 2019), &set(1, 2019)));
        assert!(!Arc::ptr_eq(&set(0, 2019), &set(0, 2018)));
        assert_ne!(set(0, 2019).indices, set(1, 2019).indices);
        assert_ne!(set(0, 2019).indices, set(0, 2018).indices);
        let last = cache.active(&data, 0, dec(2019), dec(2019));
        assert!(!Arc::ptr_eq(&set(0, 2019), &last));
        // Other data is never answered from this cache.
        let other = self::data();
        let fresh = cache.active(&other, 0, jan(2019), dec(2019));
        assert!(!Arc::ptr_eq(&set(0, 2019), &fresh));
        assert_eq!(fresh.indices, set(0, 2019).indices);
    }

    #[test]
    fn grouped_figures_equal_the_plain_definitions() {
        let data = data();
        let cache = Arc::new(SetCache::new(&data));
        let fields = [
            ("AntalVuxna", HouseholdField::Adults),
            ("AntalBarn", HouseholdField::Children),
            ("AntalUnga18_24", HouseholdField::Young),
            ("Personer", HouseholdField::Persons),
            ("Belopp", HouseholdField::Net),
        ];
        for scope in 0..=data.total_scope() {
            let u = underlag(&data, &cache, scope, 2019);
            let h = u.active(
                Month {
                    year: 2019,
                    month: 1,
                },
                u.period.end,
            );
            let months: Vec<HouseholdMonth> = h.iter().copied().collect();
            let value = |hm: &HouseholdMonth, field: &str| match field {
                "AntalVuxna" => Decimal::from(hm.adults),
                "AntalBarn" => Decimal::from(hm.children),
                "AntalUnga18_24" => Decimal::from(hm.young),
                "Personer" => Decimal::from(hm.adults + hm.children),
                _ => hm.net,
            };
            let households: BTreeSet<u32> = months.iter().map(|hm| hm.household).collect();
            assert_eq!(h.groups().households(), households.len());
            for (name, field) in fields {
                let sum: Decimal = months.iter().map(|hm| value(hm, name)).sum();
                assert_eq!(h.sum(field), sum, "{name}");
                let mut largest: BTreeMap<u32, Decimal> = BTreeMap::new();
                for hm in &months {
                    let v = value(hm, name);
                    let e = largest.entry(hm.household).or_insert(v);
                    *e = (*e).max(v);
                }
                let plain: Decimal = largest.values().copied().sum();
                assert_eq!(h.largest_per_household(field), plain, "{name}");
            }
            for n in [0, 3, 9, 12] {
                let mut count: BTreeMap<u32, INT> = BTreeMap::new();
                for hm in &months {
                    *count.entry(hm.household).or_default() += 1;
                }
                let plain: Vec<u32> = h
                    .selection
                    .indices
                    .iter()
                    .copied()
                    .filter(|&i| count[&data.scopes[scope].months[i as usize].household] >= n)
                    .collect();
                let kept = h.at_least_months(n);
                assert_eq!(kept.selection.indices, plain, "n = {n}");
                // The grouping it inherits is the one it would build itself.
                let built = Groups::build(&kept.selection.indices, kept.months());
                let inherited = kept.groups();
                assert_eq!(inherited.order, built.order);
                assert_eq!(inherited.bounds, built.bounds);
            }
        }
    }

    /// Groups as the plain definition makes them: indices by household, then ascending.
    fn plain_groups(indices: &[u32], households: &[u32]) -> (Vec<u32>, Vec<u32>) {
        let mut by: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (&i, &h) in indices.iter().zip(households) {
            by.entry(h).or_default().push(i);
        }
        let mut order = Vec::new();
        let mut bounds = vec![0u32];
        for run in by.values() {
            order.extend_from_slice(run);
            bounds.push(order.len() as u32);
        }
        (order, bounds)
    }

    /// A deterministic spread of households: `n` household-months of about `n / 3`
    /// households numbered from `base` with gaps of `step`.
    fn households(n: usize, base: u32, step: u32) -> (Vec<u32>, Vec<u32>) {
        let indices: Vec<u32> = (0..n as u32).map(|i| i * 2 + 1).collect();
        let households = (0..n as u32)
            .map(|i| base + (i.wrapping_mul(2_654_435_761) % (n as u32 / 3 + 1)) * step)
            .collect();
        (indices, households)
    }

    #[test]
    fn counting_and_radix_grouping_equal_the_plain_grouping() {
        for (n, base, step) in [
            (0, 0, 1),
            (1, 7, 1),
            (5, 0, 1),
            (3000, 0, 1),
            (5000, 100, 1),
            (50_000, 0, 1),
            (50_000, 1_000_000, 997),
            (20_000, u32::MAX - 20_000 * 5, 3),
        ] {
            let (indices, households) = households(n, base, step);
            let (order, bounds) = plain_groups(&indices, &households);
            let radix = Groups::by_radix(&indices, &households);
            assert_eq!(radix.order, order, "radix, n = {n}, step = {step}");
            assert_eq!(radix.bounds, bounds, "radix, n = {n}, step = {step}");
            if let (Some(&low), Some(&high)) = (households.iter().min(), households.iter().max()) {
                let range = (high - low) as usize + 1;
                let counted = Groups::by_counting(&indices, &households, low, range);
                assert_eq!(counted.order, order, "counting, n = {n}, step = {step}");
                assert_eq!(counted.bounds, bounds, "counting, n = {n}, step = {step}");
            }
        }
    }

    #[test]
    fn grouping_a_scope_equals_the_plain_grouping() {
        let data = data();
        for scope in 0..=data.total_scope() {
            let months = &data.scopes[scope].months;
            let every: Vec<u32> = (0..months.len() as u32).collect();
            let odd: Vec<u32> = every.iter().copied().filter(|i| i % 3 != 1).collect();
            for indices in [every, odd, Vec::new()] {
                let households: Vec<u32> = indices
                    .iter()
                    .map(|&i| months[i as usize].household)
                    .collect();
                let (order, bounds) = plain_groups(&indices, &households);
                let built = Groups::build(&indices, months);
                assert_eq!(built.order, order, "scope {scope}");
                assert_eq!(built.bounds, bounds, "scope {scope}");
            }
        }
    }

    #[test]
    fn radix_sort_equals_the_stable_sort() {
        for (n, shift) in [(10_000usize, 0u32), (10_000, 9), (70_000, 13), (5000, 31)] {
            let keys: Vec<u64> = (0..n as u64)
                .map(|i| {
                    let high = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) << shift;
                    ((high & 0xFFFF_FFFF) << 32) | i
                })
                .collect();
            let mut plain = keys.clone();
            plain.sort_by_key(|k| k >> 32);
            let mut radix = keys;
            sort_by_high_half(&mut radix);
            assert_eq!(radix, plain, "n = {n}, shift = {shift}");
        }
    }

    #[test]
    fn paid_out_is_net_above_zero() {
        let data = data();
        let Some(&template) = data.scopes[0].months.first() else {
            panic!("fixture has household-months");
        };
        for net in [
            "0", "0.00", "-0", "-0.00", "0.01", "-0.01", "1200.25", "-150.50",
        ] {
            let mut hm = template;
            hm.net = net.parse().unwrap_or_default();
            assert_eq!(paid_out(&hm), hm.is_active(), "{net}");
        }
        let mut hm = template;
        hm.net = -Decimal::ZERO;
        assert_eq!(paid_out(&hm), hm.is_active());
    }

    #[test]
    fn text_codes_give_back_the_column() {
        let mut interner = Interner::default();
        let (a, b) = (interner.intern("Arbete"), interner.intern("Studier"));
        let column = vec![Some(a), None, Some(b), Some(a), None];
        let codes = TextCodes::new(&column);
        assert_eq!(codes.values, vec![a, b]);
        let back: Vec<Option<Sym>> = codes
            .codes
            .iter()
            .map(|&c| (c != EMPTY_CELL).then(|| codes.values[c as usize]))
            .collect();
        assert_eq!(back, column);
    }
}

#[cfg(test)]
mod tests {
    use super::API;

    /// Every `register_fn("name"` in this file.
    fn registered() -> Vec<String> {
        let all = include_str!("api.rs");
        let src = all.split("#[cfg(test)]").next().unwrap_or(all);
        let mut names: Vec<String> = src
            .match_indices("register_fn(")
            .filter_map(|(i, _)| {
                let rest = src[i + "register_fn(".len()..].trim_start();
                let rest = rest.strip_prefix('"')?;
                Some(rest[..rest.find('"')?].to_string())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn documented() -> Vec<String> {
        let mut names: Vec<String> = API
            .iter()
            .map(|(sig, _)| sig[..sig.find('(').unwrap_or(sig.len())].to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn every_registered_function_is_documented_in_api_and_readme() {
        let registered = registered();
        assert!(registered.len() > 20, "{registered:?}");
        assert_eq!(
            registered,
            documented(),
            "API list and registrations differ"
        );
        let readme = include_str!("../../README.md");
        for name in &registered {
            assert!(
                readme.contains(&format!("{name}(")),
                "README does not document {name}()"
            );
        }
    }
}
