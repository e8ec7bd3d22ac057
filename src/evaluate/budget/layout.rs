//! Reads the budget layout the rule pack declares in `budgetuppstallning()`: the rows (by
//! Konto ranges and/or Verksamhet codes), headings, subtotals and differences, and the names
//! of the periodisation and forecast functions. A malformed entry is a `RuleError` located at
//! the declaring function; nothing of the layout is guessed.

use std::collections::BTreeMap;

use rhai::{Array, Dynamic, Map};
use rust_decimal::Decimal;

use crate::rules::api::number;
use crate::rules::{RuleError, RulePack};

/// The function the pack declares its layout in.
pub const LAYOUT_FUNCTION: &str = "budgetuppstallning";
/// The group whose rows are income (shown positive).
pub const INCOME: &str = "intakter";
/// The group whose rows are costs.
pub const COSTS: &str = "kostnader";

/// Indicator ids shown in Nyckeltal when the pack names none.
pub const DEFAULT_KEY_FIGURES: [&str; 6] = [
    "hushall_unika",
    "hushall_snitt",
    "medelbidrag",
    "bidragstid",
    "utbetalt",
    "avslutade",
];

/// The budget table as the pack declares it.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub items: Vec<Item>,
    /// Script function giving Budget perioden.
    pub periodisation: String,
    /// Script function giving Prognos helår.
    pub forecast: String,
    /// The row whose budget Månadsutfall compares with the paid amount.
    pub paid_against: Option<String>,
    /// Indicator ids shown per year in Nyckeltal.
    pub key_figures: Vec<String>,
}

/// One line of the table, in display order.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Heading(String),
    Row {
        label: String,
        group: String,
        accounts: Vec<(i64, i64)>,
        activities: Vec<Activity>,
    },
    Sum {
        label: String,
        group: String,
        of: SumOf,
    },
    /// The budget frame minus another line.
    Difference {
        label: String,
        frame: Frame,
        against: String,
    },
}

