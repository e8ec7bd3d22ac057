//! Ingest, values: one cell (from Excel or CSV) → one typed value of a column kind.
//! Takes a format-neutral `Cell` and a `ColumnKind`, gives a `Value` or the reason the cell
//! cannot be read. Missing-value marks are `Missing`, never zero; personnummer-like ids are
//! replaced by a keyed hash here, before anything is interned.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::OnceLock;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::issue::RejectReason;
use crate::model::{ColumnKind, Date, Month, within_number_limit};

/// One cell as the readers see it, whatever the file format.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell<'a> {
    Empty,
    Text(&'a str),
    Float(f64),
    Int(i64),
    Bool(bool),
    /// A date-formatted cell; `None` when its serial is outside Excel's calendar.
    Date(Option<Date>),
    /// An error value such as `#N/A`.
    Error(String),
}

/// A typed value, before interning.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Missing,
    Text(Cow<'a, str>),
    Number(Decimal),
    Integer(i64),
    Month(Month),
    Date(Date),
    Bool(bool),
}

/// `t.trim()`, without the Unicode whitespace search for the usual cell that starts and
/// ends with a visible ASCII character.
fn trim(t: &str) -> &str {
    match t.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => t,
        [only] if only.is_ascii_graphic() => t,
        _ => t.trim(),
    }
}

/// SPEC §2: these are not values.
pub fn is_missing_mark(t: &str) -> bool {
    matches!(t, "" | "--" | ".." | "-" | "\u{2013}" | "\u{2014}")
}

impl Cell<'_> {
    /// True for an empty cell or one holding only a missing-value mark.
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => is_missing_mark(trim(t)),
            _ => false,
        }
    }

    /// The cell as text, for quoting in a message and for header matching.
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => (*t).to_string(),
            Cell::Float(f) => format!("{f}"),
            Cell::Int(i) => i.to_string(),
            Cell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
            Cell::Date(Some(d)) => d.to_string(),
            Cell::Date(None) => "(date out of range)".to_string(),
            Cell::Error(e) => e.clone(),
        }
    }
}

/// Reads one cell as `kind`. `Ok(Value::Missing)` for empty cells and missing marks (for
/// `YesNo` an empty cell is "no").
pub fn parse<'a>(kind: ColumnKind, cell: &Cell<'a>) -> Result<Value<'a>, RejectReason> {
    if let Cell::Error(e) = cell {
        return Err(RejectReason::CellError { error: e.clone() });
    }
    if let Cell::Text(t) = cell {
        let t = trim(t);
        if t.is_empty() && kind == ColumnKind::YesNo {
            return Ok(Value::Bool(false));
        }
        if is_missing_mark(t) {
            return Ok(Value::Missing);
        }
    }
    if *cell == Cell::Empty {
        return Ok(if kind == ColumnKind::YesNo {
            Value::Bool(false)
        } else {
            Value::Missing
        });
    }
    let quoted = || quote(&cell.display());
    match kind {
        ColumnKind::Text => Ok(Value::Text(withhold_pnr(match cell {
            Cell::Text(t) => Cow::Borrowed(trim(t)),
            // Codes such as Verksamhet 1810 may arrive as numbers.
            Cell::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                Cow::Owned(format!("{}", *f as i64))
            }
            other => Cow::Owned(other.display()),
        }))),
        ColumnKind::Id => parse_id(cell).map(Value::Text).ok_or(RejectReason::BadId),
        ColumnKind::Number => match parse_number(cell) {
            Some(n) if within_number_limit(n) => Ok(Value::Number(n)),
            Some(_) => Err(RejectReason::OutOfRange { text: quoted() }),
            None => Err(RejectReason::NotANumber { text: quoted() }),
        },
        ColumnKind::Integer => parse_integer(cell)
            .map(Value::Integer)
            .ok_or_else(|| RejectReason::NotAnInteger { text: quoted() }),
        ColumnKind::Month => parse_month(cell)
            .map(Value::Month)
            .ok_or_else(|| RejectReason::NotAMonth { text: quoted() }),
        // The month number; the row joins it with its year (`sheet`).
        ColumnKind::MonthName { .. } => parse_month_name(cell)
            .map(|m| Value::Integer(i64::from(m)))
            .ok_or_else(|| RejectReason::NotAMonth { text: quoted() }),
        ColumnKind::Date => parse_date(cell)
            .map(Value::Date)
            .ok_or_else(|| RejectReason::NotADate { text: quoted() }),
        ColumnKind::YesNo => parse_yes_no(cell)
            .map(Value::Bool)
            .ok_or_else(|| RejectReason::NotYesNo { text: quoted() }),
    }
}

