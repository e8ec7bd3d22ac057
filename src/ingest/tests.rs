//! Ingest as a user meets it: folders and files written inline, read back as tables.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use rust_decimal::Decimal;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use super::*;

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "utfall-ingest-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn opts(&self) -> IngestOptions {
        IngestOptions::new(&self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn set_mtime(p: &Path, secs_after_2020: u64) {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_577_836_800 + secs_after_2020);
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn month(y: i32, m: u32) -> Option<Month> {
    Month::new(y, m)
}

fn texts(inputs: &Inputs, dataset: &str, column: &str) -> Vec<Option<String>> {
    inputs.tables[dataset]
        .text(column)
        .unwrap()
        .iter()
        .map(|s| s.map(|s| inputs.interner.resolve(s).to_string()))
        .collect()
}

fn errors(inputs: &Inputs) -> Vec<String> {
    inputs
        .issues
        .iter()
        .filter(|i| i.severity() == Severity::Error)
        .map(|i| i.to_string())
        .collect()
}

/// A CSV of utbetalningar for one month: (district, household, amount).
fn utb_csv(month: &str, rows: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut s = String::from("Period;Stadsdel;HushallsID;Belopp\n");
    for (d, h, b) in rows {
        s.push_str(&format!("{month};{d};{h};{b}\n"));
    }
    s.into_bytes()
}

#[test]
fn xlsx_header_under_title_rows_dates_serials_and_text_periods() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Utbetalningar").unwrap();
    ws.write_string(0, 0, "Utbetalningar ekonomiskt bistånd")
        .unwrap();
    ws.write_string(1, 0, "Export 2019-03-05").unwrap();
    for (c, h) in [
        "Månad",
        "Stadsdel",
        "Hushålls-ID",
        "Belopp",
        "Antal barn",
        "Jobbtorg",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(3, c as u16, *h).unwrap();
    }
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
    // row 5: a real date, row 6: a text period, row 7: an unformatted serial,
    // row 8: `maj 2013`, row 9: a bad amount, row 10: empty (skipped), row 11: missing id
    ws.write_datetime_with_format(
        4,
        0,
        ExcelDateTime::from_ymd(2013, 5, 31).unwrap(),
        &date_fmt,
    )
    .unwrap();
    ws.write_string(5, 0, "2013-05").unwrap();
    ws.write_number(6, 0, 41425.0).unwrap();
    ws.write_string(7, 0, "maj 2013").unwrap();
    ws.write_string(8, 0, "2013-06").unwrap();
    ws.write_string(10, 0, "2013-06").unwrap();
    for r in [4, 5, 6, 7, 8, 10] {
        ws.write_string(r, 1, "Kungsholmen").unwrap();
        if r != 10 {
            ws.write_number(r, 2, 1000.0 + f64::from(r)).unwrap();
        }
        ws.write_number(r, 3, 1234.5).unwrap();
        ws.write_string(r, 5, "Ja").unwrap();
    }
    ws.write_string(8, 3, "12 3x4").unwrap();
    ws.write_number(4, 4, 2.0).unwrap();
    ws.write_string(5, 4, "..").unwrap();
    let bytes = wb.save_to_buffer().unwrap();

    let inputs = read_file_bytes(
        "utbetalningar_2013-06-02.xlsx",
        &bytes,
        &IngestOptions::new("."),
    );
    let t = &inputs.tables["utbetalningar"];
    assert_eq!(t.len(), 4, "{:?}", inputs.issues);
    assert_eq!(t.month("Period").unwrap(), &[month(2013, 5); 4]);
    assert_eq!(t.number("Belopp").unwrap()[0], Some(dec("1234.5")));
    assert_eq!(
        t.integer("AntalBarn").unwrap()[..2],
        [Some(2), None],
        "`..` is not 0"
    );
    assert_eq!(t.boolean("AktuellJobbtorg").unwrap()[0], Some(true));
    assert_eq!(
        texts(&inputs, "utbetalningar", "HushallsID")[0].as_deref(),
        Some("1004")
    );
    assert_eq!(
        t.origin.iter().map(|o| o.row).collect::<Vec<_>>(),
        vec![5, 6, 7, 8]
    );
    assert_eq!(
        errors(&inputs),
        vec![
            "utbetalningar_2013-06-02.xlsx [Utbetalningar!D9]: Belopp \"12 3x4\" is not a number",
            "utbetalningar_2013-06-02.xlsx [Utbetalningar!C11]: HushallsID is missing",
        ]
    );
    assert_eq!(
        inputs.issues[0].message_sv(),
        "rad 9, kolumn Belopp: \"12 3x4\" är inte ett tal"
    );
    let FileOutcome::Read { sheets } = &inputs.files[0].outcome else {
        panic!()
    };
    assert_eq!(sheets[0].dataset.as_deref(), Some("utbetalningar"));
    assert_eq!((sheets[0].rows, sheets[0].rejected), (4, 2));
    assert_eq!(inputs.files[0].export_date, Date::new(2013, 6, 2));
}

