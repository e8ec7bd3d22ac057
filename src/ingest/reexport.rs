//! Ingest, re-exports: the parts of every file for one dataset → which rows survive.
//! Takes parts in file-newness order, gives a keep-mask per part and the `Replacement`s:
//! per month (or year) the newest file with valid rows in it wins (SPEC §2).

use std::collections::BTreeMap;

use super::Replacement;
use super::sheet::{Part, PeriodKey};
use crate::model::FileId;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Month;

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
