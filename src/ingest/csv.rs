//! Ingest, CSV and text exports: bytes → decoded text → header and delimiter → rows.
//! Takes one file's bytes, gives its rows to a `SheetParser`. Handles UTF-8 (BOM or not),
//! UTF-16 with BOM, Windows-1252, an optional `sep=` line and a header below title lines.

use std::borrow::Cow;

use super::issue::RowLocation;
use super::schema::HEADER_SEARCH_ROWS;
use super::sheet::{FileCtx, SheetParser};
use super::value::Cell;

/// Decodes UTF-32 (no BOM); a code unit that is no character becomes U+FFFD.
fn utf32(bytes: &[u8], little_endian: bool) -> String {
    bytes
        .chunks(4)
        .map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            let u = if little_endian {
                u32::from_le_bytes(b)
            } else {
                u32::from_be_bytes(b)
            };
            char::from_u32(u).unwrap_or('\u{fffd}')
        })
        .collect()
}

/// UTF-32 without a BOM: ASCII text has three NUL bytes in every four.
fn utf32_without_bom(head: &[u8]) -> Option<bool> {
    if head.len() < 8 {
        return None;
    }
    let quads = head.len() / 4;
    let nul_at = |k: usize| head.iter().skip(k).step_by(4).filter(|b| **b == 0).count();
    let mostly = |n: usize| n * 10 >= quads * 9;
    if nul_at(0) == 0 && mostly(nul_at(1)) && mostly(nul_at(2)) && mostly(nul_at(3)) {
        return Some(true);
    }
    if nul_at(3) == 0 && mostly(nul_at(0)) && mostly(nul_at(1)) && mostly(nul_at(2)) {
        return Some(false);
    }
    None
}

/// Decodes a CSV file's bytes: UTF-8 BOM, UTF-32 and UTF-16 LE/BE (BOM, or NUL bytes in
/// the text), valid UTF-8, else Windows-1252 (which maps every byte, so this never fails).
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    unicode(bytes).unwrap_or_else(|| {
        Cow::Owned(
            single_byte(bytes)
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
        )
    })
}

/// `decode` for every Unicode form; `None` for text in a single-byte encoding.
fn unicode(bytes: &[u8]) -> Option<Cow<'_, str>> {
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return Some(String::from_utf8_lossy(rest));
    }
    // Before UTF-16: the UTF-32 LE BOM starts with the UTF-16 LE one.
    if let Some(rest) = bytes.strip_prefix(b"\xff\xfe\x00\x00") {
        return Some(Cow::Owned(utf32(rest, true)));
    }
    if let Some(rest) = bytes.strip_prefix(b"\x00\x00\xfe\xff") {
        return Some(Cow::Owned(utf32(rest, false)));
    }
    if let Some(le) = utf32_without_bom(&bytes[..bytes.len().min(512)]) {
        return Some(Cow::Owned(utf32(bytes, le)));
    }
    if let Some((enc, _)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _, _) = enc.decode(bytes);
        return Some(Cow::Owned(text.into_owned()));
    }
    // UTF-16 without a BOM: every other byte of ASCII text is NUL.
    let head = &bytes[..bytes.len().min(512)];
    if head.len() >= 4 {
        let even_nul = head.iter().step_by(2).filter(|b| **b == 0).count();
        let odd_nul = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
        let half = head.len() / 2;
        if odd_nul * 10 >= half * 9 && even_nul == 0 {
            return Some(Cow::Owned(
                encoding_rs::UTF_16LE
                    .decode_without_bom_handling(bytes)
                    .0
                    .into_owned(),
            ));
        }
        if even_nul * 10 >= half * 9 && odd_nul == 0 {
            return Some(Cow::Owned(
                encoding_rs::UTF_16BE
                    .decode_without_bom_handling(bytes)
                    .0
                    .into_owned(),
            ));
        }
    }
    std::str::from_utf8(bytes).ok().map(Cow::Borrowed)
}

/// `decode`, with text in a single-byte encoding (the usual Windows-1252 export, the
/// size of the file) decoded into `spare` rather than a new string: a reader thread
/// reuses one buffer for every file, instead of the system zeroing fresh pages for each.
/// `None`: the text is in `spare`.
fn decode_reusing<'a>(bytes: &'a [u8], spare: &mut String) -> Option<Cow<'a, str>> {
    if let Some(text) = unicode(bytes) {
        return Some(text);
    }
    let mut decoder = single_byte(bytes).new_decoder_without_bom_handling();
    spare.clear();
    // A single-byte encoding writes one byte for an ASCII byte and at most three for any
    // other: room for exactly that, not three bytes for every one (the decoder touches every
    // page of the room it is given, and reader threads keep this buffer from file to file).
    spare.reserve(bytes.len() + 2 * non_ascii(bytes));
    let mut rest = bytes;
    loop {
        let (result, read, _) = decoder.decode_to_string(rest, spare, true);
        rest = rest.get(read..).unwrap_or_default();
        match result {
            encoding_rs::CoderResult::InputEmpty => break,
            encoding_rs::CoderResult::OutputFull => spare.reserve(3 * rest.len() + 16),
        }
    }
    None
}

