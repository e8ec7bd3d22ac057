//! Every indicator of the default rule pack on small hand-computed fixtures, for a district
//! and for the total (the union of the districts, never an average of their shares).

use crate::harness::{Case, UTB, befolkning};

/// Payments January–April 2019 (2019-T1, 4 months):
///
/// | hh | district | Jan | Feb | Mar | Apr | vuxna/barn/unga |
/// |----|----------|-----|-----|-----|-----|-----------------|
/// | H1 | K | 1000 | 600 + 400 (two rows: 1/1/0 and 1/2/0 → largest 1/2/0) | 1000 | 1000 | 1/2/0 |
/// | H2 | K | 2000 | 2000 − 2000 (nets to 0: not active, amounts still paid) | – | – | 2/0/1 |
/// | H3 | K → N | 500 (K) | 500 (K) | 500 (N) | 500 (N) | K 1/0/1, N 2/1/1 |
/// | H4 | N | – | – | 300 | −100 (lone återkrav: not active) | 1/0/0 |
/// | H5 | K | – | – | – | 600 | 1/0/0 |
///
/// Population 2018: K 1000 / barn 400 / unga 300, N 2000 / 500 / 250, Ö 1000 / 100 / 450.
fn payments() -> Case {
    let rows = [
        "2019-01;Kungsholmen;H1;1000;1;2;0;;",
        "2019-02;Kungsholmen;H1;600;1;1;0;;",
        "2019-02;Kungsholmen;H1;400;1;2;0;;",
        "2019-03;Kungsholmen;H1;1000;1;2;0;;",
        "2019-04;Kungsholmen;H1;1000;1;2;0;;",
        "2019-01;Kungsholmen;H2;2000;2;0;1;;",
        "2019-02;Kungsholmen;H2;2000;2;0;1;;",
        "2019-02;Kungsholmen;H2;-2000;2;0;1;;",
        "2019-01;Kungsholmen;H3;500;1;0;1;;",
        "2019-02;Kungsholmen;H3;500;1;0;1;;",
        "2019-03;Norrmalm;H3;500;2;1;1;;",
        "2019-04;Norrmalm;H3;500;2;1;1;;",
        "2019-03;Norrmalm;H4;300;1;0;0;;",
        "2019-04;Norrmalm;H4;-100;1;0;0;;",
        "2019-04;Kungsholmen;H5;600;1;0;0;;",
    ];
    Case::new()
        .csv(
            "utbetalningar.csv",
            &format!("{UTB}\n{}\n", rows.join("\n")),
        )
        .csv(
            "befolkning.csv",
            &befolkning(
                2018,
                &[
                    ("Kungsholmen", 1000, 400, 300, 800),
                    ("Norrmalm", 2000, 500, 250, 1600),
                    ("Östermalm", 1000, 100, 450, 800),
                ],
            ),
        )
}

