//! Data protection: no household id, person id or personnummer from the inputs ever appears
//! in stderr, the JSON or a workbook — not even when the row holding it is rejected.

use crate::harness::{Case, UTB};

const SECRETS: &[&str] = &[
    "HH-SECRET-0001",
    "HH-SECRET-0002",
    "HH-SECRET-0003",
    "19800101-1234",
    "198001011234",
    "800101-1234",
    "19750505-4321",
    "PERS-SECRET-9",
    "AH-SECRET-77",
];

#[test]
fn no_id_from_the_inputs_appears_in_any_output() {
    let case = Case::new()
        .csv(
            "utb_2019-01.csv",
            &format!(
                "{UTB}\n\
                 2019-01;Kungsholmen;HH-SECRET-0001;1000;1;0;0;;\n\
                 2019-01;Kungsholmen;19800101-1234;900;1;0;0;;\n\
                 2019-01;Kungsholmen;HH-SECRET-0002;nio hundra;1;0;0;;\n\
                 2019-01;Grönköping;HH-SECRET-0003;500;1;0;0;;\n\
                 2019-01;Norrmalm;198001011234;800;1;0;0;;\n\
                 2019-01;Norrmalm;H9;19750505-4321;1;0;0;;\n\
                 2019-01;800101-1234;H8;100;1;0;0;;\n"
            ),
        )
        .xlsx(
            "insatser.xlsx",
            &[
                &["PersonID", "Stadsdel", "Insats", "Startdatum", "Slutdatum", "Resultat"],
                &["19750505-4321", "Kungsholmen", "Arbetslivsinriktad rehabilitering", "#date 2018-05-01", "", ""],
                &["PERS-SECRET-9", "Kungsholmen", "Arbetslivsinriktad rehabilitering", "igår", "", ""],
            ],
        )
        .csv(
            "avhysningar.csv",
            "Datum;Stadsdel;ArendeID;BarnBerorda;Avvarjd\n2019-01-10;Kungsholmen;AH-SECRET-77;Ja;kanske\n2019-01-11;Norrmalm;AH-SECRET-77;Ja;Ja\n",
        );
    let run = case.run(&["run", "--period", "2019-01"]);
    // Rows rejected: a text amount, an unknown district, a personnummer shifted into Belopp
    // and into Stadsdel, a text date and a bad yes/no.
    run.expect_code(1);
    assert!(
        run.json().0["diagnostics"]["rejected_rows"]
            .as_u64()
            .unwrap()
            >= 6,
        "{}",
        run.stderr
    );
    let check = case.run(&["check"]);
    let mut all = format!("{}\n{}\n{}", run.everything(), check.stderr, check.stdout);
    // explain lists files, months and figures, never an id.
    for (id, district) in [
        ("hushall_unika", "Kungsholmen"),
        ("vrakningar_barn", "Totalt"),
    ] {
        let explain = case.run(&["explain", id, "--district", district, "--period", "2019-01"]);
        all.push_str(&explain.stdout);
        all.push_str(&explain.stderr);
    }
    for s in SECRETS {
        assert!(!all.contains(s), "{s} leaked:\n{}", run.stderr);
    }
}
