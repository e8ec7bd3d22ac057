//! utfall-gen: writes a folder of realistic, deterministic social-assistance exports (the
//! datasets of SPEC §2) for a city or a whole country, month by month, so memory stays
//! bounded. Same arguments, same bytes. Self-contained: it does not use the utfall library.

mod calendar;
mod datasets;
mod households;
mod ledger;
mod profile;
mod rng;
mod sink;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};

use calendar::Ym;
use households::{City, ClosedCase, HINDER, PaymentRow};
use ledger::Ledger;
use profile::{CITY, Profile};
use rng::Rng;
use sink::{Cell, CsvStyle, Encoding, Layout, TableWriter};

/// Generate synthetic ekonomiskt bistånd exports for utfall.
#[derive(Parser, Debug)]
#[command(name = "utfall-gen", version)]
struct Args {
    /// Folder to write into (created if missing; files of the same name are overwritten).
    #[arg(long)]
    out: PathBuf,
    /// Random seed: the same seed and arguments give byte-identical files.
    #[arg(long, default_value_t = 2019)]
    seed: u64,
    /// A number of districts (3 or fewer: the city's, else `Kommun 001`…), or a comma list
    /// of names.
    #[arg(long, default_value = "Kungsholmen,Norrmalm,Östermalm")]
    districts: String,
    /// Households paid per month in the whole city, first year (default: the calibrated
    /// city, or 350 per district).
    #[arg(long)]
    households: Option<u64>,
    /// Consecutive years, January to December each, e.g. `2018,2019`.
    #[arg(long, default_value = "2018,2019", value_delimiter = ',')]
    years: Vec<i32>,
    /// `mixed` writes files the way they really arrive (xlsx with title rows and Swedish
    /// CSV); `xlsx` and `csv` write every file in one format.
    #[arg(long, value_enum, default_value_t = Format::Mixed)]
    format: Format,
    /// No title rows above the headers in xlsx files (readers that expect the header in
    /// the first row, such as the bench's reference scripts).
    #[arg(long)]
    no_title_rows: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Mixed,
    Xlsx,
    Csv,
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Xlsx {
        path: PathBuf,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("{message}")]
    Usage { message: String },
}

impl GenError {
    pub fn io(path: &Path, source: std::io::Error) -> GenError {
        GenError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn xlsx(path: &Path, source: rust_xlsxwriter::XlsxError) -> GenError {
        GenError::Xlsx {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("utfall-gen: {e}");
            ExitCode::from(2)
        }
    }
}

/// Which layout each file gets.
struct Plan {
    format: Format,
    title_rows: bool,
}

impl Plan {
    fn xlsx(&self) -> Layout {
        Layout::Xlsx {
            title_rows: self.title_rows,
        }
    }

    fn csv_or(&self, mixed: Layout) -> Layout {
        match self.format {
            Format::Mixed => mixed,
            Format::Xlsx => self.xlsx(),
            Format::Csv => Layout::Csv(CsvStyle::SWEDISH),
        }
    }

    /// Most months arrive as xlsx, a few as CSV from another export path.
    fn utbetalningar(&self, ym: Ym) -> Layout {
        let csv_months: &[u32] = if ym.year % 2 == 0 {
            &[2, 8, 11]
        } else {
            &[3, 10]
        };
        let mixed = if csv_months.contains(&ym.month) {
            Layout::Csv(CsvStyle::SWEDISH)
        } else {
            self.xlsx()
        };
        self.csv_or(mixed)
    }

    /// The ledger system moved from CSV files to xlsx in the last year.
    fn huvudbok(&self, ym: Ym, last_year: i32) -> Layout {
        let mixed = if ym.year < last_year {
            Layout::Csv(CsvStyle {
                thousands: Some('\u{a0}'),
                ..CsvStyle::SWEDISH
            })
        } else {
            Layout::Xlsx { title_rows: false }
        };
        self.csv_or(mixed)
    }

    fn yearly_xlsx(&self) -> Layout {
        self.csv_or(self.xlsx())
    }

    fn avslut(&self) -> Layout {
        self.csv_or(Layout::Csv(CsvStyle::SWEDISH))
    }

    fn avhysningar(&self) -> Layout {
        self.csv_or(Layout::Csv(CsvStyle {
            delimiter: ',',
            encoding: Encoding::Utf8Bom,
            decimal_comma: false,
            thousands: None,
        }))
    }

