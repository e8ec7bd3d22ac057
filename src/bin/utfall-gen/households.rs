//! The caseload simulation: every district keeps a stock of households on assistance; each
//! month households enter (new or returning), are paid, sometimes move to another district,
//! and leave when their spell ends. `City::step` gives one month's payment rows and closed
//! cases, so memory holds only the households currently active (plus a short exit history).

use std::collections::VecDeque;

use crate::calendar::{Date, Ym};
use crate::profile::{ANCHOR_YEAR, Profile};
use crate::rng::{Rng, scramble_id};

pub const HINDER: [&str; 7] = [
    "Arbetslöshet",
    "Sjukdom",
    "Sociala skäl",
    "Otillräcklig inkomst",
    "Föräldraledighet",
    "Väntar på annan ersättning",
    "Övrigt",
];
const UNEMPLOYED: u8 = 0;

const CLOSING_REASONS: [&str; 5] = ["Arbete", "Studier", "Flyttat", "Annan ersättning", "Övrigt"];

/// How long a spell lasts: 1–6, 7–12 or 24–96 months.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Short,
    Medium,
    Long,
}

const SHORT_WEIGHTS: [u32; 6] = [30, 22, 16, 12, 10, 10];
const MEAN_SPELL: [f64; 3] = [2.8, 9.5, 60.0];

#[derive(Clone, Debug)]
struct Household {
    id: u32,
    adults: u8,
    kids: u8,
    young: u8,
    hinder: u8,
    jobbtorg: bool,
    /// The household's usual monthly need, in öre.
    base: i64,
    kind: Kind,
    /// Months of the spell left, this month included.
    left: u16,
}

/// One row of `utbetalningar`.
#[derive(Clone, Debug)]
pub struct PaymentRow {
    pub district: u16,
    pub id: u32,
    pub ore: i64,
    pub adults: u8,
    pub kids: u8,
    pub young: u8,
    pub hinder: u8,
    pub jobbtorg: bool,
}

/// One row of `avslut`.
#[derive(Clone, Debug)]
pub struct ClosedCase {
    pub date: Date,
    pub district: u16,
    pub id: u32,
    pub reason: &'static str,
}

struct District {
    index: u16,
    profile: Profile,
    rng: Rng,
    stock: Vec<Household>,
    /// Recently closed households: some come back, some get a claim for repayment.
    exited: VecDeque<Household>,
    entry_weights: [f64; 3],
}

pub struct City {
    districts: Vec<District>,
    rng: Rng,
    next_id: u32,
    anchor: Ym,
    moves_per_month: f64,
}

impl City {
    /// Builds every district's stock as it stands in `start` (households already mid-spell).
    pub fn new(seed: u64, profiles: &[Profile], start: Ym) -> City {
        let anchor = Ym::new(ANCHOR_YEAR, 1);
        let mut next_id = 4_711;
        let districts = profiles
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut rng = Rng::stream(seed, 0x1000 + i as u64);
                let shares = p.kind_shares;
                let raw: Vec<f64> = (0..3).map(|k| shares[k] / MEAN_SPELL[k]).collect();
                let sum: f64 = raw.iter().sum();
                let entry_weights = [raw[0] / sum, raw[1] / sum, raw[2] / sum];
                let n = rng.round_stochastic(p.month_level(start.since(anchor), start.month));
                let stock = (0..n.max(0))
                    .map(|_| {
                        let kind = pick_kind(&mut rng, &shares);
                        let mut h = new_household(&mut rng, p, kind, &mut next_id);
                        h.left = rng.range(1, i64::from(h.left)) as u16;
                        h
                    })
                    .collect();
                District {
                    index: i as u16,
                    profile: p.clone(),
                    rng,
                    stock,
                    exited: VecDeque::new(),
                    entry_weights,
                }
            })
            .collect::<Vec<_>>();
        let total: f64 = profiles.iter().map(|p| p.level).sum();
        City {
            districts,
            rng: Rng::stream(seed, 0xC17E),
            next_id,
            anchor,
            // A handful of moves a year in a city, proportionally more in a bigger one.
            moves_per_month: if profiles.len() > 1 {
                (total / 250.0).max(2.0) / 12.0
            } else {
                0.0
            },
        }
    }

    /// Simulates one month: appends its payment rows and the cases closed because of it
    /// (dated in the month after the last payment, or in this month for a move) up to
    /// `horizon`, the last month exported.
    pub fn step(
        &mut self,
        ym: Ym,
        horizon: Ym,
        rows: &mut Vec<PaymentRow>,
        closed: &mut Vec<ClosedCase>,
    ) {
        let months = ym.since(self.anchor);
        for d in &mut self.districts {
            d.fill(months, ym.month, &mut self.next_id);
        }
        let movers = self.pick_movers();
        for d in &mut self.districts {
            d.pay(rows);
        }
        for (from, to, mut h) in movers {
            let amount = monthly_amount(&mut self.rng, &h);
            let part = (amount as f64 * self.rng.uniform(0.35, 0.65) / 100.0).round() as i64 * 100;
            rows.push(h.row(from, part));
            rows.push(h.row(to, amount - part));
            closed.push(ClosedCase {
                date: ym.day(self.rng.range(12, 28) as u32),
                district: from,
                id: h.id,
                reason: "Flyttat",
            });
            h.left = h.left.max(3);
            self.districts[to as usize].stock.push(h);
        }
        for d in &mut self.districts {
            d.advance(ym, horizon, closed);
        }
    }

    /// Removes the households that move this month from their district's stock.
    fn pick_movers(&mut self) -> Vec<(u16, u16, Household)> {
        let n = self.rng.round_stochastic(self.moves_per_month);
        let mut movers = Vec::new();
        let count = self.districts.len();
        for _ in 0..n {
            let from = self.rng.below(count);
            let to = (from + 1 + self.rng.below(count - 1)) % count;
            let stock = &mut self.districts[from].stock;
            if stock.is_empty() {
                continue;
            }
            let pick = self.rng.below(stock.len());
            if stock[pick].left >= 3 {
                let h = stock.swap_remove(pick);
                movers.push((from as u16, to as u16, h));
            }
        }
        movers
    }
}

