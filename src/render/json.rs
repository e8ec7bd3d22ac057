//! Renders the whole `Evaluation` (all districts and the total) and the run's Kontroll
//! counts as the machine-readable JSON report. Keys come out in a fixed order (struct
//! order); decimals become JSON numbers, whole ones as integers.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::Value;

use crate::evaluate::budget::{LineKind, UnclaimedReason};
use crate::evaluate::{Direction, Evaluation, IndicatorResult, Target};
use crate::model::round_half_away;
use crate::render::RenderError;
use crate::report::{ControlData, ControlIssue};

#[derive(Serialize)]
struct ReportJson<'a> {
    report: &'a str,
    period: String,
    period_label: String,
    months: Vec<String>,
    districts: &'a [String],
    population_year: Option<i32>,
    generator: String,
    rule_pack_fingerprint: &'a str,
    results: Vec<ResultJson<'a>>,
    budget: Vec<BudgetJson<'a>>,
    diagnostics: DiagnosticsJson,
}

#[derive(Serialize)]
struct ResultJson<'a> {
    id: &'a str,
    name: &'a str,
    unit: &'static str,
    decimals: u32,
    direction: &'static str,
    district: Option<&'a str>,
    period: String,
    value: Option<Value>,
    rounded: Option<Value>,
    previous: Option<Value>,
    numerator: Option<Value>,
    denominator: Option<Value>,
    target: Option<Value>,
    kf_target: Option<Value>,
    status: &'static str,
    comment: Option<&'a str>,
    suppressed: bool,
}

/// One budget line for one district (`null` = the total), in kronor, signed as the
/// workbook shows it (income positive); deviations are budget − outcome (positive =
/// surplus).
#[derive(Serialize)]
struct BudgetJson<'a> {
    row: &'a str,
    group: &'a str,
    kind: &'static str,
    district: Option<&'a str>,
    budget_year: Option<Value>,
    budget_period: Option<Value>,
    outcome_period: Option<Value>,
    deviation: Option<Value>,
    forecast_year: Option<Value>,
    forecast_deviation: Option<Value>,
    previous_outcome_period: Option<Value>,
}

#[derive(Serialize)]
struct DiagnosticsJson {
    files: usize,
    rejected_rows: usize,
    replacements: Vec<String>,
    rule_errors: Vec<String>,
    warnings: Vec<String>,
}

/// Renders the JSON report, pretty-printed with a final newline.
///
/// Fails only if serde_json does (it cannot for these types; the error is kept honest).
pub fn render_json(eval: &Evaluation, control: &ControlData) -> Result<Vec<u8>, RenderError> {
    let period = eval.period.label();
    let results = eval
        .results
        .iter()
        .filter_map(|r| result_json(eval, r, &period))
        .collect();
    let generator = if control.generated_by.is_empty() {
        format!("utfall {}", env!("CARGO_PKG_VERSION"))
    } else {
        control.generated_by.clone()
    };
    let report = ReportJson {
        report: &eval.title,
        period: period.clone(),
        period_label: eval.period.label_sv(),
        months: eval.period.months().iter().map(|m| m.to_string()).collect(),
        districts: &eval.districts,
        population_year: eval.population_year,
        generator,
        rule_pack_fingerprint: &control.rule_fingerprint,
        results,
        budget: budget_json(eval),
        diagnostics: DiagnosticsJson {
            files: control.files.len(),
            rejected_rows: control.rejected_rows.len(),
            replacements: control.replacements.clone(),
            rule_errors: control.rule_errors.iter().map(ControlIssue::line).collect(),
            warnings: control
                .warnings
                .iter()
                .cloned()
                .chain(unclaimed_warnings(eval))
                .collect(),
        },
    };
    let mut bytes =
        serde_json::to_vec_pretty(&report).map_err(|e| RenderError::Json { source: e })?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn budget_json(eval: &Evaluation) -> Vec<BudgetJson<'_>> {
    let b = &eval.budget;
    b.figures
        .iter()
        .filter_map(|f| {
            let line = b.lines.get(f.line)?;
            let district = match f.district {
                Some(d) => Some(eval.districts.get(d)?.as_str()),
                None => None,
            };
            let n = |v: Option<Decimal>| v.map(number);
            Some(BudgetJson {
                row: &line.label,
                group: &line.group,
                kind: match line.kind {
                    LineKind::Heading => "heading",
                    LineKind::Row => "row",
                    LineKind::Subtotal => "subtotal",
                    LineKind::Difference => "difference",
                },
                district,
                budget_year: n(f.budget_year),
                budget_period: n(f.budget_period),
                outcome_period: n(f.outcome_period),
                deviation: n(f.deviation),
                forecast_year: n(f.forecast_year),
                forecast_deviation: n(f.forecast_deviation),
                previous_outcome_period: n(f.previous_outcome_period),
            })
        })
        .collect()
}

