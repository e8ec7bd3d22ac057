//! Ingest, one sheet: rows of format-neutral cells → a file-local columnar part.
//! The Excel and CSV readers find the header and then feed data rows here; this module
//! checks every value, rejects bad rows with their location and keeps the good ones.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use super::SheetRecord;
use super::fold::{self, Payment, PaymentIntake};
use super::issue::{Issue, RejectReason, RowLocation};
use super::schema::{ColumnMap, HEADER_SEARCH_ROWS, Matcher, may_be_empty_with_comment};
use super::value::{Cell, Value, parse, quick, quote};
use crate::model::{ColumnData, ColumnKind, DatasetSpec, Interner, Month, Sym};

/// The month or year a row belongs to for re-export replacement.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum PeriodKey {
    Month(Month),
    Year(i32),
}

impl PeriodKey {
    pub fn label(self) -> String {
        match self {
            PeriodKey::Month(m) => m.to_string(),
            PeriodKey::Year(y) => y.to_string(),
        }
    }
}

/// The rows one sheet (or CSV file) contributed to one dataset; text is interned in the
/// file's own interner.
#[derive(Debug)]
pub struct Part {
    pub dataset: usize,
    pub columns: Vec<ColumnData>,
    pub rows: Vec<u32>,
    pub keys: Vec<Option<PeriodKey>>,
}

/// Everything read from one file, before merging with the other files.
#[derive(Debug, Default)]
pub struct FileContents {
    pub interner: Interner,
    pub parts: Vec<Part>,
    /// The file's `utbetalningar` rows, when they are folded and not kept as a table.
    pub payments: PaymentIntake,
    pub sheets: Vec<SheetRecord>,
    pub issues: Vec<Issue>,
}

/// What the readers of one file share: the run's datasets and options, and the file's output.
pub struct FileCtx<'o> {
    pub datasets: &'o [Arc<DatasetSpec>],
    pub matcher: &'o Matcher,
    pub districts: Option<&'o [String]>,
    /// The dataset whose rows go to `out.payments` instead of a part (`utbetalningar`
    /// when its rows are folded and not kept).
    pub intake: Option<usize>,
    pub file: PathBuf,
    pub out: FileContents,
    /// Data rows offered so far, all sheets together, and how many the file may have.
    pub rows_seen: u64,
    pub max_rows: u64,
}

impl FileCtx<'_> {
    /// The file has more data rows than allowed: readers stop, the file is skipped.
    pub fn over_rows(&self) -> bool {
        self.rows_seen > self.max_rows
    }

    /// Forgets everything read from the file, for reading it again from the start.
    pub fn restart(&mut self) {
        self.out = FileContents::default();
        self.rows_seen = 0;
    }
}

/// Header search state and row intake for one sheet.
pub struct SheetParser {
    sheet: Option<String>,
    searched: usize,
    map: Option<ColumnMap>,
    part: Option<Part>,
    /// Where the payment columns are, when rows go to the file's payment intake.
    intake: Option<PaymentColumns>,
    /// Rows kept (in the part or the intake).
    kept: usize,
    rejected: usize,
    months: BTreeSet<Month>,
    key_col: Option<usize>,
    district_col: Option<usize>,
    comment_col: Option<usize>,
    /// The month of the last kept row: rows come in runs of one month.
    last_month: Option<Month>,
    /// Per column, the symbol of the last text pushed: a district repeats row after row.
    last_sym: Vec<Option<Sym>>,
    /// Index in the run's district list of the last district matched exactly.
    last_district: Option<usize>,
    /// Per-row buffers, kept empty between rows so that a row allocates nothing.
    cells: Vec<Cell<'static>>,
    values: Vec<Value<'static>>,
}

/// The columns of `utbetalningar` the fold reads, by index in its spec.
struct PaymentColumns {
    period: usize,
    district: usize,
    household: usize,
    amount: usize,
    counts: [Option<usize>; 3],
    reason: Option<usize>,
    jobbtorg: Option<usize>,
    /// The spec has no other columns, of the standard kinds: `quick_payment` may read rows.
    quick: bool,
    /// Reason texts of kept rows (a handful) and their symbols, for `quick_payment`.
    reasons: Vec<(Box<str>, Sym)>,
    /// The source columns of the fields `quick_line` reads.
    source: PaymentSources,
}

