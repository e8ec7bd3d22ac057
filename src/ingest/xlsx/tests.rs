//! The fast xlsx reader against calamine: every form it reads, inline fixtures, and a
//! differential pass over the shared corpus (it must decline or agree cell for cell).

use std::io::{Cursor, Read, Write};
use std::path::Path;

use calamine::{CellErrorType, DataRef, ExcelDateTime, ExcelDateTimeType, Reader, SheetType, Xlsx};

use super::*;

const NS: &str = r#"xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;

/// A workbook of one sheet (`Blad1`) from its parts' XML.
struct Fixture {
    sheet: String,
    strings: Option<String>,
    styles: Option<String>,
    workbook_pr: &'static str,
    deflate: bool,
}

impl Fixture {
    fn new(sheet_data: &str) -> Fixture {
        Fixture {
            sheet: format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet {NS}><dimension ref="A1:C3"/><sheetData>{sheet_data}</sheetData></worksheet>"#
            ),
            strings: None,
            styles: None,
            workbook_pr: "",
            deflate: false,
        }
    }

    fn strings(mut self, sis: &str) -> Fixture {
        self.strings = Some(format!(r#"<?xml version="1.0"?><sst {NS}>{sis}</sst>"#));
        self
    }

    fn styles(mut self, num_fmts: &str, xfs: &str) -> Fixture {
        self.styles = Some(format!(
            r#"<?xml version="1.0"?><styleSheet {NS}><numFmts>{num_fmts}</numFmts><cellXfs>{xfs}</cellXfs></styleSheet>"#
        ));
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut parts: Vec<(&str, String)> = vec![
            (
                "_rels/.rels",
                r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string(),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string(),
            ),
            (
                "xl/workbook.xml",
                format!(
                    r#"<?xml version="1.0"?><workbook {NS}>{}<sheets><sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
                    self.workbook_pr
                ),
            ),
            ("xl/worksheets/sheet1.xml", self.sheet.clone()),
        ];
        if let Some(s) = &self.strings {
            parts.push(("xl/sharedStrings.xml", s.clone()));
        }
        if let Some(s) = &self.styles {
            parts.push(("xl/styles.xml", s.clone()));
        }
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(if self.deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        });
        for (name, xml) in parts {
            zip.start_file(name, opts).unwrap();
            zip.write_all(xml.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }
}

type Stream = Vec<((u32, u32), String)>;

/// What calamine gives for every worksheet, `None` when it fails anywhere.
fn calamine_cells(bytes: &[u8]) -> Option<Vec<(String, bool, Option<Stream>)>> {
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).ok()?;
    let sheets: Vec<(String, bool)> = wb
        .sheets_metadata()
        .iter()
        .map(|s| (s.name.clone(), s.typ == SheetType::WorkSheet))
        .collect();
    let mut out = Vec::new();
    for (name, ws) in sheets {
        let cells = if ws {
            let mut r = wb.worksheet_cells_reader(&name).ok();
            let mut cells = Some(Vec::new());
            while let Some(reader) = r.as_mut() {
                match reader.next_cell() {
                    Ok(Some(c)) => cells
                        .get_or_insert_default()
                        .push((c.get_position(), format!("{:?}", c.get_value()))),
                    Ok(None) => break,
                    Err(_) => {
                        cells = None;
                        break;
                    }
                }
            }
            if r.is_none() { None } else { cells }
        } else {
            Some(Vec::new())
        };
        out.push((name, ws, cells));
    }
    Some(out)
}

/// The fast reader's view: `None` when it declines the workbook; a sheet it declines is
/// `None` inside, whether before its first cell or later (`Late`). Sheet XML is inflated
/// `chunk` bytes at a time.
fn fast_cells(bytes: &[u8], chunk: usize) -> Option<Vec<(String, bool, Option<Stream>)>> {
    fast_sheets(bytes, chunk)
        .map(|sheets| sheets.into_iter().map(|(n, w, c)| (n, w, c.ok())).collect())
}

/// Why the fast reader left a sheet to calamine.
#[derive(Debug, PartialEq)]
enum Left {
    /// Before giving out a cell.
    Early,
    /// After giving out this many.
    Late(usize),
}

/// Each sheet: its name, whether it is a worksheet, its cells or why it was left.
type Sheets = Vec<(String, bool, Result<Stream, Left>)>;

fn fast_sheets(bytes: &[u8], chunk: usize) -> Option<Sheets> {
    let mut wb = Workbook::open(bytes)?;
    wb.chunk = chunk;
    let sheets: Vec<(String, bool)> = wb.sheets().map(|(n, w)| (n.to_string(), w)).collect();
    let mut out = Vec::new();
    for (name, ws) in sheets {
        let cells = if ws {
            match wb.cells(&name) {
                None => Err(Left::Early),
                Some(mut sheet) => {
                    let mut cells = Vec::new();
                    loop {
                        match sheet.next_cell() {
                            Ok(Some(c)) => {
                                cells.push((c.get_position(), format!("{:?}", c.get_value())))
                            }
                            Ok(None) => break Ok(cells),
                            Err(Decline) => break Err(Left::Late(cells.len())),
                        }
                    }
                }
            }
        } else {
            Ok(Vec::new())
        };
        out.push((name, ws, cells));
    }
    Some(out)
}

#[derive(Debug, Default)]
struct Tally {
    handled: usize,
    declined: usize,
    sheets_declined: usize,
}

/// Declined, or equal to calamine; panics with the file name otherwise.
fn agree(label: &str, bytes: &[u8], tally: &mut Tally) {
    agree_in_chunks(label, bytes, sheet::CHUNK, tally);
}

fn agree_in_chunks(label: &str, bytes: &[u8], chunk: usize, tally: &mut Tally) {
    let Some(fast) = fast_cells(bytes, chunk) else {
        tally.declined += 1;
        return;
    };
    let slow =
        calamine_cells(bytes).unwrap_or_else(|| panic!("{label}: read fast, calamine fails"));
    assert_eq!(fast.len(), slow.len(), "{label}: sheet count");
    for ((fname, fws, fcells), (sname, sws, scells)) in fast.iter().zip(&slow) {
        assert_eq!((fname, fws), (sname, sws), "{label}: sheet list");
        match fcells {
            None => tally.sheets_declined += 1,
            Some(f) => {
                let s = scells
                    .as_ref()
                    .unwrap_or_else(|| panic!("{label} [{fname}]: read fast, calamine fails"));
                if let Some(i) = (0..f.len().max(s.len())).find(|&i| f.get(i) != s.get(i)) {
                    panic!(
                        "{label} [{fname}] cell {i}: fast {:?}, calamine {:?}",
                        f.get(i),
                        s.get(i)
                    );
                }
            }
        }
    }
    tally.handled += 1;
}

/// The fixture is read by the fast path (not declined) and agrees with calamine; its
/// cells are returned for closer checks.
fn read(fx: &Fixture) -> Vec<((u32, u32), String)> {
    let bytes = fx.bytes();
    let mut tally = Tally::default();
    agree("fixture", &bytes, &mut tally);
    assert_eq!(
        (tally.handled, tally.sheets_declined),
        (1, 0),
        "declined: {}",
        fx.sheet
    );
    fast_cells(&bytes, sheet::CHUNK)
        .unwrap()
        .remove(0)
        .2
        .unwrap()
}

fn declined(fx: &Fixture) -> bool {
    let bytes = fx.bytes();
    let mut tally = Tally::default();
    agree("fixture", &bytes, &mut tally);
    tally.declined + tally.sheets_declined > 0
}

fn dbg(v: DataRef<'_>) -> String {
    format!("{v:?}")
}

#[test]
fn shared_strings_plain_rich_phonetic_and_escaped() {
    let fx = Fixture::new(
        r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>
<row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2" t="s"><v>4</v></c><c r="C2" t="s"><v>5</v></c></row>"#,
    )
    .strings(
        r#"<si><t>Stadsdel</t></si><si><r><rPr><b/></rPr><t xml:space="preserve">Hus </t></r><r><t>håll</t></r><rPh sb="0" eb="1"><t>ハ</t></rPh></si><si><t>  trimmed &amp; &lt;x&gt; &#65;&#x42;
</t></si><si><t>a_x000D_b</t></si><si/><si><t xml:space="preserve">  kept  </t></si>"#,
    );
    let cells = read(&fx);
    assert_eq!(cells[0].1, dbg(DataRef::SharedString("Stadsdel")));
    assert_eq!(cells[1].1, dbg(DataRef::SharedString("Hus håll")));
    assert_eq!(cells[2].1, dbg(DataRef::SharedString("trimmed & <x> AB")));
    assert_eq!(cells[3].1, dbg(DataRef::SharedString("a\rb")));
    assert_eq!(cells[4].1, dbg(DataRef::SharedString("")));
    assert_eq!(cells[5].1, dbg(DataRef::SharedString("  kept  ")));
}

#[test]
fn inline_and_formula_strings() {
    let cells = read(&Fixture::new(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>inline &quot;q&quot;</t></is></c><c r="B1" t="str"><f>A1&amp;"x"</f><v>line&#10;two _x0041_</v></c><c r="C1" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is></c></row>"#,
    ));
    assert_eq!(cells[0].1, dbg(DataRef::String("inline \"q\"".into())));
    assert_eq!(cells[1].1, dbg(DataRef::String("line\ntwo A".into())));
    assert_eq!(cells[2].1, dbg(DataRef::String("ab".into())));
}

#[test]
fn numbers_bools_errors_and_formula_cached_values() {
    let cells = read(&Fixture::new(
        r#"<row r="1"><c r="A1"><v>42</v></c><c r="B1" t="n"><v>-1.5E-3</v></c><c r="C1"><f>1/3</f><v>0.33333333333333331</v></c></row>
<row r="2"><c r="A2" t="b"><v>1</v></c><c r="B2" t="b"><v>false</v></c><c r="C2" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="D2" t="e"><v>#N/A</v></c></row>
<row r="3"><c r="A3" s="0"/><c r="B3"><v></v></c><c r="C3"><f>NOW()</f></c><c r="D3" t="d"><v>2019-05-31T00:00:00</v></c></row>"#,
    ));
    assert_eq!(cells[0].1, dbg(DataRef::Float(42.0)));
    assert_eq!(cells[1].1, dbg(DataRef::Float(-1.5e-3)));
    assert_eq!(cells[2].1, dbg(DataRef::Float(1.0 / 3.0)));
    assert_eq!(cells[3].1, dbg(DataRef::Bool(true)));
    assert_eq!(cells[4].1, dbg(DataRef::Bool(false)));
    assert_eq!(cells[5].1, dbg(DataRef::Error(CellErrorType::Div0)));
    assert_eq!(cells[6].1, dbg(DataRef::Error(CellErrorType::NA)));
    assert_eq!(cells[7].1, dbg(DataRef::Empty));
    assert_eq!(cells[8].1, dbg(DataRef::Empty));
    assert_eq!(cells[9].1, dbg(DataRef::Empty));
    assert_eq!(
        cells[10].1,
        dbg(DataRef::DateTimeIso("2019-05-31T00:00:00".into()))
    );
}

#[test]
fn dates_by_builtin_and_custom_formats() {
    let fx = Fixture::new(
        r#"<row r="1"><c r="A1" s="1"><v>43616</v></c><c r="B1" s="2"><v>43616.5</v></c><c r="C1" s="3"><v>1.25</v></c><c r="D1" s="4"><v>5366</v></c><c r="E1" s="5"><v>0.5</v></c><c r="F1" s="9"><v>7</v></c></row>"#,
    )
    .styles(
        r##"<numFmt numFmtId="164" formatCode="yyyy-mm-dd"/><numFmt numFmtId="165" formatCode="#,##0.00"/><numFmt numFmtId="166" formatCode="[h]:mm"/>"##,
        r#"<xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="166"/><xf numFmtId="165"/><xf numFmtId="46" applyNumberFormat="1"><alignment horizontal="left"/></xf>"#,
    );
    let cells = read(&fx);
    let dt = |v| {
        dbg(DataRef::DateTime(ExcelDateTime::new(
            v,
            ExcelDateTimeType::DateTime,
            false,
        )))
    };
    let td = |v| {
        dbg(DataRef::DateTime(ExcelDateTime::new(
            v,
            ExcelDateTimeType::TimeDelta,
            false,
        )))
    };
    assert_eq!(cells[0].1, dt(43616.0));
    assert_eq!(cells[1].1, dt(43616.5));
    assert_eq!(cells[2].1, td(1.25));
    assert_eq!(cells[3].1, dbg(DataRef::Float(5366.0)));
    assert_eq!(cells[4].1, td(0.5));
    // A style index past the table: a plain number.
    assert_eq!(cells[5].1, dbg(DataRef::Float(7.0)));
}

#[test]
fn date1904() {
    let mut fx = Fixture::new(r#"<row r="1"><c r="A1" s="1"><v>100</v></c></row>"#)
        .styles("", r#"<xf numFmtId="0"/><xf numFmtId="14"/>"#);
    fx.workbook_pr = r#"<workbookPr date1904="1"/>"#;
    let cells = read(&fx);
    assert_eq!(
        cells[0].1,
        dbg(DataRef::DateTime(ExcelDateTime::new(
            100.0,
            ExcelDateTimeType::DateTime,
            true
        )))
    );
}

#[test]
fn missing_references_count_on() {
    let cells = read(&Fixture::new(
        r#"<row><c><v>1</v></c><c><v>2</v></c><c r="E1"><v>3</v></c><c><v>4</v></c></row><row/><row><c><v>5</v></c></row><row r="9" spans="1:2"><c><v>6</v></c></row>"#,
    ));
    let pos: Vec<(u32, u32)> = cells.iter().map(|c| c.0).collect();
    assert_eq!(pos, [(0, 0), (0, 1), (0, 4), (0, 5), (2, 0), (8, 0)]);
}

#[test]
fn unusual_forms_decline() {
    for data in [
        r#"<row r="1"><!-- note --><c r="A1"><v>1</v></c></row>"#,
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[x]]></t></is></c></row>"#,
        r#"<row r="1"><x:c r="A1"><v>1</v></x:c></row><row r="2"><c r="A2"><extLst/></c></row>"#,
        r#"<row r="1"><c r="A1"><v> 1</v></c></row>"#,
        r#"<row r="1"><c r="A1"><v>1e</v></c></row>"#,
        r#"<row r="1"><c r="A1" t="s"><v>7</v></c></row>"#,
        r#"<row r="1"><c r="A1" t="e"><v>#BAD!</v></c></row>"#,
        r#"<row r="1"><c r="A1" t="x"><v>1</v></c></row>"#,
        r#"<row r="1"><c r="A1" r="B1"><v>1</v></c></row>"#,
        r#"<row r="1"><c r="1A"><v>1</v></c></row>"#,
        r#"<row r="1"><c r="A1"><v>&#49;</v></c></row>"#,
        r#"<row r="1"><c r="A1" t="str"><v>&bogus;</v></c></row>"#,
        r#"<row r="1"><c r="A1"><v>1</v></c>"#,
    ] {
        assert!(declined(&Fixture::new(data)), "not declined: {data}");
    }
}

#[test]
fn cell_references_as_calamine_reads_them() {
    assert_eq!(sheet::cell_ref("A1"), Ok((0, Some(0))));
    assert_eq!(sheet::cell_ref("xfd1048576"), Ok((1_048_575, Some(16_383))));
    assert_eq!(sheet::cell_ref("12"), Ok((11, None)));
    assert!(sheet::cell_ref("A0").is_err());
    assert!(sheet::cell_ref("A").is_err());
    assert!(sheet::cell_ref("A1B").is_err());
    assert!(sheet::cell_ref("AAAAAAA1").is_err());
}

#[test]
fn numbers_round_as_the_standard_parser() {
    for s in [
        "0",
        "-0",
        "43616",
        "123456789012345678",
        "0.1",
        "-2.5E+10",
        "1e-320",
        "1E400",
    ] {
        assert_eq!(sheet::number(s), Ok(s.parse::<f64>().unwrap()), "{s}");
    }
    for s in ["", "-", "+1", ".5", "1.", "1e", "inf", "NaN", "1,5", "1 "] {
        assert!(sheet::number(s).is_err(), "{s}");
    }
}

#[test]
fn custom_format_detection_matches_calamine() {
    use parts::{Format, custom_format};
    for (code, want) in [
        ("yyyy-mm-dd", Format::DateTime),
        ("DD/MM/YY", Format::DateTime),
        ("[h]:mm:ss", Format::TimeDelta),
        ("#,##0.00", Format::Other),
        ("0_ ;[Red]\\-0\\ ", Format::Other),
        ("\"Y: \"0.00", Format::Other),
        ("#,##0*y", Format::Other),
    ] {
        assert_eq!(custom_format(code), want, "{code}");
    }
}

#[test]
fn workbook_made_with_rust_xlsxwriter_agrees() {
    use rust_xlsxwriter::{Format as XFormat, Workbook as XWorkbook};
    let mut wb = XWorkbook::new();
    let date = XFormat::new().set_num_format("yyyy-mm-dd");
    let money = XFormat::new().set_num_format("#,##0.00");
    let sheet = wb.add_worksheet();
    sheet.set_name("Utbetalningar").unwrap();
    sheet.write_string(0, 0, "Utbetalningar maj 2019").unwrap();
    for (c, h) in [
        "Period",
        "Stadsdel",
        "HushallsID",
        "Belopp",
        "AktuellJobbtorg",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(2, c as u16, *h).unwrap();
    }
    for r in 3..200u32 {
        sheet
            .write_number_with_format(r, 0, 43616.0, &date)
            .unwrap();
        sheet
            .write_string(r, 1, format!("Kommun {:03}", r % 7))
            .unwrap();
        sheet
            .write_string(r, 2, format!("H{:08}", r * 7919))
            .unwrap();
        sheet
            .write_number_with_format(r, 3, f64::from(r) * 12.5 - 100.0, &money)
            .unwrap();
        sheet.write_boolean(r, 4, r % 2 == 0).unwrap();
    }
    sheet.write_formula(200, 3, "=SUM(D4:D200)").unwrap();
    let other = wb.add_worksheet();
    other.set_name("Övrigt & <annat>").unwrap();
    other.write_string(0, 0, "  mellanslag  ").unwrap();
    other.write_string(1, 1, "rad\r\nbrytning").unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let mut tally = Tally::default();
    agree("rust_xlsxwriter", &bytes, &mut tally);
    assert_eq!((tally.handled, tally.sheets_declined), (1, 0));
}

/// Rows of every form the scanner reads, with multi-byte text, an empty row, a row
/// longer than the small chunks and content after `</sheetData>`.
fn varied_rows(rows: usize) -> Fixture {
    let mut data = String::new();
    for r in 1..=rows {
        match r % 5 {
            0 => data.push_str(&format!(r#"<row r="{r}"/>"#)),
            1 => data.push_str(&format!(
                r#"<row r="{r}" spans="1:4"><c r="A{r}" t="s"><v>{}</v></c><c r="B{r}" t="inlineStr"><is><t>Å ä ö € 🙂 {r}</t></is></c><c r="C{r}" s="1"><v>{}.25</v></c></row>"#,
                r % 2,
                43000 + r
            )),
            2 => data.push_str(&format!(
                r#"<row><c t="str"><f>B1&amp;"x"</f><v>line&#10;{r} _x0041_</v></c><c/><c t="b"><v>1</v></c><c t="e"><v>#N/A</v></c></row>"#
            )),
            3 => data.push_str(&format!(
                r#"<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{}</t></is></c></row>"#,
                "lång rad ".repeat(40)
            )),
            _ => data.push_str(&format!(r#"<row r="{r}">
  <c r="A{r}"><v>-{r}E-3</v></c>
</row>"#)),
        }
    }
    let mut fx = Fixture::new(&data)
        .strings("<si><t>Stadsdel</t></si><si><t>Hushåll</t></si>")
        .styles("", r#"<xf numFmtId="0"/><xf numFmtId="14"/>"#);
    fx.sheet = fx.sheet.replace(
        "</sheetData>",
        r#"</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>"#,
    );
    fx
}

#[test]
fn rows_split_across_chunk_boundaries_read_as_whole() {
    for deflate in [false, true] {
        let mut fx = varied_rows(23);
        fx.deflate = deflate;
        let bytes = fx.bytes();
        let whole = fast_cells(&bytes, sheet::CHUNK).unwrap();
        for chunk in (1..=90).chain([127, 500, 1009, 4096]) {
            let mut tally = Tally::default();
            agree_in_chunks("fixture", &bytes, chunk, &mut tally);
            assert_eq!(
                (tally.handled, tally.sheets_declined),
                (1, 0),
                "chunk {chunk}"
            );
            assert_eq!(fast_cells(&bytes, chunk).unwrap(), whole, "chunk {chunk}");
        }
    }
}

#[test]
fn a_sheet_in_one_window_declines_before_its_first_cell() {
    let mut fx = varied_rows(40);
    fx.sheet = fx
        .sheet
        .replace(r#"<row r="35"/>"#, r#"<row r="35"><!-- note --></row>"#);
    let sheets = fast_sheets(&fx.bytes(), sheet::CHUNK).unwrap();
    assert_eq!(sheets[0].2, Err(Left::Early));
}

#[test]
fn a_late_decline_comes_after_the_cells_calamine_gives_too() {
    let mut fx = varied_rows(40);
    fx.sheet = fx
        .sheet
        .replace(r#"<row r="35"/>"#, r#"<row r="35"><!-- note --></row>"#);
    let bytes = fx.bytes();
    let slow = calamine_cells(&bytes).unwrap().remove(0).2.unwrap();
    let mut wb = Workbook::open(&bytes).unwrap();
    wb.chunk = 300;
    let mut sheet = wb.cells("Blad1").unwrap();
    let mut given = Vec::new();
    let end = loop {
        match sheet.next_cell() {
            Ok(Some(c)) => given.push((c.get_position(), format!("{:?}", c.get_value()))),
            other => break other.map(|_| ()),
        }
    };
    assert_eq!(end, Err(Decline));
    assert!(given.len() > 20, "declined after {} cells", given.len());
    assert_eq!(given[..], slow[..given.len()]);
}

#[test]
fn a_damaged_stream_or_wrong_size_declines() {
    let mut fx = varied_rows(200);
    fx.deflate = true;
    let bytes = fx.bytes();
    let (start, len) = {
        let mut zip = zip::ZipArchive::new(Cursor::new(&bytes[..])).unwrap();
        let f = zip.by_name("xl/worksheets/sheet1.xml").unwrap();
        (
            f.data_start().unwrap() as usize,
            f.compressed_size() as usize,
        )
    };
    let declined = |bytes: &[u8], chunk: usize| match fast_sheets(bytes, chunk) {
        None => true,
        Some(sheets) => sheets[0].2.is_err(),
    };
    for at in [0, 1, len / 3, len / 2, len - 9, len - 1] {
        let mut damaged = bytes.clone();
        damaged[start + at] ^= 0x5a;
        // Bits after the final block are padding: damage there changes nothing.
        let mut inflated = Vec::new();
        let mut zip = zip::ZipArchive::new(Cursor::new(&damaged[..])).unwrap();
        let same = zip
            .by_name("xl/worksheets/sheet1.xml")
            .unwrap()
            .read_to_end(&mut inflated)
            .is_ok()
            && inflated == fx.sheet.as_bytes();
        for chunk in [7, 4096, sheet::CHUNK] {
            if same {
                let mut tally = Tally::default();
                agree_in_chunks("padding", &damaged, chunk, &mut tally);
                assert_eq!((tally.handled, tally.sheets_declined), (1, 0));
            } else {
                assert!(declined(&damaged, chunk), "damaged at {at}, chunk {chunk}");
            }
        }
    }
    // The central directory's uncompressed size of the sheet, one less and one more.
    let name = b"xl/worksheets/sheet1.xml";
    let entry = (0..bytes.len() - 46)
        .find(|&i| {
            bytes[i..].starts_with(&[0x50, 0x4b, 0x01, 0x02]) && bytes[i + 46..].starts_with(name)
        })
        .unwrap();
    let size = u32::from_le_bytes(bytes[entry + 24..entry + 28].try_into().unwrap());
    for wrong in [size - 1, size + 1] {
        let mut damaged = bytes.clone();
        damaged[entry + 24..entry + 28].copy_from_slice(&wrong.to_le_bytes());
        for chunk in [7, sheet::CHUNK] {
            assert!(
                declined(&damaged, chunk),
                "declared {wrong} of {size}, chunk {chunk}"
            );
        }
    }
}

/// A payments sheet larger than a window; `late` puts a comment (which calamine skips
/// and the fast path declines) in its last row.
fn payments_workbook(late: bool) -> Vec<u8> {
    let mut data = String::from(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>Period</t></is></c><c r="B1" t="inlineStr"><is><t>Stadsdel</t></is></c><c r="C1" t="inlineStr"><is><t>HushallsID</t></is></c><c r="D1" t="inlineStr"><is><t>Belopp</t></is></c></row>"#,
    );
    let rows = 3000;
    for r in 2..=rows {
        let note = if late && r == rows {
            "<!-- sent -->"
        } else {
            ""
        };
        data.push_str(&format!(
            r#"<row r="{r}">{note}<c r="A{r}" t="inlineStr"><is><t>2019-05</t></is></c><c r="B{r}" t="inlineStr"><is><t>Kommun {}</t></is></c><c r="C{r}"><v>{}</v></c><c r="D{r}"><v>{}.5</v></c></row>"#,
            r % 7,
            1000 + r / 2,
            r * 3
        ));
    }
    assert!(data.len() > sheet::CHUNK);
    Fixture::new(&data).bytes()
}

/// What `read_workbook` makes of a workbook, as text.
fn read_as_run(bytes: &[u8]) -> String {
    use crate::ingest::excel::read_workbook;
    use crate::ingest::limits::ReadLimits;
    use crate::ingest::schema::{Matcher, standard_datasets};
    use crate::ingest::sheet::{FileContents, FileCtx};
    use std::sync::Arc;
    let datasets: Vec<Arc<crate::model::DatasetSpec>> =
        standard_datasets().into_iter().map(Arc::new).collect();
    let matcher = Matcher::new(&datasets);
    let mut ctx = FileCtx {
        datasets: &datasets,
        matcher: &matcher,
        districts: None,
        intake: datasets
            .iter()
            .position(|d| d.name == crate::ingest::fold::PAYMENTS),
        file: "utbetalningar.xlsx".into(),
        out: FileContents::default(),
        rows_seen: 0,
        max_rows: u64::MAX,
    };
    let result = read_workbook(bytes, "xlsx", &ReadLimits::default(), &mut ctx);
    format!("{result:?} {} {:?}", ctx.rows_seen, ctx.out)
}

#[test]
fn a_late_decline_rereads_the_file_with_calamine_from_the_start() {
    let late = payments_workbook(true);
    let sheets = fast_sheets(&late, sheet::CHUNK).unwrap();
    assert!(
        matches!(sheets[0].2, Err(Left::Late(n)) if n > 1000),
        "{:?}",
        sheets[0].2.as_ref().err()
    );
    let plain = payments_workbook(false);
    assert!(fast_sheets(&plain, sheet::CHUNK).unwrap()[0].2.is_ok());
    // calamine skips the comment: both files hold the same rows.
    let run = read_as_run(&late);
    assert!(
        run.contains("rows: 2999"),
        "{}",
        &run[..run.len().min(2000)]
    );
    assert_eq!(run, read_as_run(&plain));
}

/// Every xlsx/xlsm under the shared corpus and real data: the fast path declines or
/// agrees with calamine. `UTFALL_XLSX_DIFF_DIR` adds a folder (e.g. generated exports).
#[test]
fn corpus_declines_or_agrees_with_calamine() {
    let mut roots = vec![
        Path::new("../shared/corpus").to_path_buf(),
        Path::new("../shared/realdata").to_path_buf(),
    ];
    if let Some(extra) = std::env::var_os("UTFALL_XLSX_DIFF_DIR") {
        roots.push(extra.into());
    }
    let mut files = Vec::new();
    for root in roots {
        collect(&root, &mut files);
    }
    files.sort();
    let mut tally = Tally::default();
    let mut declined = Vec::new();
    for path in &files {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        // Zip bombs and other huge declarations are refused before either reader.
        if !within_limits(&bytes) {
            continue;
        }
        let (before, sheets_before) = (tally.declined, tally.sheets_declined);
        let label = path.display().to_string();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut t = Tally::default();
            agree(&label, &bytes, &mut t);
            // Windows small enough that rows and characters split everywhere.
            agree_in_chunks(&label, &bytes, 1021, &mut Tally::default());
            t
        }));
        match outcome {
            Ok(t) => {
                tally.handled += t.handled;
                tally.declined += t.declined;
                tally.sheets_declined += t.sheets_declined;
            }
            Err(e) => std::panic::resume_unwind(e),
        }
        if tally.declined > before {
            declined.push(label);
        } else if tally.sheets_declined > sheets_before {
            declined.push(format!(
                "{label} ({} sheets)",
                tally.sheets_declined - sheets_before
            ));
        }
    }
    eprintln!(
        "xlsx fast path: {} files handled ({} sheets left to calamine), {} declined",
        tally.handled, tally.sheets_declined, tally.declined
    );
    for d in &declined {
        eprintln!("  declined: {d}");
    }
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| x.eq_ignore_ascii_case("xlsx") || x.eq_ignore_ascii_case("xlsm"))
        {
            out.push(p);
        }
    }
}

fn within_limits(bytes: &[u8]) -> bool {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return true;
    };
    let mut total = 0u64;
    for i in 0..zip.len() {
        if let Ok(f) = zip.by_index_raw(i) {
            total = total.saturating_add(f.size());
        }
    }
    total < 512 << 20
}
