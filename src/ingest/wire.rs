//! Ingest, the reader process's wire format: the request (which file, the datasets, the id
//! key) the parent writes to the child's stdin, and the parsed file (or why it was skipped)
//! the child writes to its stdout. Compact little-endian binary, columns as flat runs; it
//! goes through a pipe only, never to a log or a file. Decoding checks every length, so a
//! cut-off answer is an error, never a panic.

use std::path::PathBuf;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::fold::{self, HouseholdMonth, MonthFold, Reason};
use super::ids::IdList;
use super::issue::{Issue, RejectReason, RowLocation, SkipReason};
use super::limits::Exceeded;
use super::sheet::{Part, PeriodKey};
use super::{Parsed, SheetRecord};
use crate::model::{ColumnData, ColumnKind, ColumnSpec, DatasetSpec, Date, Month, Sym};

const MAGIC: &[u8; 8] = b"UTFALLW1";

/// What the child is asked to read.
pub struct Request {
    pub key: [u8; 32],
    pub path: PathBuf,
    pub name: String,
    pub display: PathBuf,
    pub districts: Option<Vec<String>>,
    pub datasets: Vec<Arc<DatasetSpec>>,
    pub max_rows: u64,
    pub max_unzipped_bytes: u64,
    /// Fold `utbetalningar` in the child (`PaymentRows::Fold`) instead of sending rows.
    pub fold_payments: bool,
}

/// The answer was cut off or is not ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the reader process gave a malformed answer")]
pub struct WireError;

type Res<T> = Result<T, WireError>;

// ------------------------------------------------------------------------------------------
// Primitives

#[derive(Default)]
pub struct W(pub Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    fn path(&mut self, p: &std::path::Path) {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            self.bytes(p.as_os_str().as_bytes());
        }
        #[cfg(not(unix))]
        self.str(&p.to_string_lossy());
    }
    fn strs(&mut self, v: &[String]) {
        self.len(v.len());
        for s in v {
            self.str(s);
        }
    }
}

pub struct R<'a> {
    b: &'a [u8],
}

impl<'a> R<'a> {
    pub fn new(b: &'a [u8]) -> R<'a> {
        R { b }
    }
    fn take(&mut self, n: usize) -> Res<&'a [u8]> {
        if n > self.b.len() {
            return Err(WireError);
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(head)
    }
    fn arr<const N: usize>(&mut self) -> Res<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| WireError)
    }
    fn u8(&mut self) -> Res<u8> {
        Ok(self.arr::<1>()?[0])
    }
    fn u32(&mut self) -> Res<u32> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Res<u64> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn i64(&mut self) -> Res<i64> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    /// A count of items each at least `min_size` bytes long: never more than the bytes left
    /// could hold, so a corrupt count cannot make us allocate.
    fn len(&mut self, min_size: usize) -> Res<usize> {
        let n = usize::try_from(self.u64()?).map_err(|_| WireError)?;
        if n.saturating_mul(min_size.max(1)) > self.b.len() {
            return Err(WireError);
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Res<&'a [u8]> {
        let n = self.len(1)?;
        self.take(n)
    }
    fn str(&mut self) -> Res<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| WireError)
    }
    fn opt_str(&mut self) -> Res<Option<String>> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            _ => Err(WireError),
        }
    }
    fn path(&mut self) -> Res<PathBuf> {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            Ok(PathBuf::from(std::ffi::OsStr::from_bytes(self.bytes()?)))
        }
        #[cfg(not(unix))]
        self.str().map(PathBuf::from)
    }
    fn strs(&mut self) -> Res<Vec<String>> {
        let n = self.len(8)?;
        (0..n).map(|_| self.str()).collect()
    }
    fn end(&self) -> Res<()> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(WireError)
        }
    }
}

// ------------------------------------------------------------------------------------------
// The request

fn write_kind(w: &mut W, k: ColumnKind) {
    let code = match k {
        ColumnKind::Text => 0,
        ColumnKind::Id => 1,
        ColumnKind::Number => 2,
        ColumnKind::Integer => 3,
        ColumnKind::Month => 4,
        ColumnKind::Date => 5,
        ColumnKind::YesNo => 6,
        ColumnKind::MonthName { .. } => 7,
    };
    w.u8(code);
    if let ColumnKind::MonthName { year } = k {
        w.u64(year as u64);
    }
}

