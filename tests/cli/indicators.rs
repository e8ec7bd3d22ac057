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
        .csv("utbetalningar.csv", &format!("{UTB}\n{}\n", rows.join("\n")))
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
        ("hushall_unika", k),  // H1 H2 H3 H5 = 4
        ("hushall_unika", n),  // H3 H4 = 2
        ("hushall_unika", None), // H1..H5 = 5: H3 once, not 6
        ("bidragsmanader", k), // 8
        ("bidragsmanader", n), // 3
        ("bidragsmanader", None), // 11
        // K: H1 4000 + H2 (2000 + 2000 − 2000) + H3 1000 + H5 600 = 7600
        ("utbetalt", k),
        // N: H3 1000 + H4 (300 − 100) = 1200
        ("utbetalt", n),
        ("utbetalt", None), // 8800
        ("medelbidrag", k), // 7600 / 8 = 950
        ("medelbidrag", n), // 1200 / 3 = 400
        ("medelbidrag", None), // 8800 / 11 = 800
        ("bidragstid", k), // 8 / 4 = 2
        ("bidragstid", n), // 3 / 2 = 1.5
        ("bidragstid", None), // 11 / 5 = 2.2
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