#[test]
fn household_counts_amounts_and_population_shares() {
    let case = payments();
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    let j = run.json();
    let k = Some("Kungsholmen");
    let n = Some("Norrmalm");
    // Lines read: id district: value numerator denominator rounded status.
    let lines: Vec<String> = [
        // Active per month, K: Jan H1 H2 H3 = 3, Feb H1 H3 = 2 (H2 nets to 0), Mar H1 = 1,
        // Apr H1 H5 = 2 → 8 household-months; 8 / 4 = 2.
        ("hushall_snitt", k),
        // N: Mar H3 H4, Apr H3 (H4 −100 not active) → 3; 3 / 4 = 0.75 → 1.
        ("hushall_snitt", n),
        // Total: Jan 3, Feb 2, Mar H1 H3 H4 = 3, Apr H1 H3 H5 = 3 → 11; 11 / 4 = 2.75 → 3.
        // (Not K + N's average: the total counts H3 once a month.)
        ("hushall_snitt", None),
        ("hushall_unika", k),     // H1 H2 H3 H5 = 4
        ("hushall_unika", n),     // H3 H4 = 2
        ("hushall_unika", None),  // H1..H5 = 5: H3 once, not 6
        ("bidragsmanader", k),    // 8
        ("bidragsmanader", n),    // 3
        ("bidragsmanader", None), // 11
        // K: H1 4000 + H2 (2000 + 2000 − 2000) + H3 1000 + H5 600 = 7600
        ("utbetalt", k),
        // N: H3 1000 + H4 (300 − 100) = 1200
        ("utbetalt", n),
        ("utbetalt", None),    // 8800
        ("medelbidrag", k),    // 7600 / 8 = 950
        ("medelbidrag", n),    // 1200 / 3 = 400
        ("medelbidrag", None), // 8800 / 11 = 800
        ("bidragstid", k),     // 8 / 4 = 2
        ("bidragstid", n),     // 3 / 2 = 1.5
        ("bidragstid", None),  // 11 / 5 = 2.2
        // Persons (vuxna + barn) in active households, K: Jan 3+2+1 = 6, Feb 3+1 = 4 (H1's
        // largest row), Mar 3, Apr 3+1 = 4 → 17; 17 / 4 = 4.25 per month; / 1000 → 0.425 %
        // → 0.43 (half away from zero).
        ("andel_befolkning", k),
        // N: Mar 3+1, Apr 3 → 7 / 4 = 1.75; / 2000 → 0.0875 % → 0.09.
        ("andel_befolkning", n),
        // Total: Jan 6, Feb 4, Mar 3+3+1 = 7, Apr 3+3+1 = 7 → 24 / 4 = 6;
        // / (1000 + 2000 + 1000) → 0.15 %.
        ("andel_befolkning", None),
        // Largest persons per distinct household, K: H1 3, H2 2, H3 1, H5 1 = 7 / 1000 → 0.7 %.
        ("andel_befolkning_ar", k),
        // N: H3 3, H4 1 = 4 / 2000 → 0.2 %.
        ("andel_befolkning_ar", n),
        // Total: H1 3, H2 2, H3 max(1, 3) = 3, H4 1, H5 1 = 10 / 4000 → 0.25 %.
        ("andel_befolkning_ar", None),
        // Barn, K: 2 a month (H1) → 8 / 4 = 2; / 400 → 0.5 %.
        ("andel_barn", k),
        // N: Mar 1, Apr 1 → 2 / 4 = 0.5; / 500 → 0.1 %.
        ("andel_barn", n),
        // Total: 2 + 2 + 3 + 3 = 10 / 4 = 2.5; / (400 + 500 + 100) → 0.25 %.
        ("andel_barn", None),
        // Unga, K: Jan H2 + H3 = 2, Feb H3 = 1 → 3 / 4 = 0.75; / 300 → 0.25 %.
        ("andel_unga", k),
        // N: Mar 1, Apr 1 → 0.5; / 250 → 0.2 %.
        ("andel_unga", n),
        // Total: 2 + 1 + 1 + 1 = 5 / 4 = 1.25; / (300 + 250 + 450) → 0.125 % → 0.13.
        ("andel_unga", None),
    ]
    .iter()
    .map(|(id, d)| j.line(id, *d))
    .collect();
    let expected = "\
hushall_snitt Kungsholmen: 2 8 4 2 saknas
hushall_snitt Norrmalm: 0.75 3 4 1 saknas
hushall_snitt Totalt: 2.75 11 4 3 saknas
hushall_unika Kungsholmen: 4 4 null 4 ingen_malsattning
hushall_unika Norrmalm: 2 2 null 2 ingen_malsattning
hushall_unika Totalt: 5 5 null 5 ingen_malsattning
bidragsmanader Kungsholmen: 8 8 null 8 ingen_malsattning
bidragsmanader Norrmalm: 3 3 null 3 ingen_malsattning
bidragsmanader Totalt: 11 11 null 11 ingen_malsattning
utbetalt Kungsholmen: 7600 7600 null 7600 ingen_malsattning
utbetalt Norrmalm: 1200 1200 null 1200 ingen_malsattning
utbetalt Totalt: 8800 8800 null 8800 ingen_malsattning
medelbidrag Kungsholmen: 950 7600 8 950 ingen_malsattning
medelbidrag Norrmalm: 400 1200 3 400 ingen_malsattning
medelbidrag Totalt: 800 8800 11 800 ingen_malsattning
bidragstid Kungsholmen: 2 8 4 2 ingen_malsattning
bidragstid Norrmalm: 1.5 3 2 1.5 ingen_malsattning
bidragstid Totalt: 2.2 11 5 2.2 ingen_malsattning
andel_befolkning Kungsholmen: 0.425 4.25 1000 0.43 helt
andel_befolkning Norrmalm: 0.0875 1.75 2000 0.09 helt
andel_befolkning Totalt: 0.15 6 4000 0.15 helt
andel_befolkning_ar Kungsholmen: 0.7 7 1000 0.7 ingen_malsattning
andel_befolkning_ar Norrmalm: 0.2 4 2000 0.2 ingen_malsattning
andel_befolkning_ar Totalt: 0.25 10 4000 0.25 ingen_malsattning
andel_barn Kungsholmen: 0.5 2 400 0.5 helt
andel_barn Norrmalm: 0.1 0.5 500 0.1 helt
andel_barn Totalt: 0.25 2.5 1000 0.25 helt
andel_unga Kungsholmen: 0.25 0.75 300 0.25 ingen_malsattning
andel_unga Norrmalm: 0.2 0.5 250 0.2 ingen_malsattning
andel_unga Totalt: 0.125 1.25 1000 0.13 ingen_malsattning";
    assert_eq!(lines.join("\n"), expected);
}