fn read_kind(r: &mut R<'_>) -> Res<ColumnKind> {
    Ok(match r.u8()? {
        0 => ColumnKind::Text,
        1 => ColumnKind::Id,
        2 => ColumnKind::Number,
        3 => ColumnKind::Integer,
        4 => ColumnKind::Month,
        5 => ColumnKind::Date,
        6 => ColumnKind::YesNo,
        7 => ColumnKind::MonthName {
            year: usize::try_from(r.u64()?).map_err(|_| WireError)?,
        },
        _ => return Err(WireError),
    })
}

pub fn encode_request(r: &Request) -> Vec<u8> {
    let mut w = W::default();
    w.0.extend_from_slice(MAGIC);
    w.0.extend_from_slice(&r.key);
    w.path(&r.path);
    w.str(&r.name);
    w.path(&r.display);
    match &r.districts {
        None => w.u8(0),
        Some(d) => {
            w.u8(1);
            w.strs(d);
        }
    }
    w.len(r.datasets.len());
    for d in &r.datasets {
        w.str(&d.name);
        w.opt_str(d.replace_by.as_deref());
        w.len(d.columns.len());
        for c in &d.columns {
            w.str(&c.name);
            w.strs(&c.aliases);
            write_kind(&mut w, c.kind);
            w.u8(u8::from(c.required));
        }
    }
    w.u64(r.max_rows);
    w.u64(r.max_unzipped_bytes);
    w.u8(u8::from(r.fold_payments));
    w.0
}

pub fn decode_request(b: &[u8]) -> Res<Request> {
    let mut r = R::new(b);
    if r.take(MAGIC.len())? != MAGIC {
        return Err(WireError);
    }
    let key = r.arr::<32>()?;
    let path = r.path()?;
    let name = r.str()?;
    let display = r.path()?;
    let districts = match r.u8()? {
        0 => None,
        1 => Some(r.strs()?),
        _ => return Err(WireError),
    };
    let n = r.len(8)?;
    let mut datasets = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str()?;
        let replace_by = r.opt_str()?;
        let m = r.len(8)?;
        let mut columns = Vec::with_capacity(m);
        for _ in 0..m {
            columns.push(ColumnSpec {
                name: r.str()?,
                aliases: r.strs()?,
                kind: read_kind(&mut r)?,
                required: r.u8()? != 0,
            });
        }
        datasets.push(Arc::new(DatasetSpec {
            name,
            columns,
            replace_by,
        }));
    }
    let max_rows = r.u64()?;
    let max_unzipped_bytes = r.u64()?;
    let fold_payments = r.u8()? != 0;
    r.end()?;
    Ok(Request {
        key,
        path,
        name,
        display,
        districts,
        datasets,
        max_rows,
        max_unzipped_bytes,
        fold_payments,
    })
}

// ------------------------------------------------------------------------------------------
// The answer

const NONE_U32: u32 = u32::MAX;

fn month_code(m: Option<Month>) -> u32 {
    m.map_or(NONE_U32, |m| m.ordinal() as u32)
}

fn month_of(c: u32) -> Option<Month> {
    (c != NONE_U32).then(|| Month::from_ordinal(c as i32))
}

