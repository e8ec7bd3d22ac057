//! District profiles: population, caseload level and trend, household mix, and the handful
//! of yearly figures (evictions, sick leave, summer jobs) that drive every dataset. The three
//! inner-city districts are calibrated by hand against the 2019 targets; any other district
//! gets plausible random values.

use crate::rng::Rng;

/// The year the calibration refers to; other years are extrapolated from it.
pub const ANCHOR_YEAR: i32 = 2019;

/// The city of the shipped samples.
pub const CITY: [&str; 3] = ["Kungsholmen", "Norrmalm", "Östermalm"];

#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    /// Inhabitants on 31 December of the anchor year, and yearly growth.
    pub population: f64,
    pub population_growth: f64,
    pub child_share: f64,
    pub young_share: f64,
    /// Households paid per month, averaged over the anchor year, and the yearly change.
    pub level: f64,
    pub level_growth: f64,
    /// Share of new households with children.
    pub family_share: f64,
    /// Share of the monthly stock in short (1–6 months), medium (7–12) and long (24–96) spells.
    pub kind_shares: [f64; 3],
    /// Share of unemployed households that are enrolled at Jobbtorg.
    pub jobbtorg_rate: f64,
    /// New participants in arbetslivsinriktad rehabilitering per month, and the chance a
    /// participation ends in egen/annan försörjning.
    pub rehab_per_month: f64,
    pub rehab_success: f64,
    /// Budget for försörjningsstöd relative to the outcome (+0.04 = 4 % more budget).
    pub support_budget_bias: f64,
    pub sick_leave: f64,
    pub summer_jobs: i64,
}

/// Eviction notices of one district and year: how many, how many averted, and how many
/// not averted that concern children.
#[derive(Clone, Copy, Debug)]
pub struct Evictions {
    pub notices: usize,
    pub averted: usize,
    pub children_evicted: usize,
}

impl Profile {
    /// The hand-calibrated profile of a city district, or None for any other name.
    fn calibrated(name: &str) -> Option<Profile> {
        let base = Profile {
            name: name.to_string(),
            population: 0.0,
            population_growth: 0.0,
            child_share: 0.0,
            young_share: 0.0,
            level: 0.0,
            level_growth: 0.0,
            family_share: 0.0,
            kind_shares: [0.0; 3],
            jobbtorg_rate: 0.0,
            rehab_per_month: 0.0,
            rehab_success: 0.0,
            support_budget_bias: 0.0,
            sick_leave: 0.0,
            summer_jobs: 0,
        };
        let p = match name {
            "Kungsholmen" => Profile {
                population: 70_384.0,
                population_growth: 0.012,
                child_share: 0.190,
                young_share: 0.074,
                level: 292.0,
                level_growth: -0.05,
                family_share: 0.245,
                kind_shares: [0.09, 0.05, 0.86],
                jobbtorg_rate: 0.72,
                rehab_per_month: 4.5,
                rehab_success: 0.53,
                support_budget_bias: 0.04,
                sick_leave: 5.8,
                summer_jobs: 118,
                ..base
            },
            "Norrmalm" => Profile {
                population: 72_112.0,
                population_growth: 0.009,
                child_share: 0.170,
                young_share: 0.082,
                level: 340.0,
                level_growth: 0.04,
                family_share: 0.28,
                kind_shares: [0.03, 0.02, 0.95],
                jobbtorg_rate: 0.64,
                rehab_per_month: 5.5,
                rehab_success: 0.46,
                support_budget_bias: -0.07,
                sick_leave: 6.4,
                summer_jobs: 101,
                ..base
            },
            "Östermalm" => Profile {
                population: 73_946.0,
                population_growth: 0.006,
                child_share: 0.205,
                young_share: 0.071,
                level: 410.0,
                level_growth: -0.03,
                family_share: 0.185,
                kind_shares: [0.05, 0.03, 0.92],
                jobbtorg_rate: 0.58,
                rehab_per_month: 5.0,
                rehab_success: 0.36,
                support_budget_bias: -0.02,
                sick_leave: 7.1,
                summer_jobs: 123,
                ..base
            },
            _ => return None,
        };
        Some(p)
    }