/// How many bytes are not ASCII, eight at a time: each byte's high bit lands in its own
/// lane of a word, and the lanes are summed before any can pass 255. (A byte-at-a-time
/// count took a twentieth of reading a Windows-1252 export.)
fn non_ascii(bytes: &[u8]) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const PAIRS: u64 = 0x00FF_00FF_00FF_00FF;
    const WORDS: u64 = 0x0001_0001_0001_0001;
    let (words, tail) = bytes.as_chunks::<8>();
    let mut n = tail.iter().filter(|b| !b.is_ascii()).count();
    for block in words.chunks(255) {
        let lanes: u64 = block
            .iter()
            .map(|w| (u64::from_ne_bytes(*w) & HIGH) >> 7)
            .sum();
        // Each byte lane holds at most 255; pairs of lanes summed into 16-bit lanes (at
        // most 510), whose sum (at most 2040) is the top 16 bits of the product.
        let pairs = (lanes & PAIRS) + ((lanes >> 8) & PAIRS);
        n += (pairs.wrapping_mul(WORDS) >> 48) as usize;
    }
    n
}

/// The positions of a delimiter or a line feed in `bytes`, in order. Fields are a few
/// bytes long, so a search call per field cost more than the search: eight bytes are
/// looked at together instead, and a word's matches read off its bits.
struct Stops<'a> {
    bytes: &'a [u8],
    /// Where the next word starts.
    at: usize,
    /// The current word's start, and its unread matches (one high bit per matching byte).
    base: usize,
    found: u64,
    delimiter: u64,
}

impl<'a> Stops<'a> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LINE_FEEDS: u64 = Self::ONES * b'\n' as u64;

    fn new(bytes: &'a [u8], delimiter: u8) -> Stops<'a> {
        Stops {
            bytes,
            at: 0,
            base: 0,
            found: 0,
            delimiter: Self::ONES * u64::from(delimiter),
        }
    }

    /// The high bit of each byte of `w` that is zero, exactly (no carry crosses a byte).
    fn zero_bytes(w: u64) -> u64 {
        !(((w & Self::LOW7) + Self::LOW7) | w) & Self::HIGH
    }

    fn matches(&self, w: u64) -> u64 {
        Self::zero_bytes(w ^ self.delimiter) | Self::zero_bytes(w ^ Self::LINE_FEEDS)
    }
}

impl Iterator for Stops<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.found == 0 {
            let rest = self.bytes.get(self.at..)?;
            if rest.is_empty() {
                return None;
            }
            let (n, mut found) = match rest.first_chunk::<8>() {
                Some(word) => (8, self.matches(u64::from_le_bytes(*word))),
                None => {
                    // The last few bytes (a copy of a variable length is a library call:
                    // only here, not for every word).
                    let mut word = [0u8; 8];
                    word[..rest.len()].copy_from_slice(rest);
                    (rest.len(), self.matches(u64::from_le_bytes(word)))
                }
            };
            if n < 8 {
                // The zero padding past the end matches nothing real.
                found &= (1u64 << (8 * n)) - 1;
            }
            self.base = self.at;
            self.at += n;
            self.found = found;
        }
        let bit = self.found.trailing_zeros() as usize;
        self.found &= self.found - 1;
        Some(self.base + bit / 8)
    }
}