#[test]
fn windows_1252_semicolon_csv_with_decimal_comma_and_thousands() {
    let mut bytes = b"Period;Stadsdel;HushallsID;Belopp;AntalVuxna\r\n".to_vec();
    bytes.extend_from_slice(b"2019-03;\xd6stermalm;H1;1 234,50;2\r\n");
    bytes.extend_from_slice(b"2019-03;\xd6stermalm;H2;12\xa0345,00;1\n"); // NBSP, mixed line ends
    bytes.extend_from_slice(b"2019-03;\xd6stermalm;H3;-;1\r\n");
    let inputs = read_file_bytes("utb.csv", &bytes, &IngestOptions::new("."));
    assert_eq!(
        texts(&inputs, "utbetalningar", "Stadsdel")[0].as_deref(),
        Some("Östermalm")
    );
    let t = &inputs.tables["utbetalningar"];
    assert_eq!(
        t.number("Belopp").unwrap(),
        &[Some(dec("1234.50")), Some(dec("12345.00"))]
    );
    assert_eq!(
        errors(&inputs),
        vec!["utb.csv [row 4, Belopp]: Belopp is missing"]
    );
    assert_eq!(
        inputs.issues[0].message_sv(),
        "rad 4, kolumn Belopp: värde saknas"
    );
}

#[test]
fn utf8_bom_csv_with_sep_line_title_line_and_comma() {
    let text = "\u{feff}sep=,\nAvslutade ärenden 2019\n\nAvslutsdatum,Stadsdel,Avslutsorsak\n\
                2019-03-04,Norrmalm,Arbete\n20190305,Norrmalm,\"Flytt, annan kommun\"\n";
    let inputs = read_file_bytes("avslut.txt", text.as_bytes(), &IngestOptions::new("."));
    let t = &inputs.tables["avslut"];
    assert_eq!(t.len(), 2, "{:?}", inputs.issues);
    assert_eq!(t.date("Datum").unwrap()[1], Date::new(2019, 3, 5));
    assert_eq!(
        texts(&inputs, "avslut", "Avslutsorsak")[1].as_deref(),
        Some("Flytt, annan kommun")
    );
    assert_eq!(
        t.origin[0].row, 5,
        "sep line, title, blank line and header come first"
    );
}

#[test]
fn personnummer_is_hashed_and_never_stored_or_shown() {
    let bytes =
        std::fs::read("../shared/corpus/crafted/injection_and_pnr.csv").unwrap_or_else(|_| {
            b"Period;Stadsdel;HushallsID;Belopp\n2019-01;Norrmalm;19850101-1234;100,00\n\
          2019-01;Norrmalm;198501011234;200,00\n2019-01;Norrmalm;850101-1234;300,00\n"
                .to_vec()
        });
    let mut bytes = bytes;
    bytes.extend_from_slice(
        b"2019-01;Norrmalm;850101-1234;abc;1;0\n2019-01;Norrmalm;850101-1234;1;1x;0\n",
    );
    let inputs = read_file_bytes("pnr.csv", &bytes, &IngestOptions::new("."));
    let ids = texts(&inputs, "utbetalningar", "HushallsID");
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter().all(|i| i == &ids[0]),
        "the same person in three spellings: {ids:?}"
    );
    assert!(ids[0].as_deref().unwrap().starts_with("h:"));
    for i in 0..inputs.interner.len() {
        let s = inputs.interner.resolve(Sym(i as u32));
        assert!(
            !s.contains("850101") && !s.contains("1234"),
            "raw digits interned: {s}"
        );
    }
    assert_eq!(inputs.issues.len(), 2);
    for issue in &inputs.issues {
        assert!(!issue.to_string().contains("850101"), "{issue}");
        assert!(!issue.message_sv().contains("850101"));
    }
}