impl Item {
    pub fn label(&self) -> &str {
        match self {
            Item::Heading(l) => l,
            Item::Row { label, .. } | Item::Sum { label, .. } | Item::Difference { label, .. } => {
                label
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum SumOf {
    Groups(Vec<String>),
    Lines(Vec<String>),
    /// Every ledger line of the scope, claimed by a row or not.
    All,
}

/// A Verksamhet code or a numeric range of codes.
#[derive(Clone, Debug, PartialEq)]
pub enum Activity {
    Code(String),
    Range(i64, i64),
}

impl Activity {
    pub fn matches(&self, code: &str) -> bool {
        let code = code.trim();
        match self {
            Activity::Code(c) => c.eq_ignore_ascii_case(code),
            Activity::Range(a, b) => code.parse::<i64>().is_ok_and(|n| (*a..=*b).contains(&n)),
        }
    }
}

/// A budget frame in kronor: one amount (the total's), or one per district (`Totalt` for
/// the total).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Frame {
    pub all: Option<Decimal>,
    pub by_name: BTreeMap<String, Decimal>,
}

impl Frame {
    /// The frame of a district (`None` = the total).
    pub fn of(&self, district: Option<&str>) -> Option<Decimal> {
        let key = district.unwrap_or("Totalt");
        self.by_name
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
            .or(if district.is_none() { self.all } else { None })
    }
}

/// Whether a row claims a ledger or budget line.
pub fn claims(
    accounts: &[(i64, i64)],
    activities: &[Activity],
    konto: i64,
    verksamhet: Option<&str>,
) -> bool {
    let account_ok =
        accounts.is_empty() || accounts.iter().any(|(a, b)| (*a..=*b).contains(&konto));
    let activity_ok = activities.is_empty()
        || verksamhet.is_some_and(|v| activities.iter().any(|a| a.matches(v)));
    account_ok && activity_ok
}

/// Reads `budgetuppstallning()`. `Ok(None)` when the pack does not declare one.
pub fn read_layout(pack: &RulePack) -> Result<Option<Layout>, RuleError> {
    if pack.file_defining(LAYOUT_FUNCTION).is_none()
        && pack.file_mentioning(LAYOUT_FUNCTION).is_none()
    {
        return Ok(None);
    }
    let value = pack.call(LAYOUT_FUNCTION, ())?;
    parse(&value)
        .map(Some)
        .map_err(|message| error_at_function(pack, LAYOUT_FUNCTION, message))
}

/// A `RuleError` pointing at `fn name(` in the pack.
pub fn error_at_function(pack: &RulePack, name: &str, message: String) -> RuleError {
    let file = pack
        .file_defining(name)
        .or_else(|| pack.file_mentioning(name));
    match file {
        Some(i) => {
            let line = pack.function_lines(i, name).map_or(0, |(a, _)| a);
            RuleError {
                file: pack.files[i].display.clone(),
                line,
                column: usize::from(line > 0),
                message,
                source_line: (line > 0)
                    .then(|| pack.files[i].text.lines().nth(line - 1).map(str::to_string))
                    .flatten(),
            }
        }
        None => RuleError {
            file: "rules".into(),
            line: 0,
            column: 0,
            message,
            source_line: None,
        },
    }
}

fn text(m: &Map, key: &str) -> Option<String> {
    m.get(key).and_then(|v| v.clone().into_string().ok())
}

fn texts(m: &Map, key: &str) -> Result<Vec<String>, String> {
    match m.get(key) {
        None => Ok(Vec::new()),
        Some(v) => {
            let list = v
                .read_lock::<Array>()
                .map(|a| a.clone())
                .ok_or_else(|| format!("{key} must be a list [\"…\", …]"))?;
            list.into_iter()
                .map(|x| {
                    x.into_string()
                        .map_err(|t| format!("{key}: expected text, got {t}"))
                })
                .collect()
        }
    }
}

/// `"3100-3199"`, `3110` or `"3110"` → an inclusive range.
fn range(v: &Dynamic, what: &str) -> Result<(i64, i64), String> {
    if let Ok(i) = v.as_int() {
        return Ok((i, i));
    }
    let s = v.clone().into_string().map_err(|_| {
        format!(
            "{what}: expected \"1000-1999\" or a number, got {}",
            v.type_name()
        )
    })?;
    let parse = |t: &str| {
        t.trim()
            .parse::<i64>()
            .map_err(|_| format!("{what}: {s:?} is not \"1000-1999\" or a number"))
    };
    match s.split_once(['-', '–']) {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if a > b {
                return Err(format!("{what}: {s:?} runs backwards"));
            }
            Ok((a, b))
        }
        None => {
            let n = parse(&s)?;
            Ok((n, n))
        }
    }
}

fn list(m: &Map, key: &str) -> Result<Vec<Dynamic>, String> {
    match m.get(key) {
        None => Ok(Vec::new()),
        Some(v) => v
            .read_lock::<Array>()
            .map(|a| a.clone())
            .ok_or_else(|| format!("{key} must be a list [ … ]")),
    }
}

fn parse(value: &Dynamic) -> Result<Layout, String> {
    let m = value
        .read_lock::<Map>()
        .map(|m| m.clone())
        .ok_or("budgetuppstallning() must return a map #{ rader: [ … ], … }")?;
    let entries = list(&m, "rader")?;
    let mut items = Vec::new();
    for (n, entry) in entries.iter().enumerate() {
        let item = parse_item(entry).map_err(|e| format!("rader #{}: {e}", n + 1))?;
        if !matches!(item, Item::Heading(_))
            && items
                .iter()
                .any(|i: &Item| !matches!(i, Item::Heading(_)) && i.label() == item.label())
        {
            return Err(format!(
                "rader #{}: {:?} is declared twice",
                n + 1,
                item.label()
            ));
        }
        items.push(item);
    }
    // A sum or difference may only name lines above it.
    for (n, item) in items.iter().enumerate() {
        let above = |name: &str| {
            items[..n]
                .iter()
                .any(|i| !matches!(i, Item::Heading(_)) && i.label() == name)
        };
        match item {
            Item::Sum {
                of: SumOf::Lines(names),
                label,
                ..
            } => {
                if let Some(missing) = names.iter().find(|x| !above(x)) {
                    return Err(format!("{label}: no line {missing:?} above it"));
                }
            }
            Item::Difference { against, label, .. } if !above(against) => {
                return Err(format!("{label}: no line {against:?} above it"));
            }
            _ => {}
        }
    }
    let key_figures = match m.get("nyckeltal") {
        None => DEFAULT_KEY_FIGURES.iter().map(|s| s.to_string()).collect(),
        Some(_) => texts(&m, "nyckeltal")?,
    };
    Ok(Layout {
        items,
        periodisation: text(&m, "periodisering").unwrap_or_else(|| "budget_perioden".into()),
        forecast: text(&m, "prognos").unwrap_or_else(|| "prognos_helar".into()),
        paid_against: text(&m, "utbetalt_mot"),
        key_figures,
    })
}

fn parse_item(entry: &Dynamic) -> Result<Item, String> {
    let m = entry
        .read_lock::<Map>()
        .map(|m| m.clone())
        .ok_or("not a map #{ rad: …, … }")?;
    if let Some(label) = text(&m, "rubrik") {
        return Ok(Item::Heading(label));
    }
    if let Some(label) = text(&m, "rad") {
        let group = text(&m, "grupp").ok_or_else(|| format!("{label}: grupp is missing"))?;
        let accounts = list(&m, "konton")?
            .iter()
            .map(|v| range(v, &format!("{label}: konton")))
            .collect::<Result<Vec<_>, _>>()?;
        let activities = list(&m, "verksamheter")?
            .iter()
            .map(|v| {
                let s = v.to_string();
                if s.contains(['-', '–']) {
                    range(v, &format!("{label}: verksamheter")).map(|(a, b)| Activity::Range(a, b))
                } else {
                    Ok(Activity::Code(s.trim().to_string()))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Item::Row {
            label,
            group,
            accounts,
            activities,
        });
    }
    if let Some(label) = text(&m, "summa") {
        let group = text(&m, "grupp").unwrap_or_else(|| label.clone());
        let of = if m.get("alla").and_then(|v| v.as_bool().ok()) == Some(true) {
            SumOf::All
        } else if m.contains_key("rader") {
            SumOf::Lines(texts(&m, "rader")?)
        } else if m.contains_key("grupper") {
            SumOf::Groups(texts(&m, "grupper")?)
        } else {
            return Err(format!(
                "{label}: give grupper: [...], rader: [...] or alla: true"
            ));
        };
        return Ok(Item::Sum { label, group, of });
    }
    if let Some(label) = text(&m, "skillnad") {
        let against = text(&m, "mot").ok_or_else(|| format!("{label}: mot is missing"))?;
        let mut frame = Frame::default();
        match m.get("ram") {
            None => return Err(format!("{label}: ram (kronor) is missing")),
            Some(v) => {
                if let Some(by) = v.read_lock::<Map>() {
                    for (k, x) in by.iter() {
                        if let Some(n) = number(x, "ram").map_err(|e| e.to_string())? {
                            frame.by_name.insert(k.to_string(), n);
                        }
                    }
                } else {
                    frame.all = number(v, "ram").map_err(|e| e.to_string())?;
                }
            }
        }
        return Ok(Item::Difference {
            label,
            frame,
            against,
        });
    }
    Err("each entry needs rubrik, rad, summa or skillnad".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Limits;

    fn pack(src: &str) -> RulePack {
        RulePack::from_sources(
            vec![("rules/budget.rhai".into(), src.into())],
            Limits::default(),
        )
    }

    #[test]
    fn shipped_layout_reads() {
        let text = include_str!("../../../rules/budget.rhai");
        let l = read_layout(&pack(text)).unwrap().unwrap();
        assert_eq!(l.items.len(), 16);
        assert_eq!(l.paid_against.as_deref(), Some("Försörjningsstöd"));
        assert!(
            matches!(&l.items[15], Item::Sum { of: SumOf::All, group, .. } if group == "netto")
        );
    }

    #[test]
    fn rows_claim_by_account_and_activity() {
        let acts = [Activity::Code("1810".into()), Activity::Range(1800, 1805)];
        assert!(claims(&[(4700, 4799)], &acts, 4710, Some("1810")));
        assert!(claims(&[], &acts, 1, Some(" 1803")));
        assert!(!claims(&[], &acts, 1, Some("1820")));
        assert!(!claims(&[], &acts, 1, None));
        assert!(!claims(&[(4700, 4799)], &[], 4800, None));
    }

    #[test]
    fn malformed_entries_are_located_errors() {
        let p = pack(
            "fn budgetuppstallning() {\n #{ rader: [ #{ rad: \"X\", konton: [\"1-2\"] } ] }\n}\n",
        );
        let e = read_layout(&p).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("rules/budget.rhai", 1));
        assert!(e.message.contains("grupp"), "{e}");
        let p =
            pack("fn budgetuppstallning() { #{ rader: [ #{ summa: \"S\", rader: [\"Y\"] } ] } }");
        assert!(read_layout(&p).unwrap_err().message.contains("\"Y\""));
        let p = pack(
            "fn budgetuppstallning() { #{ rader: [ #{ rad: \"X\", grupp: \"a\", konton: [\"9-2\"] } ] } }",
        );
        assert!(read_layout(&p).unwrap_err().message.contains("backwards"));
    }

    #[test]
    fn frames_per_district_or_total() {
        let mut f = Frame {
            all: Some(Decimal::from(10)),
            by_name: BTreeMap::new(),
        };
        assert_eq!(f.of(None), Some(Decimal::from(10)));
        assert_eq!(f.of(Some("A")), None, "one amount is the total's frame");
        f.by_name.insert("A".into(), Decimal::from(3));
        assert_eq!(f.of(Some("a")), Some(Decimal::from(3)));
        assert_eq!(f.of(Some("B")), None);
    }
}
