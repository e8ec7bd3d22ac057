//! The accounting side: one `huvudbok` file per month (Kommun-Bas signs, costs positive,
//! income negative; försörjningsstöd on 47xx equal to the month's net payments) and, at
//! the end, a `budget` built from the year's ledger with a few per cent of deviation.

use std::collections::BTreeMap;
use std::path::Path;

use crate::GenError;
use crate::calendar::Ym;
use crate::profile::{ANCHOR_YEAR, Profile};
use crate::rng::Rng;
use crate::sink::{Cell, Layout, TableWriter};

#[derive(Clone, Copy)]
enum Pattern {
    /// The same amount every month (rents).
    Steady,
    /// Varies ± 12 % and is booked in one to three lines.
    Noisy,
    /// Booked in the last month of each quarter.
    Quarterly,
    /// Now and then, in larger amounts.
    Sporadic,
    /// Salaries, with the summer dip; social fees and pensions follow them.
    Salary,
    /// The month's net payments from `utbetalningar`.
    Support,
}

struct Account {
    verksamhet: u16,
    konto: u16,
    name: &'static str,
    /// Kronor per month for a district of 350 households in the anchor year, signed.
    monthly: f64,
    pattern: Pattern,
}

const fn acc(
    verksamhet: u16,
    konto: u16,
    name: &'static str,
    monthly: f64,
    pattern: Pattern,
) -> Account {
    Account {
        verksamhet,
        konto,
        name,
        monthly,
        pattern,
    }
}

const ACCOUNTS: &[Account] = &[
    acc(
        1810,
        3110,
        "Avgifter budget- och skuldrådgivning",
        -7_500.0,
        Pattern::Noisy,
    ),
    acc(
        1830,
        3410,
        "Hyresintäkter träningslägenheter",
        -46_000.0,
        Pattern::Steady,
    ),
    acc(
        1820,
        3510,
        "Ersättning från Arbetsförmedlingen",
        -185_000.0,
        Pattern::Quarterly,
    ),
    acc(
        1820,
        3610,
        "Försäljning av arbetsmarknadstjänster",
        -62_000.0,
        Pattern::Noisy,
    ),
    acc(
        1810,
        3950,
        "Återbetalt ekonomiskt bistånd",
        -21_000.0,
        Pattern::Noisy,
    ),
    acc(
        1810,
        4510,
        "Köp av skuldrådgivning",
        32_000.0,
        Pattern::Noisy,
    ),
    acc(
        1820,
        4610,
        "Köp av arbetsmarknadsinsatser",
        255_000.0,
        Pattern::Noisy,
    ),
    acc(1810, 4710, "Försörjningsstöd", 0.0, Pattern::Support),
    acc(1810, 5010, "Månadslön", 910_000.0, Pattern::Salary),
    acc(1820, 5010, "Månadslön", 405_000.0, Pattern::Salary),
    acc(1830, 5010, "Månadslön", 248_000.0, Pattern::Salary),
    acc(
        1830,
        5610,
        "Personalrekrytering",
        18_000.0,
        Pattern::Sporadic,
    ),
    acc(1830, 5810, "Resor i tjänsten", 7_500.0, Pattern::Noisy),
    acc(1830, 5910, "Utbildning", 22_000.0, Pattern::Sporadic),
    acc(1830, 6110, "Lokalhyra", 182_000.0, Pattern::Steady),
    acc(1830, 6150, "Städning och el", 19_500.0, Pattern::Noisy),
    acc(1830, 6410, "Förbrukningsmaterial", 14_000.0, Pattern::Noisy),
    acc(1830, 6910, "IT-tjänster", 41_000.0, Pattern::Noisy),
    acc(
        1810,
        7010,
        "Tolk- och konsulttjänster",
        36_000.0,
        Pattern::Sporadic,
    ),
];

const SOCIAL_FEES: f64 = 0.3142;
const PENSIONS: f64 = 0.058;

type Key = (i32, u16, u16, u16); // year, district, verksamhet, konto

pub struct Ledger {
    rng: Rng,
    scales: Vec<f64>,
    names: Vec<String>,
    budget_bias: Vec<f64>,
    /// Yearly outcome per account, for the budget.
    totals: BTreeMap<Key, i64>,
}

impl Ledger {
    pub fn new(seed: u64, profiles: &[Profile]) -> Ledger {
        Ledger {
            rng: Rng::stream(seed, 0x1ED6),
            scales: profiles.iter().map(|p| p.level / 350.0).collect(),
            names: profiles.iter().map(|p| p.name.clone()).collect(),
            budget_bias: profiles.iter().map(|p| p.support_budget_bias).collect(),
            totals: BTreeMap::new(),
        }
    }

