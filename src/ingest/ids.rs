//! Ingest, household ids: the `HushallsID` of payment rows as sort keys, each file's
//! distinct ids in order, and the run's numbering of them.
//!
//! A household id is never shown and never joined with anything but itself: it only has
//! to say which household-months belong to one household. So ids are not interned as
//! text. An id of up to 15 bytes (every id we have seen) is packed into a `u128` whose
//! order is the text's; longer ones are kept as text. Each file folds its rows by these
//! keys and numbers its distinct ids in key order; after reading, one merge of the files'
//! sorted lists numbers every id of the run in the same order. The numbering is monotone,
//! so a file's household-months, sorted by its own numbers, stay sorted by the run's.

use std::cmp::Ordering;

/// Bytes of an id that fit in a packed key (the 16th byte holds the length).
const PACKED: usize = 15;

/// The bytes of `id`, big-endian from the top, then its length in the lowest byte: equal
/// keys for equal ids only, ordered as the ids' bytes are (a shorter prefix first).
pub fn pack(id: &str) -> Option<u128> {
    let b = id.as_bytes();
    if b.len() > PACKED {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..b.len()].copy_from_slice(b);
    buf[PACKED] = b.len() as u8;
    Some(u128::from_be_bytes(buf))
}

/// One file's distinct household ids in key order: the packed ones, then the long ones.
/// A household's number in the file is its position here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdList {
    pub packed: Vec<u128>,
    pub long: Vec<String>,
}

impl IdList {
    pub fn len(&self) -> usize {
        self.packed.len() + self.long.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file's number of a packed key in this list.
    pub fn number_of_packed(&self, key: u128) -> Option<u32> {
        self.packed.binary_search(&key).ok().map(|i| i as u32)
    }

    /// The file's number of a long id in this list.
    pub fn number_of_long(&self, id: &str) -> Option<u32> {
        let i = self.long.binary_search_by(|s| s.as_str().cmp(id)).ok()?;
        Some((self.packed.len() + i) as u32)
    }
}

/// Every id of the run, sorted: the files' lists merged in as they come. A household's
/// run-wide number is its id's position here.
#[derive(Debug, Default)]
pub struct RunIds {
    all: IdList,
    /// The previous union's buffer, merged into next time: a national run's union is
    /// megabytes, and fresh pages for each file's merge cost the system more than the merge.
    spare: Vec<u128>,
}

/// Merges two sorted lists of distinct values into one.
fn merge_sorted<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    merge_sorted_into(a, b, &mut out);
    out
}

/// `merge_sorted` into `out` (emptied first).
fn merge_sorted_into<T: Ord + Clone>(a: &[T], b: &[T], out: &mut Vec<T>) {
    out.clear();
    out.reserve(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            Ordering::Less => {
                out.push(a[i].clone());
                i += 1;
            }
            Ordering::Greater => {
                out.push(b[j].clone());
                j += 1;
            }
            Ordering::Equal => {
                out.push(a[i].clone());
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

/// For each value of `part` (sorted, all in `all`), its position in `all` (sorted), plus
/// `offset`.
fn positions<T: Ord>(all: &[T], part: &[T], offset: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(part.len());
    let mut at = 0;
    for v in part {
        // Both ascending: one walk, a few steps at a time over the usual small gap (a
        // file holds a good share of the run's ids), galloping over a longer one.
        let near = all.get(at..).unwrap_or_default().iter().take(8);
        if let Some(k) = near.clone().position(|x| x >= v) {
            at += k;
            out.push((offset + at) as u32);
            continue;
        }
        let mut step = 1;
        while at + step < all.len() && all[at + step] <= *v {
            at += step;
            step *= 2;
        }
        at += all[at..].partition_point(|x| x < v);
        out.push((offset + at) as u32);
    }
    out
}

impl RunIds {
    /// Adds a file's ids.
    pub fn absorb(&mut self, list: &IdList) {
        if !list.packed.is_empty() {
            merge_sorted_into(&self.all.packed, &list.packed, &mut self.spare);
            std::mem::swap(&mut self.all.packed, &mut self.spare);
        }
        if !list.long.is_empty() {
            self.all.long = merge_sorted(&self.all.long, &list.long);
        }
    }

    /// The run-wide numbers of an absorbed list's ids, in the list's order: the same id
    /// in several files gets one number, and numbers follow the ids' order.
    pub fn numbers(&self, list: &IdList) -> Vec<u32> {
        let mut out = positions(&self.all.packed, &list.packed, 0);
        out.extend(positions(&self.all.long, &list.long, self.all.packed.len()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_order_as_the_text_does() {
        let ids = [
            "",
            "0",
            "00",
            "1",
            "10",
            "9",
            "A",
            "H0001",
            "H01485484",
            "H1",
            "a",
            "a\u{0}",
            "å",
            "123456789012345",
        ];
        for a in ids {
            for b in ids {
                let (ka, kb) = (pack(a).unwrap(), pack(b).unwrap());
                assert_eq!(ka.cmp(&kb), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
        assert_eq!(pack("1234567890123456"), None);
    }

    #[test]
    fn run_numbers_are_the_positions_in_the_union() {
        let list = |ids: &[&str]| {
            let mut l = IdList::default();
            for id in ids {
                match pack(id) {
                    Some(k) => l.packed.push(k),
                    None => l.long.push(id.to_string()),
                }
            }
            l.packed.sort_unstable();
            l.long.sort_unstable();
            l
        };
        let long = "a-very-long-household-id";
        let a = list(&["H1", "H3", long]);
        let b = list(&["H2", "H3"]);
        let c = list(&[]);
        let mut run = RunIds::default();
        for l in [&a, &b, &c] {
            run.absorb(l);
        }
        let numbers: Vec<Vec<u32>> = [&a, &b, &c].iter().map(|l| run.numbers(l)).collect();
        // union: H1 H2 H3 long
        assert_eq!(numbers, vec![vec![0, 2, 3], vec![1, 2], vec![]]);
        assert_eq!(a.number_of_packed(pack("H3").unwrap()), Some(1));
        assert_eq!(a.number_of_long(long), Some(2));
        assert_eq!(b.number_of_long(long), None);
    }

    #[test]
    fn positions_over_short_and_long_gaps() {
        // Gaps of every length from none to well past the few steps walked one at a time.
        let all: Vec<u32> = (0..2000).collect();
        let mut part = Vec::new();
        let (mut v, mut gap) = (0u32, 0u32);
        while v < 2000 {
            part.push(v);
            gap = (gap + 1) % 40;
            v += gap * gap / 4 + 1;
        }
        let expected: Vec<u32> = part.iter().map(|v| v + 5).collect();
        assert_eq!(positions(&all, &part, 5), expected);
        assert_eq!(positions(&all, &all, 0), all);
        assert_eq!(positions(&all, &[1999], 0), vec![1999]);
        assert!(positions(&all, &[], 0).is_empty());
    }
}
