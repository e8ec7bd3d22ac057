//! What a message says: reads the report's JSON (as `run` wrote it) and turns the flags of
//! one district, or of the whole report, into a Swedish subject and body. Only indicator
//! names and counts go into a message; no figure about a household or a person.

use std::path::Path;

use serde::Deserialize;

/// The parts of `<Rapport>_<period>.json` a message needs (the README documents the rest).
#[derive(Debug, Deserialize)]
pub struct ReportFile {
    /// The report's title (`rapport().titel`).
    pub report: String,
    /// `2019-05`, `2019-T1`, `2019`: the part of the file names after the stem.
    pub period: String,
    /// `januari–maj 2019`.
    pub period_label: String,
    pub districts: Vec<String>,
    pub results: Vec<ResultRow>,
    /// The budget rows; see [`budget_lines`].
    #[serde(default)]
    pub budget: Vec<BudgetRow>,
}

#[derive(Debug, Deserialize)]
pub struct ResultRow {
    pub name: String,
    /// `None` = the total.
    pub district: Option<String>,
    pub status: String,
}

impl ReportFile {
    /// Parses the JSON text of a report.
    ///
    /// Fails when the text is not a report written by utfall (missing or mistyped keys).
    pub fn parse(text: &str) -> Result<ReportFile, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Reads a report file; errors are the caller's to locate (it knows the path).
    pub fn read(path: &Path) -> Result<Result<ReportFile, serde_json::Error>, std::io::Error> {
        std::fs::read_to_string(path).map(|t| ReportFile::parse(&t))
    }
}

/// The fulfilment flags of one scope (a district or the total), counted, with the names of
/// the indicators that need attention.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub met: usize,
    pub partly: usize,
    pub not_met: usize,
    pub no_target: usize,
    pub missing: usize,
    pub failed: usize,
    pub not_met_names: Vec<String>,
    pub partly_names: Vec<String>,
    pub failed_names: Vec<String>,
}

impl Flags {
    /// The flags of `district` (`None` = the total) in `report`.
    pub fn of(report: &ReportFile, district: Option<&str>) -> Flags {
        let mut f = Flags::default();
        for r in report
            .results
            .iter()
            .filter(|r| r.district.as_deref() == district)
        {
            match r.status.as_str() {
                "helt" => f.met += 1,
                "delvis" => {
                    f.partly += 1;
                    f.partly_names.push(r.name.clone());
                }
                "ej" => {
                    f.not_met += 1;
                    f.not_met_names.push(r.name.clone());
                }
                "ingen_malsattning" => f.no_target += 1,
                "fel" => {
                    f.failed += 1;
                    f.failed_names.push(r.name.clone());
                }
                _ => f.missing += 1,
            }
        }
        f
    }

    pub fn total(&self) -> usize {
        self.met + self.partly + self.not_met + self.no_target + self.missing + self.failed
    }

    /// `5 helt, 2 delvis, 3 ej`: one line for a list of districts.
    pub fn short(&self) -> String {
        format!(
            "{} helt, {} delvis, {} ej",
            self.met, self.partly, self.not_met
        )
    }

    /// The counts, one status a line, and the indicators not met by name.
    fn write_body(&self, out: &mut String) {
        let mut line = |symbol: &str, label: &str, n: usize, always: bool| {
            if always || n > 0 {
                out.push_str(&format!("  {symbol} {label}: {n}\n"));
            }
        };
        line("●", "Uppfylls helt", self.met, true);
        line("◐", "Uppfylls delvis", self.partly, true);
        line("○", "Uppfylls ej", self.not_met, true);
        line("–", "Ingen målsättning", self.no_target, false);
        line("..", "Saknas", self.missing, false);
        line("✖", "Kunde inte beräknas", self.failed, false);
        for (title, names) in [
            ("Uppfylls ej", &self.not_met_names),
            ("Uppfylls delvis", &self.partly_names),
            ("Kunde inte beräknas", &self.failed_names),
        ] {
            if !names.is_empty() {
                out.push_str(&format!("\n{title}:\n"));
                for n in names {
                    out.push_str(&format!("  - {n}\n"));
                }
            }
        }
    }
}

/// One row of the JSON's `budget` array, as far as a message needs it (kronor).
#[derive(Debug, Deserialize)]
pub struct BudgetRow {
    pub row: String,
    pub group: String,
    pub district: Option<String>,
    pub deviation: Option<f64>,
    pub forecast_deviation: Option<f64>,
}

/// The budget lines of a message: Summa netto's deviation for the period and the
/// forecast's deviation for the year, for `district` (`None` = the total), in tkr as the
/// workbook shows them. Empty when the report has no budget.
pub fn budget_lines(report: &ReportFile, district: Option<&str>) -> Vec<String> {
    let Some(netto) = report
        .budget
        .iter()
        .find(|r| r.group == "netto" && r.district.as_deref() == district)
    else {
        return Vec::new();
    };
    let tkr = |kr: f64| {
        let t = (kr / 1000.0).round() as i64;
        let sign = if t < 0 { "−" } else { "" };
        let digits = t.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(' ');
            }
            grouped.push(c);
        }
        format!("{sign}{grouped} tkr")
    };
    let verdict = |kr: f64| {
        if kr >= 0.0 {
            "överskott"
        } else {
            "underskott"
        }
    };
    let mut out = Vec::new();
    if let Some(d) = netto.deviation {
        out.push(format!(
            "{}: avvikelse mot budget för perioden {} ({})",
            netto.row,
            tkr(d),
            verdict(d)
        ));
    }
    if let Some(d) = netto.forecast_deviation {
        out.push(format!(
            "Prognos helår: avvikelse {} ({})",
            tkr(d),
            verdict(d)
        ));
    }
    out
}