#[test]
fn a_bad_id_cell_is_reported_without_its_value() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["Period", "Stadsdel", "HushallsID", "Belopp"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "2019-01").unwrap();
    ws.write_string(1, 1, "Norrmalm").unwrap();
    ws.write_number(1, 2, 4711.25).unwrap();
    ws.write_number(1, 3, 1.0).unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let inputs = read_file_bytes("u.xlsx", &bytes, &IngestOptions::new("."));
    let msg = inputs.issues[0].to_string();
    assert_eq!(
        msg,
        "u.xlsx [Sheet1!C2]: HushallsID is not a readable identifier"
    );
}

#[test]
fn unknown_district_is_rejected_when_districts_are_listed() {
    let bytes = utb_csv(
        "2019-01",
        &[
            ("Norrmalm", "1", "10"),
            ("Gotham", "2", "10"),
            ("norrmalm", "3", "5"),
        ],
    );
    let mut opts = IngestOptions::new(".");
    opts.districts = Some(vec!["Norrmalm".into(), "Kungsholmen".into()]);
    let inputs = read_file_bytes("u.csv", &bytes, &opts);
    assert_eq!(
        texts(&inputs, "utbetalningar", "Stadsdel"),
        vec![Some("Norrmalm".into()); 2]
    );
    assert_eq!(
        errors(&inputs),
        vec!["u.csv [row 3, Stadsdel]: Stadsdel \"Gotham\" is not one of the listed districts"]
    );
}

#[test]
fn manual_outcomes_keep_periods_as_text_and_allow_comment_only_rows() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["Indikator", "Period", "Stadsdel", "Utfall", "Kommentar"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "sommarjobb").unwrap();
    ws.write_number(1, 1, 2013.0).unwrap();
    ws.write_number(1, 3, 180.0).unwrap();
    ws.write_string(2, 0, "sjukfranvaro").unwrap();
    ws.write_string(2, 1, "2013-T2").unwrap();
    ws.write_string(2, 4, "Uppgift saknas").unwrap();
    ws.write_string(3, 0, "sjukfranvaro").unwrap();
    ws.write_string(3, 1, "2013-05").unwrap();
    ws.write_string(4, 0, "sommarjobb").unwrap();
    let date_fmt = Format::new().set_num_format("yyyy-mm");
    ws.write_datetime_with_format(
        4,
        1,
        ExcelDateTime::from_ymd(2013, 5, 1).unwrap(),
        &date_fmt,
    )
    .unwrap();
    ws.write_string(4, 3, "12,5").unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let inputs = read_file_bytes("manuellt.xlsx", &bytes, &IngestOptions::new("."));
    assert_eq!(
        texts(&inputs, "manuella_utfall", "Period"),
        vec![
            Some("2013".into()),
            Some("2013-T2".into()),
            Some("2013-05".into())
        ]
    );
    assert_eq!(
        inputs.tables["manuella_utfall"].number("Utfall").unwrap(),
        &[Some(dec("180")), None, Some(dec("12.5"))]
    );
    assert_eq!(
        errors(&inputs),
        vec!["manuellt.xlsx [Sheet1!D4]: Utfall is missing"]
    );
}