fn encode_column(w: &mut W, c: &ColumnData) {
    match c {
        ColumnData::Text(v) => {
            w.u8(0);
            w.len(v.len());
            for s in v {
                w.u32(s.map_or(NONE_U32, |s| s.0));
            }
        }
        ColumnData::Number(v) => {
            w.u8(1);
            w.len(v.len());
            for n in v {
                match n {
                    None => w.u8(0),
                    Some(d) => {
                        w.u8(1);
                        w.0.extend_from_slice(&d.serialize());
                    }
                }
            }
        }
        ColumnData::Integer(v) => {
            w.u8(2);
            w.len(v.len());
            for n in v {
                match n {
                    None => w.u8(0),
                    Some(i) => {
                        w.u8(1);
                        w.i64(*i);
                    }
                }
            }
        }
        ColumnData::Month(v) => {
            w.u8(3);
            w.len(v.len());
            for m in v {
                w.u32(month_code(*m));
            }
        }
        ColumnData::Date(v) => {
            w.u8(4);
            w.len(v.len());
            for d in v {
                w.u32(d.map_or(NONE_U32, |d| {
                    ((d.year as u32) << 9) | (u32::from(d.month) << 5) | u32::from(d.day)
                }));
            }
        }
        ColumnData::Bool(v) => {
            w.u8(5);
            w.len(v.len());
            for b in v {
                w.u8(match b {
                    None => 2,
                    Some(true) => 1,
                    Some(false) => 0,
                });
            }
        }
    }
}

fn date_of_code(c: u32) -> Option<Date> {
    Date::new((c >> 9) as i32, (c >> 5) & 0xf, c & 0x1f)
}

fn decode_column(r: &mut R) -> Res<ColumnData> {
    Ok(match r.u8()? {
        0 => {
            let n = r.len(4)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let c = r.u32()?;
                v.push((c != NONE_U32).then_some(Sym(c)));
            }
            ColumnData::Text(v)
        }
        1 => {
            let n = r.len(1)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(match r.u8()? {
                    0 => None,
                    _ => Some(Decimal::deserialize(r.arr::<16>()?)),
                });
            }
            ColumnData::Number(v)
        }
        2 => {
            let n = r.len(1)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(match r.u8()? {
                    0 => None,
                    _ => Some(r.i64()?),
                });
            }
            ColumnData::Integer(v)
        }
        3 => {
            let n = r.len(4)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(month_of(r.u32()?));
            }
            ColumnData::Month(v)
        }
        4 => {
            let n = r.len(4)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let c = r.u32()?;
                v.push(if c == NONE_U32 {
                    None
                } else {
                    Some(date_of_code(c).ok_or(WireError)?)
                });
            }
            ColumnData::Date(v)
        }
        5 => {
            let n = r.len(1)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(match r.u8()? {
                    0 => Some(false),
                    1 => Some(true),
                    _ => None,
                });
            }
            ColumnData::Bool(v)
        }
        _ => return Err(WireError),
    })
}

fn encode_exceeded(w: &mut W, e: &Exceeded) {
    match e {
        Exceeded::FileSize { bytes, limit } => {
            w.u8(0);
            w.u64(*bytes);
            w.u64(*limit);
        }
        Exceeded::Rows { limit } => {
            w.u8(1);
            w.u64(*limit);
        }
        Exceeded::Unzipped { bytes, limit } => {
            w.u8(2);
            w.u64(*bytes);
            w.u64(*limit);
        }
        Exceeded::Memory { limit_mb } => {
            w.u8(3);
            w.u64(*limit_mb);
        }
        Exceeded::Time { seconds } => {
            w.u8(4);
            w.u64(*seconds);
        }
    }
}

fn decode_exceeded(r: &mut R) -> Res<Exceeded> {
    Ok(match r.u8()? {
        0 => Exceeded::FileSize {
            bytes: r.u64()?,
            limit: r.u64()?,
        },
        1 => Exceeded::Rows { limit: r.u64()? },
        2 => Exceeded::Unzipped {
            bytes: r.u64()?,
            limit: r.u64()?,
        },
        3 => Exceeded::Memory { limit_mb: r.u64()? },
        4 => Exceeded::Time { seconds: r.u64()? },
        _ => return Err(WireError),
    })
}

fn encode_skip(w: &mut W, s: &SkipReason) {
    match s {
        SkipReason::NotAnExportFormat => w.u8(0),
        SkipReason::Io { detail } => {
            w.u8(1);
            w.str(detail);
        }
        SkipReason::Unreadable { detail } => {
            w.u8(2);
            w.str(detail);
        }
        SkipReason::Corrupt => w.u8(3),
        SkipReason::PasswordProtected => w.u8(4),
        SkipReason::Unsupported { detail } => {
            w.u8(5);
            w.str(detail);
        }
        SkipReason::TooLarge { exceeded } => {
            w.u8(6);
            encode_exceeded(w, exceeded);
        }
    }
}

