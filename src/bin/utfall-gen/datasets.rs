//! The yearly and one-file datasets: `befolkning`, `insatser`, `avhysningar` and
//! `manuella_utfall`. Each takes the district profiles and the years, draws from its own
//! random stream, and writes one file.

use std::path::Path;

use crate::GenError;
use crate::calendar::{Date, Ym};
use crate::profile::{ANCHOR_YEAR, Profile};
use crate::rng::{Rng, scramble_id};
use crate::sink::{Cell, Layout, TableWriter};

/// Population on 31 December for `first_year - 1 ..= last_year`.
pub fn write_befolkning(
    path: &Path,
    layout: Layout,
    profiles: &[Profile],
    years: (i32, i32),
) -> Result<u64, GenError> {
    let mut out = TableWriter::create(path, layout)?;
    let title = format!(
        "Folkmängd 31 december {}–{} per stadsdelsområde",
        years.0 - 1,
        years.1
    );
    out.begin_sheet(
        "Befolkning",
        Some(&title),
        &[
            "Ar",
            "Stadsdel",
            "Folkmangd",
            "Barn0_17",
            "Unga18_24",
            "Vuxna18plus",
        ],
    )?;
    for year in years.0 - 1..=years.1 {
        for p in profiles {
            let total = p.population_in(year).round() as i64;
            let drift = 1.0 + 0.004 * f64::from(year - ANCHOR_YEAR);
            let children = (total as f64 * p.child_share * drift).round() as i64;
            let young = (total as f64 * p.young_share).round() as i64;
            out.row(&[
                Cell::Int(i64::from(year)),
                Cell::Text(&p.name),
                Cell::Int(total),
                Cell::Int(children),
                Cell::Int(young),
                Cell::Int(total - children),
            ])?;
        }
    }
    let rows = out.rows();
    out.finish()?;
    Ok(rows)
}

const OTHER_MEASURES: [&str; 5] = [
    "Jobbtorg",
    "Praktik",
    "Arbetsträning",
    "Svenska för invandrare",
    "Budget- och skuldrådgivning",
];
pub const REHAB: &str = "Arbetslivsinriktad rehabilitering";

/// Participations in measures starting from a year before the first year; the ones still
/// running at the end of the last year have no end date and no result.
pub fn write_insatser(
    path: &Path,
    layout: Layout,
    seed: u64,
    profiles: &[Profile],
    years: (i32, i32),
) -> Result<u64, GenError> {
    let mut out = TableWriter::create(path, layout)?;
    let horizon = Ym::new(years.1, 12).last_day();
    let title = format!(
        "Insatser – deltagare per stadsdelsområde, uttag {}",
        Ym::new(years.1 + 1, 1).day(8).iso()
    );
    out.begin_sheet(
        "Insatser",
        Some(&title),
        &[
            "PersonID",
            "Stadsdel",
            "Insats",
            "Startdatum",
            "Slutdatum",
            "Resultat",
        ],
    )?;
    let mut person = 0u32;
    for (d, p) in profiles.iter().enumerate() {
        let mut rng = Rng::stream(seed, 0x2000 + d as u64);
        let mut rows: Vec<(Date, u32, &str, Option<Date>, &str)> = Vec::new();
        let mut ym = Ym::new(years.0 - 1, 1);
        while ym.year <= years.1 {
            let scale = (1.0 + p.level_growth).powi(ym.year - ANCHOR_YEAR);
            let rehab = rng.round_stochastic(p.rehab_per_month * scale);
            let others = rng.round_stochastic(p.level / 45.0 * scale);
            for i in 0..rehab + others {
                let is_rehab = i < rehab;
                let start = ym.day(rng.range(1, 28) as u32);
                let months = if is_rehab {
                    rng.range(2, 14)
                } else {
                    rng.range(1, 8)
                };
                let end = ym.add(months as i32).day(rng.range(1, 28) as u32);
                let (end, result) = if end > horizon {
                    (None, "")
                } else {
                    let success = if is_rehab { p.rehab_success } else { 0.4 };
                    let result = if rng.chance(success) {
                        if rng.chance(0.55) {
                            "Egen försörjning"
                        } else {
                            "Annan försörjning"
                        }
                    } else if rng.chance(0.5) {
                        "Avbrutet"
                    } else {
                        "Fortsatt stöd"
                    };
                    (Some(end), result)
                };
                if end.is_some_and(|e| e.year < years.0) {
                    continue; // ended before the export's range
                }
                let measure = if is_rehab {
                    REHAB
                } else {
                    OTHER_MEASURES[rng.weighted(&[45, 20, 15, 10, 10])]
                };
                person += 1;
                rows.push((start, scramble_id(person + 90_000), measure, end, result));
            }
            ym = ym.next();
        }
        rows.sort_by_key(|r| (r.0, r.1));
        for (start, id, measure, end, result) in rows {
            let id = format!("P{id:08}");
            out.row(&[
                Cell::Text(&id),
                Cell::Text(&p.name),
                Cell::Text(measure),
                Cell::Date(start),
                end.map_or(Cell::Empty, Cell::Date),
                Cell::Text(result),
            ])?;
        }
    }
    let rows = out.rows();
    out.finish()?;
    Ok(rows)
}