thread_local! {
    /// A reader thread's buffer for decoded text (see `decode_reusing`).
    static DECODED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Windows-1252, unless the bytes look like Swedish letters in Mac Roman (old Mac exports
/// and files labelled as Windows-1252 that are not: `Alings\x8cs`).
fn single_byte(bytes: &[u8]) -> &'static encoding_rs::Encoding {
    // å ä ö Å Ä Ö é É ü Ü in each encoding
    const WIN: [u8; 10] = [0xe5, 0xe4, 0xf6, 0xc5, 0xc4, 0xd6, 0xe9, 0xc9, 0xfc, 0xdc];
    const MAC: [u8; 10] = [0x8c, 0x8a, 0x9a, 0x81, 0x80, 0x85, 0x8e, 0x83, 0x9f, 0x86];
    // One pass with a byte table: this runs over every byte of a national-scale file.
    const VOTE: [i8; 256] = {
        let mut t = [0i8; 256];
        let mut i = 0;
        while i < 10 {
            t[WIN[i] as usize] = 1;
            t[MAC[i] as usize] = -1;
            i += 1;
        }
        t
    };
    // Only bytes above 0x7f vote: eight ASCII bytes at a time are passed over.
    let mut balance: i64 = 0;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        if u64::from_le_bytes(w) & 0x8080_8080_8080_8080 != 0 {
            balance += c
                .iter()
                .map(|b| i64::from(VOTE[usize::from(*b)]))
                .sum::<i64>();
        }
    }
    balance += chunks
        .remainder()
        .iter()
        .map(|b| i64::from(VOTE[usize::from(*b)]))
        .sum::<i64>();
    if balance < 0 {
        encoding_rs::MACINTOSH
    } else {
        encoding_rs::WINDOWS_1252
    }
}