#[test]
fn ledger_codes_read_as_text_and_accounts_as_integers() {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("HB").unwrap();
    for (c, h) in ["Period", "Ansvar", "Verksamhet", "Konto", "Belopp"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_number(1, 0, 201903.0).unwrap();
    ws.write_string(1, 1, "Norrmalm").unwrap();
    ws.write_number(1, 2, 1810.0).unwrap();
    ws.write_number(1, 3, 4711.0).unwrap();
    ws.write_number(1, 4, -250.75).unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let inputs = read_file_bytes("hb.xlsx", &bytes, &IngestOptions::new("."));
    let t = &inputs.tables["huvudbok"];
    assert_eq!(t.month("Period").unwrap(), &[month(2019, 3)]);
    assert_eq!(
        texts(&inputs, "huvudbok", "Verksamhet"),
        vec![Some("1810".into())]
    );
    assert_eq!(t.integer("Konto").unwrap(), &[Some(4711)]);
    assert_eq!(t.number("Belopp").unwrap(), &[Some(dec("-250.75"))]);
    assert_eq!(
        texts(&inputs, "huvudbok", "Stadsdel"),
        vec![Some("Norrmalm".into())]
    );
}

#[test]
fn re_exported_month_is_replaced_by_the_file_with_the_newer_name_date() {
    let dir = TempDir::new();
    // The older export holds January and February; the newer re-exports February only.
    let old = dir.write(
        "utb_2019-03-01.csv",
        b"Period;Stadsdel;HushallsID;Belopp\n2019-01;N;1;10\n2019-02;N;1;20\n2019-02;N;2;30\n",
    );
    let new = dir.write("utb_20190310.csv", &utb_csv("2019-02", &[("N", "1", "25")]));
    // mtimes the other way round: the name date decides
    set_mtime(&old, 1000);
    set_mtime(&new, 10);
    let inputs = read_folder(&dir.opts()).unwrap();
    let t = &inputs.tables["utbetalningar"];
    assert_eq!(
        t.number("Belopp").unwrap(),
        &[Some(dec("10")), Some(dec("25"))]
    );
    assert_eq!(inputs.files[0].name, "utb_2019-03-01.csv");
    assert_eq!(
        inputs.replacements,
        vec![Replacement {
            dataset: "utbetalningar".into(),
            period: "2019-02".into(),
            kept: FileId(1),
            replaced: FileId(0),
            rows_dropped: 2,
        }]
    );
}

#[test]
fn without_name_dates_the_newer_mtime_wins() {
    let dir = TempDir::new();
    let a = dir.write("utb_a.csv", &utb_csv("2019-02", &[("N", "1", "25")]));
    let b = dir.write("utb_b.csv", &utb_csv("2019-02", &[("N", "1", "20")]));
    set_mtime(&a, 86_400 * 3);
    set_mtime(&b, 86_400);
    let inputs = read_folder(&dir.opts()).unwrap();
    assert_eq!(
        inputs.tables["utbetalningar"].number("Belopp").unwrap(),
        &[Some(dec("25"))]
    );
    assert_eq!(inputs.replacements.len(), 1);
    assert_eq!(
        inputs.files[inputs.replacements[0].kept.0 as usize].name,
        "utb_a.csv"
    );
}

#[test]
fn duplicate_lock_hidden_and_foreign_files() {
    let dir = TempDir::new();
    let bytes = utb_csv("2019-01", &[("N", "1", "10")]);
    let a = dir.write("copy_1.csv", &bytes);
    let b = dir.write("copy_2.csv", &bytes);
    set_mtime(&a, 10);
    set_mtime(&b, 20);
    dir.write("~$utb.xlsx", b"lock");
    dir.write(".hidden.csv", &bytes);
    dir.write("notes.pdf", b"%PDF");
    std::fs::create_dir(dir.0.join("sub")).unwrap();
    dir.write("sub/inner.csv", &bytes);
    let inputs = read_folder(&dir.opts()).unwrap();
    assert_eq!(inputs.tables["utbetalningar"].len(), 1, "counted once");
    let names: Vec<&str> = inputs.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let dup = inputs
        .files
        .iter()
        .find(|f| f.name == "copy_1.csv")
        .unwrap();
    let orig = inputs
        .files
        .iter()
        .find(|f| f.name == "copy_2.csv")
        .unwrap();
    assert!(matches!(dup.outcome, FileOutcome::Duplicate { of } if of == orig.id));
    let pdf = inputs.files.iter().find(|f| f.name == "notes.pdf").unwrap();
    assert!(matches!(
        &pdf.outcome,
        FileOutcome::Skipped {
            reason: SkipReason::NotAnExportFormat
        }
    ));
    assert!(
        inputs.issues.iter().all(|i| i.severity() == Severity::Note),
        "{:?}",
        inputs.issues
    );
    assert!(
        inputs
            .issues
            .iter()
            .any(|i| matches!(i, Issue::DuplicateFile { .. }))
    );
}

#[test]
fn unreadable_files_are_skipped_and_the_others_read() {
    let dir = TempDir::new();
    dir.write("utb.csv", &utb_csv("2019-01", &[("N", "1", "10")]));
    dir.write("garbage.xlsx", b"this is not a workbook at all");
    let mut wb = Workbook::new();
    wb.add_worksheet().write_string(0, 0, "Period").unwrap();
    let good = wb.save_to_buffer().unwrap();
    dir.write("truncated.xlsx", &good[..good.len() / 2]);
    dir.write("empty.xls", b"");
    let inputs = read_folder(&dir.opts()).unwrap();
    assert_eq!(inputs.tables["utbetalningar"].len(), 1);
    let skipped: Vec<&str> = inputs
        .files
        .iter()
        .filter(|f| matches!(f.outcome, FileOutcome::Skipped { .. }))
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert_eq!(errors(&inputs).len(), 3);
    let shown = dir.0.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        errors(&inputs)[0].starts_with(&shown),
        "{:?}",
        errors(&inputs)
    );
}