    fn manuella(&self) -> Layout {
        self.csv_or(Layout::Xlsx { title_rows: false })
    }
}

fn district_names(spec: &str) -> Result<Vec<String>, GenError> {
    if let Ok(n) = spec.trim().parse::<usize>() {
        if n == 0 || n > 999 {
            return Err(GenError::Usage {
                message: format!("--districts {n}: give 1 to 999 districts"),
            });
        }
        if n <= CITY.len() {
            return Ok(CITY[..n].iter().map(|s| s.to_string()).collect());
        }
        return Ok((1..=n).map(|i| format!("Kommun {i:03}")).collect());
    }
    let names: Vec<String> = spec
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    if names.is_empty() || sorted.len() != names.len() {
        return Err(GenError::Usage {
            message: format!("--districts {spec:?}: give a number or distinct names"),
        });
    }
    Ok(names)
}

fn year_range(years: &[i32]) -> Result<(i32, i32), GenError> {
    let ok = !years.is_empty()
        && years.windows(2).all(|w| w[1] == w[0] + 1)
        && years.iter().all(|y| (1990..=2100).contains(y));
    match (ok, years.first(), years.last()) {
        (true, Some(first), Some(last)) => Ok((*first, *last)),
        _ => Err(GenError::Usage {
            message: format!("--years {years:?}: give consecutive years, e.g. 2018,2019"),
        }),
    }
}

fn run(args: &Args) -> Result<(), GenError> {
    let started = Instant::now();
    let names = district_names(&args.districts)?;
    let years = year_range(&args.years)?;
    let households = args.households.or_else(|| {
        names
            .iter()
            .any(|n| !CITY.contains(&n.as_str()))
            .then_some(350 * names.len() as u64)
    });
    let profiles = Profile::for_districts(&names, args.seed, households, years.0);
    let plan = Plan {
        format: args.format,
        title_rows: !args.no_title_rows,
    };
    let dir = &args.out;
    std::fs::create_dir_all(dir).map_err(|e| GenError::io(dir, e))?;
    let mut report = Vec::new();

    let start = Ym::new(years.0, 1);
    let horizon = Ym::new(years.1, 12);
    let mut city = City::new(args.seed, &profiles, start);
    let mut ledger = Ledger::new(args.seed, &profiles);
    let mut reexport_rng = Rng::stream(args.seed, 0x4E3E);
    let range = format!("{}-{}", years.0, years.1);
    let avslut_layout = plan.avslut();
    let avslut_path = dir.join(format!("avslut_{range}.{}", avslut_layout.extension()));
    let mut avslut = TableWriter::create(&avslut_path, avslut_layout)?;
    avslut.begin_sheet(
        "Avslut",
        None,
        &["Datum", "Stadsdel", "HushallsID", "Avslutsorsak"],
    )?;

    let mut rows: Vec<PaymentRow> = Vec::new();
    let mut closed: Vec<ClosedCase> = Vec::new();
    let mut payment_rows = 0u64;
    let mut ym = start;
    while ym <= horizon {
        rows.clear();
        closed.clear();
        city.step(ym, horizon, &mut rows, &mut closed);
        rows.sort_by_key(|r| (r.district, r.id));
        let layout = plan.utbetalningar(ym);
        let base = format!("utbetalningar_{}", ym.tag());
        if ym.month == 6 && ym.year == years.1 {
            // Re-exported after corrections: the first export differs in a few rows.
            let first = first_export(&rows, &mut reexport_rng);
            let name = format!(
                "{base}_export_{}.{}",
                ym.next().day(3).iso(),
                layout.extension()
            );
            payment_rows += write_payments(&dir.join(&name), layout, ym, &first, &profiles)?;
            report.push(name);
            let name = format!(
                "{base}_export_{}.{}",
                ym.next().day(15).iso(),
                layout.extension()
            );
            payment_rows += write_payments(&dir.join(&name), layout, ym, &rows, &profiles)?;
            report.push(name);
        } else {
            let name = format!("{base}.{}", layout.extension());
            payment_rows += write_payments(&dir.join(&name), layout, ym, &rows, &profiles)?;
            report.push(name);
        }
        closed.sort_by_key(|c| (c.date, c.district, c.id));
        for c in &closed {
            let id = format!("H{:08}", c.id);
            avslut.row(&[
                Cell::Date(c.date),
                Cell::Text(&profiles[c.district as usize].name),
                Cell::Text(&id),
                Cell::Text(c.reason),
            ])?;
        }
        let mut support = vec![0i64; profiles.len()];
        for r in &rows {
            support[r.district as usize] += r.ore;
        }
        let layout = plan.huvudbok(ym, years.1);
        let name = format!("huvudbok_{}.{}", ym.tag(), layout.extension());
        ledger.write_month(&dir.join(&name), layout, ym, &support)?;
        report.push(name);
        ym = ym.next();
    }
    avslut.finish()?;
    report.push(file_name(&avslut_path));

    let layout = plan.yearly_xlsx();
    let name = format!("budget_{range}.{}", layout.extension());
    ledger.write_budget(&dir.join(&name), layout)?;
    report.push(name);
    let name = format!(
        "befolkning_{}-{}.{}",
        years.0 - 1,
        years.1,
        layout.extension()
    );
    datasets::write_befolkning(&dir.join(&name), layout, &profiles, years)?;
    report.push(name);
    let name = format!("insatser_{range}.{}", layout.extension());
    datasets::write_insatser(&dir.join(&name), layout, args.seed, &profiles, years)?;
    report.push(name);
    let layout = plan.avhysningar();
    let name = format!("avhysningar_{range}.{}", layout.extension());
    datasets::write_avhysningar(&dir.join(&name), layout, args.seed, &profiles, years)?;
    report.push(name);
    let layout = plan.manuella();
    let name = format!("manuella_utfall_{range}.{}", layout.extension());
    datasets::write_manuella(&dir.join(&name), layout, &profiles, years)?;
    report.push(name);

    eprintln!(
        "utfall-gen: {} files, {} districts, {} payment rows in {} in {:.2} s",
        report.len(),
        profiles.len(),
        payment_rows,
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The export before corrections: three amounts were wrong, one late payment was not yet
/// registered, and one payment was registered twice.
fn first_export(corrected: &[PaymentRow], rng: &mut Rng) -> Vec<PaymentRow> {
    let mut rows = corrected.to_vec();
    if rows.len() < 10 {
        return rows;
    }
    for _ in 0..3 {
        let i = rng.below(rows.len());
        if rows[i].ore > 0 {
            rows[i].ore += rng.range(5, 25) * 10_000;
        }
    }
    rows.remove(rng.below(rows.len()));
    let twice = rows[rng.below(rows.len())].clone();
    rows.push(twice);
    rows.sort_by_key(|r| (r.district, r.id));
    rows
}

fn write_payments(
    path: &Path,
    layout: Layout,
    ym: Ym,
    rows: &[PaymentRow],
    profiles: &[Profile],
) -> Result<u64, GenError> {
    let mut out = TableWriter::create(path, layout)?;
    let title = format!("Utbetalningar ekonomiskt bistånd, {}", ym.name_sv());
    let hinder_header = match layout {
        Layout::Csv(_) => "Försörjningshinder",
        Layout::Xlsx { .. } => "Forsorjningshinder",
    };
    out.begin_sheet(
        "Utbetalningar",
        Some(&title),
        &[
            "Period",
            "Stadsdel",
            "HushallsID",
            "Belopp",
            "AntalVuxna",
            "AntalBarn",
            "AntalUnga18_24",
            hinder_header,
            "AktuellJobbtorg",
        ],
    )?;
    let mut id = String::with_capacity(9);
    for r in rows {
        id.clear();
        id.push_str(&format!("H{:08}", r.id));
        out.row(&[
            Cell::Month(ym),
            Cell::Text(&profiles[r.district as usize].name),
            Cell::Text(&id),
            Cell::Fixed {
                value: r.ore,
                decimals: 2,
            },
            Cell::Int(i64::from(r.adults)),
            Cell::Int(i64::from(r.kids)),
            Cell::Int(i64::from(r.young)),
            Cell::Text(HINDER[r.hinder as usize]),
            Cell::Text(if r.jobbtorg { "Ja" } else { "Nej" }),
        ])?;
    }
    let n = out.rows();
    out.finish()?;
    Ok(n)
}