/// `lines` of a run's JSON for `ids` × (Kungsholmen, Norrmalm, total).
fn lines(run: &crate::harness::Run, ids: &[&str]) -> String {
    let j = run.json();
    let mut out = Vec::new();
    for id in ids {
        for d in [Some("Kungsholmen"), Some("Norrmalm"), None] {
            out.push(j.line(id, d));
        }
    }
    out.join("\n")
}

/// Twelve months of 2019 for `hh` in `district`, `active` months (1-based) paying 1000
/// with `vuxna` adults.
fn months(hh: &str, district: &str, active: std::ops::RangeInclusive<u32>, vuxna: u32) -> String {
    active
        .map(|m| format!("2019-{m:02};{district};{hh};1000;{vuxna};0;0;;\n"))
        .collect()
}

/// Households active 9, 10 and 12 months, one moving between districts, for 2019:
/// - L9 (K) Jan–Sep, 2 adults: 9 months, not long-term.
/// - L10 (K) Jan–Oct, 1 adult but 2 in May; in November +500 −500 with 3 adults (not
///   active, so its 3 adults do not count): exactly 10 months, largest adults 2.
/// - L12 (K) all year, 1 adult.
/// - M Jan–Jun in K, Jul–Dec in N, 1 adult: 6 months in each district, 12 in the total.
/// - N10 (N) Mar–Dec, 1 adult: exactly 10 months.
///
/// Vuxna18plus: K 1000, N 500, Ö 500.
fn long_term() -> Case {
    let mut utb = format!("{UTB}\n");
    utb += &months("L9", "Kungsholmen", 1..=9, 2);
    utb += &months("L10", "Kungsholmen", 1..=4, 1);
    utb += &months("L10", "Kungsholmen", 5..=5, 2);
    utb += &months("L10", "Kungsholmen", 6..=10, 1);
    utb += "2019-11;Kungsholmen;L10;500;3;0;0;;\n2019-11;Kungsholmen;L10;-500;3;0;0;;\n";
    utb += &months("L12", "Kungsholmen", 1..=12, 1);
    utb += &months("M", "Kungsholmen", 1..=6, 1);
    utb += &months("M", "Norrmalm", 7..=12, 1);
    utb += &months("N10", "Norrmalm", 3..=12, 1);
    Case::new().csv("utb_2019.csv", &utb).csv(
        "befolkning.csv",
        &befolkning(
            2018,
            &[
                ("Kungsholmen", 5000, 1000, 500, 1000),
                ("Norrmalm", 2500, 500, 250, 500),
                ("Östermalm", 2500, 500, 250, 500),
            ],
        ),
    )
}

