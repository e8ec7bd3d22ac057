//! Ingest, xlsx fast path: a strict XML tokenizer over one inflated part (a small part
//! whole, or the start of a worksheet up to its `<sheetData>`). It accepts
//! the plain subset of XML that spreadsheet writers produce and reports `Decline` on
//! anything else (comments or processing instructions inside the root, CDATA, DOCTYPE,
//! malformed tags or references, non-UTF-8), so that the caller can leave the file to
//! calamine. Text decoding mirrors quick_xml + calamine exactly for what it accepts.

use memchr::memchr;

/// "Not handled here": the part uses a form the fast path does not read; calamine will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline;

pub type Fast<T> = Result<T, Decline>;

/// One start tag; an empty element (`<a/>`) is followed by its end, as calamine's reader
/// (`expand_empty_elements`) sees it.
#[derive(Debug, Clone, Copy)]
pub struct Tag<'a> {
    pub name: &'a str,
    /// The raw attribute region, already checked to be well formed.
    attrs: &'a str,
    pub empty: bool,
}

impl<'a> Tag<'a> {
    pub fn local(&self) -> &'a str {
        local_name(self.name)
    }

    /// Attributes in order, as raw `(key, value)` pairs.
    pub fn attrs(&self) -> AttrIter<'a> {
        AttrIter {
            raw: self.attrs.as_bytes(),
            src: self.attrs,
            pos: 0,
        }
    }

    /// The raw values of `keys` (exact names); declines when one of them appears twice,
    /// since calamine's single-pass lookup then depends on attribute order.
    pub fn pick<const N: usize>(&self, keys: [&str; N]) -> Fast<[Option<&'a str>; N]> {
        let mut out = [None; N];
        for (k, v) in self.attrs() {
            if let Some(i) = keys.iter().position(|key| *key == k) {
                if out[i].is_some() {
                    return Err(Decline);
                }
                out[i] = Some(v);
            }
        }
        Ok(out)
    }
}

/// quick_xml's local name: what follows the first `:`.
pub fn local_name(name: &str) -> &str {
    match name.bytes().position(|c| c == b':') {
        Some(i) => name.get(i + 1..).unwrap_or(""),
        None => name,
    }
}

pub struct AttrIter<'a> {
    raw: &'a [u8],
    src: &'a str,
    pos: usize,
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        // The region was validated by `scan_attrs`: whitespace, key, '=', quoted value.
        let b = self.raw;
        let mut p = self.pos;
        while p < b.len() && b[p].is_ascii_whitespace() {
            p += 1;
        }
        if p >= b.len() {
            return None;
        }
        let eq = p + memchr(b'=', &b[p..])?;
        let quote = *b.get(eq + 1)?;
        let close = eq + 2 + memchr(quote, b.get(eq + 2..)?)?;
        self.pos = close + 1;
        Some((self.src.get(p..eq)?, self.src.get(eq + 2..close)?))
    }
}

/// Checks an attribute region strictly and returns where the tag ends: the index of `>`
/// and whether it was `/>`. `check_refs` also requires every `&` in a value to start a
/// reference quick_xml can unescape (calamine unescapes some attributes of the small
/// parts, and fails the whole workbook when that fails).
pub fn scan_attrs(src: &str, p: usize, check_refs: bool) -> Fast<(usize, bool)> {
    scan_attrs_with(src, p, |_, value| {
        if check_refs && memchr(b'&', value.as_bytes()).is_some() {
            // Validates only; the caller decodes the few attributes calamine decodes.
            decode_refs(value, &mut String::new())?;
        }
        Ok(())
    })
}

/// `scan_attrs`, giving each attribute's raw key and value to `f`.
#[inline]
pub fn scan_attrs_with<'a>(
    src: &'a str,
    mut p: usize,
    mut f: impl FnMut(&'a str, &'a str) -> Fast<()>,
) -> Fast<(usize, bool)> {
    let b = src.as_bytes();
    loop {
        let ws_start = p;
        while p < b.len() && b[p].is_ascii_whitespace() {
            p += 1;
        }
        match b.get(p) {
            Some(b'>') => return Ok((p, false)),
            Some(b'/') => {
                return if b.get(p + 1) == Some(&b'>') {
                    Ok((p + 1, true))
                } else {
                    Err(Decline)
                };
            }
            None => return Err(Decline),
            Some(_) if p == ws_start => return Err(Decline),
            Some(_) => {}
        }
        let key_start = p;
        while p < b.len()
            && !matches!(b[p], b'=' | b'>' | b'/' | b'<' | b'"' | b'\'')
            && !b[p].is_ascii_whitespace()
        {
            p += 1;
        }
        if p == key_start || b.get(p) != Some(&b'=') {
            return Err(Decline);
        }
        let quote = match b.get(p + 1) {
            Some(q @ (b'"' | b'\'')) => *q,
            _ => return Err(Decline),
        };
        let v_start = p + 2;
        let mut q = v_start;
        loop {
            match b.get(q) {
                Some(&c) if c == quote => break,
                Some(b'<') | None => return Err(Decline),
                Some(_) => q += 1,
            }
        }
        f(
            src.get(key_start..p).ok_or(Decline)?,
            src.get(v_start..q).ok_or(Decline)?,
        )?;
        p = q + 1;
    }
}