impl District {
    /// New and returning households until the month's caseload is reached.
    fn fill(&mut self, months: i32, month: u32, next_id: &mut u32) {
        let target = self
            .rng
            .round_stochastic(self.profile.month_level(months, month));
        while (self.stock.len() as i64) < target {
            let kind = pick_kind(&mut self.rng, &self.entry_weights);
            let returning = if !self.exited.is_empty() && self.rng.chance(0.07) {
                let i = self.rng.below(self.exited.len());
                self.exited.remove(i)
            } else {
                None
            };
            let h = match returning {
                Some(mut h) => {
                    h.kind = kind;
                    h.left = spell_length(&mut self.rng, kind);
                    h
                }
                None => new_household(&mut self.rng, &self.profile, kind, next_id),
            };
            self.stock.push(h);
        }
    }

    /// This month's payments: usually one row, sometimes an extra payment, a partial
    /// correction or a reversed month; a few repayment claims on closed cases.
    fn pay(&mut self, rows: &mut Vec<PaymentRow>) {
        let d = self.index;
        let rng = &mut self.rng;
        for h in &self.stock {
            let gap = match h.kind {
                Kind::Long => 0.015,
                Kind::Medium => 0.02,
                Kind::Short => 0.0,
            };
            if rng.chance(gap) {
                continue;
            }
            let amount = monthly_amount(rng, h);
            rows.push(h.row(d, amount));
            let r = rng.unit();
            if r < 0.004 {
                // Paid by mistake and reversed: nets the household-month to exactly zero.
                rows.push(h.row(d, -amount));
            } else if r < 0.014 {
                let back = rng.range(150, (amount / 300).clamp(151, 1_500)) * 100;
                rows.push(h.row(d, -back));
            } else if r < 0.055 {
                let extra = rng.range(30_000, 400_000) / 50 * 50;
                let mut row = h.row(d, extra);
                if rng.chance(0.25) {
                    // Extra payments are sometimes registered without the children.
                    row.kids = 0;
                }
                rows.push(row);
            }
        }
        let claims = rng.round_stochastic(self.stock.len() as f64 * 0.004);
        for _ in 0..claims {
            if self.exited.is_empty() {
                break;
            }
            let h = &self.exited[rng.below(self.exited.len())];
            rows.push(h.row(d, -rng.range(300, 6_000) * 100));
        }
    }