#[test]
fn long_term_counts_households_active_ten_of_twelve_months() {
    let case = long_term();
    let run = case.run(&["run", "--period", "2019"]);
    run.expect_code(0);
    // K: L10 (largest adults in active months 2) + L12 (1) = 3; L9 has only 9 months and M
    //    only 6 in K → 3 / 1000 → 0.3 %.
    // N: N10 1 (M has 6 months in N) → 1 / 500 → 0.2 %.
    // Total: L10 2 + L12 1 + M 1 (12 months across the two) + N10 1 = 5 / 2000 → 0.25 %.
    // 2019 årsmål 0.57, lower is better → helt.
    assert_eq!(
        lines(&run, &["andel_langvarigt"]),
        "\
andel_langvarigt Kungsholmen: 0.3 3 1000 0.3 helt
andel_langvarigt Norrmalm: 0.2 1 500 0.2 helt
andel_langvarigt Totalt: 0.25 5 2000 0.25 helt"
    );
}

#[test]
fn long_term_window_reaching_before_the_data_is_missing_not_zero() {
    let case = long_term();
    // 2019-05: the window is 2018-06..2019-05, the data starts in 2019-01.
    let run = case.run(&["run", "--period", "2019-05"]);
    run.expect_code(0);
    let j = run.json();
    for d in [Some("Kungsholmen"), Some("Norrmalm"), None] {
        let r = j.result("andel_langvarigt", d);
        assert!(r["value"].is_null(), "{r}");
        assert!(r["rounded"].is_null(), "{r}");
        assert_eq!(r["status"], "saknas", "{r}");
    }
    // The workbook says so too, never 0.
    let wb = run.whole();
    let name = "Andel vuxna med långvarigt ekonomiskt bistånd jämfört med samtliga vuxna invånare";
    assert_eq!(wb.cell("Sammanfattning", name, 'C'), "s:saknas");
}

#[test]
fn long_term_window_rolls_across_the_year_for_a_month_report() {
    // R (K) is active 2018-06..2019-03: 7 + 3 = 10 of the 12 months 2018-06..2019-05, though
    // only 3 of them lie in 2019. S (K) 2018-08..2019-05: 5 + 5 = 10 as well.
    // T (K) 2018-06..2018-12 and 2019-05: 8 months, not long-term.
    let mut utb = format!("{UTB}\n");
    for m in 6..=12 {
        utb += &format!("2018-{m:02};Kungsholmen;R;900;1;0;0;;\n");
        utb += &format!("2018-{m:02};Kungsholmen;T;900;1;0;0;;\n");
    }
    for m in 8..=12 {
        utb += &format!("2018-{m:02};Kungsholmen;S;900;2;0;0;;\n");
    }
    for m in 1..=3 {
        utb += &format!("2019-{m:02};Kungsholmen;R;900;1;0;0;;\n");
    }
    for m in 1..=5 {
        utb += &format!("2019-{m:02};Kungsholmen;S;900;2;0;0;;\n");
    }
    utb += "2019-05;Kungsholmen;T;900;1;0;0;;\n";
    let case = Case::new().csv("utb.csv", &utb).csv(
        "befolkning.csv",
        &befolkning(2018, &[("Kungsholmen", 5000, 1000, 500, 1000)]),
    );
    let run = case.run(&["run", "--period", "2019-05"]);
    // Norrmalm and Östermalm have no population: a warning, not an error.
    run.expect_code(0);
    // K: R 1 + S 2 = 3 adults / 1000 → 0.3 %.
    assert_eq!(
        run.json().line("andel_langvarigt", Some("Kungsholmen")),
        "andel_langvarigt Kungsholmen: 0.3 3 1000 0.3 helt"
    );
}

