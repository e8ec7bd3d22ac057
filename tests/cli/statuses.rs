//! Rounding half away from zero and every status the default fulfilment rule gives, as the
//! JSON codes and as the workbook's words and symbols.

use crate::harness::{Case, UTB, default_rule};

const AVSLUTADE_ARBETE: &str = "Andel avslutade ärenden som avslutats till arbete";

#[test]
fn a_share_of_31_25_is_rounded_to_31_3() {
    // K only: 16 cases closed in 2019-T1, 5 to work → 5 / 16 = 31.25 % → 31.3 (half away
    // from zero; banker's rounding would give 31.2).
    let mut avslut = String::from("Datum;Stadsdel;Avslutsorsak\n");
    for i in 0..16 {
        let why = if i < 5 { "Arbete" } else { "Studier" };
        avslut += &format!("2019-0{}-1{};Kungsholmen;{why}\n", 1 + i % 4, i % 10);
    }
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-04;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv("avslut.csv", &avslut);
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    for d in [Some("Kungsholmen"), None] {
        let r = run.json().result("andel_avslutade_arbete", d).clone();
        assert_eq!(
            (r["value"].clone(), r["rounded"].clone()),
            (31.25.into(), 31.3.into()),
            "{r}"
        );
    }
    // The workbook shows the rounded figure as an Excel percentage: 31.3 % = 0.313.
    assert_eq!(
        run.whole().cell("Sammanfattning", AVSLUTADE_ARBETE, 'C'),
        "n:0.313"
    );
    assert_eq!(
        run.district("Kungsholmen")
            .cell("Sammanfattning", AVSLUTADE_ARBETE, 'C'),
        "n:0.313"
    );
    // Underlag keeps the unrounded value beside the rounded one.
    let underlag = run.whole().row("Underlag", AVSLUTADE_ARBETE);
    assert_eq!(&underlag[5..=8], ["n:0.3125", "n:0.313", "n:5", "n:16"]);
}

#[test]
fn a_status_is_judged_on_the_rounded_value() {
    // andel_barn, 2019 årsmål 1 (lower is better, 2 decimals, delvis up to 1.1), one month:
    // K: 251 households × 4 children = 1004 / 100 000 → 1.004 % → 1.00 ≤ 1 → helt
    //    (unrounded it would be delvis).
    // N: 201 households × 5 children = 1005 / 100 000 → 1.005 % → 1.01 (half away from
    //    zero) → delvis (banker's rounding, 1.00, would make it helt).
    let mut utb = format!("{UTB}\n");
    for i in 0..251 {
        utb += &format!("2019-01;Kungsholmen;K{i};1000;2;4;0;;\n");
    }
    for i in 0..201 {
        utb += &format!("2019-01;Norrmalm;N{i};1000;2;5;0;;\n");
    }
    let case = Case::new().csv("utb.csv", &utb).csv(
        "bef.csv",
        "Ar;Stadsdel;Folkmangd;Barn0_17\n2018;Kungsholmen;500000;100000\n2018;Norrmalm;500000;100000\n2018;Östermalm;500000;100000\n",
    );
    let run = case.run(&["run", "--period", "2019-01"]);
    run.expect_code(0);
    let j = run.json();
    assert_eq!(
        j.line("andel_barn", Some("Kungsholmen")),
        "andel_barn Kungsholmen: 1.004 1004 100000 1 helt"
    );
    assert_eq!(
        j.line("andel_barn", Some("Norrmalm")),
        "andel_barn Norrmalm: 1.005 1005 100000 1.01 delvis"
    );
}

/// Evictions in 2019-T1 giving K helt and ej, N ej and helt, the total delvis and ej (see
/// `indicators::evictions_averted_and_evictions_touching_children` for the arithmetic),
/// a rule pack whose `sommarjobb` throws, and 2019-05 data so that andel_langvarigt's
/// window starts before the data.
fn every_status() -> Case {
    let rows = [
        "2019-01-05;Kungsholmen;Ja;Ja",
        "2019-01-20;Kungsholmen;Nej;Ja",
        "2019-02-05;Kungsholmen;Nej;Ja",
        "2019-02-25;Kungsholmen;Ja;Ja",
        "2019-03-05;Kungsholmen;Nej;Ja",
        "2019-03-25;Kungsholmen;Nej;Ja",
        "2019-04-05;Kungsholmen;Ja;Nej",
        "2019-04-25;Kungsholmen;Nej;Nej",
        "2019-02-10;Norrmalm;Ja;Ja",
        "2019-03-10;Norrmalm;Nej;Nej",
    ];
    let rules = default_rule("berakning_manuella.rhai").replace(
        "fn sommarjobb(u) {\n    varde(u.manuellt())\n}",
        "fn sommarjobb(u) {\n    throw \"ingen siffra\";\n}",
    );
    assert!(rules.contains("ingen siffra"));
    Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-04;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv(
            "avhysningar.csv",
            &format!("Datum;Stadsdel;BarnBerorda;Avvarjd\n{}\n", rows.join("\n")),
        )
        .rule("berakning_manuella.rhai", &rules)
}

#[test]
fn every_status_in_the_json_and_the_workbooks() {
    let case = every_status();
    let run = case.run(&["run", "--period", "2019-T1"]);
    // The failing rule makes the run exit 1, with everything else written.
    run.expect_code(1);
    let j = run.json();
    let k = Some("Kungsholmen");
    let got: Vec<String> = [
        ("andel_avhysningar_avvarjda", k),    // 75 ≥ 75
        ("andel_avhysningar_avvarjda", None), // 70 ≥ 67.5
        ("vrakningar_barn", k),               // 1 > mål 0
        ("utbetalt", k),                      // no target
        ("andel_langvarigt", k),              // window before the data
        ("sommarjobb", k),                    // the rule throws
    ]
    .iter()
    .map(|(id, d)| j.status(id, *d))
    .collect();
    assert_eq!(
        got,
        ["helt", "delvis", "ej", "ingen_malsattning", "saknas", "fel"]
    );

    // Words and symbols. K's workbook judges K; the whole workbook's summary the total.
    let kw = run.district("Kungsholmen");
    let avvarjda = "Andel meddelanden om avhysning som kunnat avvärjas";
    let vrakningar = "Antal vräkningar som berör barn";
    let status = |wb: &crate::harness::Dump, name: &str| {
        let r = wb.row("Sammanfattning", name);
        format!("{} {}", r[7], r[8])
    };
    assert_eq!(status(&kw, avvarjda), "s:● s:Uppfylls helt");
    assert_eq!(status(&kw, vrakningar), "s:○ s:Uppfylls ej");
    assert_eq!(
        status(&kw, "Utbetalt ekonomiskt bistånd"),
        "s:– s:Ingen målsättning"
    );
    assert_eq!(
        status(
            &kw,
            "Andel vuxna med långvarigt ekonomiskt bistånd jämfört med samtliga vuxna invånare"
        ),
        "s:.. s:Saknas"
    );
    assert_eq!(
        status(&kw, "Antal ungdomar som fått sommarjobb"),
        "s:✖ s:Fel"
    );
    let whole = run.whole();
    assert_eq!(status(&whole, avvarjda), "s:◐ s:Uppfylls delvis");
    // Per stadsdel: K helt, N ej, Ö (no notices: 0 ÷ 0) saknas, total delvis.
    let per = whole.row("Per stadsdel", avvarjda);
    assert_eq!(
        per[2..].to_vec(),
        [
            "n:0.75", "s:●", "n:0.5", "s:○", "s:saknas", "s:..", "n:0.7", "s:◐"
        ]
    );
}