/// Where a payment row's fields are in the source (`None`: not in it).
#[derive(Default)]
struct PaymentSources {
    period: Option<u32>,
    district: Option<u32>,
    household: Option<u32>,
    amount: Option<u32>,
    counts: [Option<u32>; 3],
    reason: Option<u32>,
    jobbtorg: Option<u32>,
}

impl PaymentColumns {
    fn of(spec: &DatasetSpec, map: &ColumnMap) -> Option<PaymentColumns> {
        use fold::col;
        let at = |name: &str| spec.column_index(name);
        let mut p = PaymentColumns {
            period: at(col::PERIOD)?,
            district: at(col::DISTRICT)?,
            household: at(col::HOUSEHOLD)?,
            amount: at(col::AMOUNT)?,
            counts: [at(col::ADULTS), at(col::CHILDREN), at(col::YOUNG)],
            reason: at(col::REASON),
            jobbtorg: at(col::JOBBTORG),
            quick: false,
            reasons: Vec::new(),
            source: PaymentSources::default(),
        };
        let source = |i: Option<usize>| map.source.get(i?).copied().flatten();
        p.source = PaymentSources {
            period: source(Some(p.period)),
            district: source(Some(p.district)),
            household: source(Some(p.household)),
            amount: source(Some(p.amount)),
            counts: p.counts.map(source),
            reason: source(p.reason),
            jobbtorg: source(p.jobbtorg),
        };
        let kind = |i: Option<usize>| i.and_then(|i| spec.columns.get(i)).map(|c| c.kind);
        let read = [p.period, p.district, p.household, p.amount]
            .into_iter()
            .map(Some)
            .chain(p.counts)
            .chain([p.reason, p.jobbtorg])
            .flatten()
            .count();
        p.quick = read == spec.columns.len()
            && kind(Some(p.period)) == Some(ColumnKind::Month)
            && kind(Some(p.district)) == Some(ColumnKind::Text)
            && kind(Some(p.household)) == Some(ColumnKind::Id)
            && kind(Some(p.amount)) == Some(ColumnKind::Number)
            && p.counts
                .iter()
                .all(|&c| matches!(kind(c), None | Some(ColumnKind::Integer)))
            && matches!(kind(p.reason), None | Some(ColumnKind::Text))
            && matches!(kind(p.jobbtorg), None | Some(ColumnKind::YesNo));
        Some(p)
    }

    /// The symbol of a reason text that a kept row gave (`None`: the general path reads the
    /// row, and may add it).
    fn known_reason(&self, text: &str) -> Option<Sym> {
        self.reasons
            .iter()
            .find(|(known, _)| **known == *text)
            .map(|(_, s)| *s)
    }

    /// A payment row in its usual form, read without the general row checks: every cell
    /// parses, the district's and the reason's texts are those of an earlier kept row
    /// (so that the general path would give the same symbols). `None`: the general path
    /// reads the row (and rejects it, if it must).
    fn quick<'b>(
        &self,
        cell: impl Fn(usize) -> Cell<'b>,
        interner: &Interner,
        last_district: Option<Sym>,
    ) -> Option<(Month, Sym, Cow<'b, str>, Payment)> {
        if !self.quick {
            return None;
        }
        let text = |i: usize| match cell(i) {
            Cell::Text(t) => Some(t),
            _ => None,
        };
        let Ok(Value::Month(month)) = parse(ColumnKind::Month, &cell(self.period)) else {
            return None;
        };
        let district =
            last_district.filter(|d| Some(interner.resolve(*d)) == text(self.district))?;
        let Ok(Value::Text(id)) = parse(ColumnKind::Id, &cell(self.household)) else {
            return None;
        };
        let Ok(Value::Number(amount)) = parse(ColumnKind::Number, &cell(self.amount)) else {
            return None;
        };
        let mut counts = [0u32; 3];
        for (n, c) in counts.iter_mut().zip(self.counts) {
            if let Some(c) = c {
                *n = match parse(ColumnKind::Integer, &cell(c)) {
                    Ok(Value::Integer(v)) => fold::count(Some(v)),
                    Ok(Value::Missing) => 0,
                    _ => return None,
                };
            }
        }
        let reason = match self.reason {
            None => None,
            Some(r) => {
                let t = text(r)?;
                Some(self.known_reason(t)?)
            }
        };
        let mut payment = Payment::new(amount, counts, reason);
        if let Some(j) = self.jobbtorg {
            payment.jobbtorg = match parse(ColumnKind::YesNo, &cell(j)) {
                Ok(Value::Bool(b)) => b,
                _ => return None,
            };
        }
        Some((month, district, id, payment))
    }
}