/// Ledger and budget lines outside the layout's rows, one warning per account.
fn unclaimed_warnings(eval: &Evaluation) -> impl Iterator<Item = String> + '_ {
    eval.budget.unclaimed.iter().map(|u| {
        let what = match u.reason {
            UnclaimedReason::NoRow => "no budget row claims it (shown as \"Ej i uppställningen\")",
            UnclaimedReason::OtherDistrict => "its district is not in the report (not counted)",
        };
        format!(
            "{} {}: Konto {}, Verksamhet {}, Stadsdel {}: {} rows, {} kr: {what}",
            u.dataset,
            u.span,
            u.account,
            u.activity.as_deref().unwrap_or("–"),
            u.district_name.as_deref().unwrap_or("–"),
            u.rows,
            u.amount
        )
    })
}

/// `None` for a result whose indicator or district index is out of range.
fn result_json<'a>(
    eval: &'a Evaluation,
    r: &'a IndicatorResult,
    period: &str,
) -> Option<ResultJson<'a>> {
    let def = eval.indicators.get(r.indicator)?;
    let district = match r.district {
        Some(d) => Some(eval.districts.get(d)?.as_str()),
        None => None,
    };
    // Swedish statistics' secrecy mark, in place of every figure the threshold hides.
    let shown = |v: Option<Decimal>| {
        if r.suppressed {
            Some(Value::String("..".into()))
        } else {
            v.map(number)
        }
    };
    let rounded = r
        .rounded
        .or_else(|| r.current.value.map(|v| round_half_away(v, def.decimals)));
    Some(ResultJson {
        id: &def.id,
        name: &def.name,
        unit: def.unit.label(),
        decimals: def.decimals,
        direction: match def.direction {
            Direction::LowerIsBetter => "lower",
            Direction::HigherIsBetter => "higher",
        },
        district,
        period: period.to_string(),
        value: shown(r.current.value),
        rounded: shown(rounded),
        previous: shown(r.previous.value),
        numerator: shown(r.current.numerator),
        denominator: shown(r.current.denominator),
        target: r.target.as_ref().map(target),
        kf_target: r.kf_target.as_ref().map(target),
        status: r.status.code(),
        comment: r.comment.as_deref(),
        suppressed: r.suppressed,
    })
}