fn decode_skip(r: &mut R) -> Res<SkipReason> {
    Ok(match r.u8()? {
        0 => SkipReason::NotAnExportFormat,
        1 => SkipReason::Io { detail: r.str()? },
        2 => SkipReason::Unreadable { detail: r.str()? },
        3 => SkipReason::Corrupt,
        4 => SkipReason::PasswordProtected,
        5 => SkipReason::Unsupported { detail: r.str()? },
        6 => SkipReason::TooLarge {
            exceeded: decode_exceeded(r)?,
        },
        _ => return Err(WireError),
    })
}

fn encode_reject(w: &mut W, x: &RejectReason) {
    let (code, text) = match x {
        RejectReason::Missing => (0, None),
        RejectReason::NotANumber { text } => (1, Some(text)),
        RejectReason::NotAnInteger { text } => (2, Some(text)),
        RejectReason::NotAMonth { text } => (3, Some(text)),
        RejectReason::NotADate { text } => (4, Some(text)),
        RejectReason::NotYesNo { text } => (5, Some(text)),
        RejectReason::BadId => (6, None),
        RejectReason::CellError { error } => (7, Some(error)),
        RejectReason::UnknownDistrict { text } => (8, Some(text)),
        RejectReason::OutOfRange { text } => (9, Some(text)),
    };
    w.u8(code);
    if let Some(t) = text {
        w.str(t);
    }
}

fn decode_reject(r: &mut R) -> Res<RejectReason> {
    Ok(match r.u8()? {
        0 => RejectReason::Missing,
        1 => RejectReason::NotANumber { text: r.str()? },
        2 => RejectReason::NotAnInteger { text: r.str()? },
        3 => RejectReason::NotAMonth { text: r.str()? },
        4 => RejectReason::NotADate { text: r.str()? },
        5 => RejectReason::NotYesNo { text: r.str()? },
        6 => RejectReason::BadId,
        7 => RejectReason::CellError { error: r.str()? },
        8 => RejectReason::UnknownDistrict { text: r.str()? },
        9 => RejectReason::OutOfRange { text: r.str()? },
        _ => return Err(WireError),
    })
}

fn encode_issue(w: &mut W, i: &Issue) {
    match i {
        Issue::RowRejected {
            file,
            at,
            column,
            reason,
        } => {
            w.u8(0);
            w.path(file);
            match at {
                RowLocation::Cell { sheet, col, row } => {
                    w.u8(0);
                    w.str(sheet);
                    w.u32(*col);
                    w.u32(*row);
                }
                RowLocation::Csv { row } => {
                    w.u8(1);
                    w.u32(*row);
                }
            }
            w.str(column);
            encode_reject(w, reason);
        }
        Issue::FileSkipped { file, reason } => {
            w.u8(1);
            w.path(file);
            encode_skip(w, reason);
        }
        Issue::DuplicateFile { file, of } => {
            w.u8(2);
            w.path(file);
            w.path(of);
        }
        Issue::UnknownSheet { file, sheet } => {
            w.u8(3);
            w.path(file);
            w.opt_str(sheet.as_deref());
        }
        Issue::SheetUnreadable {
            file,
            sheet,
            detail,
        } => {
            w.u8(4);
            w.path(file);
            w.str(sheet);
            w.str(detail);
        }
        Issue::BrokenQuotes {
            file,
            first_row,
            last_row,
        } => {
            w.u8(5);
            w.path(file);
            w.u32(*first_row);
            w.u32(*last_row);
        }
    }
}