/// The delimiter of a header line: the most frequent of `;` `,` tab (`;` on a tie).
fn delimiter_of(line: &str) -> u8 {
    let mut best = (b';', line.matches(';').count());
    for d in [b',', b'\t'] {
        let n = line.bytes().filter(|b| *b == d).count();
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

fn reader(text: &str, delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes())
}

/// Old Mac exports end lines with a lone CR and hand-edited files mix endings: every line
/// break becomes LF, so that lines and row numbers are counted one way.
fn normalise_line_ends(text: Cow<'_, str>) -> Cow<'_, str> {
    let b = text.as_bytes();
    // Most files have no CR, or one before every LF: vectorised searches say so.
    let lone_cr = memchr::memchr_iter(b'\r', b).any(|i| b.get(i + 1) != Some(&b'\n'));
    if !lone_cr {
        return text;
    }
    Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// A record that swallowed whole lines: a field holding a line break and the delimiter,
/// which is what an opening quote that is never closed does to the rows after it.
fn swallowed_lines(record: &csv::ByteRecord, delimiter: u8) -> bool {
    // Almost no record holds a line break at all: one search over all of its fields first.
    record.as_slice().contains(&b'\n')
        && record
            .iter()
            .any(|f| f.contains(&b'\n') && f.contains(&delimiter))
}

/// Reads one CSV file into `ctx` (one sheet record with `sheet: None`).
pub fn read_csv(bytes: &[u8], ctx: &mut FileCtx) {
    DECODED.with_borrow_mut(|spare| {
        let decoded = decode_reusing(bytes, spare);
        let text = match decoded {
            Some(text) => text,
            None => Cow::Borrowed(spare.as_str()),
        };
        read_text(normalise_line_ends(text), ctx);
    });
}

/// Reads one CSV file's decoded text into `ctx`.
fn read_text(text: Cow<'_, str>, ctx: &mut FileCtx) {
    let mut parser = SheetParser::new(None);
    // (byte offset, line number before the header, delimiter) of the header line
    let mut found: Option<(usize, u32, u8)> = None;
    let mut forced: Option<u8> = None;
    let mut offset = 0usize;
    let mut searched = 0usize;
    for (index, raw_line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches(['\r', '\n']);
        if index == 0 {
            let l = line.trim().to_ascii_lowercase();
            if let Some(sep) = l.strip_prefix("sep=") {
                forced = sep.bytes().next();
                continue;
            }
        }
        if line.trim().is_empty() {
            continue;
        }
        let delimiter = forced.unwrap_or_else(|| delimiter_of(line));
        let fields: Vec<(u32, String)> = match reader(line, delimiter).records().next() {
            Some(Ok(r)) => r
                .iter()
                .enumerate()
                .map(|(i, f)| (i as u32, f.to_string()))
                .collect(),
            _ => Vec::new(),
        };
        let header: Vec<(u32, &str)> = fields.iter().map(|(c, t)| (*c, t.as_str())).collect();
        if let Some(map) = ctx.matcher.classify(&header) {
            parser.start(ctx, map);
            found = Some((start, index as u32, delimiter));
            break;
        }
        searched += 1;
        if searched >= HEADER_SEARCH_ROWS {
            break;
        }
    }
    if let Some((start, lines_before, delimiter)) = found {
        // Without a quote character every record is one line: split it here, as csv
        // would, at a fraction of csv's cost per byte.
        if memchr::memchr(b'"', text[start..].as_bytes()).is_none() {
            read_plain_lines(&text[start..], lines_before, delimiter, &mut parser, ctx);
            parser.finish(ctx);
            return;
        }
        let base = text[start..].as_bytes();
        let mut rdr = reader(&text[start..], delimiter);
        // Bytes, not `StringRecord`: the text is already UTF-8 and csv splits it only at
        // ASCII bytes, so each field is UTF-8 too and is checked only when a column uses it.
        let mut record = csv::ByteRecord::new();
        let mut first = true;
        // Row numbers come from counting line feeds up to where a record really starts:
        // csv's own line count is one short after a CRLF line end.
        let mut counted_to = 0usize;
        let mut line = 1u32;

        loop {
            match rdr.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                // Invalid data inside one record: csv resynchronises at the next line.
                Err(_) => continue,
            }
            if first {
                first = false; // the header itself
                continue;
            }
            if ctx.over_rows() {
                break;
            }
            let mut at = record
                .position()
                .map_or(0, |p| p.byte() as usize)
                .min(base.len());
            while at < base.len() && matches!(base[at], b'\r' | b'\n') {
                at += 1;
            }
            if at > counted_to {
                line += base[counted_to..at].iter().filter(|b| **b == b'\n').count() as u32;
                counted_to = at;
            }
            let row = lines_before + line;
            if swallowed_lines(&record, delimiter) {
                let end = (rdr.position().byte() as usize).min(base.len());
                let inner = base[counted_to.min(end)..end]
                    .trim_ascii_end()
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u32;
                parser.reject_lines(ctx, row, row + inner);
                continue;
            }
            // One UTF-8 check for the whole record; a field is then a sub-slice of it whose
            // ends lie on character boundaries, which `str::get` checks in constant time.
            let all = record.as_slice();
            let Ok(text) = std::str::from_utf8(all) else {
                continue; // cannot happen (see above); `StringRecord` skipped such a record
            };
            let rec = &record;
            let field = |c: u32| -> Cell<'_> {
                let Some(f) = rec.get(c as usize) else {
                    return Cell::Empty;
                };
                let start = (f.as_ptr() as usize).wrapping_sub(all.as_ptr() as usize);
                match text.get(start..start.saturating_add(f.len())) {
                    Some(t) => Cell::Text(t),
                    None => Cell::Empty,
                }
            };
            parser.row(ctx, row, field, |_| RowLocation::Csv { row });
        }
    }
    parser.finish(ctx);
}

/// Reads the data lines of a text that holds no quote character (`text` starts at the
/// header line): each non-empty line is one record, its fields split at the delimiter, as
/// csv reads such a text (a line's CR before its LF is part of the line end).
fn read_plain_lines(
    text: &str,
    lines_before: u32,
    delimiter: u8,
    parser: &mut SheetParser,
    ctx: &mut FileCtx,
) {
    let bytes = text.as_bytes();
    // One pass over the text for delimiters and line feeds together; `ends` holds the
    // current line's field ends (offsets in the line), its last field's end added last.
    let mut ends: Vec<usize> = Vec::new();
    let mut line_start = 0usize;
    let mut index = 0u32;
    let stops = Stops::new(bytes, delimiter).chain(std::iter::once(bytes.len()));
    for pos in stops {
        if bytes.get(pos) == Some(&delimiter) {
            ends.push(pos - line_start);
            continue;
        }
        let mut end = pos;
        if end > line_start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        let line = text.get(line_start..end).unwrap_or_default();
        let header = index == 0;
        index = index.saturating_add(1);
        line_start = pos + 1;
        if header || line.is_empty() {
            ends.clear();
            continue;
        }
        if ctx.over_rows() {
            break;
        }
        let row = lines_before.saturating_add(index);
        ends.push(line.len());
        parser.plain_line(ctx, row, line, &ends);
        ends.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::non_ascii;

    #[test]
    fn stops_are_every_delimiter_and_line_feed_in_order() {
        let text: Vec<u8> = (0..3000u32)
            .map(|i| match (i * 7919) % 13 {
                0 => b';',
                1 => b'\n',
                2 => 0xF6,
                3 => 0x0A ^ 0x80,
                4 => b';' ^ 0x80,
                5 => 0,
                _ => b'a' + (i % 26) as u8,
            })
            .collect();
        for (part, at) in every_slice(&text, &[1001, 2999, 3000]) {
            for delimiter in [b';', b',', b'\t'] {
                let want: Vec<usize> = part
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == delimiter || **b == b'\n')
                    .map(|(i, _)| i)
                    .collect();
                let got: Vec<usize> = super::Stops::new(part, delimiter).collect();
                assert_eq!(got, want, "{at} {delimiter}");
            }
        }
    }

    /// Slices of `text` from each of the first nine offsets (every alignment in a word) to
    /// a few lengths within a word of the start and to each of `ends`, with their bounds.
    fn every_slice<'a>(text: &'a [u8], ends: &[usize]) -> Vec<(&'a [u8], String)> {
        let mut out = Vec::new();
        for start in 0..9 {
            let near = [start, start + 1, start + 5, start + 7, start + 8, start + 9];
            for end in near.iter().chain(ends) {
                let end = (*end).clamp(start, text.len());
                out.push((&text[start..end], format!("{start}..{end}")));
            }
        }
        out
    }

    #[test]
    fn non_ascii_bytes_are_counted_at_every_length_and_alignment() {
        let text: Vec<u8> = (0..5000u32)
            .map(|i| {
                if i % 7 == 0 || i % 11 == 3 {
                    0xF6
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        for (part, at) in every_slice(&text, &[2047, 2048, 2049, 4999, 5000]) {
            let want = part.iter().filter(|b| !b.is_ascii()).count();
            assert_eq!(non_ascii(part), want, "{at}");
        }
        // Every byte high, past the 255-word block size.
        assert_eq!(non_ascii(&[0xFF; 8 * 300 + 5]), 8 * 300 + 5);
    }

    use super::*;

    #[test]
    fn windows_1252_reads_without_mojibake() {
        let bytes = b"Stadsdel;Belopp\n\xd6stermalm;1 234,50\n";
        let text = decode(bytes);
        assert!(text.contains("Östermalm"), "{text}");
    }

    #[test]
    fn utf8_bom_and_utf16_bom() {
        assert_eq!(decode("\u{feff}Östermalm".as_bytes()).as_ref(), "Östermalm");
        let mut le = vec![0xff, 0xfe];
        for u in "Östermalm".encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode(&le).as_ref(), "Östermalm");
        let mut be = Vec::new();
        for u in "Period;Belopp".encode_utf16() {
            be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(decode(&be).as_ref(), "Period;Belopp");
    }

    #[test]
    fn real_kolada_windows_1252_file() {
        let bytes = std::fs::read("../shared/realdata/kolada/hemtjanst_win1252.csv").unwrap();
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "the fixture is not UTF-8"
        );
        let text = decode(&bytes);
        assert!(!text.contains('\u{fffd}'));
        assert!(!text.contains("Ã"), "mojibake");
        assert!(
            text.contains("Alingsås") && text.contains("Älmhult"),
            "{}",
            &text[..300]
        );
    }

    #[test]
    fn utf32_with_and_without_bom() {
        let text = "Period;Stadsdel\n2019-01;Östermalm\n";
        let le: Vec<u8> = text
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        let be: Vec<u8> = text
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        for (bom, body) in [
            (&b"\xff\xfe\x00\x00"[..], &le),
            (&b"\x00\x00\xfe\xff"[..], &be),
        ] {
            let with = [bom, body.as_slice()].concat();
            assert_eq!(decode(&with).as_ref(), text);
            assert_eq!(decode(body).as_ref(), text);
        }
    }

    #[test]
    fn reusing_decodes_as_decode_does() {
        let cases: [&[u8]; 6] = [
            b"Stadsdel;Belopp\n\xd6stermalm;1 234,50\n",
            b"Alings\x8cs;\x9altad\n",
            "Östermalm;1\n".as_bytes(),
            b"\xef\xbb\xbfPeriod;Belopp\n",
            b"\xff\xfeP\x00;\x00",
            b"",
        ];
        let mut spare = String::from("left over");
        for bytes in cases {
            let got = match decode_reusing(bytes, &mut spare) {
                Some(text) => text.into_owned(),
                None => spare.clone(),
            };
            assert_eq!(got, decode(bytes), "{bytes:?}");
        }
    }

    #[test]
    fn lone_carriage_returns_become_line_feeds() {
        let t = normalise_line_ends(Cow::Borrowed("a;b\rc;d\r\ne;f\n"));
        assert_eq!(t.as_ref(), "a;b\nc;d\ne;f\n");
        assert!(matches!(
            normalise_line_ends(Cow::Borrowed("a\r\nb\n")),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn delimiters() {
        assert_eq!(delimiter_of("Period;Stadsdel;Belopp"), b';');
        assert_eq!(delimiter_of("Period,Stadsdel,Belopp"), b',');
        assert_eq!(delimiter_of("Period\tStadsdel\tBelopp,x"), b'\t');
    }
}
