//! Ingest, re-exports: the parts of every file for one dataset → which rows survive.
//! Takes parts in file-newness order, gives a keep-mask per part and the `Replacement`s:
//! per month (or year) the newest file with valid rows in it wins (SPEC §2).

use std::collections::BTreeMap;

use super::Replacement;
use super::sheet::{Part, PeriodKey};
use crate::model::{FileId, Month};

/// Decides which rows to keep. `parts` must be in newness order (oldest file first);
/// a row without a period key is always kept.
pub fn resolve(
    dataset: &str,
    parts: &[(FileId, &Part)],
    replace: bool,
) -> (Vec<Vec<bool>>, Vec<Replacement>) {
    if !replace {
        return (
            parts
                .iter()
                .map(|(_, p)| vec![true; p.rows.len()])
                .collect(),
            Vec::new(),
        );
    }
    let mut winner: BTreeMap<PeriodKey, FileId> = BTreeMap::new();
    for (file, part) in parts {
        for key in part.keys.iter().flatten() {
            let w = winner.entry(*key).or_insert(*file);
            if *file > *w {
                *w = *file;
            }
        }
    }
    let mut dropped: BTreeMap<(PeriodKey, FileId), usize> = BTreeMap::new();
    let masks = parts
        .iter()
        .map(|(file, part)| {
            part.keys
                .iter()
                .map(
                    |key| match key.and_then(|k| winner.get(&k).map(|w| (k, *w))) {
                        Some((k, w)) if w != *file => {
                            *dropped.entry((k, *file)).or_default() += 1;
                            false
                        }
                        _ => true,
                    },
                )
                .collect()
        })
        .collect();
    let replacements = dropped
        .into_iter()
        .map(|((key, replaced), rows_dropped)| Replacement {
            dataset: dataset.to_string(),
            period: key.label(),
            kept: winner[&key],
            replaced,
            rows_dropped,
        })
        .collect();
    (masks, replacements)
}

/// Re-export resolution for a dataset read as row counts per (file, month), files in
/// newness order: per month the newest file with rows keeps it; gives the winner of each
/// month and the `Replacement`s, as `resolve` would for the rows themselves.
pub fn resolve_counts(
    dataset: &str,
    counts: &[(FileId, Month, usize)],
) -> (BTreeMap<Month, FileId>, Vec<Replacement>) {
    let mut winner: BTreeMap<Month, FileId> = BTreeMap::new();
    for (file, month, rows) in counts {
        if *rows > 0 {
            let w = winner.entry(*month).or_insert(*file);
            *w = (*w).max(*file);
        }
    }
    let mut dropped: BTreeMap<(Month, FileId), usize> = BTreeMap::new();
    for (file, month, rows) in counts {
        if *rows > 0 && winner.get(month) != Some(file) {
            *dropped.entry((*month, *file)).or_default() += rows;
        }
    }
    let replacements = dropped
        .into_iter()
        .map(|((month, replaced), rows_dropped)| Replacement {
            dataset: dataset.to_string(),
            period: PeriodKey::Month(month).label(),
            kept: winner[&month],
            replaced,
            rows_dropped,
        })
        .collect();
    (winner, replacements)
}

/// The replacements for display: runs of consecutive months (or years) of one dataset where
/// the same file replaced the same file become one entry, its period `2014-01–2024-03`. Six
/// overlapping exports of ten years would otherwise give hundreds of lines.
pub fn summarise(replacements: &[Replacement]) -> Vec<Replacement> {
    // A month label as a month ordinal, a year label as itself (never adjacent to a month).
    let ordinal = |label: &str| -> Option<(bool, i64)> {
        match label.split_once('-') {
            Some((y, m)) => {
                let (y, m) = (y.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
                Some((true, y * 12 + m - 1))
            }
            None => label.parse::<i64>().ok().map(|y| (false, y)),
        }
    };
    let mut sorted: Vec<&Replacement> = replacements.iter().collect();
    sorted.sort_by_key(|r| (&r.dataset, r.replaced, r.kept, ordinal(&r.period)));
    let mut out: Vec<Replacement> = Vec::new();
    let mut last: Option<(bool, i64)> = None;
    let mut first_label = String::new();
    for r in sorted {
        let key = ordinal(&r.period);
        let extends = out.last().is_some_and(|o| {
            o.dataset == r.dataset
                && o.kept == r.kept
                && o.replaced == r.replaced
                && matches!((last, key), (Some((a, x)), Some((b, y))) if a == b && y == x + 1)
        });
        match out.last_mut() {
            Some(o) if extends => {
                o.period = format!("{first_label}–{}", r.period);
                o.rows_dropped += r.rows_dropped;
            }
            _ => {
                first_label = r.period.clone();
                out.push(r.clone());
            }
        }
        last = key;
    }
    // Back in the order a reader expects: by dataset, then period.
    out.sort_by(|a, b| {
        (&a.dataset, &a.period, a.replaced).cmp(&(&b.dataset, &b.period, b.replaced))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Month;

    #[test]
    fn consecutive_months_between_the_same_files_are_one_entry() {
        let r = |period: &str, kept: u32, replaced: u32| Replacement {
            dataset: "d".into(),
            period: period.into(),
            kept: FileId(kept),
            replaced: FileId(replaced),
            rows_dropped: 1,
        };
        let all = [
            r("2023-12", 5, 1),
            r("2024-01", 5, 1),
            r("2023-11", 5, 1),
            r("2024-03", 5, 1),
            r("2024-01", 5, 2),
        ];
        let s: Vec<(String, u32, usize)> = summarise(&all)
            .into_iter()
            .map(|r| (r.period, r.replaced.0, r.rows_dropped))
            .collect();
        assert_eq!(
            s,
            [
                ("2023-11–2024-01".to_string(), 1, 3),
                ("2024-01".to_string(), 2, 1),
                ("2024-03".to_string(), 1, 1),
            ]
        );
    }

    fn part(keys: &[Option<PeriodKey>]) -> Part {
        Part {
            dataset: 0,
            columns: Vec::new(),
            rows: (0..keys.len() as u32).collect(),
            keys: keys.to_vec(),
        }
    }

    #[test]
    fn newest_file_wins_each_month_and_keeps_other_months() {
        let jan = Some(PeriodKey::Month(Month::new(2019, 1).unwrap()));
        let feb = Some(PeriodKey::Month(Month::new(2019, 2).unwrap()));
        let old = part(&[jan, jan, feb, None]);
        let new = part(&[feb]);
        let (masks, reps) = resolve(
            "utbetalningar",
            &[(FileId(0), &old), (FileId(3), &new)],
            true,
        );
        assert_eq!(masks, vec![vec![true, true, false, true], vec![true]]);
        assert_eq!(reps.len(), 1);
        assert_eq!(reps[0].period, "2019-02");
        assert_eq!(
            (reps[0].kept, reps[0].replaced, reps[0].rows_dropped),
            (FileId(3), FileId(0), 1)
        );
        let (masks, reps) = resolve("insatser", &[(FileId(0), &old), (FileId(3), &new)], false);
        assert!(masks.iter().flatten().all(|k| *k) && reps.is_empty());
    }
}