/// `Uppföljning ekonomiskt bistånd januari–maj 2019 – Kungsholmen`.
pub fn subject(report: &ReportFile, district: Option<&str>) -> String {
    format!(
        "{} {} – {}",
        report.report,
        report.period_label,
        district.unwrap_or("alla stadsdelar")
    )
}

/// The plain-text body: what is attached, the flags, the budget hook, where it came from.
pub fn body(report: &ReportFile, district: Option<&str>, attachment: &str) -> String {
    let mut b = String::from("Hej!\n\n");
    let flags = Flags::of(report, district);
    match district {
        Some(d) => b.push_str(&format!(
            "Här kommer {} för {d}, {} ({}).\n\nMåluppfyllelse för {d}, {} indikatorer:\n",
            report.report,
            report.period_label,
            report.period,
            flags.total()
        )),
        None => b.push_str(&format!(
            "Här kommer {} för alla stadsdelar, {} ({}).\n\nMåluppfyllelse totalt, {} indikatorer:\n",
            report.report,
            report.period_label,
            report.period,
            flags.total()
        )),
    }
    flags.write_body(&mut b);
    if district.is_none() && !report.districts.is_empty() {
        b.push_str("\nPer stadsdel:\n");
        for d in &report.districts {
            b.push_str(&format!("  {d}: {}\n", Flags::of(report, Some(d)).short()));
        }
    }
    let budget = budget_lines(report, district);
    if !budget.is_empty() {
        b.push_str("\nBudget:\n");
        for l in budget {
            b.push_str(&format!("  {l}\n"));
        }
    }
    b.push_str(&format!(
        "\nArbetsboken {attachment} är bifogad; där finns siffrorna, målen och underlaget.\n\n\
         Meddelandet skapades av utfall {}.\n",
        env!("CARGO_PKG_VERSION")
    ));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const REPORT: &str = r#"{
      "report": "Uppföljning ekonomiskt bistånd", "period": "2019-05",
      "period_label": "januari–maj 2019", "districts": ["Kungsholmen", "Östermalm"],
      "results": [
        {"id": "a", "name": "Andel barn", "district": "Kungsholmen", "status": "ej"},
        {"id": "b", "name": "Bidragstid", "district": "Kungsholmen", "status": "helt"},
        {"id": "a", "name": "Andel barn", "district": "Östermalm", "status": "delvis"},
        {"id": "b", "name": "Bidragstid", "district": "Östermalm", "status": "fel"},
        {"id": "a", "name": "Andel barn", "district": null, "status": "helt"},
        {"id": "b", "name": "Bidragstid", "district": null, "status": "ingen_malsattning"}
      ],
      "budget": [
        {"row": "Summa netto", "group": "netto", "district": "Kungsholmen",
         "deviation": 945123.4, "forecast_deviation": -1511284.65},
        {"row": "Summa kostnader", "group": "kostnader", "district": "Kungsholmen",
         "deviation": 1.0, "forecast_deviation": 1.0}
      ]
    }"#;

    #[test]
    fn budget_lines_show_the_netto_deviation_of_the_own_district() {
        let r = ReportFile::parse(REPORT).unwrap();
        assert_eq!(
            budget_lines(&r, Some("Kungsholmen")),
            [
                "Summa netto: avvikelse mot budget för perioden 945 tkr (överskott)",
                "Prognos helår: avvikelse −1 511 tkr (underskott)"
            ]
        );
        assert!(budget_lines(&r, Some("Östermalm")).is_empty());
        assert!(budget_lines(&r, None).is_empty());
    }

    #[test]
    fn flags_count_one_district_only() {
        let r = ReportFile::parse(REPORT).unwrap();
        let k = Flags::of(&r, Some("Kungsholmen"));
        assert_eq!((k.met, k.partly, k.not_met), (1, 0, 1));
        assert_eq!(k.not_met_names, ["Andel barn"]);
        let o = Flags::of(&r, Some("Östermalm"));
        assert_eq!((o.partly, o.failed), (1, 1));
        assert_eq!(Flags::of(&r, None).no_target, 1);
    }

    #[test]
    fn subject_names_report_period_and_district() {
        let r = ReportFile::parse(REPORT).unwrap();
        assert_eq!(
            subject(&r, Some("Östermalm")),
            "Uppföljning ekonomiskt bistånd januari–maj 2019 – Östermalm"
        );
        assert!(subject(&r, None).ends_with("– alla stadsdelar"));
    }

    #[test]
    fn district_body_names_what_is_not_met_and_nothing_of_other_districts() {
        let r = ReportFile::parse(REPORT).unwrap();
        let b = body(&r, Some("Kungsholmen"), "X_Kungsholmen.xlsx");
        assert!(b.contains("○ Uppfylls ej: 1"), "{b}");
        assert!(b.contains("Uppfylls ej:\n  - Andel barn"), "{b}");
        assert!(!b.contains("Östermalm"), "{b}");
        assert!(
            b.contains("Budget:\n  Summa netto: avvikelse mot budget"),
            "{b}"
        );
        let whole = body(&r, None, "X.xlsx");
        assert!(
            whole.contains("Östermalm: 0 helt, 1 delvis, 0 ej"),
            "{whole}"
        );
    }
}
