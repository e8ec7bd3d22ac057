//! Rule authoring, for the controllers who write the pack: `check` (an overview of what a
//! run would read and compute), `explain` (how one figure was reached) and rule tests
//! (`utfall test`). Each reuses the pipeline's stages and writes nothing.

pub mod check;
pub mod explain;
pub mod ruletest;

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use crate::model::Month;

/// A number as a Swedish reader writes it: `12 000`, `0,83`, `-1 234,5`; at most six
/// decimals (an average of 140,1666… reads 140,166667), rounded half away from zero.
pub fn sv_number(v: Decimal) -> String {
    let text = crate::model::round_half_away(v, 6).normalize().to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    match fraction {
        Some(f) => format!("{sign}{grouped},{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// An optional number, `..` when missing.
pub fn sv_optional(v: Option<Decimal>) -> String {
    v.map_or_else(|| "..".to_string(), sv_number)
}

/// Months as runs: `2018-01–2019-12`, `2019-01–2019-03, 2019-05`.
pub fn month_ranges(months: &BTreeSet<Month>) -> String {
    let mut runs: Vec<(Month, Month)> = Vec::new();
    for &m in months {
        match runs.last_mut() {
            Some((_, end)) if end.plus(1) == m => *end = m,
            _ => runs.push((m, m)),
        }
    }
    runs.iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Years as runs: `2018–2019`.
pub fn year_ranges(years: &BTreeSet<i64>) -> String {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &y in years {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == y => *end = y,
            _ => runs.push((y, y)),
        }
    }
    runs.iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn numbers_are_written_the_swedish_way() {
        let n = |s: &str| sv_number(Decimal::from_str(s).unwrap());
        assert_eq!(n("12000"), "12 000");
        assert_eq!(n("0.8312"), "0,8312");
        assert_eq!(n("-1234.50"), "-1 234,5");
        assert_eq!(n("999"), "999");
        assert_eq!(n("1000000"), "1 000 000");
        assert_eq!(n("140.16666666666666666666666667"), "140,166667");
    }

    #[test]
    fn months_collapse_into_runs() {
        let m = |y, mo| Month::new(y, mo).unwrap();
        let set: BTreeSet<Month> = [m(2018, 12), m(2019, 1), m(2019, 2), m(2019, 5)].into();
        assert_eq!(month_ranges(&set), "2018-12–2019-02, 2019-05");
        assert_eq!(year_ranges(&[2017, 2018, 2020].into()), "2017–2018, 2020");
    }
}
