//! Reads the rule pack's declarations into typed settings: the report (`rapport()`), the
//! indicators (`indikatorer()`) and the targets (`mal()`). A malformed declaration is a
//! `RuleError` pointing at the function that returned it; the rest of the pack still loads.

use std::collections::BTreeMap;

use rhai::{Array, Dynamic, Map};
use rust_decimal::Decimal;

use super::api::number;
use super::{RuleError, RulePack};
use crate::evaluate::prepare::HouseholdIdentity;
use crate::evaluate::{Direction, IndicatorDef, RuleSource, Target, Unit, Window};
use crate::model::Month;

/// Report-wide settings from `rapport()`.
#[derive(Clone, Debug)]
pub struct ReportSettings {
    pub title: String,
    pub file_stem: String,
    /// The districts in report order, when the pack lists them.
    pub districts: Option<Vec<String>>,
    pub identity: HouseholdIdentity,
    /// Counts below this (and shares built on them) are shown as `..`.
    pub small_number_threshold: Option<Decimal>,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            title: "Uppföljning ekonomiskt bistånd".into(),
            file_stem: "Uppfoljning".into(),
            districts: None,
            identity: HouseholdIdentity::Global,
            small_number_threshold: None,
        }
    }
}

/// An indicator declaration: its definition and the script function computing it.
#[derive(Clone, Debug)]
pub struct IndicatorSpec {
    pub def: IndicatorDef,
    pub function: String,
}

/// The targets of one indicator for one year.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct YearTargets {
    /// The unit's årsmål.
    pub unit: Option<Target>,
    /// Districts' own årsmål, by district name.
    pub districts: BTreeMap<String, Target>,
    pub kf: Option<Target>,
}

/// All targets: by indicator id, then year.
pub type Targets = BTreeMap<String, BTreeMap<i32, YearTargets>>;

/// Builds a `RuleError` located at the definition of `fn name` in the pack.
pub(crate) fn declaration_error(pack: &RulePack, name: &str, message: String) -> RuleError {
    let file = pack
        .file_defining(name)
        .or_else(|| pack.file_mentioning(name));
    let (display, line, text) = match file {
        Some(i) => {
            let line = pack.function_lines(i, name).map_or(0, |(a, _)| a);
            let text = (line > 0)
                .then(|| pack.files[i].text.lines().nth(line - 1).map(str::to_string))
                .flatten();
            (pack.files[i].display.clone(), line, text)
        }
        None => ("rules".to_string(), 0, None),
    };
    RuleError {
        file: display,
        line,
        column: usize::from(line > 0),
        message,
        source_line: text,
    }
}

fn text_field(m: &Map, key: &str) -> Option<String> {
    m.get(key).and_then(|v| v.clone().into_string().ok())
}

fn int_field(m: &Map, key: &str) -> Option<i64> {
    m.get(key)
        .and_then(|v| number(v, key).ok().flatten())
        .and_then(|d| {
            (d.fract().is_zero())
                .then(|| i64::try_from(d).ok())
                .flatten()
        })
}