fn decode_issue(r: &mut R) -> Res<Issue> {
    Ok(match r.u8()? {
        0 => {
            let file = r.path()?;
            let at = match r.u8()? {
                0 => RowLocation::Cell {
                    sheet: r.str()?,
                    col: r.u32()?,
                    row: r.u32()?,
                },
                1 => RowLocation::Csv { row: r.u32()? },
                _ => return Err(WireError),
            };
            Issue::RowRejected {
                file,
                at,
                column: r.str()?,
                reason: decode_reject(r)?,
            }
        }
        1 => Issue::FileSkipped {
            file: r.path()?,
            reason: decode_skip(r)?,
        },
        2 => Issue::DuplicateFile {
            file: r.path()?,
            of: r.path()?,
        },
        3 => Issue::UnknownSheet {
            file: r.path()?,
            sheet: r.opt_str()?,
        },
        4 => Issue::SheetUnreadable {
            file: r.path()?,
            sheet: r.str()?,
            detail: r.str()?,
        },
        5 => Issue::BrokenQuotes {
            file: r.path()?,
            first_row: r.u32()?,
            last_row: r.u32()?,
        },
        _ => return Err(WireError),
    })
}

fn encode_part(w: &mut W, p: &Part) {
    w.len(p.dataset);
    w.len(p.columns.len());
    for c in &p.columns {
        encode_column(w, c);
    }
    w.len(p.rows.len());
    for r in &p.rows {
        w.u32(*r);
    }
    w.len(p.keys.len());
    for k in &p.keys {
        match k {
            None => w.u8(0),
            Some(PeriodKey::Month(m)) => {
                w.u8(1);
                w.u32(month_code(Some(*m)));
            }
            Some(PeriodKey::Year(y)) => {
                w.u8(2);
                w.u32(*y as u32);
            }
        }
    }
}

fn decode_part(r: &mut R) -> Res<Part> {
    let dataset = usize::try_from(r.u64()?).map_err(|_| WireError)?;
    let n = r.len(9)?;
    let columns = (0..n).map(|_| decode_column(r)).collect::<Res<Vec<_>>>()?;
    let n = r.len(4)?;
    let rows = (0..n).map(|_| r.u32()).collect::<Res<Vec<_>>>()?;
    let n = r.len(1)?;
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        keys.push(match r.u8()? {
            0 => None,
            1 => Some(PeriodKey::Month(month_of(r.u32()?).ok_or(WireError)?)),
            2 => Some(PeriodKey::Year(r.u32()? as i32)),
            _ => return Err(WireError),
        });
    }
    if keys.len() != rows.len() || columns.iter().any(|c| c.len() != rows.len()) {
        return Err(WireError);
    }
    Ok(Part {
        dataset,
        columns,
        rows,
        keys,
    })
}

fn encode_sheet(w: &mut W, s: &SheetRecord) {
    w.opt_str(s.sheet.as_deref());
    w.opt_str(s.dataset.as_deref());
    w.len(s.rows);
    w.len(s.rejected);
    w.len(s.months.len());
    for m in &s.months {
        w.u32(month_code(Some(*m)));
    }
}

fn decode_sheet(r: &mut R) -> Res<SheetRecord> {
    let sheet = r.opt_str()?;
    let dataset = r.opt_str()?;
    let rows = usize::try_from(r.u64()?).map_err(|_| WireError)?;
    let rejected = usize::try_from(r.u64()?).map_err(|_| WireError)?;
    let n = r.len(4)?;
    let months = (0..n)
        .map(|_| r.u32().and_then(|c| month_of(c).ok_or(WireError)))
        .collect::<Res<Vec<_>>>()?;
    Ok(SheetRecord {
        sheet,
        dataset,
        rows,
        rejected,
        months,
    })
}

pub fn encode_answer(a: &Result<Parsed, SkipReason>) -> Vec<u8> {
    let mut w = W::default();
    w.0.extend_from_slice(MAGIC);
    match a {
        Err(reason) => {
            w.u8(0);
            encode_skip(&mut w, reason);
        }
        Ok(p) => {
            w.u8(1);
            w.str(&p.text);
            w.len(p.ends.len());
            for e in &p.ends {
                w.len(*e);
            }
            w.len(p.parts.len());
            for part in &p.parts {
                encode_part(&mut w, part);
            }
            w.len(p.sheets.len());
            for s in &p.sheets {
                encode_sheet(&mut w, s);
            }
            w.len(p.issues.len());
            for i in &p.issues {
                encode_issue(&mut w, i);
            }
            w.len(p.payments.len());
            for f in &p.payments {
                encode_fold(&mut w, f);
            }
            encode_ids(&mut w, &p.household_ids);
        }
    }
    w.0
}

