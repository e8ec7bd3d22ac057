//! The Sammanfattning and Underlag sheets of a small fixed run, dumped cell by cell and
//! compared with `tests/golden/`. `UPDATE_GOLDEN=1 cargo test --test cli golden` rewrites
//! the files; review the diff before committing.

use std::path::Path;

use crate::harness::{CRATE, Case, UTB, befolkning};

pub fn golden(name: &str, actual: &str) {
    let path = Path::new(CRATE).join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing; run with UPDATE_GOLDEN=1", path.display()));
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .filter(|(a, b)| a != b)
            .take(20)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!(
            "{} differs (UPDATE_GOLDEN=1 to accept); {} vs {} lines, first differences:\n{}",
            path.display(),
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn golden_summary_and_underlag() {
    let mut utb = format!("{UTB}\n");
    for (m, k, n) in [(1, 1200, 800), (2, 1200, 0), (3, 1300, 850), (4, 1300, 850)] {
        utb += &format!("2019-{m:02};Kungsholmen;H1;{k};2;1;1;Arbetslöshet;Ja\n");
        utb += &format!("2018-{m:02};Kungsholmen;H1;{k};2;1;1;Arbetslöshet;Ja\n");
        if n > 0 {
            utb += &format!("2019-{m:02};Norrmalm;H2;{n};1;0;0;Arbetslöshet;Nej\n");
        }
    }
    let case = Case::new()
        .csv("utb.csv", &utb)
        .csv(
            "befolkning.csv",
            &befolkning(
                2018,
                &[
                    ("Kungsholmen", 1000, 200, 100, 800),
                    ("Norrmalm", 2000, 300, 200, 1700),
                    ("Östermalm", 1500, 250, 150, 1250),
                ],
            ),
        )
        .csv(
            "avslut.csv",
            "Datum;Stadsdel;Avslutsorsak\n2019-02-01;Kungsholmen;Arbete\n2019-03-01;Norrmalm;Flytt\n2019-04-01;Norrmalm;Arbete\n",
        )
        .csv(
            "manuella.csv",
            "Indikator;Period;Stadsdel;Utfall;Kommentar\nsjukfranvaro;2019-T1;;6,2;Influensa i mars\nsommarjobb;2019-T1;Kungsholmen;40;\n",
        );
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    let wb = run.whole();
    golden("sammanfattning_2019-T1.txt", &wb.sheet("Sammanfattning"));
    golden("underlag_2019-T1.txt", &wb.sheet("Underlag"));
}