/// A bad cell's text for a message: at most 40 characters, and never anything that looks
/// like a personnummer (a swapped column must not leak one).
pub fn quote(text: &str) -> String {
    let t = text.trim();
    if contains_pnr(t) {
        return "(personnummer-like value withheld)".to_string();
    }
    let mut out: String = t.chars().take(40).collect();
    if t.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// What a personnummer in free text (a comment, a category) is replaced by: text columns
/// are shown in the workbooks, and no identity number may be.
pub const PNR_WITHHELD: &str = "(personnummer borttaget)";

/// Free text with every personnummer-like token replaced by `PNR_WITHHELD`.
fn withhold_pnr(t: Cow<'_, str>) -> Cow<'_, str> {
    // Fast path: a personnummer needs at least ten digits.
    if t.bytes().filter(u8::is_ascii_digit).count() < 10 || !contains_pnr(&t) {
        return t;
    }
    let is_tok = |c: char| c.is_ascii_digit() || c == '-' || c == '+';
    let mut out = String::with_capacity(t.len());
    let mut rest: &str = &t;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !is_tok(c)).unwrap_or(rest.len());
        let (tok, after) = rest.split_at(n);
        out.push_str(if pnr_digits(tok).is_some() {
            PNR_WITHHELD
        } else {
            tok
        });
        let m = after.find(is_tok).unwrap_or(after.len());
        out.push_str(&after[..m]);
        rest = &after[m..];
    }
    Cow::Owned(out)
}

fn contains_pnr(t: &str) -> bool {
    t.split(|c: char| !(c.is_ascii_digit() || c == '-' || c == '+'))
        .any(|tok| pnr_digits(tok).is_some())
}

// ------------------------------------------------------------------------------------------
// Numbers

/// Exact decimal from a cell. Text may use decimal comma or point, spaces, NBSP or narrow
/// NBSP as thousands separators and a leading U+2212 minus. Floats go through their
/// shortest round-trip text so that 1234.5 stays 1234.5. (Any size: `parse` checks the
/// range.)
pub fn parse_number(cell: &Cell) -> Option<Decimal> {
    match cell {
        Cell::Int(i) => Some(Decimal::from(*i)),
        Cell::Float(f) => float_to_decimal(*f),
        Cell::Text(t) => parse_number_text(t),
        _ => None,
    }
}

/// The decimal whose shortest round-trip text is `f`'s. Amounts in whole cents (below 10^12,
/// where one double cannot stand for two such decimals) skip the formatting.
fn float_to_decimal(f: f64) -> Option<Decimal> {
    if !f.is_finite() {
        return None;
    }
    if f.abs() < 1e12 {
        let cents = (f * 100.0).round();
        if cents / 100.0 == f {
            return Some(Decimal::new(cents as i64, 2).normalize());
        }
    }
    Decimal::from_str(&format!("{f}")).ok()
}

/// The common shapes of an exported amount, `6598,79`, `-120.5`, `1`, read without the
/// general path's copying: an optional minus, digits, and at most one decimal comma or point
/// with digits on both sides, 18 characters at most (so that the digits fit an `i64`).
/// `None` for anything else, which the general path then reads; it gives the same decimal,
/// scale included, for every text this accepts (negative zero is left to it).
fn simple_decimal(t: &str) -> Option<Decimal> {
    let (negative, body) = match t.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    if body.is_empty() || body.len() > 18 {
        return None;
    }
    let mut mantissa: i64 = 0;
    let mut scale: Option<usize> = None;
    for (i, b) in body.iter().enumerate() {
        match b {
            b'0'..=b'9' => mantissa = mantissa * 10 + i64::from(b - b'0'),
            b',' | b'.' if scale.is_none() && i > 0 && i + 1 < body.len() => {
                scale = Some(body.len() - 1 - i);
            }
            _ => return None,
        }
    }
    if negative && mantissa == 0 {
        return None;
    }
    let mantissa = if negative { -mantissa } else { mantissa };
    Some(Decimal::new(mantissa, scale.unwrap_or(0) as u32))
}

/// A whole number written as an optional minus and at most 18 digits (the usual count or
/// account number), read directly; `None` for anything else.
fn simple_integer(t: &str) -> Option<i64> {
    let (negative, body) = match t.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    if body.is_empty() || body.len() > 18 || !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = body.iter().fold(0i64, |n, b| n * 10 + i64::from(b - b'0'));
    Some(if negative { -n } else { n })
}

pub fn parse_number_text(t: &str) -> Option<Decimal> {
    let t = trim(t);
    if let Some(d) = simple_decimal(t) {
        return Some(d);
    }
    let mut s = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' => {}
            '\u{2212}' => s.push('-'),
            c => s.push(c),
        }
    }
    let has_comma = s.contains(',');
    if has_comma && s.contains('.') {
        return None; // "1.234,50" or "1,234.50": ambiguous, as in the reference
    }
    if has_comma {
        s = s.replace(',', ".");
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(&s);
    if body.is_empty()
        || !body.chars().all(|c| c.is_ascii_digit() || c == '.')
        || body.matches('.').count() > 1
        || body.starts_with('.') && body.len() == 1
    {
        return None;
    }
    Decimal::from_str(&s).ok()
}