/// An empty vector with `v`'s allocation, for values that borrow from another row (`T` and
/// `U` differ only in a lifetime).
fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    // Collecting a vector into one of a type with the same layout reuses its buffer.
    v.into_iter().filter_map(|_| None).collect()
}

/// The verdict on one row while looking for the header.
pub enum Search {
    Found,
    NotYet,
    GiveUp,
}

impl SheetParser {
    pub fn new(sheet: Option<String>) -> SheetParser {
        SheetParser {
            sheet,
            searched: 0,
            map: None,
            part: None,
            intake: None,
            kept: 0,
            rejected: 0,
            months: BTreeSet::new(),
            key_col: None,
            district_col: None,
            comment_col: None,
            last_month: None,
            last_sym: Vec::new(),
            last_district: None,
            cells: Vec::new(),
            values: Vec::new(),
        }
    }

    pub fn has_header(&self) -> bool {
        self.map.is_some()
    }

    /// Source columns the data rows need (all while searching).
    pub fn wants(&self, col: u32) -> bool {
        match &self.map {
            None => true,
            Some(m) => m.source.contains(&Some(col)),
        }
    }

    /// Offers a row as the header. Empty rows do not count towards the search limit.
    pub fn offer_header(&mut self, ctx: &FileCtx, cells: &[(u32, String)]) -> Search {
        if cells.iter().all(|(_, t)| t.trim().is_empty()) {
            return Search::NotYet;
        }
        let header: Vec<(u32, &str)> = cells.iter().map(|(c, t)| (*c, t.as_str())).collect();
        if let Some(map) = ctx.matcher.classify(&header) {
            self.start(ctx, map);
            return Search::Found;
        }
        self.searched += 1;
        if self.searched >= HEADER_SEARCH_ROWS {
            Search::GiveUp
        } else {
            Search::NotYet
        }
    }

    /// Starts reading data rows for a classified header.
    pub fn start(&mut self, ctx: &FileCtx, map: ColumnMap) {
        let spec = &ctx.datasets[map.dataset];
        self.key_col = spec
            .replace_by
            .as_deref()
            .and_then(|n| spec.column_index(n));
        self.district_col = spec
            .column_index("Stadsdel")
            .filter(|&i| spec.columns[i].kind == ColumnKind::Text);
        self.comment_col = spec.column_index("Kommentar");
        self.last_sym = vec![None; spec.columns.len()];
        if ctx.intake == Some(map.dataset) {
            self.intake = PaymentColumns::of(spec, &map);
        }
        self.part = Some(Part {
            dataset: map.dataset,
            columns: spec
                .columns
                .iter()
                .map(|c| ColumnData::for_kind(c.kind))
                .collect(),
            rows: Vec::new(),
            keys: Vec::new(),
        });
        self.map = Some(map);
    }

