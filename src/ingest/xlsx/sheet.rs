//! Ingest, xlsx fast path: one worksheet part → its cells, in the order and with the
//! values calamine 0.38's `XlsxCellReader::next_cell` gives. A byte scanner for the forms
//! writers produce (`<row>`, `<c>` with `<v>`, `<f>`, `<is>`); anything else declines.
//! The part is inflated a window at a time and scanned up to the last complete row, the
//! rest carried over; `super` says what a decline after the first window means.

use memchr::memchr;

use super::parts::{Format, Strings, rich_text};
use super::xml::{
    Decline, Fast, Tok, Tokens, check_text, decode_text, local_name, scan_attrs, scan_attrs_with,
    unescape_excel,
};

/// A cell value, compact: strings point into the shared strings or the sheet's own text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    Empty,
    Shared(u32),
    Float(f64),
    DateTime(f64),
    Duration(f64),
    Bool(bool),
    /// Index into `ERRORS`.
    Error(u8),
    /// Inline or formula string: a span of `Cells::text`.
    Text(u32, u32),
    /// `t="d"`: an ISO 8601 text, a span of `Cells::text`.
    Iso(u32, u32),
}

/// The error values calamine knows, in `Val::Error` order.
pub const ERRORS: [&str; 7] = [
    "#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!",
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Packed {
    pub row: u32,
    pub col: u32,
    pub val: Val,
}

/// A window's cells in stream order.
#[derive(Debug, Default)]
pub struct Cells {
    pub cells: Vec<Packed>,
    pub text: String,
}

impl Cells {
    fn clear(&mut self) {
        self.cells.clear();
        self.text.clear();
    }
}

/// How much sheet XML is inflated at a time: small enough to stay in cache, large enough
/// that the per-window work (finding the last row end, UTF-8 check of the carried tail)
/// is noise.
pub const CHUNK: usize = 256 << 10;

/// The window and cell buffers, reused from sheet to sheet (and, through the thread's
/// spare, from workbook to workbook).
#[derive(Debug, Default)]
pub struct Scratch {
    /// Inflated sheet XML; `Sheet::start..Sheet::end` is not scanned yet. Its length is
    /// its usable size (zeroed once, never cleared), so that refills need no memset.
    bytes: Vec<u8>,
    /// The cells of the window scanned last.
    cells: Cells,
}

impl Scratch {
    /// Whether to keep it for the next workbook: not after a row so long that the window
    /// grew far past a chunk.
    pub fn worth_keeping(&self) -> bool {
        self.bytes.len() <= 4 * CHUNK
    }
}

#[derive(Clone, Copy)]
pub struct Ctx<'w> {
    pub strings: &'w Strings,
    pub formats: &'w [Format],
}

/// One worksheet part being read a window at a time.
pub struct Sheet<'s, R> {
    src: R,
    /// The size the part declares, and how much of it has been inflated.
    size: u64,
    inflated: u64,
    eof: bool,
    scratch: &'s mut Scratch,
    start: usize,
    end: usize,
    chunk: usize,
    ctx: Ctx<'s>,
    rows: Rows,
    /// `</sheetData>` was read (and the rest of the part checked).
    done: bool,
}