#[test]
fn unknown_sheets_are_noted_and_every_table_exists() {
    let bytes = b"Namn;Adress\nA;B\n";
    let inputs = read_file_bytes("x.csv", bytes, &IngestOptions::new("."));
    assert_eq!(inputs.tables.len(), 8);
    assert!(inputs.tables.values().all(Table::is_empty));
    assert!(matches!(
        &inputs.issues[..],
        [Issue::UnknownSheet { sheet: None, .. }]
    ));
    assert_eq!(inputs.issues[0].severity(), Severity::Note);
}

#[test]
fn a_cell_far_away_does_not_make_a_dense_grid() {
    // crafted/sparse_corner.xlsx: a header and a value at XFD1048576
    let Ok(bytes) = std::fs::read("../shared/corpus/crafted/sparse_corner.xlsx") else {
        return;
    };
    let start = std::time::Instant::now();
    let inputs = read_file_bytes("sparse_corner.xlsx", &bytes, &IngestOptions::new("."));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(inputs.files.len(), 1);
}

#[test]
fn population_is_replaced_per_year_and_closed_cases_per_month_of_their_date() {
    let dir = TempDir::new();
    dir.write(
        "befolkning_2019-01-10.csv",
        "År;Stadsdel;Folkmängd\n2017;N;100\n2018;N;110\n".as_bytes(),
    );
    dir.write(
        "befolkning_2019-02-10.csv",
        "År;Stadsdel;Folkmängd\n2018;N;111\n".as_bytes(),
    );
    dir.write(
        "avslut_2019-03-01.csv",
        b"Datum;Stadsdel;Avslutsorsak\n2019-01-05;N;Arbete\n2019-02-03;N;Flytt\n2019-02-20;N;Arbete\n",
    );
    dir.write(
        "avslut_2019-03-15.csv",
        b"Datum;Stadsdel;Avslutsorsak\n2019-02-27;N;Studier\n",
    );
    let inputs = read_folder(&dir.opts()).unwrap();
    let b = &inputs.tables["befolkning"];
    assert_eq!(b.integer("Ar").unwrap(), &[Some(2017), Some(2018)]);
    assert_eq!(
        b.number("Folkmangd").unwrap(),
        &[Some(dec("100")), Some(dec("111"))]
    );
    let a = &inputs.tables["avslut"];
    assert_eq!(
        texts(&inputs, "avslut", "Avslutsorsak"),
        vec![Some("Arbete".into()), Some("Studier".into())]
    );
    assert_eq!(a.date("Datum").unwrap()[1], Date::new(2019, 2, 27));
    let periods: Vec<(&str, &str, usize)> = inputs
        .replacements
        .iter()
        .map(|r| (r.dataset.as_str(), r.period.as_str(), r.rows_dropped))
        .collect();
    assert_eq!(
        periods,
        vec![("befolkning", "2018", 1), ("avslut", "2019-02", 2)]
    );
}