#[test]
fn jobbtorg_is_a_snapshot_of_the_last_month() {
    // 2019-T1, last month April. In April:
    //   K: J1 unemployed, Jobbtorg "ja"                    → yes
    //      J2 unemployed, "Nej" (but "Ja" in January)      → no
    //      J3 two rows, unemployed "Nej" and "x"           → yes (any row says so)
    //      J4 Sjukdom, "Ja"                                → not unemployed
    //      J5 unemployed, "Ja", 800 − 800                  → not active
    //      J6 unemployed, "N"                              → no
    //      J7 only in January, unemployed "Ja"             → not in the snapshot
    //   → 2 / 4 = 50 %.
    //   N: N1 unemployed, "J" → 1 / 1 = 100 %.
    //   Ö: only in January → 0 / 0: no value.
    //   Total: 3 / 5 = 60 % (not the mean of 50 and 100).
    let rows = [
        "2019-01;Kungsholmen;J2;1000;1;0;0;Arbetslöshet;Ja",
        "2019-01;Kungsholmen;J7;1000;1;0;0;Arbetslöshet;Ja",
        "2019-01;Östermalm;Ö1;1000;1;0;0;Arbetslöshet;Ja",
        "2019-04;Kungsholmen;J1;1000;1;0;0;Arbetslöshet;ja",
        "2019-04;Kungsholmen;J2;1000;1;0;0;Arbetslöshet;Nej",
        "2019-04;Kungsholmen;J3;500;1;0;0;Arbetslöshet;Nej",
        "2019-04;Kungsholmen;J3;500;1;0;0;Arbetslöshet;x",
        "2019-04;Kungsholmen;J4;1000;1;0;0;Sjukdom;Ja",
        "2019-04;Kungsholmen;J5;800;1;0;0;Arbetslöshet;Ja",
        "2019-04;Kungsholmen;J5;-800;1;0;0;Arbetslöshet;Ja",
        "2019-04;Kungsholmen;J6;1000;1;0;0;Arbetslöshet;N",
        "2019-04;Norrmalm;N1;700;1;0;0;Arbetslöshet;J",
    ];
    let case = Case::new().csv("utb.csv", &format!("{UTB}\n{}\n", rows.join("\n")));
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    let j = run.json();
    assert_eq!(
        lines(&run, &["andel_jobbtorg"]),
        "\
andel_jobbtorg Kungsholmen: 50 2 4 50 ingen_malsattning
andel_jobbtorg Norrmalm: 100 1 1 100 ingen_malsattning
andel_jobbtorg Totalt: 60 3 5 60 ingen_malsattning"
    );
    let o = j.result("andel_jobbtorg", Some("Östermalm"));
    assert!(o["value"].is_null(), "0 ÷ 0 has no value: {o}");
    assert_ne!(o["status"], "helt");
}

#[test]
fn closed_cases_and_the_share_closed_to_work() {
    // 2019-T1. K: 16 cases closed Jan–Apr, 5 of them to work (one spelled "arbete"); one
    // closed to work on 2019-05-02 and one on 2018-12-31 lie outside the period.
    // N: 4 closed, 1 to work.
    // K 5 / 16 = 31.25 % → 31.3; N 1 / 4 = 25 %; total 6 / 20 = 30 %.
    let mut avslut = String::from("Avslutsdatum;Stadsdel;HushallsID;Avslutsorsak\n");
    let k = [
        ("2019-01-03", "Arbete"),
        ("2019-01-17", "Studier"),
        ("2019-01-31", "Flytt"),
        ("2019-02-01", "Arbete"),
        ("2019-02-14", "Annat"),
        ("2019-02-28", "Studier"),
        ("2019-03-01", "arbete"),
        ("2019-03-09", "Flytt"),
        ("2019-03-15", "Annat"),
        ("2019-03-31", "Studier"),
        ("2019-04-01", "Arbete"),
        ("2019-04-10", "Annat"),
        ("2019-04-11", "Flytt"),
        ("2019-04-20", "Studier"),
        ("2019-04-29", "Arbete"),
        ("2019-04-30", "Annat"),
        ("2019-05-02", "Arbete"),
        ("2018-12-31", "Arbete"),
    ];
    for (i, (date, why)) in k.iter().enumerate() {
        avslut += &format!("{date};Kungsholmen;A{i};{why}\n");
    }
    for (i, why) in ["Arbete", "Flytt", "Studier", "Annat"].iter().enumerate() {
        avslut += &format!("2019-02-1{i};Norrmalm;B{i};{why}\n");
    }
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-04;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv("avslut.csv", &avslut);
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    assert_eq!(
        lines(&run, &["avslutade", "andel_avslutade_arbete"]),
        "\
avslutade Kungsholmen: 16 16 null 16 ingen_malsattning
avslutade Norrmalm: 4 4 null 4 ingen_malsattning
avslutade Totalt: 20 20 null 20 ingen_malsattning
andel_avslutade_arbete Kungsholmen: 31.25 5 16 31.3 ingen_malsattning
andel_avslutade_arbete Norrmalm: 25 1 4 25 ingen_malsattning
andel_avslutade_arbete Totalt: 30 6 20 30 ingen_malsattning"
    );
}