impl<'s, R: std::io::Read> Sheet<'s, R> {
    /// Reads the part up to `<sheetData>` and scans the first window of rows, so that a
    /// sheet no larger than one window is read whole before any of its cells is given
    /// out. `src` must yield at most `size + 1` bytes. Declines on any form calamine might
    /// read differently, on anything calamine would fail on, and on a part that does not
    /// inflate to exactly `size` bytes.
    pub fn open(
        src: R,
        size: u64,
        scratch: &'s mut Scratch,
        chunk: usize,
        ctx: Ctx<'s>,
    ) -> Fast<Sheet<'s, R>> {
        scratch.cells.clear();
        let mut s = Sheet {
            src,
            size,
            inflated: 0,
            eof: false,
            scratch,
            start: 0,
            end: 0,
            chunk: chunk.max(1),
            ctx,
            rows: Rows::default(),
            done: false,
        };
        loop {
            let window = &s.scratch.bytes[s.start..s.end];
            if let Some(gt) = sheet_data_tag_end(window) {
                let (name, empty, after) = prelude(&window[..=gt])?;
                s.start += after;
                if empty {
                    s.finish()?;
                    return Ok(s);
                }
                s.rows.data_name = name;
                break;
            }
            if s.eof {
                return Err(Decline);
            }
            s.fill()?;
        }
        s.advance()?;
        Ok(s)
    }

    /// The cells of the window scanned last, in stream order.
    pub fn cells(&self) -> &Cells {
        &self.scratch.cells
    }

    /// Whether the sheet has no more windows.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Scans the next window of complete rows into `cells` (replacing what was there),
    /// inflating as much as it takes to complete one row. Declines as `open` does; a
    /// decline here comes after cells were given out.
    pub fn advance(&mut self) -> Fast<()> {
        self.scratch.cells.clear();
        while !self.done {
            let Scratch { bytes, cells } = &mut *self.scratch;
            let window = &bytes[self.start..self.end];
            // Rows are scanned whole: the window ends after the last complete one, and
            // the incomplete rest is carried over to the next window.
            let cut = if self.eof {
                window.len()
            } else {
                last_row_end(window)
            };
            if cut > 0 || self.eof {
                let src = std::str::from_utf8(&window[..cut]).map_err(|_| Decline)?;
                match self.rows.scan(&self.ctx, src, cells)? {
                    Step::End => self.finish()?,
                    Step::More if self.eof => return Err(Decline),
                    Step::More => self.start += cut,
                }
                return Ok(());
            }
            self.fill()?;
        }
        Ok(())
    }

    /// Moves the unscanned bytes to the front and inflates a chunk after them, or, when
    /// they are a chunk or more already (a row longer than that), as many again: a long
    /// row costs linear time.
    fn fill(&mut self) -> Fast<()> {
        let bytes = &mut self.scratch.bytes;
        bytes.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        let target = self.end + self.chunk.max(self.end);
        if bytes.len() < target {
            bytes.resize(target, 0);
        }
        while self.end < target && !self.eof {
            let n = self
                .src
                .read(&mut bytes[self.end..target])
                .map_err(|_| Decline)?;
            self.eof = n == 0;
            self.end += n;
            self.inflated += n as u64;
        }
        if self.inflated > self.size || (self.eof && self.inflated != self.size) {
            return Err(Decline);
        }
        Ok(())
    }

    /// After `</sheetData>`: inflates the rest of the part, unread, so that a damaged
    /// stream or a wrong size declines as it did when parts were read whole.
    fn finish(&mut self) -> Fast<()> {
        while !self.eof {
            self.start = self.end;
            self.fill()?;
        }
        self.done = true;
        Ok(())
    }
}

/// Where the start tag of `<sheetData>` ends (its `>`), once the window holds it.
fn sheet_data_tag_end(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&b[from..], b"sheetData") {
        let at = from + i;
        if at > 0 && matches!(b[at - 1], b'<' | b':') {
            return tag_end(b, at);
        }
        from = at + 1;
    }
    None
}

/// The `>` that ends the tag whose name starts at `p`, quoted values skipped.
fn tag_end(b: &[u8], mut p: usize) -> Option<usize> {
    loop {
        p += memchr::memchr3(b'>', b'"', b'\'', b.get(p..)?)?;
        match b[p] {
            b'>' => return Some(p),
            q => p += 2 + memchr(q, b.get(p + 1..)?)?,
        }
    }
}

/// Just past the last `</row>` or `</sheetData>` (any prefix) in `b`, or 0: where a window
/// of whole rows can end. (An acceptable sheet has `</` only in end tags: text and
/// attribute values with `<`, comments and CDATA all decline.)
fn last_row_end(b: &[u8]) -> usize {
    let mut end = b.len();
    while let Some(lt) = memchr::memmem::rfind(&b[..end], b"</") {
        let name = &b[lt + 2..end];
        if let Some(gt) = memchr(b'>', name) {
            let name = &name[..gt];
            let local = match memchr(b':', name) {
                Some(i) => &name[i + 1..],
                None => name,
            };
            if local == b"row" || local == b"sheetData" {
                return lt + 2 + gt + 1;
            }
        }
        end = lt;
    }
    0
}