pub enum Tok<'a> {
    Start(Tag<'a>),
    End(&'a str),
    Text(&'a str),
    Eof,
}

/// A pull tokenizer with strict nesting (every end tag closes the innermost open element).
pub struct Tokens<'a> {
    pub src: &'a str,
    pub pos: usize,
    stack: Vec<&'a str>,
    pending_end: Option<&'a str>,
    check_refs: bool,
    root_seen: bool,
}

impl<'a> Tokens<'a> {
    /// A tokenizer over a part; declines on a byte-order mark other than UTF-8's, invalid
    /// UTF-8, or a declared encoding other than UTF-8.
    pub fn new(bytes: &'a [u8], check_refs: bool) -> Fast<Tokens<'a>> {
        let src = std::str::from_utf8(bytes).map_err(|_| Decline)?;
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        Ok(Tokens {
            src,
            pos: 0,
            stack: Vec::new(),
            pending_end: None,
            check_refs,
            root_seen: false,
        })
    }

    pub fn depth(&self) -> usize {
        self.stack.len()
    }

    pub fn next(&mut self) -> Fast<Tok<'a>> {
        if let Some(name) = self.pending_end.take() {
            return Ok(Tok::End(local_name(name)));
        }
        let b = self.src.as_bytes();
        if self.stack.is_empty() {
            // Outside the root: only whitespace, the declaration, comments and processing
            // instructions before it; nothing after it is read.
            if self.root_seen {
                return Ok(Tok::Eof);
            }
            loop {
                while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
                    self.pos += 1;
                }
                let rest = &b[self.pos..];
                if rest.is_empty() {
                    return Ok(Tok::Eof);
                }
                if rest.starts_with(b"<?") {
                    let end = find(rest, b"?>").ok_or(Decline)?;
                    check_declaration(self.src.get(self.pos..self.pos + end).ok_or(Decline)?)?;
                    self.pos += end + 2;
                } else if rest.starts_with(b"<!--") {
                    let end = find(&rest[4..], b"-->").ok_or(Decline)?;
                    self.pos += 4 + end + 3;
                } else if rest.starts_with(b"<")
                    && !rest.starts_with(b"<!")
                    && !rest.starts_with(b"</")
                {
                    break;
                } else {
                    return Err(Decline);
                }
            }
        }
        if self.pos >= b.len() {
            return Err(Decline);
        }
        if b[self.pos] != b'<' {
            let end = self.pos + memchr(b'<', &b[self.pos..]).ok_or(Decline)?;
            let text = self.src.get(self.pos..end).ok_or(Decline)?;
            self.pos = end;
            return Ok(Tok::Text(text));
        }
        let p = self.pos + 1;
        match b.get(p) {
            Some(b'/') => {
                let gt = p + 1 + memchr(b'>', &b[p + 1..]).ok_or(Decline)?;
                let name = self.src.get(p + 1..gt).ok_or(Decline)?;
                if self.stack.pop() != Some(name) {
                    return Err(Decline);
                }
                self.pos = gt + 1;
                Ok(Tok::End(local_name(name)))
            }
            Some(b'!' | b'?') | None => Err(Decline),
            Some(_) => {
                let tag = self.tag_at(p)?;
                self.root_seen = true;
                if tag.empty {
                    self.pending_end = Some(tag.name);
                } else {
                    self.stack.push(tag.name);
                }
                Ok(Tok::Start(tag))
            }
        }
    }

    /// Parses the start tag whose name begins at `p` and moves past it.
    fn tag_at(&mut self, p: usize) -> Fast<Tag<'a>> {
        let b = self.src.as_bytes();
        let mut q = p;
        while q < b.len()
            && !matches!(b[q], b'>' | b'/' | b'<' | b'"' | b'\'' | b'=')
            && !b[q].is_ascii_whitespace()
        {
            q += 1;
        }
        if q == p {
            return Err(Decline);
        }
        let (gt, empty) = scan_attrs(self.src, q, self.check_refs)?;
        let attrs_end = if empty { gt - 1 } else { gt };
        self.pos = gt + 1;
        Ok(Tag {
            name: self.src.get(p..q).ok_or(Decline)?,
            attrs: self.src.get(q..attrs_end).ok_or(Decline)?,
            empty,
        })
    }

    /// A tokenizer positioned at `pos`, inside the element `open` (for reading one
    /// element's content out of a part another scanner walks).
    pub fn inside(src: &'a str, pos: usize, open: &'a str) -> Tokens<'a> {
        Tokens {
            src,
            pos,
            stack: vec![open],
            pending_end: None,
            check_refs: false,
            root_seen: true,
        }
    }

    /// Skips to the end of the element just started (whose start was the last token),
    /// checking what it passes over.
    pub fn skip_element(&mut self) -> Fast<()> {
        if self.pending_end.take().is_some() {
            return Ok(());
        }
        let depth = self.depth();
        loop {
            match self.next()? {
                Tok::End(_) if self.depth() < depth => return Ok(()),
                Tok::Eof => return Err(Decline),
                Tok::Text(t) => check_text(t)?,
                _ => {}
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// `<?xml ... encoding="..."?>`: calamine's reader decodes other encodings; this one only
/// reads UTF-8.
fn check_declaration(pi: &str) -> Fast<()> {
    let Some(i) = pi.find("encoding") else {
        return Ok(());
    };
    let rest = pi[i + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')
        .ok_or(Decline)?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().ok_or(Decline)?;
    let value = rest
        .get(1..)
        .and_then(|r| r.split(quote).next())
        .ok_or(Decline)?;
    if value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8") {
        Ok(())
    } else {
        Err(Decline)
    }
}

/// Text the fast path skips must still be text quick_xml would accept.
pub fn check_text(t: &str) -> Fast<()> {
    if memchr(b'&', t.as_bytes()).is_some() {
        let mut sink = String::new();
        decode_refs(t, &mut sink)?;
    }
    Ok(())
}

/// Appends `raw` with its references resolved, as quick_xml's `unescape` does.
pub fn decode_refs(raw: &str, out: &mut String) -> Fast<()> {
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').ok_or(Decline)?;
        out.push(resolve_ref(&after[..semi])?);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(())
}

/// Appends element text as calamine reads it: XML 1.0 line ends normalised in the literal
/// text (`\r\n` and `\r` become `\n`), references resolved (a `&#13;` stays a CR).
pub fn decode_text(raw: &str, out: &mut String) -> Fast<()> {
    let b = raw.as_bytes();
    if memchr::memchr2(b'&', b'\r', b).is_none() {
        out.push_str(raw);
        return Ok(());
    }
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\r' => {
                out.push_str(&raw[start..i]);
                out.push('\n');
                i += if b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                start = i;
            }
            b'&' => {
                out.push_str(&raw[start..i]);
                let semi = i + 1 + memchr(b';', &b[i + 1..]).ok_or(Decline)?;
                out.push(resolve_ref(&raw[i + 1..semi])?);
                i = semi + 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&raw[start..]);
    Ok(())
}

/// The five predefined entities and numeric character references (as quick_xml: no sign,
/// lower-case `x` for hex, not zero, a valid scalar value).
fn resolve_ref(name: &str) -> Fast<char> {
    Ok(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let num = name.strip_prefix('#').ok_or(Decline)?;
            let (digits, radix) = match num.strip_prefix('x') {
                Some(hex) => (hex, 16),
                None => (num, 10),
            };
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(Decline);
            }
            let code = u32::from_str_radix(digits, radix).map_err(|_| Decline)?;
            if code == 0 {
                return Err(Decline);
            }
            char::from_u32(code).ok_or(Decline)?
        }
    })
}