    /// Reads one data row. `get` gives the cell of a source column; `at` the location of a
    /// source column for a message; `row` is the row number as the user sees it.
    pub fn row<'b>(
        &mut self,
        ctx: &mut FileCtx,
        row: u32,
        get: impl Fn(u32) -> Cell<'b>,
        at: impl Fn(u32) -> RowLocation,
    ) {
        if self.map.is_none() {
            return;
        }
        ctx.rows_seen += 1;
        if ctx.over_rows() {
            return;
        }
        self.counted_row(ctx, row, get, at);
    }

    /// `row` for one line of a CSV text without quote characters: `ends[c]` is where the
    /// line's field `c` ends. A payment line in its usual form goes straight to the intake,
    /// read from the line's bytes; any other line as `row` reads it.
    pub fn plain_line(&mut self, ctx: &mut FileCtx, row: u32, line: &str, ends: &[usize]) {
        if self.map.is_none() {
            return;
        }
        ctx.rows_seen += 1;
        if ctx.over_rows() {
            return;
        }
        if self.quick_line(ctx, line, ends) {
            return;
        }
        let field = |c: u32| plain_field(line, ends, c).map_or(Cell::Empty, Cell::Text);
        self.counted_row(ctx, row, field, |_| RowLocation::Csv { row });
    }

    /// `row` after the row is counted.
    fn counted_row<'b>(
        &mut self,
        ctx: &mut FileCtx,
        row: u32,
        get: impl Fn(u32) -> Cell<'b>,
        at: impl Fn(u32) -> RowLocation,
    ) {
        if self.quick_payment(ctx, &get) {
            return;
        }
        let Some(map) = &self.map else {
            return;
        };
        let mut cells: Vec<Cell<'b>> = recycle(std::mem::take(&mut self.cells));
        let mut values: Vec<Value<'b>> = recycle(std::mem::take(&mut self.values));
        cells.extend(map.source.iter().map(|s| s.map_or(Cell::Empty, &get)));
        if !cells.iter().all(Cell::is_blank) {
            self.read_row(ctx, row, &cells, &mut values, at);
        }
        self.cells = recycle(cells);
        self.values = recycle(values);
    }

    /// Takes a payment row in its usual form straight into the file's intake; false when
    /// the row is for the general path.
    fn quick_payment<'b>(&mut self, ctx: &mut FileCtx, get: &impl Fn(u32) -> Cell<'b>) -> bool {
        let (Some(p), Some(map)) = (&self.intake, &self.map) else {
            return false;
        };
        let last_district = self.last_sym.get(p.district).copied().flatten();
        // A spec column's cell, straight from the source (no row of cells is built).
        let cell = |i: usize| {
            map.source
                .get(i)
                .copied()
                .flatten()
                .map_or(Cell::Empty, get)
        };
        let Some((month, district, id, payment)) = p.quick(cell, &ctx.out.interner, last_district)
        else {
            return false;
        };
        self.keep_quick(&mut ctx.out, month, district, &id, payment);
        true
    }

    /// Takes a payment row that a quick path read into the file's intake.
    fn keep_quick(
        &mut self,
        out: &mut FileContents,
        month: Month,
        district: Sym,
        id: &str,
        mut payment: Payment,
    ) {
        if let Some(r) = payment.reason() {
            payment.unemployed = out.payments.is_unemployment(r, out.interner.resolve(r));
        }
        out.payments.push(month, district, id, payment);
        self.kept += 1;
        saw_month(&mut self.months, &mut self.last_month, month);
    }

    /// `quick_payment` for a plain CSV line, each field read by the `value::quick` reader
    /// of its column. Takes what `quick_payment` takes of the line, or gives false for the
    /// same lines and more (a field in an unusual form), which the general path then reads.
    fn quick_line(&mut self, ctx: &mut FileCtx, line: &str, ends: &[usize]) -> bool {
        let Some(p) = &self.intake else {
            return false;
        };
        if !p.quick {
            return false;
        }
        let at = &p.source;
        // A field's text; `None` for a column not in the source or past the line's end
        // (an empty cell to `parse`).
        let field = |c: Option<u32>| c.and_then(|c| plain_field(line, ends, c));
        let interner = &ctx.out.interner;
        let Some(month) = field(at.period).and_then(quick::month) else {
            return false;
        };
        let Some(district) = self.last_sym.get(p.district).copied().flatten() else {
            return false;
        };
        if field(at.district) != Some(interner.resolve(district)) {
            return false;
        }
        let Some(id) = field(at.household).and_then(quick::id) else {
            return false;
        };
        let Some(amount) = field(at.amount).and_then(quick::amount) else {
            return false;
        };
        let mut counts = [0u32; 3];
        for (n, c) in counts.iter_mut().zip(at.counts) {
            match quick::count(field(c).unwrap_or_default()) {
                Some(k) => *n = k,
                None => return false,
            }
        }
        let reason = match p.reason {
            None => None,
            Some(_) => match field(at.reason).and_then(|t| p.known_reason(t)) {
                Some(s) => Some(s),
                None => return false,
            },
        };
        let mut payment = Payment::new(amount, counts, reason);
        if p.jobbtorg.is_some() {
            match quick::yes_no(field(at.jobbtorg).unwrap_or_default()) {
                Some(yes) => payment.jobbtorg = yes,
                None => return false,
            }
        }
        self.keep_quick(&mut ctx.out, month, district, id, payment);
        true
    }

    /// Checks one non-blank row and keeps it, or rejects it with the reason.
    fn read_row<'b>(
        &mut self,
        ctx: &mut FileCtx,
        row: u32,
        cells: &[Cell<'b>],
        values: &mut Vec<Value<'b>>,
        at: impl Fn(u32) -> RowLocation,
    ) {
        let (Some(map), Some(part)) = (&self.map, &mut self.part) else {
            return;
        };
        let spec = &ctx.datasets[map.dataset];
        let reject = |ctx: &mut FileCtx, i: usize, reason: RejectReason| {
            ctx.out.issues.push(Issue::RowRejected {
                file: ctx.file.clone(),
                at: at(map.source[i].unwrap_or(0)),
                column: spec.columns[i].name.clone(),
                reason,
            });
        };
        for (i, (cell, col)) in cells.iter().zip(&spec.columns).enumerate() {
            // Excel turns a typed `2013-05` into a date; a text period means the month then.
            if let (Cell::Date(Some(d)), ColumnKind::Text, "Period") =
                (cell, col.kind, col.name.as_str())
            {
                values.push(Value::Text(d.month().to_string().into()));
                continue;
            }
            match parse(col.kind, cell) {
                Ok(v) => values.push(v),
                // `#N/A` in an optional column is just a missing value.
                Err(RejectReason::CellError { .. }) if !col.required => values.push(Value::Missing),
                Err(reason) => {
                    reject(ctx, i, reason);
                    self.rejected += 1;
                    return;
                }
            }
        }
        let has_comment = self
            .comment_col
            .is_some_and(|k| values[k] != Value::Missing);
        for (i, col) in spec.columns.iter().enumerate() {
            if col.required
                && values[i] == Value::Missing
                && !(has_comment && may_be_empty_with_comment(spec, &col.name))
            {
                reject(ctx, i, RejectReason::Missing);
                self.rejected += 1;
                return;
            }
        }
        // A month name is the row's month only together with its year.
        for (i, col) in spec.columns.iter().enumerate() {
            let ColumnKind::MonthName { year } = col.kind else {
                continue;
            };
            values[i] = match (&values[i], values.get(year)) {
                (Value::Integer(m), Some(Value::Integer(y))) => {
                    let month = i32::try_from(*y)
                        .ok()
                        .and_then(|y| Month::new(y, u32::try_from(*m).unwrap_or(0)));
                    match month {
                        Some(month) => Value::Month(month),
                        None => {
                            let text = quote(&format!("{y} {}", cells[i].display()));
                            reject(ctx, i, RejectReason::NotAMonth { text });
                            self.rejected += 1;
                            return;
                        }
                    }
                }
                _ => Value::Missing,
            };
        }
        // A row holding nothing but its month (`2024 Maj -- --`) is a month not yet
        // published: it is no row and does not hold its month against an older export.
        if let Some(k) = self.key_col {
            let period_col = |i: usize| {
                i == k
                    || matches!(spec.columns[k].kind, ColumnKind::MonthName { year } if year == i)
            };
            let mut others = (0..values.len()).filter(|&i| !period_col(i)).peekable();
            if others.peek().is_some() && others.all(|i| values[i] == Value::Missing) {
                return;
            }
        }
        // The listed spelling of the row's district, when the rule pack lists them.
        let mut listed_district: Option<&str> = None;
        if let (Some(list), Some(d)) = (ctx.districts, self.district_col)
            && let Value::Text(t) = &values[d]
        {
            let t: &str = t;
            let exact = match self.last_district {
                Some(k) if list.get(k).is_some_and(|l| l == t) => Some(k),
                _ => list.iter().position(|l| l == t),
            };
            if exact.is_some() {
                self.last_district = exact;
            }
            let listed = exact
                .and_then(|k| list.get(k))
                .or_else(|| list.iter().find(|l| l.to_lowercase() == t.to_lowercase()));
            match listed {
                Some(l) => listed_district = Some(l),
                None => {
                    let text = quote(t);
                    reject(ctx, d, RejectReason::UnknownDistrict { text });
                    self.rejected += 1;
                    return;
                }
            }
        }
        let key = self.key_col.and_then(|k| match values[k] {
            Value::Month(m) => Some(PeriodKey::Month(m)),
            Value::Date(d) => Some(PeriodKey::Month(d.month())),
            Value::Integer(y) => i32::try_from(y).ok().map(PeriodKey::Year),
            _ => None,
        });
        if let Some(PeriodKey::Month(m)) = key {
            saw_month(&mut self.months, &mut self.last_month, m);
        }
        self.kept += 1;
        if let Some(p) = &self.intake {
            let text = |i: usize| match &values[i] {
                Value::Text(t) => Some(t.as_ref()),
                _ => None,
            };
            let amount = match &values[p.amount] {
                Value::Number(a) => Some(*a),
                _ => None,
            };
            let (Some(month), Some(district), Some(id), Some(amount)) = (
                match values[p.period] {
                    Value::Month(m) => Some(m),
                    _ => None,
                },
                listed_district.or_else(|| text(p.district)),
                text(p.household),
                amount,
            ) else {
                // Cannot happen: the columns are required and typed so.
                values.clear();
                return;
            };
            let interner = &mut ctx.out.interner;
            let district = cached_intern(interner, &mut self.last_sym[p.district], district);
            let reason = p.reason.and_then(|r| {
                let t = text(r)?;
                Some((cached_intern(interner, &mut self.last_sym[r], t), t))
            });
            let counts = p.counts.map(|c| {
                fold::count(c.and_then(|c| match values[c] {
                    Value::Integer(n) => Some(n),
                    _ => None,
                }))
            });
            let mut payment = Payment::new(amount, counts, reason.map(|(s, _)| s));
            let intake = &mut ctx.out.payments;
            payment.unemployed = reason.is_some_and(|(s, t)| intake.is_unemployment(s, t));
            payment.jobbtorg = p.jobbtorg.is_some_and(|j| values[j] == Value::Bool(true));
            intake.push(month, district, id, payment);
            // Reasons of kept rows: the quick path takes rows that repeat one.
            if let (Some(p), Some((s, t))) = (&mut self.intake, reason)
                && !p.reasons.iter().any(|(_, known)| *known == s)
                && p.reasons.len() < 32
            {
                p.reasons.push((t.into(), s));
            }
            values.clear();
            return;
        }
        for (i, (column, value)) in part.columns.iter_mut().zip(values.drain(..)).enumerate() {
            let value = match listed_district {
                Some(l) if Some(i) == self.district_col => Value::Text(l.into()),
                _ => value,
            };
            push(column, value, &mut ctx.out.interner, &mut self.last_sym[i]);
        }
        part.rows.push(row);
        part.keys.push(key);
    }

    /// Rejects CSV lines `first_row..=last_row` that an unclosed quote joined into one
    /// record (after the header only; before it nothing is read anyway).
    pub fn reject_lines(&mut self, ctx: &mut FileCtx, first_row: u32, last_row: u32) {
        if self.part.is_none() {
            return;
        }
        ctx.out.issues.push(Issue::BrokenQuotes {
            file: ctx.file.clone(),
            first_row,
            last_row,
        });
        self.rejected += 1;
    }

    /// Records the sheet (and its part, if any rows were kept) in the file's output.
    pub fn finish(self, ctx: &mut FileCtx) {
        let dataset = self
            .map
            .as_ref()
            .map(|m| ctx.datasets[m.dataset].name.clone());
        if dataset.is_none() {
            ctx.out.issues.push(Issue::UnknownSheet {
                file: ctx.file.clone(),
                sheet: self.sheet.clone(),
            });
        }
        ctx.out.sheets.push(SheetRecord {
            sheet: self.sheet,
            dataset,
            rows: self.kept,
            rejected: self.rejected,
            months: self.months.into_iter().collect(),
        });
        if let Some(mut part) = self.part
            && !part.rows.is_empty()
        {
            shrink(&mut part);
            ctx.out.parts.push(part);
        }
    }
}