pub fn parse_integer(cell: &Cell) -> Option<i64> {
    match cell {
        Cell::Int(i) => Some(*i),
        Cell::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
        Cell::Text(t) => {
            if let Some(n) = simple_integer(trim(t)) {
                return Some(n);
            }
            let d = parse_number_text(t)?;
            if d.fract().is_zero() {
                i64::try_from(d.trunc()).ok()
            } else {
                None
            }
        }
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------
// Months and dates

const MONTHS_SV: [(&str, u32); 24] = [
    ("jan", 1),
    ("januari", 1),
    ("feb", 2),
    ("februari", 2),
    ("mar", 3),
    ("mars", 3),
    ("apr", 4),
    ("april", 4),
    ("maj", 5),
    ("jun", 6),
    ("juni", 6),
    ("jul", 7),
    ("juli", 7),
    ("aug", 8),
    ("augusti", 8),
    ("sep", 9),
    ("sept", 9),
    ("september", 9),
    ("okt", 10),
    ("oktober", 10),
    ("nov", 11),
    ("november", 11),
    ("dec", 12),
    ("december", 12),
];

/// A month from a date cell, a serial or yyyymm number, or text: `2013-05`, `201305`,
/// `2013-05-31`, `2013-05-31 00:00:00`, `maj 2013`, `jan. 2013` (as `parse_month_scalar`
/// of the reference).
pub fn parse_month(cell: &Cell) -> Option<Month> {
    match cell {
        Cell::Date(d) => d.map(Date::month),
        Cell::Int(i) => month_from_number(*i as f64),
        Cell::Float(f) => month_from_number(*f),
        Cell::Text(t) => parse_month_text(t),
        _ => None,
    }
}

fn month_from_number(f: f64) -> Option<Month> {
    if !f.is_finite() {
        return None;
    }
    if (190001.0..=299912.0).contains(&f) && f.fract() == 0.0 {
        let n = f as i64;
        if let Some(m) = Month::new((n / 100) as i32, (n % 100) as u32) {
            return Some(m);
        }
    }
    Date::from_excel_serial(f).map(Date::month)
}

fn digits(s: &str) -> Option<u32> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// `yyyy[-]mm[[-]dd]` followed by nothing or by a space/`T` and anything (a time).
fn split_ymd(t: &str) -> Option<(i32, u32, Option<u32>)> {
    let head = match t.find([' ', 't', 'T']) {
        Some(i) => &t[..i],
        None => t,
    };
    let b = head.as_bytes();
    if b.len() < 6 || !head.is_ascii() {
        return None;
    }
    let y = digits(&head[..4])? as i32;
    let rest = head[4..].strip_prefix('-').unwrap_or(&head[4..]);
    if rest.len() < 2 {
        return None;
    }
    let m = digits(&rest[..2])?;
    let rest = &rest[2..];
    if rest.is_empty() {
        return Some((y, m, None));
    }
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    if rest.len() != 2 {
        return None;
    }
    Some((y, m, Some(digits(rest)?)))
}

/// Two or four ASCII digits as a number (`None` for anything else).
fn fixed_digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

pub fn parse_month_text(t: &str) -> Option<Month> {
    let t = trim(t);
    // The usual `2019-03`, as `split_ymd` reads it.
    if let [y0, y1, y2, y3, b'-', m0, m1] = t.as_bytes()
        && let (Some(y), Some(m)) = (
            fixed_digits(&[*y0, *y1, *y2, *y3]),
            fixed_digits(&[*m0, *m1]),
        )
    {
        return Month::new(y as i32, m);
    }
    if let Some((y, m, _)) = split_ymd(t) {
        return Month::new(y, m);
    }
    let t = t.to_lowercase();
    let mut parts = t.split_whitespace();
    let name = parts.next()?;
    let year = parts.next()?;
    if parts.next().is_some() || year.len() != 4 {
        return None;
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let m = MONTHS_SV.iter().find(|(n, _)| *n == name)?.1;
    Month::new(digits(year)? as i32, m)
}

/// A month number from a Swedish month name, full or short, any case, with or without a
/// trailing dot (`Januari`, `maj`, `sept.`), or from a whole number 1..12.
pub fn parse_month_name(cell: &Cell) -> Option<u32> {
    match cell {
        Cell::Text(t) => {
            let t = t.trim().to_lowercase();
            let t = t.strip_suffix('.').unwrap_or(&t);
            MONTHS_SV
                .iter()
                .find(|(n, _)| *n == t)
                .map(|(_, m)| *m)
                .or_else(|| digits(t).filter(|m| (1..=12).contains(m)))
        }
        Cell::Int(i) => u32::try_from(*i).ok().filter(|m| (1..=12).contains(m)),
        Cell::Float(f) if f.fract() == 0.0 && (1.0..=12.0).contains(f) => Some(*f as u32),
        _ => None,
    }
}

/// A day from a date cell, a serial, a yyyymmdd number or text `2013-05-31`, `20130531`
/// (a time after a space or `T` is ignored).
pub fn parse_date(cell: &Cell) -> Option<Date> {
    let from_number = |f: f64| -> Option<Date> {
        if (19_000_101.0..=29_991_231.0).contains(&f) && f.fract() == 0.0 {
            let n = f as i64;
            return Date::new(
                (n / 10_000) as i32,
                ((n / 100) % 100) as u32,
                (n % 100) as u32,
            );
        }
        Date::from_excel_serial(f)
    };
    match cell {
        Cell::Date(d) => *d,
        Cell::Int(i) => from_number(*i as f64),
        Cell::Float(f) => from_number(*f),
        Cell::Text(t) => {
            let t = trim(t);
            // The usual `2019-03-31`, as `split_ymd` reads it.
            if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = t.as_bytes()
                && let (Some(y), Some(m), Some(d)) = (
                    fixed_digits(&[*y0, *y1, *y2, *y3]),
                    fixed_digits(&[*m0, *m1]),
                    fixed_digits(&[*d0, *d1]),
                )
            {
                return Date::new(y as i32, m, d);
            }
            let (y, m, d) = split_ymd(t)?;
            Date::new(y, m, d?)
        }
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------
// Yes/no

pub fn parse_yes_no(cell: &Cell) -> Option<bool> {
    match cell {
        Cell::Bool(b) => Some(*b),
        Cell::Int(1) => Some(true),
        Cell::Int(0) => Some(false),
        Cell::Float(f) if *f == 1.0 => Some(true),
        Cell::Float(f) if *f == 0.0 => Some(false),
        Cell::Text(t) => {
            let t = trim(t);
            // The exports' own words first (millions of payment rows have one).
            match t {
                "Ja" => return Some(true),
                "Nej" => return Some(false),
                _ => {}
            }
            let any = |words: &[&str]| words.iter().any(|w| t.eq_ignore_ascii_case(w));
            if any(&["ja", "j", "1", "x", "true", "sant", "1.0", "1,0"]) {
                Some(true)
            } else if any(&["nej", "n", "0", "", "false", "falskt", "0.0", "0,0"]) {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

// ------------------------------------------------------------------------------------------
// Identifiers

/// An id as text: numbers without `.0`, text trimmed; personnummer-like ids hashed.
fn parse_id<'a>(cell: &Cell<'a>) -> Option<Cow<'a, str>> {
    let text: Cow<'a, str> = match cell {
        Cell::Text(t) => Cow::Borrowed(trim(t)),
        Cell::Int(i) => Cow::Owned(i.to_string()),
        Cell::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
            Cow::Owned(format!("{}", *f as i64))
        }
        _ => return None,
    };
    match pnr_digits(&text) {
        Some(d) => Some(Cow::Owned(hash_pnr(&d))),
        None => Some(text),
    }
}

/// The ten digits YYMMDDNNNN of a personnummer-like text (`YYMMDD-NNNN`, `YYMMDD+NNNN`,
/// `YYMMDDNNNN`, `YYYYMMDDNNNN`, `YYYYMMDD-NNNN`) whose date part is plausible (day + 60
/// for a samordningsnummer).
pub fn pnr_digits(t: &str) -> Option<String> {
    let t = trim(t);
    let (date, num) = match t.len() {
        10 => (&t[..6], &t[6..]),
        12 => (&t[..8], &t[8..]),
        11 if matches!(t.as_bytes()[6], b'-' | b'+') => (&t[..6], &t[7..]),
        13 if matches!(t.as_bytes()[8], b'-' | b'+') => (&t[..8], &t[9..]),
        _ => return None,
    };
    if !date.bytes().all(|b| b.is_ascii_digit())
        || !num.bytes().all(|b| b.is_ascii_digit())
        || num.len() != 4
    {
        return None;
    }
    if date.len() == 8 && !matches!(&date[..2], "18" | "19" | "20") {
        return None;
    }
    let md = &date[date.len() - 4..];
    let m: u32 = md[..2].parse().ok()?;
    let d: u32 = md[2..].parse().ok()?;
    let day_ok = (1..=31).contains(&d) || (61..=91).contains(&d);
    if !(1..=12).contains(&m) || !day_ok {
        return None;
    }
    Some(format!("{}{}", &date[date.len() - 6..], num))
}

static KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// Uses the run's key (the parent's) in a reader process, so that a personnummer hashes to
/// the same value whichever process read it. Must come before the first hash; false if a
/// different key was already in use.
pub fn use_key(key: [u8; 32]) -> bool {
    *KEY.get_or_init(|| key) == key
}

/// A per-process secret, so that hashes cannot be reversed by hashing all birth dates
/// outside this run, and ids still compare equal within the run.
pub fn key() -> &'static [u8; 32] {
    KEY.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut k = [0u8; 32];
        for (i, chunk) in k.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
        k
    })
}

fn hash_pnr(ten_digits: &str) -> String {
    let mut h = Sha256::new();
    h.update(key());
    h.update(ten_digits.as_bytes());
    let out = h.finalize();
    let mut s = String::from("h:");
    for b in out.iter().take(8) {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

// ------------------------------------------------------------------------------------------
// Quick readers: the usual forms of a payment line's text cells

/// Readers of one text cell's usual form, each giving exactly what `parse` gives for that
/// text, or `None` when the text is in any other form (the caller then uses `parse`). They
/// let a payment line in its usual form skip the general row path (`sheet`).
pub mod quick {
    use super::{
        Decimal, Month, is_missing_mark, simple_decimal, simple_integer, within_number_limit,
    };

    /// No whitespace to trim at either end (what `trim` leaves alone).
    fn plain(t: &[u8]) -> bool {
        match t {
            [first, .., last] => first.is_ascii_graphic() && last.is_ascii_graphic(),
            [only] => only.is_ascii_graphic(),
            [] => false,
        }
    }

    /// `2019-03`: `parse(Month, ..)`'s usual text.
    pub fn month(t: &str) -> Option<Month> {
        let &[y0, y1, y2, y3, b'-', m0, m1] = t.as_bytes() else {
            return None;
        };
        let digits = [y0, y1, y2, y3, m0, m1];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = |d: &[u8]| d.iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
        Month::new(n(&digits[..4]) as i32, n(&digits[4..]))
    }

    /// An id that `parse(Id, ..)` gives back as it is: nothing to trim, no missing mark,
    /// and not of a personnummer's length (those are looked at by `parse`).
    pub fn id(t: &str) -> Option<&str> {
        let plain_length = !(10..=13).contains(&t.len());
        (plain(t.as_bytes()) && plain_length && !is_missing_mark(t)).then_some(t)
    }

    /// `parse(Number, ..)` of `6598,79`, `-120.5`, `1`.
    pub fn amount(t: &str) -> Option<Decimal> {
        if plain(t.as_bytes()) {
            simple_decimal(t).filter(|&n| within_number_limit(n))
        } else {
            None
        }
    }

    /// A count column's cell as the fold counts it (`fold::count` of `parse(Integer, ..)`):
    /// an empty cell or a missing mark 0, a negative count 0.
    pub fn count(t: &str) -> Option<u32> {
        match t.as_bytes() {
            [d] if d.is_ascii_digit() => Some(u32::from(d - b'0')),
            b if plain(b) => match simple_integer(t) {
                Some(n) => Some(u32::try_from(n).unwrap_or(0)),
                None => is_missing_mark(t).then_some(0),
            },
            [] => Some(0),
            _ => None,
        }
    }

    /// `parse(YesNo, ..)` of the exports' own words, and of an empty cell.
    pub fn yes_no(t: &str) -> Option<bool> {
        match t {
            "Ja" => Some(true),
            "Nej" | "" => Some(false),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn m(y: i32, mo: u32) -> Option<Month> {
        Month::new(y, mo)
    }

    #[test]
    fn numbers_of_a_million_billion_or_more_are_rejected() {
        fn number<'a>(c: &Cell<'a>) -> Result<Value<'a>, RejectReason> {
            parse(ColumnKind::Number, c)
        }
        let too_large = |c: &Cell| {
            assert!(
                matches!(number(c), Err(RejectReason::OutOfRange { .. })),
                "{c:?}: {:?}",
                number(c)
            );
        };
        too_large(&Cell::Text("1000000000000000"));
        too_large(&Cell::Text("-1000000000000000,00"));
        too_large(&Cell::Text("79228162514264337593543950335"));
        too_large(&Cell::Float(1e15));
        too_large(&Cell::Float(-3e27));
        too_large(&Cell::Int(1_000_000_000_000_000));
        assert_eq!(
            number(&Cell::Text("999999999999999,99")),
            Ok(Value::Number(d("999999999999999.99")))
        );
        assert_eq!(
            number(&Cell::Text("-999 999 999 999 999")),
            Ok(Value::Number(d("-999999999999999")))
        );
        // The CSV fast path leaves such a number to `parse`.
        assert_eq!(quick::amount("1000000000000000"), None);
        assert_eq!(
            quick::amount("-999999999999999"),
            Some(d("-999999999999999"))
        );
    }

    #[test]
    fn numbers_with_comma_spaces_and_minus() {
        assert_eq!(parse_number_text("1 234,50"), Some(d("1234.50")));
        assert_eq!(parse_number_text("1\u{a0}234,50"), Some(d("1234.50")));
        assert_eq!(parse_number_text("1\u{202f}234.5"), Some(d("1234.5")));
        assert_eq!(parse_number_text("\u{2212}300"), Some(d("-300")));
        assert_eq!(parse_number_text("-300,25"), Some(d("-300.25")));
        assert_eq!(parse_number_text("12 3x4"), None);
        assert_eq!(parse_number_text("1.234,50"), None);
        assert_eq!(parse_number_text("."), None);
        assert_eq!(parse_number(&Cell::Float(1234.5)), Some(d("1234.5")));
        assert_eq!(
            parse_number(&Cell::Float(0.1 + 0.2)).unwrap().to_string(),
            "0.30000000000000004"
        );
        assert_eq!(parse_number(&Cell::Float(f64::NAN)), None);
        for f in [
            0.1,
            0.07,
            1234.56,
            -250.75,
            1e11 + 0.01,
            123456789.12,
            1e15,
            1.005,
            2.675,
            5e-324,
        ] {
            let slow = Decimal::from_str(&format!("{f}")).ok();
            assert_eq!(parse_number(&Cell::Float(f)), slow, "{f}");
            assert_eq!(
                parse_number(&Cell::Float(f)).map(|d| d.to_string()),
                slow.map(|d| d.to_string()),
                "{f}"
            );
        }
    }

    /// The general path of `parse_number_text`, without the fast one in front of it.
    fn general_number(t: &str) -> Option<Decimal> {
        let mut s = String::new();
        for c in t.trim().chars() {
            match c {
                ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' => {}
                '\u{2212}' => s.push('-'),
                c => s.push(c),
            }
        }
        if s.contains(',') && s.contains('.') {
            return None;
        }
        let s = s.replace(',', ".");
        let body = s.strip_prefix(['-', '+']).unwrap_or(&s);
        if body.is_empty()
            || !body.chars().all(|c| c.is_ascii_digit() || c == '.')
            || body.matches('.').count() > 1
            || body == "."
        {
            return None;
        }
        Decimal::from_str(&s).ok()
    }

    const TRICKY_NUMBERS: &[&str] = &[
        "6598,79",
        "1",
        "0",
        "00",
        "007",
        "-0",
        "-0,00",
        "0,00",
        "-1 234,50",
        "1.234,50",
        "1,234.50",
        "12,",
        "12.",
        ",5",
        ".5",
        "-,5",
        " 7 ",
        "\t7\r",
        "1e3",
        "",
        " ",
        "-",
        "+5",
        "+5,5",
        "1\u{a0}234,50",
        "1\u{202f}234",
        "\u{2212}300",
        "1,2,3",
        "1..2",
        "--1",
        "- 1",
        "1 234",
        "123456789012345678",
        "1234567890123456789",
        "99999999999999999,9",
        "-12345678901234567",
        "0,000000000000001",
        "12 3x4",
        "1,5e2",
        "٣",
        "１２",
        "1_000",
        "0x10",
        "#N/A",
        "7 kr",
        "3,14159",
        "-120.5",
        "2,0",
        "2,5",
    ];

    #[test]
    fn fast_number_paths_agree_with_the_general_path() {
        for t in TRICKY_NUMBERS {
            let fast = parse_number_text(t);
            let slow = general_number(t);
            // Same value and same scale (the scale shows in what is written out).
            assert_eq!(
                fast.map(|d| d.serialize()),
                slow.map(|d| d.serialize()),
                "{t:?}"
            );
            let int_slow = slow
                .filter(|d| d.fract().is_zero())
                .and_then(|d| i64::try_from(d.trunc()).ok());
            assert_eq!(parse_integer(&Cell::Text(t)), int_slow, "{t:?}");
        }
        assert_eq!(parse_number_text("6598,79"), Some(d("6598.79")));
        assert_eq!(parse_number_text("-1 234,50"), Some(d("-1234.50")));
        assert_eq!(parse_integer(&Cell::Text("-0")), Some(0));
    }

    #[test]
    fn fast_month_and_date_paths_agree_with_the_general_path() {
        for t in [
            "2019-03",
            "2019-13",
            "2019-00",
            "1899-12",
            "3000-01",
            "2019-3",
            "2019-033",
            "20a9-03",
            " 2019-03 ",
            "2019/03",
            "2019-03-31",
            "2019-02-29",
            "2020-02-29",
            "2019-04-31",
            "2019-03-3a",
            "2019-03-31 12:00",
            "2019-03-31T00:00",
            "20190331",
            "2019-0331",
        ] {
            let month_slow = split_ymd(t.trim()).and_then(|(y, m, _)| Month::new(y, m));
            assert_eq!(parse_month_text(t), month_slow, "{t:?}");
            let date_slow = split_ymd(t.trim()).and_then(|(y, m, d)| Date::new(y, m, d?));
            assert_eq!(parse_date(&Cell::Text(t)), date_slow, "{t:?}");
        }
    }

    #[test]
    fn fast_trim_is_trim() {
        for t in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\n",
            "\u{a0}a",
            "a\u{a0}",
            "ö",
            "\u{1}a",
            "a\u{7f}",
            "\u{2003}x\u{2003}",
            "x y",
        ] {
            assert_eq!(trim(t), t.trim(), "{t:?}");
        }
    }

    #[test]
    fn missing_marks_are_never_zero() {
        for t in ["", "  ", "--", "..", "-", "\u{2013}"] {
            assert_eq!(
                parse(ColumnKind::Number, &Cell::Text(t)),
                Ok(Value::Missing),
                "{t:?}"
            );
            assert_eq!(
                parse(ColumnKind::Integer, &Cell::Text(t)),
                Ok(Value::Missing)
            );
        }
        assert_eq!(
            parse(ColumnKind::YesNo, &Cell::Empty),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            parse(ColumnKind::YesNo, &Cell::Text("--")),
            Ok(Value::Missing)
        );
    }

    #[test]
    fn integers_accept_whole_floats_only() {
        assert_eq!(parse_integer(&Cell::Text("2.0")), Some(2));
        assert_eq!(parse_integer(&Cell::Text("2,0")), Some(2));
        assert_eq!(parse_integer(&Cell::Float(2.0)), Some(2));
        assert_eq!(parse_integer(&Cell::Float(2.5)), None);
        assert_eq!(parse_integer(&Cell::Text("2.5")), None);
    }

    #[test]
    fn months_in_every_spelling() {
        let may = m(2013, 5);
        for t in [
            "2013-05",
            "2013-05-31",
            "201305",
            "2013-05-31 00:00:00",
            "maj 2013",
            "Maj 2013",
            " MAJ 2013 ",
        ] {
            assert_eq!(parse_month(&Cell::Text(t)), may, "{t}");
        }
        assert_eq!(parse_month(&Cell::Text("jan 2013")), m(2013, 1));
        assert_eq!(parse_month(&Cell::Text("jan. 2013")), m(2013, 1));
        assert_eq!(parse_month(&Cell::Float(41425.0)), may, "serial");
        assert_eq!(parse_month(&Cell::Int(201305)), may, "yyyymm");
        assert_eq!(parse_month(&Cell::Date(Date::new(2013, 5, 31))), may);
        assert_eq!(parse_month(&Cell::Text("2013-13")), None);
        assert_eq!(parse_month(&Cell::Text("maj")), None);
        assert_eq!(parse_month(&Cell::Text("majs 2013")), None);
        assert_eq!(parse_month(&Cell::Bool(true)), None);
    }

    #[test]
    fn month_names_in_swedish() {
        for (t, m) in [
            ("Januari", 1),
            ("feb", 2),
            ("MAJ", 5),
            (" maj ", 5),
            ("sept.", 9),
            ("December", 12),
            ("11", 11),
        ] {
            assert_eq!(parse_month_name(&Cell::Text(t)), Some(m), "{t}");
        }
        assert_eq!(parse_month_name(&Cell::Int(3)), Some(3));
        assert_eq!(parse_month_name(&Cell::Text("Majs")), None);
        assert_eq!(parse_month_name(&Cell::Text("13")), None);
        assert_eq!(parse_month_name(&Cell::Int(0)), None);
        assert_eq!(
            parse(ColumnKind::MonthName { year: 0 }, &Cell::Text("--")),
            Ok(Value::Missing)
        );
    }

    #[test]
    fn dates_in_every_spelling() {
        let day = Date::new(2013, 5, 31);
        assert_eq!(parse_date(&Cell::Text("2013-05-31")), day);
        assert_eq!(parse_date(&Cell::Text("20130531")), day);
        assert_eq!(parse_date(&Cell::Int(20130531)), day);
        assert_eq!(parse_date(&Cell::Float(41425.0)), day);
        assert_eq!(parse_date(&Cell::Text("2013-02-30")), None);
        assert_eq!(parse_date(&Cell::Text("2013-05")), None);
    }

    #[test]
    fn quick_readers_agree_with_parse() {
        let texts = [
            "",
            " ",
            "-",
            "--",
            "..",
            "\u{2013}",
            "0",
            "7",
            "-7",
            "12",
            " 12",
            "12 ",
            "1,0",
            "1 234",
            "6598,79",
            "-120.5",
            "-0",
            "-0,5",
            "1.",
            ".5",
            "1,2,3",
            "2019-03",
            "2019-13",
            "2019-00",
            "1899-12",
            "2019-3",
            "2019-03-01",
            " 2019-03",
            "201903",
            "H01485484",
            "H1",
            "h 1",
            "8501011234",
            "850101-1234",
            "198501011234",
            "19850101-1234",
            "123456789",
            "12345678901234",
            "Ja",
            "Nej",
            "ja",
            "NEJ",
            "J",
            "x",
            "Arbetsl\u{f6}shet",
            "1e3",
            "+5",
            "99999999999999999999",
        ];
        for t in texts {
            let cell = Cell::Text(t);
            let as_parse = |kind| parse(kind, &cell).ok();
            if let Some(m) = quick::month(t) {
                assert_eq!(as_parse(ColumnKind::Month), Some(Value::Month(m)), "{t:?}");
            }
            if let Some(id) = quick::id(t) {
                assert_eq!(
                    as_parse(ColumnKind::Id),
                    Some(Value::Text(id.into())),
                    "{t:?}"
                );
            }
            if let Some(a) = quick::amount(t) {
                let Some(Value::Number(n)) = as_parse(ColumnKind::Number) else {
                    panic!("{t:?}: quick {a}, parse none");
                };
                assert_eq!((n, n.scale()), (a, a.scale()), "{t:?}");
            }
            if let Some(k) = quick::count(t) {
                let counted = match as_parse(ColumnKind::Integer) {
                    Some(Value::Integer(v)) => crate::ingest::fold::count(Some(v)),
                    Some(Value::Missing) => 0,
                    other => panic!("{t:?}: quick {k}, parse {other:?}"),
                };
                assert_eq!(counted, k, "{t:?}");
            }
            if let Some(b) = quick::yes_no(t) {
                assert_eq!(as_parse(ColumnKind::YesNo), Some(Value::Bool(b)), "{t:?}");
            }
        }
        // The usual forms are taken.
        assert_eq!(quick::month("2019-03"), m(2019, 3));
        assert_eq!(quick::id("H01485484"), Some("H01485484"));
        assert_eq!(quick::amount("-120,50"), Some(Decimal::new(-12050, 2)));
        assert_eq!(quick::count(""), Some(0));
        assert_eq!(quick::count("-"), Some(0));
        assert_eq!(quick::count("-3"), Some(0));
        assert_eq!(quick::count("12"), Some(12));
        assert_eq!(quick::yes_no("Nej"), Some(false));
        // Personnummer-like ids and unusual forms are left to `parse`.
        assert_eq!(quick::id("850101-1234"), None);
        assert_eq!(quick::amount("1 234"), None);
        assert_eq!(quick::count(" 1"), None);
        assert_eq!(quick::yes_no("ja"), None);
    }

    #[test]
    fn yes_no_words() {
        for t in ["Ja", "j", "1", "X", "TRUE", "true"] {
            assert_eq!(parse_yes_no(&Cell::Text(t)), Some(true), "{t}");
        }
        for t in ["Nej", "n", "0", "", "False"] {
            assert_eq!(parse_yes_no(&Cell::Text(t)), Some(false), "{t}");
        }
        assert_eq!(parse_yes_no(&Cell::Text("kanske")), None);
        assert_eq!(parse_yes_no(&Cell::Bool(true)), Some(true));
        assert_eq!(parse_yes_no(&Cell::Float(2.0)), None);
    }

    #[test]
    fn ids_from_numbers_and_personnummer_hashed() {
        assert_eq!(
            parse(ColumnKind::Id, &Cell::Float(12345.0)),
            Ok(Value::Text("12345".into()))
        );
        assert_eq!(
            parse(ColumnKind::Id, &Cell::Text(" H-77 ")),
            Ok(Value::Text("H-77".into()))
        );
        let a = parse(ColumnKind::Id, &Cell::Text("850101-1234")).unwrap();
        let b = parse(ColumnKind::Id, &Cell::Text("19850101-1234")).unwrap();
        let c = parse(ColumnKind::Id, &Cell::Int(198501011234)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        match a {
            Value::Text(t) => {
                assert!(t.starts_with("h:"), "{t}");
                assert!(!t.contains("1234"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(pnr_digits("850101+1234").as_deref(), Some("8501011234"));
        assert_eq!(pnr_digits("851301-1234"), None, "month 13");
        assert_eq!(pnr_digits("12345"), None);
        assert_eq!(
            parse(ColumnKind::Id, &Cell::Float(1.5)),
            Err(RejectReason::BadId)
        );
    }

    #[test]
    fn quotes_are_short_and_never_hold_a_personnummer() {
        assert_eq!(quote("12 3x4"), "12 3x4");
        assert_eq!(quote(&"x".repeat(50)).chars().count(), 41);
        assert!(!quote("kr 850101-1234").contains("850101"));
    }

    #[test]
    fn personnummer_in_free_text_is_withheld() {
        let t = parse(
            ColumnKind::Text,
            &Cell::Text(" ring 19850101-1234 eller 850101-1234, ärende 4711 "),
        );
        assert_eq!(
            t,
            Ok(Value::Text(
                "ring (personnummer borttaget) eller (personnummer borttaget), ärende 4711".into()
            ))
        );
        assert_eq!(
            parse(ColumnKind::Text, &Cell::Float(198501011234.0)),
            Ok(Value::Text(PNR_WITHHELD.into()))
        );
        assert_eq!(
            parse(ColumnKind::Text, &Cell::Text("Kommun 001")),
            Ok(Value::Text("Kommun 001".into()))
        );
    }

    #[test]
    fn text_codes_from_numbers() {
        assert_eq!(
            parse(ColumnKind::Text, &Cell::Float(1810.0)),
            Ok(Value::Text("1810".into()))
        );
        assert_eq!(
            parse(ColumnKind::Text, &Cell::Int(2013)),
            Ok(Value::Text("2013".into()))
        );
        assert_eq!(
            parse(ColumnKind::Number, &Cell::Error("#N/A".into())),
            Err(RejectReason::CellError {
                error: "#N/A".into()
            })
        );
    }
}