/// calamine's `unescape_xml`: Excel's `_xHHHH_` escapes of UTF-16 code units.
pub fn unescape_excel(s: &str) -> std::borrow::Cow<'_, str> {
    const LEN: usize = 7;
    let Some((mut index, mut unit)) = find_escape(s, 0) else {
        return std::borrow::Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    loop {
        out.push_str(&s[copied..index]);
        index += LEN;
        match unit {
            0xD800..=0xDBFF => match parse_escape(s, index) {
                Some(low @ 0xDC00..=0xDFFF) => {
                    let cp =
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    out.push(char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER));
                    index += LEN;
                }
                _ => out.push(char::REPLACEMENT_CHARACTER),
            },
            0xDC00..=0xDFFF => out.push(char::REPLACEMENT_CHARACTER),
            _ => out.push(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
        copied = index;
        match find_escape(s, index) {
            Some(next) => (index, unit) = next,
            None => break,
        }
    }
    out.push_str(&s[copied..]);
    std::borrow::Cow::Owned(out)
}

fn find_escape(s: &str, mut start: usize) -> Option<(usize, u16)> {
    while let Some(offset) = s.get(start..)?.find('_') {
        let index = start + offset;
        if let Some(unit) = parse_escape(s, index) {
            return Some((index, unit));
        }
        start = index + 1;
    }
    None
}

fn parse_escape(s: &str, index: usize) -> Option<u16> {
    let b = s.as_bytes().get(index..index + 7)?;
    if b[0] != b'_' || b[1] != b'x' || b[6] != b'_' || !b[2..6].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(&b[2..6]).ok()?, 16).ok()
}
