//! Ingest, xlsx fast path: the small parts of a workbook (package and workbook
//! relationships, workbook, styles, shared strings), read with the semantics of calamine
//! 0.38's `Xlsx::new` so that a workbook opens here exactly when and as it opens there.

use std::collections::HashMap;

use super::xml::{
    Decline, Fast, Tag, Tok, Tokens, check_text, decode_refs, decode_text, unescape_excel,
};

/// What calamine makes of a cell style's number format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Other,
    DateTime,
    TimeDelta,
}

/// `_rels/.rels` → (folder of the workbook part, its file name), as calamine splits the
/// officeDocument target.
pub fn office_document(bytes: &[u8]) -> Fast<(String, String)> {
    let mut t = Tokens::new(bytes, true)?;
    loop {
        match t.next()? {
            Tok::Start(e) if e.local() == "Relationships" => break,
            Tok::Eof => return Err(Decline),
            Tok::Text(s) => check_text(s)?,
            _ => {}
        }
    }
    let mut target = None;
    loop {
        match t.next()? {
            Tok::Start(e) if e.local() == "Relationship" => {
                let [typ, tgt] = e.pick(["Type", "Target"])?;
                if typ.is_some_and(|t| t.ends_with("/relationships/officeDocument"))
                    && let Some(tgt) = tgt
                {
                    let mut s = String::new();
                    decode_refs(tgt, &mut s)?;
                    target = Some(s);
                }
            }
            Tok::End("Relationships") => break,
            Tok::Eof => return Err(Decline),
            Tok::Text(s) => check_text(s)?,
            _ => {}
        }
    }
    let target = target.ok_or(Decline)?;
    let (dir, name) = match target.rfind('/') {
        Some(i) => target.split_at(i + 1),
        None => ("", target.as_str()),
    };
    let dir = dir.strip_prefix('/').unwrap_or(dir).to_string();
    let name = if name.is_empty() {
        "workbook.xml"
    } else {
        name
    };
    Ok((dir, name.to_string()))
}

/// The workbook's relationships: id → (target, type), raw as calamine keeps them.
pub fn relationships(bytes: &[u8]) -> Fast<HashMap<String, (String, String)>> {
    let mut t = Tokens::new(bytes, true)?;
    let mut rels = HashMap::new();
    loop {
        match t.next()? {
            Tok::Start(e) if e.local() == "Relationship" => {
                let [id, typ, target] = e.pick(["Id", "Type", "Target"])?;
                if let Some(id) = id {
                    rels.insert(
                        id.to_string(),
                        (
                            target.unwrap_or("").to_string(),
                            typ.unwrap_or("").to_string(),
                        ),
                    );
                }
            }
            Tok::End("Relationships") => return Ok(rels),
            Tok::Eof => return Err(Decline),
            Tok::Text(s) => check_text(s)?,
            _ => {}
        }
    }
}

/// A sheet as the workbook lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetEntry {
    pub name: String,
    pub path: String,
    pub worksheet: bool,
}

/// `xl/workbook.xml` → the sheets in order and the 1904 flag.
pub fn workbook(
    bytes: &[u8],
    xl_path: &str,
    rels: &HashMap<String, (String, String)>,
) -> Fast<(Vec<SheetEntry>, bool)> {
    let mut t = Tokens::new(bytes, true)?;
    let mut sheets = Vec::new();
    let mut is_1904 = false;
    loop {
        match t.next()? {
            Tok::Start(e) if e.local() == "sheet" => sheets.push(sheet_entry(&e, xl_path, rels)?),
            Tok::Start(e) if e.local() == "workbookPr" => {
                let [d] = e.pick(["date1904"])?;
                if let Some(v) = d {
                    is_1904 = v == "1" || v == "true";
                }
            }
            Tok::Start(e) if e.local() == "definedName" => {
                // calamine reads the text of a named definedName; only its validity matters.
                let [name] = e.pick(["name"])?;
                if name.is_some() {
                    let depth = t.depth();
                    if !e.empty {
                        loop {
                            match t.next()? {
                                Tok::Text(s) => check_text(s)?,
                                Tok::End(_) if t.depth() < depth => break,
                                Tok::Eof => return Err(Decline),
                                _ => {}
                            }
                        }
                    }
                }
            }
            Tok::End("workbook") => return Ok((sheets, is_1904)),
            Tok::Eof => return Err(Decline),
            Tok::Text(s) => check_text(s)?,
            _ => {}
        }
    }
}