/// Notices of eviction from Kronofogden, a few dozen a year in the city.
pub fn write_avhysningar(
    path: &Path,
    layout: Layout,
    seed: u64,
    profiles: &[Profile],
    years: (i32, i32),
) -> Result<u64, GenError> {
    let mut out = TableWriter::create(path, layout)?;
    out.begin_sheet(
        "Avhysningar",
        None,
        &["Datum", "Stadsdel", "ArendeID", "BarnBerorda", "Avvarjd"],
    )?;
    let mut rng = Rng::stream(seed, 0xE71C);
    let mut case = 0u32;
    for year in years.0..=years.1 {
        let mut rows: Vec<(Date, usize, bool, bool)> = Vec::new();
        for (d, p) in profiles.iter().enumerate() {
            let e = p.evictions(year, &mut rng);
            let mut flags: Vec<(bool, bool)> = (0..e.notices)
                .map(|i| {
                    if i < e.averted {
                        (rng.chance(0.3), true)
                    } else {
                        (i < e.averted + e.children_evicted, false)
                    }
                })
                .collect();
            rng.shuffle(&mut flags);
            for (children, averted) in flags {
                let date = Ym::new(year, rng.range(1, 12) as u32).day(rng.range(1, 28) as u32);
                rows.push((date, d, children, averted));
            }
        }
        rows.sort_by_key(|r| (r.0, r.1));
        for (date, d, children, averted) in rows {
            case += 1;
            let id = format!("KFM-{}-{:05}", year, scramble_id(case) % 100_000);
            out.row(&[
                Cell::Date(date),
                Cell::Text(&profiles[d].name),
                Cell::Text(&id),
                Cell::Text(yes_no(children)),
                Cell::Text(yes_no(averted)),
            ])?;
        }
    }
    let rows = out.rows();
    out.finish()?;
    Ok(rows)
}

fn yes_no(b: bool) -> &'static str {
    if b { "Ja" } else { "Nej" }
}

/// Outcomes reported by hand: sick leave per tertial and year, summer jobs per year (and
/// at T2, when the summer's jobs are known), and a few comments.
pub fn write_manuella(
    path: &Path,
    layout: Layout,
    profiles: &[Profile],
    years: (i32, i32),
) -> Result<u64, GenError> {
    let mut out = TableWriter::create(path, layout)?;
    out.begin_sheet(
        "Manuella utfall",
        None,
        &["Indikator", "Period", "Stadsdel", "Utfall", "Kommentar"],
    )?;
    let weight: f64 = profiles.iter().map(|p| p.level).sum();
    for year in years.0..=years.1 {
        for (tertial, period) in [
            (Some(1), format!("{year}-T1")),
            (Some(2), format!("{year}-T2")),
            (None, format!("{year}")),
        ] {
            let mut weighted = 0.0;
            for p in profiles {
                let v = p.sick_leave_in(year, tertial);
                weighted += v * p.level / weight;
                manual_row(&mut out, "sjukfranvaro", &period, &p.name, tenths(v), "")?;
            }
            manual_row(&mut out, "sjukfranvaro", &period, "", tenths(weighted), "")?;
        }
        for period in [format!("{year}-T2"), format!("{year}")] {
            let mut total = 0;
            for p in profiles {
                let v = p.summer_jobs_in(year);
                total += v;
                manual_row(&mut out, "sommarjobb", &period, &p.name, Cell::Int(v), "")?;
            }
            let comment = if year == 2019 && period == "2019" && profiles.len() == 3 {
                "Färre platser hos privata arbetsgivare än planerat."
            } else {
                ""
            };
            manual_row(
                &mut out,
                "sommarjobb",
                &period,
                "",
                Cell::Int(total),
                comment,
            )?;
        }
    }
    // Comments on computed indicators, by id and by name, for the city's districts.
    let comments: [(&str, &str, &str); 3] = [
        (
            "andel_langvarigt",
            "Östermalm",
            "Fler hushåll med långvarigt bistånd sedan två stödboenden öppnat i området.",
        ),
        (
            "Andel meddelanden om avhysning som kunnat avvärjas",
            "Östermalm",
            "Två ärenden kom till socialtjänsten först efter beslut om avhysning.",
        ),
        (
            "sjukfranvaro",
            "Norrmalm",
            "Några långtidssjukskrivningar i en handläggargrupp under våren.",
        ),
    ];
    if (years.0..=years.1).contains(&2019) {
        for (indicator, district, comment) in comments {
            if profiles.iter().any(|p| p.name == district) {
                manual_row(&mut out, indicator, "2019", district, Cell::Empty, comment)?;
            }
        }
    }
    let rows = out.rows();
    out.finish()?;
    Ok(rows)
}

fn tenths(v: f64) -> Cell<'static> {
    Cell::Fixed {
        value: (v * 10.0).round() as i64,
        decimals: 1,
    }
}

fn manual_row(
    out: &mut TableWriter,
    indicator: &str,
    period: &str,
    district: &str,
    value: Cell,
    comment: &str,
) -> Result<(), GenError> {
    out.row(&[
        Cell::Text(indicator),
        Cell::Text(period),
        if district.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(district)
        },
        value,
        if comment.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(comment)
        },
    ])
}