    /// Writes one month's huvudbok; `support` is each district's net payments in öre.
    pub fn write_month(
        &mut self,
        path: &Path,
        layout: Layout,
        ym: Ym,
        support: &[i64],
    ) -> Result<u64, GenError> {
        let mut out = TableWriter::create(path, layout)?;
        let title = format!("Huvudbok {}", ym.name_sv());
        out.begin_sheet(
            "Huvudbok",
            Some(&title),
            &[
                "Period",
                "Ansvar",
                "Verksamhet",
                "Konto",
                "Kontobenämning",
                "Belopp",
            ],
        )?;
        let inflation = 1.02f64.powi(ym.year - ANCHOR_YEAR);
        for (d, &district_support) in support.iter().enumerate().take(self.names.len()) {
            let scale = self.scales[d] * inflation;
            let mut lines: Vec<(u16, u16, &'static str, i64)> = Vec::new();
            for a in ACCOUNTS {
                let base = a.monthly * scale;
                let rng = &mut self.rng;
                match a.pattern {
                    Pattern::Support => {
                        lines.push((a.verksamhet, a.konto, a.name, district_support))
                    }
                    Pattern::Steady => lines.push((a.verksamhet, a.konto, a.name, kr(base))),
                    Pattern::Noisy => {
                        let total = base * rng.uniform(0.88, 1.12);
                        let parts = rng.range(1, 3);
                        let mut left = total;
                        for p in 0..parts {
                            let amount = if p == parts - 1 {
                                left
                            } else {
                                total * rng.uniform(0.2, 0.5)
                            };
                            left -= amount;
                            lines.push((a.verksamhet, a.konto, a.name, ore(rng, amount)));
                        }
                    }
                    Pattern::Quarterly => {
                        if ym.month.is_multiple_of(3) {
                            let amount = 3.0 * base * rng.uniform(0.9, 1.1);
                            lines.push((a.verksamhet, a.konto, a.name, ore(rng, amount)));
                        }
                    }
                    Pattern::Sporadic => {
                        if rng.chance(0.4) {
                            let amount = 2.5 * base * rng.uniform(0.7, 1.3);
                            lines.push((a.verksamhet, a.konto, a.name, ore(rng, amount)));
                        }
                    }
                    Pattern::Salary => {
                        let season = match ym.month {
                            6 => 1.08,
                            7 => 0.72,
                            8 => 0.95,
                            _ => 1.0,
                        };
                        let salary = base * season * rng.uniform(0.97, 1.03);
                        let salary = ore(rng, salary);
                        let fees = (salary as f64 * SOCIAL_FEES).round() as i64;
                        let pensions = (salary as f64 * PENSIONS).round() as i64;
                        lines.push((a.verksamhet, a.konto, a.name, salary));
                        lines.push((a.verksamhet, 5410, "Sociala avgifter enligt lag", fees));
                        lines.push((a.verksamhet, 5510, "Pensionskostnader", pensions));
                    }
                }
            }
            lines.sort_by_key(|l| (l.0, l.1));
            for (verksamhet, konto, name, amount) in lines {
                *self
                    .totals
                    .entry((ym.year, d as u16, verksamhet, konto))
                    .or_insert(0) += amount;
                out.row(&[
                    Cell::Month(ym),
                    Cell::Text(&self.names[d]),
                    Cell::Int(i64::from(verksamhet)),
                    Cell::Int(i64::from(konto)),
                    Cell::Text(name),
                    Cell::Fixed {
                        value: amount,
                        decimals: 2,
                    },
                ])?;
            }
        }
        let rows = out.rows();
        out.finish()?;
        Ok(rows)
    }

    /// Writes the annual budget of every year seen: the outcome ± a few per cent (the
    /// försörjningsstöd line by the district's own bias), rounded to thousands of kronor.
    /// One sheet per year in a workbook, one table in a CSV.
    pub fn write_budget(&mut self, path: &Path, layout: Layout) -> Result<u64, GenError> {
        let mut out = TableWriter::create(path, layout)?;
        let years: Vec<i32> = {
            let mut y: Vec<i32> = self.totals.keys().map(|k| k.0).collect();
            y.dedup();
            y
        };
        for year in years {
            let title = format!("Budget {year}, ekonomiskt bistånd och arbetsmarknad (kr)");
            out.begin_sheet(
                &format!("Budget {year}"),
                Some(&title),
                &["Ar", "Stadsdel", "Verksamhet", "Konto", "Belopp"],
            )?;
            for (&(y, d, verksamhet, konto), &outcome) in self.totals.range((year, 0, 0, 0)..) {
                if y != year {
                    break;
                }
                let deviation = if konto / 100 == 47 {
                    self.budget_bias[d as usize] + self.rng.uniform(-0.01, 0.01)
                } else {
                    self.rng.uniform(-0.06, 0.06)
                };
                let budget = (outcome as f64 * (1.0 + deviation) / 100_000.0).round() as i64;
                out.row(&[
                    Cell::Int(i64::from(year)),
                    Cell::Text(&self.names[d as usize]),
                    Cell::Int(i64::from(verksamhet)),
                    Cell::Int(i64::from(konto)),
                    Cell::Fixed {
                        value: budget * 100_000,
                        decimals: 2,
                    },
                ])?;
            }
        }
        let rows = out.rows();
        out.finish()?;
        Ok(rows)
    }
}

fn kr(amount: f64) -> i64 {
    amount.round() as i64 * 100
}

/// An amount in öre with random öre, as invoices have.
fn ore(rng: &mut Rng, amount: f64) -> i64 {
    amount.trunc() as i64 * 100 + amount.signum() as i64 * rng.range(0, 99)
}