fn sheet_entry(
    e: &Tag<'_>,
    xl_path: &str,
    rels: &HashMap<String, (String, String)>,
) -> Fast<SheetEntry> {
    let mut name = String::new();
    let mut rel_id = "";
    for (key, val) in e.attrs() {
        match key {
            "name" => {
                name.clear();
                decode_refs(val, &mut name)?;
            }
            "state" if !matches!(val, "visible" | "hidden" | "veryHidden") => return Err(Decline),
            "state" => {}
            k if k == "id" || k.strip_suffix("id").is_some_and(|p| p.ends_with(':')) => {
                rel_id = val
            }
            _ => {}
        }
    }
    let (target, typ) = rels.get(rel_id).ok_or(Decline)?;
    let path = match target.strip_prefix('/') {
        Some(abs) => abs.to_string(),
        None => format!("{xl_path}{target}"),
    };
    let worksheet = match typ.rsplit('/').next() {
        Some("worksheet") => true,
        Some("chartsheet" | "dialogsheet") => false,
        _ => return Err(Decline),
    };
    Ok(SheetEntry {
        name,
        path,
        worksheet,
    })
}

/// `xl/styles.xml` → the number format class of each cell style (`cellXfs`), in order.
pub fn styles(bytes: &[u8]) -> Fast<Vec<Format>> {
    let mut t = Tokens::new(bytes, true)?;
    let mut custom: HashMap<&str, String> = HashMap::new();
    let mut formats = Vec::new();
    let mut in_num_fmts = false;
    let mut in_xfs = false;
    loop {
        match t.next()? {
            Tok::Start(e) if in_num_fmts && e.local() == "numFmt" => {
                let [id, code] = e.pick(["numFmtId", "formatCode"])?;
                if let (Some(id), Some(code)) = (id, code) {
                    let mut s = String::new();
                    decode_refs(code, &mut s)?;
                    custom.insert(id, s);
                }
            }
            Tok::End("numFmts") if in_num_fmts => in_num_fmts = false,
            Tok::Start(e) if in_xfs && e.local() == "xf" => {
                let [id] = e.pick(["numFmtId"])?;
                formats.push(id.map_or(Format::Other, |id| match custom.get(id) {
                    Some(code) => custom_format(code),
                    None => builtin_format(id),
                }));
                t.skip_element()?;
            }
            Tok::End("cellXfs") if in_xfs => in_xfs = false,
            Tok::Start(e) if !in_num_fmts && !in_xfs && e.local() == "numFmts" => {
                in_num_fmts = true
            }
            Tok::Start(e) if !in_num_fmts && !in_xfs && e.local() == "cellXfs" => in_xfs = true,
            Tok::End("styleSheet") if !in_num_fmts && !in_xfs => return Ok(formats),
            Tok::Eof => return Err(Decline),
            Tok::Text(s) => check_text(s)?,
            _ => {}
        }
    }
}

/// calamine's `builtin_format_by_id`.
fn builtin_format(id: &str) -> Format {
    match id {
        "14" | "15" | "16" | "17" | "18" | "19" | "20" | "21" | "22" | "45" | "47" => {
            Format::DateTime
        }
        "27" | "28" | "29" | "30" | "31" | "32" | "33" | "34" | "35" | "36" | "50" | "51"
        | "52" | "53" | "54" | "55" | "56" | "57" | "58" => Format::DateTime,
        "46" => Format::TimeDelta,
        _ => Format::Other,
    }
}