/// Parts wait for every other file before merging: give back the growth slack.
fn shrink(part: &mut Part) {
    part.rows.shrink_to_fit();
    part.keys.shrink_to_fit();
    for c in &mut part.columns {
        match c {
            ColumnData::Text(v) => v.shrink_to_fit(),
            ColumnData::Number(v) => v.shrink_to_fit(),
            ColumnData::Integer(v) => v.shrink_to_fit(),
            ColumnData::Month(v) => v.shrink_to_fit(),
            ColumnData::Date(v) => v.shrink_to_fit(),
            ColumnData::Bool(v) => v.shrink_to_fit(),
        }
    }
}

/// Field `c` of a plain CSV line whose fields end at `ends` (`None`: the line has fewer).
fn plain_field<'a>(line: &'a str, ends: &[usize], c: u32) -> Option<&'a str> {
    let c = c as usize;
    let end = *ends.get(c)?;
    let start = match c {
        0 => 0,
        _ => ends.get(c - 1)? + 1,
    };
    line.get(start..end)
}

/// Notes a kept row's month in a sheet's months; `last` (the last row's month) spares
/// the set lookup, as rows come in runs of one month.
fn saw_month(months: &mut BTreeSet<Month>, last: &mut Option<Month>, m: Month) {
    if *last != Some(m) {
        months.insert(m);
        *last = Some(m);
    }
}