/// Reads `rapport()`; a missing function gives the defaults.
pub fn report_settings(pack: &RulePack) -> (ReportSettings, Option<RuleError>) {
    let mut s = ReportSettings::default();
    if pack.file_defining("rapport").is_none() && pack.file_mentioning("rapport").is_none() {
        return (s, None);
    }
    let value = match pack.call("rapport", ()) {
        Ok(v) => v,
        Err(e) => return (s, Some(e)),
    };
    let Some(m) = value.read_lock::<Map>().map(|m| m.clone()) else {
        let e = declaration_error(pack, "rapport", "rapport() must return a map #{ … }".into());
        return (s, Some(e));
    };
    if let Some(t) = text_field(&m, "titel") {
        s.title = t;
    }
    if let Some(f) = text_field(&m, "filnamn") {
        s.file_stem = f;
    }
    if let Some(list) = m
        .get("stadsdelar")
        .and_then(|v| v.read_lock::<Array>().map(|a| a.clone()))
    {
        let names: Vec<String> = list
            .into_iter()
            .filter_map(|d| d.into_string().ok())
            .filter(|d| !d.trim().is_empty())
            .collect();
        if !names.is_empty() {
            s.districts = Some(names);
        }
    }
    if m.get("hushall_per_stadsdel").and_then(|v| v.as_bool().ok()) == Some(true) {
        s.identity = HouseholdIdentity::PerDistrict;
    }
    if let Some(v) = m.get("sekretessgrans") {
        match number(v, "sekretessgrans") {
            Ok(Some(n)) if n > Decimal::ZERO => s.small_number_threshold = Some(n),
            Ok(_) => {}
            Err(e) => {
                let e = declaration_error(pack, "rapport", format!("sekretessgrans: {e}"));
                return (s, Some(e));
            }
        }
    }
    (s, None)
}

/// Reads `indikatorer()`: one map per indicator. Malformed entries are reported and
/// skipped; the others are kept.
pub fn indicators(pack: &RulePack) -> (Vec<IndicatorSpec>, Vec<RuleError>) {
    let value = match pack.call("indikatorer", ()) {
        Ok(v) => v,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let Some(list) = value.read_lock::<Array>().map(|a| a.clone()) else {
        let e = declaration_error(
            pack,
            "indikatorer",
            "indikatorer() must return an array of maps".into(),
        );
        return (Vec::new(), vec![e]);
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (n, item) in list.into_iter().enumerate() {
        match indicator_from(pack, &item) {
            Ok(spec) => {
                if out.iter().any(|s: &IndicatorSpec| s.def.id == spec.def.id) {
                    errors.push(declaration_error(
                        pack,
                        "indikatorer",
                        format!("indicator {:?} is declared twice", spec.def.id),
                    ));
                } else {
                    out.push(spec);
                }
            }
            Err(msg) => errors.push(declaration_error(
                pack,
                "indikatorer",
                format!("indicator #{}: {msg}", n + 1),
            )),
        }
    }
    (out, errors)
}

fn indicator_from(pack: &RulePack, item: &Dynamic) -> Result<IndicatorSpec, String> {
    let m = item
        .read_lock::<Map>()
        .map(|m| m.clone())
        .ok_or("not a map #{ id: …, namn: …, … }")?;
    let id = text_field(&m, "id").ok_or("field id (text) is missing")?;
    let name = text_field(&m, "namn").ok_or_else(|| format!("{id}: field namn is missing"))?;
    let unit_text =
        text_field(&m, "enhet").ok_or_else(|| format!("{id}: field enhet is missing"))?;
    let unit = Unit::parse(&unit_text)
        .ok_or_else(|| format!("{id}: enhet {unit_text:?} is not st, %, kr, tkr or mån"))?;
    let decimals = match m.get("decimaler") {
        None => 0,
        Some(_) => int_field(&m, "decimaler")
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| *d <= 10)
            .ok_or_else(|| format!("{id}: decimaler must be a whole number 0..10"))?,
    };
    let direction = match text_field(&m, "riktning").as_deref().map(str::trim) {
        None | Some("lägre") | Some("lagre") => Direction::LowerIsBetter,
        Some("högre") | Some("hogre") => Direction::HigherIsBetter,
        Some(other) => {
            return Err(format!(
                "{id}: riktning {other:?} is not \"lägre\" or \"högre\""
            ));
        }
    };
    let window = match text_field(&m, "periodtyp").as_deref().map(str::trim) {
        None | Some("ack") | Some("ackumulerad") => Window::YearToDate,
        Some("sista_manaden") => Window::LastMonth,
        Some(other) => match other
            .strip_prefix("rullande_")
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(n) if (1..=120).contains(&n) => Window::Rolling(n),
            _ => {
                return Err(format!(
                    "{id}: periodtyp {other:?} is not \"ack\", \"sista_manaden\" or \"rullande_12\""
                ));
            }
        },
    };
    let function = text_field(&m, "berakna").unwrap_or_else(|| id.clone());
    let source = pack.file_defining(&function).map(|f| {
        let (first_line, last_line) = pack.function_lines(f, &function).unwrap_or((0, 0));
        RuleSource {
            file: pack.files[f].display.clone(),
            first_line,
            last_line,
        }
    });
    Ok(IndicatorSpec {
        def: IndicatorDef {
            id,
            name,
            unit,
            decimals,
            direction,
            window,
            source,
        },
        function,
    })
}