/// The part up to and including the `<sheetData>` start tag → its name, whether it is
/// empty, and where its content starts. Checks the `<dimension>` as calamine reads it.
fn prelude(bytes: &[u8]) -> Fast<(String, bool, usize)> {
    let mut t = Tokens::new(bytes, false)?;
    loop {
        match t.next()? {
            Tok::Start(e) if e.local() == "dimension" => {
                let [r] = e.pick(["ref"])?;
                check_dimension(r.ok_or(Decline)?)?;
            }
            Tok::Start(e) if e.local() == "sheetData" => {
                // `Tokens` skips a byte-order mark: positions count from after it.
                let skipped = bytes.len() - t.src.len();
                return Ok((e.name.to_string(), e.empty, skipped + t.pos));
            }
            Tok::Eof => return Err(Decline),
            Tok::Text(s) => check_text(s)?,
            _ => {}
        }
    }
}

/// Where the row scan stands between windows (always between rows).
#[derive(Default)]
struct Rows {
    data_name: String,
    row_index: u32,
    col_index: u32,
}

enum Step {
    /// The window was read to its end; more rows may follow.
    More,
    /// `</sheetData>`.
    End,
}

impl Rows {
    /// Reads the rows of `src`, a window that ends between rows (or at the end of the
    /// part), into `out`.
    fn scan(&mut self, ctx: &Ctx<'_>, src: &str, out: &mut Cells) -> Fast<Step> {
        let b = src.as_bytes();
        let mut p = 0;
        let mut row_name: Option<&str> = None;
        loop {
            p = skip_ws(b, p);
            if p == b.len() && row_name.is_none() {
                return Ok(Step::More);
            }
            if b.get(p) != Some(&b'<') {
                return Err(Decline);
            }
            p += 1;
            if b.get(p) == Some(&b'/') {
                let gt = p + 1 + memchr(b'>', &b[p + 1..]).ok_or(Decline)?;
                let name = src.get(p + 1..gt).ok_or(Decline)?;
                p = gt + 1;
                match row_name {
                    Some(r) if r == name => {
                        self.row_index = self.row_index.checked_add(1).ok_or(Decline)?;
                        self.col_index = 0;
                        row_name = None;
                    }
                    None if name == self.data_name => return Ok(Step::End),
                    _ => return Err(Decline),
                }
                continue;
            }
            let name_end = name_end(b, p);
            let name = src.get(p..name_end).ok_or(Decline)?;
            match (local_name(name), row_name) {
                ("row", None) => {
                    let mut r = None;
                    let (gt, empty) = scan_attrs_with(src, name_end, |k, v| match k {
                        "r" => once(&mut r, v),
                        _ => Ok(()),
                    })?;
                    if let Some(r) = r {
                        self.row_index = cell_ref(r)?.0;
                    }
                    if empty {
                        self.row_index = self.row_index.checked_add(1).ok_or(Decline)?;
                        self.col_index = 0;
                    } else {
                        row_name = Some(name);
                    }
                    p = gt + 1;
                }
                ("c", Some(_)) => {
                    // `r`, `s` and `t`; a repeated one declines (calamine's lookup would
                    // then depend on the order).
                    let (mut r, mut s, mut ty) = (None, None, None);
                    let (gt, empty) = scan_attrs_with(src, name_end, |k, v| match k {
                        "r" => once(&mut r, v),
                        "s" => once(&mut s, v),
                        "t" => once(&mut ty, v),
                        _ => Ok(()),
                    })?;
                    let (row, col) = match r {
                        Some(r) => {
                            let (row, col) = cell_ref(r)?;
                            let col = col.ok_or(Decline)?;
                            self.col_index = col;
                            (row, col)
                        }
                        None => (self.row_index, self.col_index),
                    };
                    p = gt + 1;
                    let val = if empty {
                        Val::Empty
                    } else {
                        let (val, after) = cell_body(ctx, src, p, name, s, ty, &mut out.text)?;
                        p = after;
                        val
                    };
                    out.cells.push(Packed { row, col, val });
                    self.col_index = self.col_index.checked_add(1).ok_or(Decline)?;
                }
                _ => return Err(Decline),
            }
        }
    }
}

fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && b[p].is_ascii_whitespace() {
        p += 1;
    }
    p
}