fn encode_household_month(w: &mut W, hm: &HouseholdMonth) {
    w.u32(hm.household);
    w.u32(month_code(Some(hm.month)));
    w.0.extend_from_slice(&hm.net.serialize());
    w.u32(hm.adults);
    w.u32(hm.children);
    w.u32(hm.young);
    w.u32(hm.reason_code().code());
    w.u8(u8::from(hm.unemployed) | (u8::from(hm.jobbtorg) << 1));
}

/// Bytes of one household-month on the wire.
const HOUSEHOLD_MONTH_BYTES: usize = 4 + 4 + 16 + 4 * 4 + 1;

fn decode_household_month(r: &mut R, symbols: usize) -> Res<HouseholdMonth> {
    let household = r.u32()?;
    let month = month_of(r.u32()?).ok_or(WireError)?;
    let net = Decimal::deserialize(r.arr::<16>()?);
    let (adults, children, young) = (r.u32()?, r.u32()?, r.u32()?);
    let reason = r.u32()?;
    if reason != NONE_U32 && reason as usize >= symbols {
        return Err(WireError);
    }
    let flags = r.u8()?;
    let mut hm = fold::EMPTY;
    hm.household = household;
    hm.month = month;
    hm.net = net;
    (hm.adults, hm.children, hm.young) = (adults, children, young);
    hm.unemployed = flags & 1 != 0;
    hm.jobbtorg = flags & 2 != 0;
    hm.set_reason_code(Reason::from_code(reason));
    Ok(hm)
}

fn encode_fold(w: &mut W, f: &MonthFold) {
    w.u32(month_code(Some(f.month)));
    w.len(f.rows);
    w.len(f.households.len());
    for (hm, d) in f.households.iter().zip(&f.districts) {
        encode_household_month(w, hm);
        w.u32(d.0);
    }
    w.len(f.across.len());
    for hm in &f.across {
        encode_household_month(w, hm);
    }
    w.len(f.rows_by_district.len());
    for (d, n) in &f.rows_by_district {
        w.u32(d.0);
        w.len(*n);
    }
}

/// A fold of a file with `symbols` symbols; every symbol it names must be one of them.
fn decode_fold(r: &mut R, symbols: usize) -> Res<MonthFold> {
    let sym = |s: u32| {
        if (s as usize) < symbols {
            Ok(Sym(s))
        } else {
            Err(WireError)
        }
    };
    let month = month_of(r.u32()?).ok_or(WireError)?;
    let rows = usize::try_from(r.u64()?).map_err(|_| WireError)?;
    let mut f = MonthFold::new(month, rows);
    let n = r.len(HOUSEHOLD_MONTH_BYTES + 4)?;
    f.households.reserve_exact(n);
    f.districts.reserve_exact(n);
    for _ in 0..n {
        f.households.push(decode_household_month(r, symbols)?);
        f.districts.push(sym(r.u32()?)?);
    }
    let n = r.len(HOUSEHOLD_MONTH_BYTES)?;
    f.across = (0..n)
        .map(|_| decode_household_month(r, symbols))
        .collect::<Res<_>>()?;
    let n = r.len(12)?;
    f.rows_by_district = (0..n)
        .map(|_| {
            let d = sym(r.u32()?)?;
            let rows = usize::try_from(r.u64()?).map_err(|_| WireError)?;
            Ok((d, rows))
        })
        .collect::<Res<_>>()?;
    Ok(f)
}

fn encode_ids(w: &mut W, ids: &IdList) {
    w.len(ids.packed.len());
    for k in &ids.packed {
        w.0.extend_from_slice(&k.to_le_bytes());
    }
    w.strs(&ids.long);
}