fn target_from(v: &Dynamic) -> Result<Option<Target>, String> {
    if v.is_unit() {
        return Ok(None);
    }
    if let Ok(s) = v.clone().into_string() {
        return match s.trim().to_lowercase().as_str() {
            "minska" => Ok(Some(Target::Decrease)),
            "öka" | "oka" => Ok(Some(Target::Increase)),
            "" | "–" | "-" => Ok(None),
            other => Err(format!(
                "target {other:?} is not a number, \"minska\" or \"öka\""
            )),
        };
    }
    number(v, "mål")
        .map(|n| n.map(Target::Value))
        .map_err(|e| e.to_string())
}

/// Reads `mal()`: an array of `#{ indikator, ar, arsmal, kf, stadsdelar: #{ … } }`.
pub fn targets(pack: &RulePack) -> Result<Targets, RuleError> {
    let value = pack.call("mal", ())?;
    let Some(list) = value.read_lock::<Array>().map(|a| a.clone()) else {
        return Err(declaration_error(
            pack,
            "mal",
            "mal() must return an array of maps".into(),
        ));
    };
    let mut out = Targets::new();
    for (n, item) in list.into_iter().enumerate() {
        let entry = (|| -> Result<(String, i32, YearTargets), String> {
            let m = item
                .read_lock::<Map>()
                .map(|m| m.clone())
                .ok_or("not a map")?;
            let id = text_field(&m, "indikator").ok_or("field indikator is missing")?;
            if !m.contains_key("ar") {
                return Err(format!("{id}: field ar (year) is missing"));
            }
            // A year a month can have (`Month::new`), or the target could never apply.
            let year = int_field(&m, "ar")
                .and_then(|y| i32::try_from(y).ok())
                .filter(|&y| Month::new(y, 1).is_some())
                .ok_or_else(|| format!("{id}: ar is not a year (1900–2999)"))?;
            let mut t = YearTargets {
                unit: m.get("arsmal").map(target_from).transpose()?.flatten(),
                kf: m.get("kf").map(target_from).transpose()?.flatten(),
                districts: BTreeMap::new(),
            };
            if let Some(d) = m.get("stadsdelar") {
                let dm = d
                    .read_lock::<Map>()
                    .ok_or("stadsdelar must be a map #{ \"Namn\": mål }")?;
                for (k, v) in dm.iter() {
                    if let Some(target) = target_from(v)? {
                        t.districts.insert(k.to_string(), target);
                    }
                }
            }
            Ok((id, year, t))
        })();
        match entry {
            Ok((id, year, t)) => {
                out.entry(id).or_default().insert(year, t);
            }
            Err(msg) => {
                return Err(declaration_error(
                    pack,
                    "mal",
                    format!("target #{}: {msg}", n + 1),
                ));
            }
        }
    }
    Ok(out)
}

/// Who receives what, and how, from `rapport()`: `mottagare` (district → addresses),
/// `mottagare_hela_rapporten` and `smtp`. Addresses stay text here; `deliver::email`
/// validates them, so one bad address fails only its own message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliverySettings {
    /// District name, as the report names it → its recipients.
    pub recipients: BTreeMap<String, Vec<String>>,
    /// Recipients of the whole report (all districts).
    pub whole_report: Vec<String>,
    pub smtp: SmtpSettings,
}