fn name_end(b: &[u8], mut p: usize) -> usize {
    while p < b.len()
        && !matches!(b[p], b'>' | b'/' | b'<' | b'"' | b'\'' | b'=')
        && !b[p].is_ascii_whitespace()
    {
        p += 1;
    }
    p
}

fn once<'a>(slot: &mut Option<&'a str>, v: &'a str) -> Fast<()> {
    if slot.replace(v).is_some() {
        Err(Decline)
    } else {
        Ok(())
    }
}

/// The children of a `<c>` up to its end tag. As in calamine, the value is that of the
/// last child (`<f>` gives none).
fn cell_body(
    ctx: &Ctx<'_>,
    src: &str,
    mut p: usize,
    c_name: &str,
    style: Option<&str>,
    ty: Option<&str>,
    text: &mut String,
) -> Fast<(Val, usize)> {
    let b = src.as_bytes();
    let mut val = Val::Empty;
    loop {
        p = skip_ws(b, p);
        if b.get(p) != Some(&b'<') {
            return Err(Decline);
        }
        p += 1;
        if b.get(p) == Some(&b'/') {
            let end = p + 1 + c_name.len();
            if src.get(p + 1..end) != Some(c_name) || b.get(end) != Some(&b'>') {
                return Err(Decline);
            }
            return Ok((val, end + 1));
        }
        let name_end = name_end(b, p);
        let name = src.get(p..name_end).ok_or(Decline)?;
        let (gt, empty) = scan_attrs(src, name_end, false)?;
        p = gt + 1;
        match local_name(name) {
            "is" => {
                let mut s = String::new();
                let mut t = Tokens::inside(src, p, name);
                if empty {
                    // `rich_text` of an empty element: nothing to read.
                } else {
                    rich_text(&mut t, name, false, &mut s)?;
                    p = t.pos;
                }
                val = push_text(text, &s, Val::Text)?;
            }
            "v" | "f" => {
                let content = if empty {
                    ""
                } else {
                    let lt = p + memchr(b'<', &b[p..]).ok_or(Decline)?;
                    let end = lt + 2 + name.len();
                    if b.get(lt + 1) != Some(&b'/')
                        || src.get(lt + 2..end) != Some(name)
                        || b.get(end) != Some(&b'>')
                    {
                        return Err(Decline);
                    }
                    let content = src.get(p..lt).ok_or(Decline)?;
                    p = end + 1;
                    content
                };
                val = if local_name(name) == "f" {
                    check_text(content)?;
                    Val::Empty
                } else {
                    value(ctx, content, style, ty, text)?
                };
            }
            _ => return Err(Decline),
        }
    }
}

/// calamine's `read_value` for a `<v>` with this raw content, then `read_v`.
fn value(
    ctx: &Ctx<'_>,
    raw: &str,
    style: Option<&str>,
    ty: Option<&str>,
    text: &mut String,
) -> Fast<Val> {
    match ty {
        Some("inlineStr" | "is") => {
            check_text(raw)?;
            Ok(Val::Empty)
        }
        Some("n" | "s" | "b" | "e") | None => {
            if raw.is_empty() {
                return Ok(Val::Empty);
            }
            // calamine parses these from the first text event only, without references.
            if raw.contains('&') {
                return Err(Decline);
            }
            match ty {
                Some("s") => {
                    let i = index(raw)?;
                    if i >= ctx.strings.len() {
                        return Err(Decline);
                    }
                    Ok(Val::Shared(u32::try_from(i).map_err(|_| Decline)?))
                }
                Some("b") => match raw.trim() {
                    "" => Ok(Val::Empty),
                    "0" => Ok(Val::Bool(false)),
                    "1" => Ok(Val::Bool(true)),
                    v if v.eq_ignore_ascii_case("false") => Ok(Val::Bool(false)),
                    v if v.eq_ignore_ascii_case("true") => Ok(Val::Bool(true)),
                    _ => Err(Decline),
                },
                Some("e") => ERRORS
                    .iter()
                    .position(|e| *e == raw)
                    .map(|i| Val::Error(i as u8))
                    .ok_or(Decline),
                _ => {
                    let n = number(raw)?;
                    let format = match style {
                        Some(s) => ctx.formats.get(index(s)?).copied(),
                        None => Some(Format::Other),
                    };
                    Ok(match format {
                        Some(Format::DateTime) => Val::DateTime(n),
                        Some(Format::TimeDelta) => Val::Duration(n),
                        _ => Val::Float(n),
                    })
                }
            }
        }
        Some("str") => {
            let mut s = String::new();
            decode_text(raw, &mut s)?;
            push_text(text, &unescape_excel(&s), Val::Text)
        }
        Some("d") => {
            let mut s = String::new();
            decode_text(raw, &mut s)?;
            push_text(text, &s, Val::Iso)
        }
        Some(_) => Err(Decline),
    }
}