/// calamine's `detect_custom_number_format`: is a format code a date or a duration?
pub fn custom_format(format: &str) -> Format {
    let mut escaped = false;
    let mut is_quote = false;
    let mut brackets = 0u8;
    let mut prev = ' ';
    let mut hms = false;
    let mut ap = false;
    for s in format.chars() {
        match (s, escaped, is_quote, ap, brackets) {
            (_, true, ..) => escaped = false,
            ('_' | '\\' | '*', ..) => escaped = true,
            ('"', _, true, _, _) => is_quote = false,
            (_, _, true, _, _) => (),
            ('"', _, _, _, _) => is_quote = true,
            (';', ..) => return Format::Other,
            ('[', ..) => brackets = brackets.wrapping_add(1),
            (']', .., 1) if hms => return Format::TimeDelta,
            (']', ..) => brackets = brackets.saturating_sub(1),
            ('a' | 'A', _, _, false, 0) => ap = true,
            ('p' | 'm' | '/' | 'P' | 'M', _, _, true, 0) => return Format::DateTime,
            ('d' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S', _, _, false, 0) => {
                return Format::DateTime;
            }
            _ => {
                if hms && s.eq_ignore_ascii_case(&prev) {
                } else {
                    hms = prev == '[' && matches!(s, 'm' | 'h' | 's' | 'M' | 'H' | 'S');
                }
            }
        }
        prev = s;
    }
    Format::Other
}

/// The shared strings, one arena and a span per string.
#[derive(Debug, Default)]
pub struct Strings {
    arena: String,
    spans: Vec<(u32, u32)>,
}

impl Strings {
    pub fn get(&self, i: usize) -> Option<&str> {
        let &(a, b) = self.spans.get(i)?;
        self.arena.get(a as usize..b as usize)
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    fn push(&mut self, s: &str) -> Fast<()> {
        let a = u32::try_from(self.arena.len()).map_err(|_| Decline)?;
        self.arena.push_str(s);
        let b = u32::try_from(self.arena.len()).map_err(|_| Decline)?;
        self.spans.push((a, b));
        Ok(())
    }
}

/// `xl/sharedStrings.xml` → every `<si>` in order.
pub fn shared_strings(bytes: &[u8]) -> Fast<Strings> {
    let mut t = Tokens::new(bytes, false)?;
    let mut out = Strings::default();
    loop {
        match t.next()? {
            Tok::Start(e) if e.local() == "sst" => {
                let [n] = e.pick(["uniqueCount"])?;
                if let Some(n) = n.and_then(|n| n.parse::<usize>().ok()) {
                    out.spans.reserve(n.min(bytes.len() / 8));
                }
                break;
            }
            Tok::Eof => return Err(Decline),
            Tok::Text(s) => check_text(s)?,
            _ => {}
        }
    }
    out.arena.reserve(bytes.len() / 2);
    let mut buf = String::new();
    loop {
        match t.next()? {
            Tok::Start(e) if e.local() == "si" => {
                buf.clear();
                rich_text(&mut t, e.name, e.empty, &mut buf)?;
                out.push(&buf)?;
            }
            Tok::End("sst") => return Ok(out),
            Tok::Eof => return Err(Decline),
            Tok::Text(s) => check_text(s)?,
            _ => {}
        }
    }
}

/// calamine's `read_string_with_bufs`: the text of an `<si>` or `<is>` whose start tag was
/// just read, runs (`<r>`) concatenated, phonetic runs (`<rPh>`) left out; reads through
/// its end tag.
pub fn rich_text(t: &mut Tokens<'_>, name: &str, empty: bool, out: &mut String) -> Fast<()> {
    if empty {
        return match t.next()? {
            Tok::End(_) => Ok(()),
            _ => Err(Decline),
        };
    }
    let depth = t.depth();
    let mut phonetic = false;
    let mut piece = String::new();
    loop {
        match t.next()? {
            Tok::End(_) if t.depth() < depth => return Ok(()),
            // calamine would stop at the inner end tag of the same name.
            Tok::Start(e) if e.name == name => return Err(Decline),
            Tok::Start(e) if e.local() == "rPh" => phonetic = true,
            Tok::End("rPh") => phonetic = false,
            Tok::Start(e) if e.local() == "t" && !phonetic => {
                let [space] = e.pick(["xml:space"])?;
                let preserve = space == Some("preserve");
                piece.clear();
                if e.empty {
                    t.next()?;
                } else {
                    loop {
                        match t.next()? {
                            Tok::Text(s) => decode_text(s, &mut piece)?,
                            Tok::End(_) => break,
                            _ => return Err(Decline),
                        }
                    }
                }
                let v = if preserve {
                    piece.as_str()
                } else {
                    piece.trim_matches([' ', '\t', '\r', '\n'])
                };
                out.push_str(&unescape_excel(v));
            }
            Tok::Eof => return Err(Decline),
            Tok::Text(s) => check_text(s)?,
            _ => {}
        }
    }
}