    /// A plausible random municipality: log-normal population, caseload proportional to
    /// population (scaled to the requested total later).
    fn random(name: &str, rng: &mut Rng) -> Profile {
        let population = (22_000.0 * (0.95 * rng.normal()).exp()).clamp(2_400.0, 980_000.0);
        let level = population * 0.0045 * rng.uniform(0.55, 1.6);
        let long = rng.uniform(0.70, 0.86);
        let short = rng.uniform(0.08, 0.18).min(1.0 - long - 0.04);
        Profile {
            name: name.to_string(),
            population,
            population_growth: rng.uniform(-0.01, 0.02),
            child_share: rng.uniform(0.17, 0.24),
            young_share: rng.uniform(0.065, 0.10),
            level,
            level_growth: rng.uniform(-0.06, 0.05),
            family_share: rng.uniform(0.20, 0.34),
            kind_shares: [short, 1.0 - long - short, long],
            jobbtorg_rate: rng.uniform(0.45, 0.80),
            rehab_per_month: (level / 65.0).max(0.2),
            rehab_success: rng.uniform(0.28, 0.50),
            support_budget_bias: rng.uniform(-0.08, 0.06),
            sick_leave: (rng.uniform(4.5, 8.0) * 10.0).round() / 10.0,
            summer_jobs: (population / 600.0 * rng.uniform(0.7, 1.3)).round() as i64,
        }
    }

    /// Builds the profiles of the named districts; the calibrated ones keep their values,
    /// the others are drawn from `seed`. When `households` is given, caseloads are scaled so
    /// the first year's monthly average over all districts is about that number.
    pub fn for_districts(
        names: &[String],
        seed: u64,
        households: Option<u64>,
        first_year: i32,
    ) -> Vec<Profile> {
        let mut rng = Rng::stream(seed, 0xD157);
        let mut profiles: Vec<Profile> = names
            .iter()
            .map(|n| Profile::calibrated(n).unwrap_or_else(|| Profile::random(n, &mut rng)))
            .collect();
        if let Some(total) = households {
            let now: f64 = profiles.iter().map(|p| p.year_level(first_year)).sum();
            if now > 0.0 {
                let factor = total as f64 / now;
                for p in &mut profiles {
                    p.level *= factor;
                    p.rehab_per_month *= factor;
                }
            }
        }
        profiles
    }

    /// Average households paid per month in `year`.
    pub fn year_level(&self, year: i32) -> f64 {
        self.level * (1.0 + self.level_growth).powi(year - ANCHOR_YEAR)
    }

    /// The target number of households in a month (`months` after January of the anchor
    /// year), with a small seasonal pattern (more in summer and at Christmas).
    pub fn month_level(&self, months: i32, month: u32) -> f64 {
        const SEASON: [f64; 12] = [
            1.00, 1.005, 1.00, 0.99, 0.985, 1.0, 1.02, 1.02, 0.995, 0.985, 0.99, 1.01,
        ];
        let t = (months as f64 - 5.5) / 12.0;
        self.level * (1.0 + self.level_growth).powf(t) * SEASON[month as usize - 1]
    }

    pub fn population_in(&self, year: i32) -> f64 {
        self.population * (1.0 + self.population_growth).powi(year - ANCHOR_YEAR)
    }

    /// Eviction notices for a year: calibrated for the city in 2018–2019, drawn otherwise.
    pub fn evictions(&self, year: i32, rng: &mut Rng) -> Evictions {
        let fixed = match (self.name.as_str(), year) {
            ("Kungsholmen", 2019) => Some((12, 10, 0)),
            ("Norrmalm", 2019) => Some((14, 10, 1)),
            ("Östermalm", 2019) => Some((12, 7, 2)),
            ("Kungsholmen", 2018) => Some((13, 9, 1)),
            ("Norrmalm", 2018) => Some((15, 11, 1)),
            ("Östermalm", 2018) => Some((11, 8, 1)),
            _ => None,
        };
        let (notices, averted, children_evicted) = fixed.unwrap_or_else(|| {
            let n = rng.round_stochastic(self.level / 28.0).max(0) as usize;
            let averted = (n as f64 * rng.uniform(0.55, 0.92)).round() as usize;
            let children = (0..n - averted).filter(|_| rng.chance(0.25)).count();
            (n, averted, children)
        });
        Evictions {
            notices,
            averted,
            children_evicted,
        }
    }

    /// Sick leave (%) for a year (`None` period part = the whole year) or a tertial.
    pub fn sick_leave_in(&self, year: i32, tertial: Option<u32>) -> f64 {
        let year_shift = 0.25 * f64::from(ANCHOR_YEAR - year);
        let tertial_shift = match tertial {
            Some(1) => 0.5,
            Some(2) => 0.1,
            _ => 0.0,
        };
        ((self.sick_leave + year_shift + tertial_shift) * 10.0).round() / 10.0
    }

    pub fn summer_jobs_in(&self, year: i32) -> i64 {
        match (self.name.as_str(), year) {
            ("Kungsholmen", 2018) => 125,
            ("Norrmalm", 2018) => 112,
            ("Östermalm", 2018) => 124,
            _ => {
                let f = 1.0 + 0.04 * f64::from(ANCHOR_YEAR - year);
                (self.summer_jobs as f64 * f).round() as i64
            }
        }
    }
}