/// `smtp: #{ host, port, tls, avsandare, timeout_sekunder, forsok }`; all optional. No
/// credentials: those come only from the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `starttls`, `tls` or `ingen`, as written (checked by `deliver::email`).
    pub tls: Option<String>,
    pub sender: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub attempts: Option<u32>,
}

fn address_list(v: &Dynamic, what: &str) -> Result<Vec<String>, String> {
    if let Ok(s) = v.clone().into_string() {
        return Ok(vec![s.trim().to_string()]);
    }
    let list = v
        .read_lock::<Array>()
        .map(|a| a.clone())
        .ok_or_else(|| format!("{what} must be a list of addresses [\"namn@exempel.se\", …]"))?;
    list.into_iter()
        .map(|a| {
            a.into_string()
                .map(|s| s.trim().to_string())
                .map_err(|t| format!("{what}: expected an address (text), got {t}"))
        })
        .filter(|a| a.as_ref().map_or(true, |s| !s.is_empty()))
        .collect()
}

/// Reads the delivery part of `rapport()`. A malformed entry is reported and skipped; the
/// others are kept. A pack without `rapport()` or without these keys gives empty settings.
pub fn delivery_settings(pack: &RulePack) -> (DeliverySettings, Vec<RuleError>) {
    let mut s = DeliverySettings::default();
    if pack.file_defining("rapport").is_none() {
        return (s, Vec::new());
    }
    let value = match pack.call("rapport", ()) {
        Ok(v) => v,
        Err(e) => return (s, vec![e]),
    };
    let Some(m) = value.read_lock::<Map>().map(|m| m.clone()) else {
        let e = declaration_error(pack, "rapport", "rapport() must return a map #{ … }".into());
        return (s, vec![e]);
    };
    let mut problems: Vec<String> = Vec::new();
    if let Some(v) = m.get("mottagare") {
        match v.read_lock::<Map>() {
            Some(per_district) => {
                for (district, list) in per_district.iter() {
                    match address_list(list, &format!("mottagare[\"{district}\"]")) {
                        Ok(addresses) => {
                            s.recipients.insert(district.trim().to_string(), addresses);
                        }
                        Err(e) => problems.push(e),
                    }
                }
            }
            None => problems.push(
                "mottagare must be a map #{ \"Stadsdel\": [\"namn@exempel.se\"] }".to_string(),
            ),
        }
    }
    if let Some(v) = m.get("mottagare_hela_rapporten") {
        match address_list(v, "mottagare_hela_rapporten") {
            Ok(a) => s.whole_report = a,
            Err(e) => problems.push(e),
        }
    }
    if let Some(v) = m.get("smtp") {
        match v.read_lock::<Map>() {
            Some(sm) => s.smtp = smtp_settings(&sm, &mut problems),
            None => problems.push("smtp must be a map #{ host: …, port: … }".to_string()),
        }
    }
    let errors = problems
        .into_iter()
        .map(|p| declaration_error(pack, "rapport", p))
        .collect();
    (s, errors)
}

fn smtp_settings(m: &Map, problems: &mut Vec<String>) -> SmtpSettings {
    let text = |key: &str, problems: &mut Vec<String>| match m.get(key) {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(v) => match v.clone().into_string() {
            Ok(t) if t.trim().is_empty() => None,
            Ok(t) => Some(t.trim().to_string()),
            Err(t) => {
                problems.push(format!("smtp.{key}: expected text, got {t}"));
                None
            }
        },
    };
    let whole = |key: &str, max: i64, problems: &mut Vec<String>| match m.get(key) {
        None => None,
        Some(v) if v.is_unit() => None,
        Some(_) => match int_field(m, key).filter(|n| (1..=max).contains(n)) {
            Some(n) => Some(n),
            None => {
                problems.push(format!("smtp.{key}: expected a whole number 1..{max}"));
                None
            }
        },
    };
    SmtpSettings {
        host: text("host", problems),
        port: whole("port", 65535, problems).and_then(|n| u16::try_from(n).ok()),
        tls: text("tls", problems),
        sender: text("avsandare", problems),
        timeout_seconds: whole("timeout_sekunder", 3600, problems)
            .and_then(|n| u64::try_from(n).ok()),
        attempts: whole("forsok", 10, problems).and_then(|n| u32::try_from(n).ok()),
    }
}

