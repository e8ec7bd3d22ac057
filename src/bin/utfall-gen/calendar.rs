//! Months and dates as the exports write them: a `Ym` month, a `Date`, Swedish month names,
//! and Excel's date serials, so the rest of the generator never does calendar arithmetic.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ym {
    pub year: i32,
    pub month: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

pub const MONTHS_SV: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];

impl Ym {
    pub fn new(year: i32, month: u32) -> Ym {
        Ym { year, month }
    }

    pub fn next(self) -> Ym {
        self.add(1)
    }

    pub fn add(self, months: i32) -> Ym {
        let idx = self.year * 12 + self.month as i32 - 1 + months;
        Ym::new(idx.div_euclid(12), (idx.rem_euclid(12) + 1) as u32)
    }

    /// Months from `start` to `self` (0 when equal).
    pub fn since(self, start: Ym) -> i32 {
        (self.year - start.year) * 12 + self.month as i32 - start.month as i32
    }

    pub fn days(self) -> u32 {
        match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ if is_leap(self.year) => 29,
            _ => 28,
        }
    }

    pub fn day(self, day: u32) -> Date {
        Date {
            year: self.year,
            month: self.month,
            day: day.min(self.days()),
        }
    }

    pub fn last_day(self) -> Date {
        self.day(self.days())
    }

    /// `2019-03`
    pub fn tag(self) -> String {
        format!("{}-{:02}", self.year, self.month)
    }

    /// `mars 2019`
    pub fn name_sv(self) -> String {
        format!("{} {}", MONTHS_SV[self.month as usize - 1], self.year)
    }
}

impl Date {
    /// `2019-03-14`
    pub fn iso(self) -> String {
        format!("{}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Excel's serial day number (1900 date system): days since 1899-12-30.
    pub fn excel_serial(self) -> f64 {
        (days_from_civil(self.year, self.month, self.day) - days_from_civil(1899, 12, 30)) as f64
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_serials_match_excel() {
        assert_eq!(Ym::new(2019, 3).last_day().excel_serial(), 43555.0);
        assert_eq!(Ym::new(1900, 3).day(1).excel_serial(), 61.0);
    }

    #[test]
    fn month_arithmetic_wraps_years() {
        assert_eq!(Ym::new(2019, 12).next(), Ym::new(2020, 1));
        assert_eq!(Ym::new(2019, 1).add(-1), Ym::new(2018, 12));
        assert_eq!(Ym::new(2019, 2).since(Ym::new(2018, 1)), 13);
    }
}