fn decode_ids(r: &mut R) -> Res<IdList> {
    let n = r.len(16)?;
    let packed = (0..n)
        .map(|_| Ok(u128::from_le_bytes(r.arr::<16>()?)))
        .collect::<Res<Vec<u128>>>()?;
    let long = r.strs()?;
    // Numbers are positions: the lists must be sorted and distinct.
    if !packed.is_sorted_by(|a, b| a < b) || !long.is_sorted_by(|a, b| a < b) {
        return Err(WireError);
    }
    Ok(IdList { packed, long })
}

pub fn decode_answer(b: &[u8]) -> Res<Result<Parsed, SkipReason>> {
    let mut r = R::new(b);
    if r.take(MAGIC.len())? != MAGIC {
        return Err(WireError);
    }
    let answer = match r.u8()? {
        0 => Err(decode_skip(&mut r)?),
        1 => {
            let text = r.str()?;
            let n = r.len(8)?;
            let mut ends = Vec::with_capacity(n);
            let mut last = 0;
            for _ in 0..n {
                let e = usize::try_from(r.u64()?).map_err(|_| WireError)?;
                // `Parsed::strings` slices `text` by these: they must be char boundaries
                // in order.
                if e < last || !text.is_char_boundary(e) {
                    return Err(WireError);
                }
                last = e;
                ends.push(e);
            }
            let n = r.len(8)?;
            let parts = (0..n)
                .map(|_| decode_part(&mut r))
                .collect::<Res<Vec<_>>>()?;
            let n = r.len(8)?;
            let sheets = (0..n)
                .map(|_| decode_sheet(&mut r))
                .collect::<Res<Vec<_>>>()?;
            let n = r.len(2)?;
            let issues = (0..n)
                .map(|_| decode_issue(&mut r))
                .collect::<Res<Vec<_>>>()?;
            let n = r.len(8)?;
            let payments = (0..n)
                .map(|_| decode_fold(&mut r, ends.len()))
                .collect::<Res<Vec<_>>>()?;
            let household_ids = decode_ids(&mut r)?;
            Ok(Parsed {
                text,
                ends,
                parts,
                sheets,
                issues,
                payments,
                household_ids,
            })
        }
        _ => return Err(WireError),
    };
    r.end()?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_kind_crosses_the_wire() {
        let kinds = [
            ColumnKind::Text,
            ColumnKind::Id,
            ColumnKind::Number,
            ColumnKind::Integer,
            ColumnKind::Month,
            ColumnKind::Date,
            ColumnKind::YesNo,
            ColumnKind::MonthName { year: 3 },
        ];
        let mut w = W::default();
        for k in kinds {
            write_kind(&mut w, k);
        }
        let mut r = R::new(&w.0);
        for k in kinds {
            assert_eq!(read_kind(&mut r).ok(), Some(k));
        }
    }

    #[test]
    fn folded_payments_cross_the_wire_and_a_cut_answer_is_an_error() {
        let m = Month::new(2019, 3).unwrap();
        let mut hm = fold::EMPTY;
        (hm.household, hm.month, hm.net, hm.adults, hm.jobbtorg) =
            (1, m, Decimal::new(-12345, 2), 2, true);
        hm.set_reason_code(Reason::from_code(1));
        let mut across = hm;
        across.unemployed = true;
        let mut f = MonthFold::new(m, 3);
        f.households = vec![hm, fold::EMPTY];
        f.districts = vec![Sym(0), Sym(0)];
        f.across = vec![across];
        f.rows_by_district = vec![(Sym(0), 3)];
        let parsed = Parsed {
            text: "Kommun 001Sjukdom".into(),
            ends: vec![10, 17],
            parts: Vec::new(),
            sheets: Vec::new(),
            issues: Vec::new(),
            payments: vec![f.clone()],
            household_ids: IdList {
                packed: vec![1, 7],
                long: vec!["a-household-id-longer-than-fifteen".into()],
            },
        };
        let bytes = encode_answer(&Ok(parsed));
        let Ok(Ok(back)) = decode_answer(&bytes) else {
            panic!("the answer does not decode");
        };
        assert_eq!(back.payments, vec![f]);
        assert_eq!(back.household_ids.packed, vec![1, 7]);
        assert_eq!(back.household_ids.long.len(), 1);
        for cut in 0..bytes.len() {
            assert!(decode_answer(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