#[test]
fn rehabilitation_to_own_or_other_support() {
    // 2019-T1 ends 2019-04-30. Insats "Arbetslivsinriktad rehabilitering" only.
    // K: P1 ended 2019-02-15 Egen försörjning ✓; P2 ended 2019-03-20 Annan försörjning ✓;
    //    P3 ended 2019-04-30 (the last day) Fortsatt bistånd; P4 ongoing (no end);
    //    P5 ends 2019-06-30 → ongoing at the period's end; P6 ended in 2018 → out;
    //    P7 starts 2019-05-10 → out; P8 is Jobbtorg → out.
    //    → 2 / (3 ended + 2 ongoing) = 40 % ≥ 25 → helt.
    // N: Q1 ended 2019-03-31 Egen försörjning ✓; Q2–Q5 ongoing → 1 / 5 = 20 % < 22.5 → ej.
    // Total: 3 / 10 = 30 % → helt.
    let rows = [
        "P1;Kungsholmen;Arbetslivsinriktad rehabilitering;2018-06-01;2019-02-15;Egen försörjning",
        "P2;Kungsholmen;Arbetslivsinriktad rehabilitering;2019-01-10;2019-03-20;Annan försörjning",
        "P3;Kungsholmen;Arbetslivsinriktad rehabilitering;2018-09-01;2019-04-30;Fortsatt bistånd",
        "P4;Kungsholmen;Arbetslivsinriktad rehabilitering;2019-02-01;;",
        "P5;Kungsholmen;Arbetslivsinriktad rehabilitering;2019-03-01;2019-06-30;Egen försörjning",
        "P6;Kungsholmen;Arbetslivsinriktad rehabilitering;2018-01-01;2018-12-31;Egen försörjning",
        "P7;Kungsholmen;Arbetslivsinriktad rehabilitering;2019-05-10;;",
        "P8;Kungsholmen;Jobbtorg;2019-01-01;2019-02-01;Egen försörjning",
        "Q1;Norrmalm;Arbetslivsinriktad rehabilitering;2019-01-01;2019-03-31;Egen försörjning",
        "Q2;Norrmalm;Arbetslivsinriktad rehabilitering;2018-03-01;;",
        "Q3;Norrmalm;Arbetslivsinriktad rehabilitering;2018-04-01;;",
        "Q4;Norrmalm;Arbetslivsinriktad rehabilitering;2019-01-01;;",
        "Q5;Norrmalm;Arbetslivsinriktad rehabilitering;2019-04-30;;",
    ];
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-04;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv(
            "insatser.csv",
            &format!(
                "PersonID;Stadsdel;Insats;Startdatum;Slutdatum;Resultat\n{}\n",
                rows.join("\n")
            ),
        );
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    assert_eq!(
        lines(&run, &["andel_rehab_egen_forsorjning"]),
        "\
andel_rehab_egen_forsorjning Kungsholmen: 40 2 5 40 helt
andel_rehab_egen_forsorjning Norrmalm: 20 1 5 20 ej
andel_rehab_egen_forsorjning Totalt: 30 3 10 30 helt"
    );
}