/// The symbol of `t`, skipping the hash lookup when it is `last`'s text.
fn cached_intern(interner: &mut Interner, last: &mut Option<Sym>, t: &str) -> Sym {
    let sym = match *last {
        Some(s) if interner.resolve(s) == t => s,
        _ => interner.intern(t),
    };
    *last = Some(sym);
    sym
}

/// Appends one value to its column. `last` is the column's most recent symbol: a text equal
/// to it (the same district as the row before) skips the hash lookup.
fn push(column: &mut ColumnData, value: Value, interner: &mut Interner, last: &mut Option<Sym>) {
    match (column, value) {
        (ColumnData::Text(v), Value::Text(t)) => v.push(Some(cached_intern(interner, last, &t))),
        (ColumnData::Number(v), Value::Number(n)) => v.push(Some(n)),
        (ColumnData::Integer(v), Value::Integer(n)) => v.push(Some(n)),
        (ColumnData::Month(v), Value::Month(m)) => v.push(Some(m)),
        (ColumnData::Date(v), Value::Date(d)) => v.push(Some(d)),
        (ColumnData::Bool(v), Value::Bool(b)) => v.push(Some(b)),
        (ColumnData::Text(v), _) => v.push(None),
        (ColumnData::Number(v), _) => v.push(None),
        (ColumnData::Integer(v), _) => v.push(None),
        (ColumnData::Month(v), _) => v.push(None),
        (ColumnData::Date(v), _) => v.push(None),
        (ColumnData::Bool(v), _) => v.push(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::schema::standard_datasets;

    #[test]
    fn error_cells_reject_only_required_columns() {
        let datasets: Vec<Arc<DatasetSpec>> =
            standard_datasets().into_iter().map(Arc::new).collect();
        let matcher = Matcher::new(&datasets);
        let mut ctx = FileCtx {
            datasets: &datasets,
            matcher: &matcher,
            districts: None,
            intake: None,
            file: PathBuf::from("f.xlsx"),
            out: FileContents::default(),
            rows_seen: 0,
            max_rows: u64::MAX,
        };
        let header: Vec<(u32, String)> =
            ["Period", "Stadsdel", "HushallsID", "Belopp", "AntalBarn"]
                .iter()
                .enumerate()
                .map(|(i, h)| (i as u32, h.to_string()))
                .collect();
        let mut p = SheetParser::new(Some("S".into()));
        assert!(matches!(p.offer_header(&ctx, &header), Search::Found));
        let row = |belopp: Cell<'static>, barn: Cell<'static>| {
            move |c: u32| match c {
                0 => Cell::Text("2019-01"),
                1 => Cell::Text("N"),
                2 => Cell::Int(7),
                3 => belopp.clone(),
                4 => barn.clone(),
                _ => Cell::Empty,
            }
        };
        let at = |col| RowLocation::Cell {
            sheet: "S".into(),
            col,
            row: 2,
        };
        p.row(
            &mut ctx,
            2,
            row(Cell::Float(5.0), Cell::Error("#N/A".into())),
            at,
        );
        p.row(
            &mut ctx,
            3,
            row(Cell::Error("#N/A".into()), Cell::Int(1)),
            at,
        );
        p.finish(&mut ctx);
        assert_eq!(ctx.out.parts[0].rows, vec![2]);
        assert!(matches!(ctx.out.parts[0].columns[4], ColumnData::Integer(ref v) if v == &[None]));
        assert_eq!(ctx.out.issues.len(), 1);
        assert_eq!(
            ctx.out.issues[0].to_string(),
            "f.xlsx [S!D2]: Belopp holds the error #N/A"
        );
    }
}