#[cfg(test)]
mod delivery_tests {
    use super::*;
    use crate::rules::Limits;

    fn pack(src: &str) -> RulePack {
        RulePack::from_sources(
            vec![("rules/rapport.rhai".into(), src.into())],
            Limits::default(),
        )
    }

    #[test]
    fn recipients_whole_report_and_smtp_are_read() {
        let p = pack(
            r#"fn rapport() { #{
                mottagare: #{ "Kungsholmen": ["a@example.se", " b@example.se "], "Östermalm": "c@example.se" },
                mottagare_hela_rapporten: ["ek@example.se"],
                smtp: #{ host: "smtp.example.se", port: 587, tls: "starttls", avsandare: "utfall@example.se",
                         timeout_sekunder: 20, forsok: 2 },
            } }"#,
        );
        let (s, errors) = delivery_settings(&p);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            s.recipients["Kungsholmen"],
            ["a@example.se", "b@example.se"]
        );
        assert_eq!(s.recipients["Östermalm"], ["c@example.se"]);
        assert_eq!(s.whole_report, ["ek@example.se"]);
        assert_eq!(s.smtp.host.as_deref(), Some("smtp.example.se"));
        assert_eq!(s.smtp.port, Some(587));
        assert_eq!(s.smtp.tls.as_deref(), Some("starttls"));
        assert_eq!(s.smtp.sender.as_deref(), Some("utfall@example.se"));
        assert_eq!(
            (s.smtp.timeout_seconds, s.smtp.attempts),
            (Some(20), Some(2))
        );
    }

    #[test]
    fn a_bad_entry_is_reported_and_the_rest_kept() {
        let p = pack(
            r#"fn rapport() { #{
                mottagare: #{ "Kungsholmen": ["a@example.se"], "Norrmalm": [42] },
                smtp: #{ port: 700000 },
            } }"#,
        );
        let (s, errors) = delivery_settings(&p);
        assert_eq!(s.recipients.len(), 1);
        assert_eq!(s.smtp.port, None);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].message.contains("Norrmalm"), "{errors:?}");
        assert!(errors[1].message.contains("smtp.port"), "{errors:?}");
    }

    #[test]
    fn a_target_year_that_is_missing_or_no_year_is_named_as_such() {
        let message = |ar: &str| {
            let src = format!(r#"fn mal() {{ [ #{{ indikator: "x", {ar} arsmal: 1 }} ] }}"#);
            let p = RulePack::from_sources(vec![("rules/mal.rhai".into(), src)], Limits::default());
            targets(&p).err().map(|e| e.message).unwrap_or_default()
        };
        assert!(message("").contains("x: field ar (year) is missing"));
        for ar in [
            "ar: 9223372036854775807,",
            "ar: 1899,",
            "ar: \"2019\",",
            "ar: 2019.5,",
        ] {
            assert!(
                message(ar).contains("x: ar is not a year"),
                "{ar}: {}",
                message(ar)
            );
        }
        assert_eq!(message("ar: 2019,"), "");
    }

    #[test]
    fn no_delivery_keys_give_empty_settings() {
        let (s, errors) = delivery_settings(&pack("fn rapport() { #{ titel: \"x\" } }"));
        assert!(errors.is_empty());
        assert_eq!(s, DeliverySettings::default());
    }
}