#[test]
fn a_reader_panic_is_caught_and_the_file_skipped() {
    // Known to make calamine 0.38 panic (see the corpus README).
    let path = "../shared/corpus/spreadsheets/exceldatareader/src/TestData/Test_git_issue682.xlsb";
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let inputs = read_file_bytes("Test_git_issue682.xlsb", &bytes, &IngestOptions::new("."));
    assert!(matches!(
        inputs.files[0].outcome,
        FileOutcome::Skipped {
            reason: SkipReason::Corrupt
        }
    ));
    assert_eq!(
        errors(&inputs),
        vec!["Test_git_issue682.xlsb: corrupt (the spreadsheet reader failed), skipped"]
    );
}

#[test]
fn the_same_folder_reads_the_same_every_time() {
    let dir = TempDir::new();
    for m in 1..=6 {
        let rows: Vec<(String, String, String)> = (0..200)
            .map(|r| {
                (
                    format!("D{}", r % 7),
                    format!("{}", (r * m) % 150),
                    format!("{r},5"),
                )
            })
            .collect();
        let rows: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        let p = dir.write(&format!("u{m}.csv"), &utb_csv(&format!("2019-0{m}"), &rows));
        set_mtime(&p, 100 * (7 - m as u64));
    }
    let dump = |i: &Inputs| {
        let strings: Vec<&str> = (0..i.interner.len())
            .map(|s| i.interner.resolve(Sym(s as u32)))
            .collect();
        format!(
            "{strings:?} {:?} {:?}",
            i.tables["utbetalningar"].columns, i.tables["utbetalningar"].origin
        )
    };
    let first = dump(&read_folder(&dir.opts()).unwrap());
    for _ in 0..3 {
        assert_eq!(dump(&read_folder(&dir.opts()).unwrap()), first);
    }
    let inputs = read_folder(&dir.opts()).unwrap();
    assert_eq!(inputs.files[0].name, "u6.csv", "oldest first");
    assert_eq!(inputs.tables["utbetalningar"].origin[0].file, FileId(0));
}

#[test]
fn excel_unicode_text_export_utf16_tab_separated() {
    let text = "År\tStadsdel\tFolkmängd\tVuxna 18+\r\n2019\tÖstermalm\t\"72 000\"\t..\r\n";
    let mut bytes = vec![0xff, 0xfe];
    for u in text.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let inputs = read_file_bytes("befolkning.txt", &bytes, &IngestOptions::new("."));
    let t = &inputs.tables["befolkning"];
    assert_eq!(
        t.integer("Ar").unwrap(),
        &[Some(2019)],
        "{:?}",
        inputs.issues
    );
    assert_eq!(t.number("Folkmangd").unwrap(), &[Some(dec("72000"))]);
    assert_eq!(
        t.number("Vuxna18plus").unwrap(),
        &[None],
        "`..` is not a value"
    );
    assert_eq!(
        texts(&inputs, "befolkning", "Stadsdel"),
        vec![Some("Östermalm".into())]
    );
}

/// Socialstyrelsen's monthly statistics as a pack declares them: year + month name.
fn monthly_statistics() -> Arc<DatasetSpec> {
    use crate::model::{ColumnKind, ColumnSpec};
    let col = |name: &str, alias: &str, kind, required| ColumnSpec {
        name: name.into(),
        aliases: vec![alias.into()],
        kind,
        required,
    };
    Arc::new(DatasetSpec {
        name: "sos".into(),
        columns: vec![
            col("Ar", "År", ColumnKind::Integer, true),
            col("Manad", "Månad", ColumnKind::MonthName { year: 0 }, true),
            col("Hushall", "Antal hushåll", ColumnKind::Number, false),
            col(
                "Tkr",
                "Utbetalt ekonomiskt bistånd tkr",
                ColumnKind::Number,
                false,
            ),
        ],
        replace_by: Some("Manad".into()),
    })
}