    /// Ends the spells that ran out this month; their case is closed next month.
    fn advance(&mut self, ym: Ym, horizon: Ym, closed: &mut Vec<ClosedCase>) {
        let next = ym.next();
        let mut i = 0;
        while i < self.stock.len() {
            self.stock[i].left -= 1;
            if self.stock[i].left > 0 {
                i += 1;
                continue;
            }
            let h = self.stock.swap_remove(i);
            let weights: [u32; 5] = match h.kind {
                Kind::Short => [40, 13, 9, 18, 20],
                Kind::Medium => [30, 12, 8, 28, 22],
                Kind::Long => [14, 6, 7, 48, 25],
            };
            let reason = CLOSING_REASONS[self.rng.weighted(&weights)];
            let day = self.rng.range(1, 28) as u32;
            if next <= horizon {
                closed.push(ClosedCase {
                    date: next.day(day),
                    district: self.index,
                    id: h.id,
                    reason,
                });
            }
            self.exited.push_back(h);
            if self.exited.len() > 400 {
                self.exited.pop_front();
            }
        }
        // swap_remove scrambles the order; keep it canonical so output never depends on it.
        self.stock.sort_unstable_by_key(|h| h.id);
    }
}

impl Household {
    fn row(&self, district: u16, ore: i64) -> PaymentRow {
        PaymentRow {
            district,
            id: self.id,
            ore,
            adults: self.adults,
            kids: self.kids,
            young: self.young,
            hinder: self.hinder,
            jobbtorg: self.jobbtorg,
        }
    }
}

fn pick_kind(rng: &mut Rng, weights: &[f64; 3]) -> Kind {
    let x = rng.unit();
    if x < weights[0] {
        Kind::Short
    } else if x < weights[0] + weights[1] {
        Kind::Medium
    } else {
        Kind::Long
    }
}

fn spell_length(rng: &mut Rng, kind: Kind) -> u16 {
    match kind {
        Kind::Short => rng.weighted(&SHORT_WEIGHTS) as u16 + 1,
        Kind::Medium => rng.range(7, 12) as u16,
        Kind::Long => rng.range(24, 96) as u16,
    }
}

/// A new household with a composition, a reason and a monthly need that stay with it.
fn new_household(rng: &mut Rng, p: &Profile, kind: Kind, next_id: &mut u32) -> Household {
    let (adults, kids) = if rng.chance(p.family_share) {
        let adults = if rng.chance(0.55) { 1 } else { 2 };
        (adults, rng.weighted(&[45, 33, 15, 5, 2]) as u8 + 1)
    } else if rng.chance(if kind == Kind::Long { 0.74 } else { 0.88 }) {
        // Long spells are more often couples (e.g. newly arrived, both in SFI).
        (1, 0)
    } else if rng.chance(0.85) {
        (2, 0)
    } else {
        (3, 0)
    };
    let young_chance = match (adults, kids) {
        (1, 0) => 0.22,
        (3, _) => 0.5,
        _ => 0.06,
    };
    let young = (0..adults).filter(|_| rng.chance(young_chance)).count() as u8;
    let weights: [u32; 7] = match kind {
        Kind::Short => [46, 10, 8, 14, 7, 10, 5],
        Kind::Medium => [38, 18, 14, 12, 5, 8, 5],
        Kind::Long => [26, 30, 24, 6, 2, 6, 6],
    };
    let hinder = rng.weighted(&weights) as u8;
    let jobbtorg = if hinder == UNEMPLOYED {
        rng.chance(p.jobbtorg_rate)
    } else {
        rng.chance(0.04)
    };
    let persons = f64::from(adults + kids);
    let living = 3_150.0 + 2_650.0 * f64::from(adults - 1) + 2_250.0 * f64::from(kids);
    let rent = rng.uniform(3_800.0, 6_800.0) + 900.0 * (persons - 1.0);
    let topped_up = matches!(hinder, 3..=5);
    let share = if topped_up {
        rng.uniform(0.25, 0.6)
    } else {
        rng.uniform(0.75, 1.0)
    };
    let base = ((living + rent) * share).clamp(1_800.0, 24_000.0);
    let counter = *next_id;
    *next_id += 1;
    Household {
        id: scramble_id(counter),
        adults,
        kids,
        young,
        hinder,
        jobbtorg,
        base: (base * 100.0) as i64,
        kind,
        left: spell_length(rng, kind),
    }
}

/// This month's amount in öre: the usual need ± 8 %, now and then only part of a month;
/// whole kronor, 50 öre or any öre, as the case system's calculations give.
fn monthly_amount(rng: &mut Rng, h: &Household) -> i64 {
    let mut kr = h.base as f64 / 100.0 * rng.uniform(0.92, 1.08);
    if rng.chance(0.06) {
        kr *= rng.uniform(0.3, 0.7);
    }
    let kr = kr.max(250.0) as i64;
    let ore = match rng.weighted(&[55, 15, 30]) {
        0 => 0,
        1 => 50,
        _ => rng.range(1, 99),
    };
    kr * 100 + ore
}