/// A JSON number: an integer when the decimal is whole and fits, else the nearest f64.
fn number(d: Decimal) -> Value {
    let n = d.normalize();
    if n.scale() == 0
        && let Some(i) = n.to_i64()
    {
        return Value::from(i);
    }
    n.to_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn target(t: &Target) -> Value {
    match t {
        Target::Value(v) => number(*v),
        Target::Decrease | Target::Increase => Value::String(t.label_sv()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn parsed() -> Value {
        let (eval, control) = fixture::sample();
        serde_json::from_slice(&render_json(&eval, &control).unwrap()).unwrap()
    }

    fn find<'a>(v: &'a Value, id: &str, district: Option<&str>) -> &'a Value {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id && r["district"].as_str() == district)
            .unwrap()
    }

    #[test]
    fn header_fields() {
        let v = parsed();
        assert_eq!(v["report"], "Uppföljning ekonomiskt bistånd");
        assert_eq!(v["period"], "2019-05");
        assert_eq!(v["period_label"], "januari–maj 2019");
        assert_eq!(v["months"][0], "2019-01");
        assert_eq!(v["months"].as_array().unwrap().len(), 5);
        assert_eq!(v["districts"][1], "Norrmalm");
        assert_eq!(v["population_year"], 2018);
        assert_eq!(v["generator"], "utfall 0.1.0");
        assert_eq!(v["rule_pack_fingerprint"], "sha256:0123abcd");
        assert_eq!(v["budget"], serde_json::json!([]));
        assert_eq!(v["diagnostics"]["rejected_rows"], 1);
        assert_eq!(
            v["diagnostics"]["rule_errors"][0],
            "rules/mal.rhai:3:5: division by zero"
        );
        assert_eq!(v["results"].as_array().unwrap().len(), 9);
    }

    #[test]
    fn total_has_null_district_and_unrounded_value() {
        let v = parsed();
        let total = find(&v, "andel_barn", None);
        assert!(total["district"].is_null());
        assert_eq!(total["value"], 0.285);
        assert_eq!(total["rounded"], 0.29);
        assert_eq!(total["previous"], 0.3);
        assert_eq!(total["numerator"], 28.5);
        assert_eq!(total["denominator"], 10000);
        assert!(total["denominator"].is_u64(), "whole numbers are integers");
        assert_eq!(total["target"], 0.5);
        assert_eq!(total["kf_target"], 2.8);
        assert_eq!(total["status"], "helt");
        assert_eq!(total["unit"], "%");
        assert_eq!(total["decimals"], 2);
        assert_eq!(total["direction"], "lower");
        assert_eq!(total["suppressed"], false);
    }

    #[test]
    fn statuses_targets_missing_and_suppressed() {
        let v = parsed();
        let k = find(&v, "utbetalt", Some("Kungsholmen"));
        assert_eq!(k["target"], "minska");
        assert_eq!(k["value"], 1234567.5);
        assert_eq!(k["rounded"], 1234568);
        assert_eq!(k["status"], "ej");
        assert!(k["kf_target"].is_null());

        let n = find(&v, "utbetalt", Some("Norrmalm"));
        assert_eq!(n["suppressed"], true);
        for key in ["value", "rounded", "previous", "numerator", "denominator"] {
            assert_eq!(n[key], "..", "{key}");
        }
        assert_eq!(n["status"], "ingen_malsattning");

        let missing = find(&v, "sommarjobb", Some("Kungsholmen"));
        assert!(missing["value"].is_null());
        assert_eq!(missing["previous"], 40);
        assert_eq!(missing["status"], "saknas");
        assert_eq!(find(&v, "sommarjobb", Some("Norrmalm"))["status"], "fel");
        assert_eq!(find(&v, "andel_barn", Some("Norrmalm"))["status"], "delvis");
        assert_eq!(find(&v, "sommarjobb", None)["direction"], "higher");
    }

    #[test]
    fn keys_come_in_a_fixed_order() {
        let (eval, control) = fixture::sample();
        let text = String::from_utf8(render_json(&eval, &control).unwrap()).unwrap();
        let order = [
            "\"report\"",
            "\"period\"",
            "\"period_label\"",
            "\"months\"",
            "\"districts\"",
            "\"population_year\"",
            "\"generator\"",
            "\"rule_pack_fingerprint\"",
            "\"results\"",
            "\"budget\"",
            "\"diagnostics\"",
        ];
        let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        assert!(text.contains("\"id\": \"andel_barn\",\n      \"name\""));
    }
}