#[test]
fn month_names_with_their_year_are_the_month_and_unpublished_months_hold_none() {
    let dir = TempDir::new();
    let header = "Ekonomiskt bistånd, Dalarnas län;;;\nÅr;Månad;Antal hushåll;Utbetalt ekonomiskt bistånd tkr\n";
    dir.write(
        "sos_2024_05_08.csv",
        format!("{header}2023;December;10;100\n2024;Januari;11;110\n2024;februari;--;--\n")
            .as_bytes(),
    );
    dir.write(
        "sos_2024_06_17.csv",
        format!("{header}2023;December;10;100\n2024;Januari;--;--\n2024;Februari;12;120\n2024;Mars;--;--\n2024;Majs;1;1\n;April;1;1\n").as_bytes(),
    );
    let mut opts = dir.opts();
    opts.datasets.push(monthly_statistics());
    let inputs = read_folder(&opts).unwrap();
    let t = &inputs.tables["sos"];
    let mut rows: Vec<(Month, Option<Decimal>, u32)> = (0..t.len())
        .map(|i| {
            (
                t.month("Manad").unwrap()[i].unwrap(),
                t.number("Hushall").unwrap()[i],
                t.origin[i].file.0,
            )
        })
        .collect();
    rows.sort();
    // 2023-12 from the newer export; January only in the older one (the newer has "--");
    // February only in the newer; March published nowhere.
    assert_eq!(
        rows,
        [
            (month(2023, 12).unwrap(), Some(dec("10")), 1),
            (month(2024, 1).unwrap(), Some(dec("11")), 0),
            (month(2024, 2).unwrap(), Some(dec("12")), 1),
        ]
    );
    let errs = errors(&inputs);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].contains("[row 7, Manad]: Manad \"Majs\" is not a month"),
        "{errs:?}"
    );
    assert!(errs[1].contains("[row 8, Ar]: Ar is missing"), "{errs:?}");
    assert_eq!(inputs.replacements.len(), 1);
    assert_eq!(inputs.replacements[0].period, "2023-12");
}

/// A CSV text without quote characters is split by `read_plain_lines`, one with them by
/// csv: quoting one field (which csv unquotes to the same text) must change nothing —
/// values, folds, rejected rows and their row numbers.
#[test]
fn plain_lines_read_as_csv_reads_them() {
    let text = "Utbetalningar maj\n\n\
        Period;Stadsdel;HushallsID;Belopp;AntalVuxna;AntalBarn;AntalUnga18_24;Försörjningshinder;AktuellJobbtorg\r\n\
        2019-05;Kommun 001;H1;5366,00;2;2;1;Sjukdom;Nej\r\n\
        \r\n\
        2019-05;Kommun 001;H2;abc;1;0;1;Sjukdom;Nej\n\
        2019-05;Kommun 001;H3;100\n\
        ;;;;;;;;\n\
        \n\
        2019-05;Kommun 002;H1;-5,5;1;0;0;Sjukdom;Ja;extra\n\
        2019-05;Kommun 002;H4;7,25;1;;0;Arbetslöshet;Ja";
    let quoted = text.replacen(";Kommun 001;H1;", ";\"Kommun 001\";H1;", 1);
    assert_ne!(text, quoted);
    for payments in [PaymentRows::Table, PaymentRows::Fold] {
        let mut opts = IngestOptions::new(".");
        opts.payments = payments;
        let read = |t: &str| {
            let inputs = read_file_bytes("utbetalningar.csv", t.as_bytes(), &opts);
            format!(
                "{:?}\n{:?}\n{:?}\n{:?}",
                inputs.tables["utbetalningar"].columns,
                inputs.tables["utbetalningar"].origin,
                inputs.payments,
                inputs.issues
            )
        };
        let (plain, csv) = (read(text), read(&quoted));
        assert_eq!(plain, csv);
        assert!(plain.contains("Csv { row: 6 }"), "{plain}");
    }
}