fn push_text(text: &mut String, s: &str, make: fn(u32, u32) -> Val) -> Fast<Val> {
    let a = u32::try_from(text.len()).map_err(|_| Decline)?;
    text.push_str(s);
    let b = u32::try_from(text.len()).map_err(|_| Decline)?;
    Ok(make(a, b))
}

/// A plain non-negative decimal index (no sign, no leading zeros, at most 9 digits); other
/// forms decline, since calamine would read them as 0.
fn index(s: &str) -> Fast<usize> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 9 || (b.len() > 1 && b[0] == b'0') {
        return Err(Decline);
    }
    let mut v = 0usize;
    for &d in b {
        if !d.is_ascii_digit() {
            return Err(Decline);
        }
        v = v * 10 + usize::from(d - b'0');
    }
    Ok(v)
}

/// A number as Excel writes one: `-?digits(.digits)?([eE][+-]?digits)?`. Any other text
/// declines (calamine's parser accepts a few more forms, or falls back to text).
/// Correct rounding, as calamine's parser.
pub fn number(s: &str) -> Fast<f64> {
    let b = s.as_bytes();
    let int_start = usize::from(b.first() == Some(&b'-'));
    let mut i = digits_from(b, int_start)?;
    if i == b.len() && i - int_start <= 15 {
        // Whole numbers of up to 15 digits are exact in an f64.
        let mut v: u64 = 0;
        for &d in &b[int_start..] {
            v = v * 10 + u64::from(d - b'0');
        }
        let v = v as f64;
        return Ok(if int_start == 1 { -v } else { v });
    }
    if b.get(i) == Some(&b'.') {
        i = digits_from(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits_from(b, i)?;
    }
    if i != b.len() {
        return Err(Decline);
    }
    s.parse().map_err(|_| Decline)
}

/// The end of the run of at least one digit that starts at `i`.
fn digits_from(b: &[u8], i: usize) -> Fast<usize> {
    let end = i + b
        .get(i..)
        .map_or(0, |r| r.iter().take_while(|d| d.is_ascii_digit()).count());
    if end == i { Err(Decline) } else { Ok(end) }
}

/// calamine's `get_row_and_optional_column` (0-based), for references short enough that
/// its arithmetic cannot overflow; longer ones decline.
pub fn cell_ref(s: &str) -> Fast<(u32, Option<u32>)> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut col: u32 = 0;
    while i < b.len() && b[i].is_ascii_alphabetic() {
        col = col * 26 + u32::from(b[i].to_ascii_uppercase() - b'A') + 1;
        i += 1;
    }
    let letters = i;
    let mut row: u32 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        row = row * 10 + u32::from(b[i] - b'0');
        i += 1;
    }
    if i != b.len() || letters > 6 || i - letters > 9 || i == letters {
        return Err(Decline);
    }
    Ok((row.checked_sub(1).ok_or(Decline)?, col.checked_sub(1)))
}

/// calamine's `get_dimension` must succeed: one or two references, each with a column.
/// (A reversed range, on which calamine subtracts past zero, declines too.)
fn check_dimension(r: &str) -> Fast<()> {
    let mut parts = Vec::with_capacity(2);
    for part in r.split(':') {
        let (row, col) = cell_ref(part)?;
        parts.push((row, col.ok_or(Decline)?));
    }
    match parts.as_slice() {
        [_] => Ok(()),
        [a, b] if b.0 >= a.0 && b.1 >= a.1 => Ok(()),
        _ => Err(Decline),
    }
}