#[test]
fn evictions_averted_and_evictions_touching_children() {
    // 2019-T1. K: 8 notices, 6 averted (Avvarjd Ja/J/1/X/ja/JA); of the 2 not averted one
    //    touches children → 6 / 8 = 75 % (årsmål 75 → helt), vräkningar med barn 1 (mål 0 → ej).
    //    A notice of 2019-05-03 with children, not averted, lies outside the period.
    // N: 2 notices, 1 averted → 50 % (< 67.5 → ej); the other without children → 0 (→ helt).
    // Total: 7 / 10 = 70 % (≥ 67.5 → delvis); 1 vräkning med barn (→ ej).
    let rows = [
        "2019-01-05;Kungsholmen;E1;Ja;Ja",
        "2019-01-20;Kungsholmen;E2;Nej;J",
        "2019-02-05;Kungsholmen;E3;;1",
        "2019-02-25;Kungsholmen;E4;Ja;X",
        "2019-03-05;Kungsholmen;E5;N;ja",
        "2019-03-25;Kungsholmen;E6;0;JA",
        "2019-04-05;Kungsholmen;E7;Ja;Nej",
        "2019-04-25;Kungsholmen;E8;Nej;N",
        "2019-05-03;Kungsholmen;E9;Ja;Nej",
        "2019-02-10;Norrmalm;F1;Ja;Ja",
        "2019-03-10;Norrmalm;F2;Nej;Nej",
    ];
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-04;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv(
            "avhysningar.csv",
            &format!(
                "Datum;Stadsdel;ArendeID;BarnBerorda;Avvarjd\n{}\n",
                rows.join("\n")
            ),
        );
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    assert_eq!(
        lines(&run, &["andel_avhysningar_avvarjda", "vrakningar_barn"]),
        "\
andel_avhysningar_avvarjda Kungsholmen: 75 6 8 75 helt
andel_avhysningar_avvarjda Norrmalm: 50 1 2 50 ej
andel_avhysningar_avvarjda Totalt: 70 7 10 70 delvis
vrakningar_barn Kungsholmen: 1 1 null 1 ej
vrakningar_barn Norrmalm: 0 0 null 0 helt
vrakningar_barn Totalt: 1 1 null 1 ej"
    );
}

#[test]
fn manual_outcomes_by_id_or_name_district_or_total() {
    // sjukfranvaro K 5.5 (≤ 6 → helt), total 6.5 (≤ 6.6 → delvis), N "--" (not reported:
    // missing, never 0). A 2019-T2 figure does not belong to 2019-T1.
    // sommarjobb given by its name: K 120 (< 315 → ej), total 400 (≥ 350 → helt).
    let manual = "\
Indikator;Period;Stadsdel;Utfall;Kommentar
sjukfranvaro;2019-T1;Kungsholmen;5,5;
sjukfranvaro;2019-T1;;6,5;Hög under februari
sjukfranvaro;2019-T2;Kungsholmen;9;
sjukfranvaro;2019-T1;Norrmalm;--;Ej rapporterad
Antal ungdomar som fått sommarjobb;2019-T1;Kungsholmen;120;
sommarjobb;2019-T1;;400;
";
    let case = Case::new()
        .csv(
            "utb.csv",
            &format!("{UTB}\n2019-04;Kungsholmen;H1;1000;1;0;0;;\n"),
        )
        .csv("manuella.csv", manual);
    let run = case.run(&["run", "--period", "2019-T1"]);
    run.expect_code(0);
    let j = run.json();
    assert_eq!(
        [
            j.line("sjukfranvaro", Some("Kungsholmen")),
            j.line("sjukfranvaro", None),
            j.line("sommarjobb", Some("Kungsholmen")),
            j.line("sommarjobb", None),
        ]
        .join("\n"),
        "\
sjukfranvaro Kungsholmen: 5.5 null null 5.5 helt
sjukfranvaro Totalt: 6.5 null null 6.5 delvis
sommarjobb Kungsholmen: 120 null null 120 ej
sommarjobb Totalt: 400 null null 400 helt"
    );
    let n = j.result("sjukfranvaro", Some("Norrmalm"));
    assert!(n["value"].is_null(), "\"--\" is not 0: {n}");
    assert_eq!(n["status"], "saknas");
    assert_eq!(
        j.result("sjukfranvaro", None)["comment"],
        "Hög under februari"
    );
}
