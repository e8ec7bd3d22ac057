//! Ingest, schemas: the standard datasets of SPEC §2 and header classification.
//! Takes the header rows of a sheet or CSV file (as text) and gives the dataset they belong to
//! and where each of its columns sits, matching names the way a controller would expect.

use std::sync::Arc;

use crate::model::{ColumnKind, ColumnSpec, DatasetSpec};

/// How many non-empty rows at the top of a sheet are searched for the header row.
pub const HEADER_SEARCH_ROWS: usize = 10;

fn col(name: &str, aliases: &[&str], kind: ColumnKind, required: bool) -> ColumnSpec {
    ColumnSpec {
        name: name.to_string(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        kind,
        required,
    }
}

const DISTRICT: &[&str] = &["Stadsdelsområde", "SDF", "Distrikt", "Kommun"];
/// The ledger and the budget name the district by its responsibility code too.
const LEDGER_DISTRICT: &[&str] = &["Ansvar", "Stadsdelsområde", "SDF", "Distrikt", "Kommun"];
const HOUSEHOLD: &[&str] = &["Hushåll", "Ärende"];

fn dataset(name: &str, replace_by: Option<&str>, columns: Vec<ColumnSpec>) -> DatasetSpec {
    DatasetSpec {
        name: name.to_string(),
        columns,
        replace_by: replace_by.map(str::to_string),
    }
}

/// The eight datasets of SPEC §2, canonical names and aliases as the SPEC writes them.
pub fn standard_datasets() -> Vec<DatasetSpec> {
    use ColumnKind::*;
    vec![
        dataset(
            "utbetalningar",
            Some("Period"),
            vec![
                col("Period", &["Månad", "Utbetalningsmånad"], Month, true),
                col("Stadsdel", DISTRICT, Text, true),
                col("HushallsID", HOUSEHOLD, Id, true),
                col("Belopp", &["Utbetalt"], Number, true),
                col("AntalVuxna", &[], Integer, false),
                col("AntalBarn", &[], Integer, false),
                col("AntalUnga18_24", &[], Integer, false),
                col("Forsorjningshinder", &["Orsak"], Text, false),
                col("AktuellJobbtorg", &["Jobbtorg"], YesNo, false),
            ],
        ),
        dataset(
            "befolkning",
            Some("Ar"),
            vec![
                col("Ar", &["År"], Integer, true),
                col("Stadsdel", DISTRICT, Text, true),
                col("Folkmangd", &["Invånare"], Number, true),
                col("Barn0_17", &[], Number, false),
                col("Unga18_24", &[], Number, false),
                col("Vuxna18plus", &["Vuxna 18+"], Number, false),
            ],
        ),
        dataset(
            "avslut",
            Some("Datum"),
            vec![
                col("Datum", &["Avslutsdatum"], Date, true),
                col("Stadsdel", DISTRICT, Text, true),
                col("HushallsID", HOUSEHOLD, Id, false),
                col("Avslutsorsak", &[], Text, true),
            ],
        ),
        dataset(
            "insatser",
            None,
            vec![
                col("PersonID", &[], Id, true),
                col("Stadsdel", DISTRICT, Text, false),
                col("Insats", &[], Text, true),
                col("Startdatum", &[], Date, true),
                col("Slutdatum", &[], Date, false),
                col("Resultat", &[], Text, false),
            ],
        ),
        dataset(
            "avhysningar",
            Some("Datum"),
            vec![
                col("Datum", &[], Date, true),
                col("Stadsdel", DISTRICT, Text, true),
                col("ArendeID", &[], Id, false),
                col("BarnBerorda", &[], YesNo, false),
                col("Avvarjd", &[], YesNo, true),
            ],
        ),
        dataset(
            "huvudbok",
            Some("Period"),
            vec![
                col("Period", &["Månad"], Month, true),
                col("Stadsdel", LEDGER_DISTRICT, Text, false),
                col("Verksamhet", &[], Text, false),
                col("Konto", &[], Integer, true),
                col("Belopp", &[], Number, true),
            ],
        ),
        dataset(
            "budget",
            Some("Ar"),
            vec![
                col("Ar", &["År"], Integer, true),
                col("Stadsdel", LEDGER_DISTRICT, Text, false),
                col("Verksamhet", &[], Text, false),
                col("Konto", &[], Integer, true),
                col("Belopp", &[], Number, true),
            ],
        ),
        dataset(
            "manuella_utfall",
            None,
            vec![
                col("Indikator", &[], Text, true),
                col("Period", &[], Text, true),
                col("Stadsdel", DISTRICT, Text, false),
                col("Utfall", &[], Number, true),
                col("Kommentar", &[], Text, false),
            ],
        ),
    ]
}

/// A required column whose value a row may still leave empty: `manuella_utfall` needs the
/// `Utfall` header, but a row may carry only a `Kommentar` (then one of the two must be there).
/// `ColumnSpec` has a single `required` flag, so this exception lives here.
pub fn may_be_empty_with_comment(dataset: &DatasetSpec, column: &str) -> bool {
    dataset.name == "manuella_utfall" && column == "Utfall"
}

/// Normalises a header text for matching: trimmed, lower case, Swedish (and other common
/// Latin) diacritics stripped, spaces, `_` and `-` removed. `Hushålls-ID` → `hushallsid`.
pub fn norm(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars().flat_map(char::to_lowercase) {
        let mapped = match c {
            'å' | 'ä' | 'à' | 'á' | 'â' | 'ã' => 'a',
            'ö' | 'ò' | 'ó' | 'ô' | 'õ' => 'o',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'ü' | 'ú' | 'ù' | 'û' => 'u',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ç' => 'c',
            'ñ' => 'n',
            'ý' | 'ÿ' => 'y',
            // combining marks of decomposed text (a + U+0308)
            '\u{0300}'..='\u{036f}' => continue,
            '_' | '-' | '\u{2010}' | '\u{2011}' | '\u{2013}' => continue,
            c if c.is_whitespace() => continue,
            c => c,
        };
        out.push(mapped);
    }
    out
}

/// Where each column of a dataset sits in the source (0-based source column), `None` when
/// the header lacks it.
#[derive(Clone, Debug)]
pub struct ColumnMap {
    pub dataset: usize,
    pub source: Vec<Option<u32>>,
}

impl ColumnMap {
    pub fn matched(&self) -> usize {
        self.source.iter().filter(|s| s.is_some()).count()
    }
}

/// Normalised names of every dataset's columns, built once per run.
pub struct Matcher {
    /// Per dataset, per column: the normalised canonical name and aliases.
    names: Vec<Vec<Vec<String>>>,
    required: Vec<Vec<bool>>,
}

impl Matcher {
    pub fn new(datasets: &[Arc<DatasetSpec>]) -> Matcher {
        let names = datasets
            .iter()
            .map(|d| {
                d.columns
                    .iter()
                    .map(|c| {
                        std::iter::once(&c.name)
                            .chain(c.aliases.iter())
                            .map(|n| norm(n))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let required = datasets
            .iter()
            .map(|d| d.columns.iter().map(|c| c.required).collect())
            .collect();
        Matcher { names, required }
    }

    /// Classifies one candidate header row, given as (source column, cell text). The dataset
    /// whose required columns are all present wins; among several, the one with most matched
    /// columns, then the first listed.
    pub fn classify(&self, header: &[(u32, &str)]) -> Option<ColumnMap> {
        let normed: Vec<(u32, String)> = header
            .iter()
            .map(|(c, t)| (*c, norm(t)))
            .filter(|(_, t)| !t.is_empty())
            .collect();
        if normed.is_empty() {
            return None;
        }
        let mut best: Option<ColumnMap> = None;
        for (d, columns) in self.names.iter().enumerate() {
            let source: Vec<Option<u32>> = columns
                .iter()
                .map(|names| {
                    normed
                        .iter()
                        .find(|(_, t)| names.iter().any(|n| n == t))
                        .map(|(c, _)| *c)
                })
                .collect();
            let complete = source
                .iter()
                .zip(&self.required[d])
                .all(|(s, req)| s.is_some() || !req);
            if !complete {
                continue;
            }
            let candidate = ColumnMap { dataset: d, source };
            if best
                .as_ref()
                .is_none_or(|b| candidate.matched() > b.matched())
            {
                best = Some(candidate);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher() -> (Vec<Arc<DatasetSpec>>, Matcher) {
        let ds: Vec<Arc<DatasetSpec>> = standard_datasets().into_iter().map(Arc::new).collect();
        let m = Matcher::new(&ds);
        (ds, m)
    }

    fn classify_names(names: &[&str]) -> Option<(String, ColumnMap)> {
        let (ds, m) = matcher();
        let header: Vec<(u32, &str)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32, *n))
            .collect();
        m.classify(&header).map(|c| (ds[c.dataset].name.clone(), c))
    }

    #[test]
    fn header_names_normalise() {
        assert_eq!(norm(" Hushålls-ID "), "hushallsid");
        assert_eq!(norm("hushalls_id"), "hushallsid");
        assert_eq!(norm("HushallsID"), "hushallsid");
        assert_eq!(norm("Vuxna 18+"), "vuxna18+");
        assert_eq!(norm("Ar"), norm("År"));
        assert_eq!(norm("Fo\u{0308}rsörjningshinder"), "forsorjningshinder");
    }

    #[test]
    fn utbetalningar_with_aliases_and_spellings() {
        for hid in [
            "Hushålls-ID",
            "hushalls_id",
            "HushallsID",
            "Hushåll",
            "ärende",
        ] {
            let (name, map) =
                classify_names(&["Månad", "SDF", hid, "Utbetalt", "Antal vuxna", "Okänd"]).unwrap();
            assert_eq!(name, "utbetalningar");
            assert_eq!(map.source[2], Some(2));
            assert_eq!(map.source[4], Some(4), "AntalVuxna");
        }
    }

    #[test]
    fn utfall_is_not_an_alias_of_belopp() {
        assert!(classify_names(&["Period", "Stadsdel", "HushallsID", "Utfall"]).is_none());
        let (name, _) = classify_names(&["Indikator", "Period", "Utfall", "Kommentar"]).unwrap();
        assert_eq!(name, "manuella_utfall");
    }

    #[test]
    fn ledger_and_budget_are_told_apart() {
        let (name, map) =
            classify_names(&["Period", "Ansvar", "Verksamhet", "Konto", "Belopp"]).unwrap();
        assert_eq!(name, "huvudbok");
        assert_eq!(map.source[1], Some(1));
        let (name, _) = classify_names(&["År", "Stadsdel", "Konto", "Belopp"]).unwrap();
        assert_eq!(name, "budget");
        let (name, _) = classify_names(&["År", "Stadsdel", "Invånare", "Vuxna 18+"]).unwrap();
        assert_eq!(name, "befolkning");
    }

    #[test]
    fn a_title_row_is_not_a_header() {
        assert!(classify_names(&["Utbetalningar mars 2019"]).is_none());
        assert!(classify_names(&[]).is_none());
    }
}
