//! Stage 6, deliver by email: takes the workbooks and the JSON that `run` wrote into the
//! output folder and the recipients of the rule pack; gives one message per recipient with
//! exactly one workbook attached (a district's own, or the whole report), sent by SMTP or
//! written as `.eml` files. A failure for one message never stops the others.

mod summary;
mod transport;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use crate::cli::SendConfig;
use crate::deliver::file_name_part;
use crate::model::Period;
use crate::rules::pack::{DeliverySettings, delivery_settings, report_settings};
use crate::rules::{Limits, PackError, RulePack};
pub use summary::{Flags, ReportFile, budget_lines};
use transport::{Outbox, eml_name};

/// The MIME type of an xlsx workbook.
pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The environment variables holding the SMTP login; credentials are read from nowhere else.
pub const USER_VAR: &str = "UTFALL_SMTP_USER";
pub const PASSWORD_VAR: &str = "UTFALL_SMTP_PASSWORD";

/// How the SMTP connection is secured: `starttls` (default, port 587), `tls` (implicit,
/// port 465) or `ingen` (none, port 25; for a relay on the local network or loopback).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TlsMode {
    StartTls,
    Implicit,
    None,
}

impl TlsMode {
    pub fn parse(s: &str) -> Option<TlsMode> {
        match s.trim().to_lowercase().as_str() {
            "starttls" => Some(TlsMode::StartTls),
            "tls" | "ssl" => Some(TlsMode::Implicit),
            "ingen" | "none" => Some(TlsMode::None),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "tls",
            TlsMode::None => "ingen",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::StartTls => 587,
            TlsMode::Implicit => 465,
            TlsMode::None => 25,
        }
    }
}

/// The SMTP login, from `UTFALL_SMTP_USER` and `UTFALL_SMTP_PASSWORD`. Its `Debug` hides
/// the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Credentials {{ user: {:?}, password: <hidden> }}",
            self.user
        )
    }
}

/// The environment's credentials are incomplete or not text.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct CredentialsError {
    pub var: &'static str,
    pub problem: &'static str,
}

impl Credentials {
    /// Reads the login from the environment: both variables, or neither.
    ///
    /// Fails when only one is set or one is not valid Unicode.
    pub fn from_env() -> Result<Option<Credentials>, CredentialsError> {
        let read = |var: &'static str| match std::env::var(var) {
            Ok(v) if v.is_empty() => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(CredentialsError {
                var,
                problem: "not valid text",
            }),
        };
        match (read(USER_VAR)?, read(PASSWORD_VAR)?) {
            (Some(user), Some(password)) => Ok(Some(Credentials { user, password })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(CredentialsError {
                var: PASSWORD_VAR,
                problem: "missing (UTFALL_SMTP_USER is set)",
            }),
            (None, Some(_)) => Err(CredentialsError {
                var: USER_VAR,
                problem: "missing (UTFALL_SMTP_PASSWORD is set)",
            }),
        }
    }
}

/// The SMTP server, resolved from the flags over the rule pack's `smtp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub timeout: Duration,
    /// Tries per message (and for the first connection), at least 1.
    pub attempts: u32,
}

/// Nothing could be sent (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error("{}: no report to send (no {stem}_<period>.json); run `utfall run` first", dir.display())]
    NoReport { dir: PathBuf, stem: String },
    #[error("{}: cannot read the report: {source}", path.display())]
    ReadReport {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a report written by utfall: {source}", path.display())]
    ParseReport {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "nobody to send to: rapport() in {} has no mottagare or mottagare_hela_rapporten",
        rules.display()
    )]
    NoRecipients { rules: PathBuf },
    #[error("smtp.tls {value:?} is not \"starttls\", \"tls\" or \"ingen\"")]
    Tls { value: String },
    #[error("no sender: set smtp.avsandare in rapport() or give --from")]
    NoSender,
    #[error("sender {value:?} is not a valid address: {reason}")]
    Sender { value: String, reason: String },
    #[error(
        "credentials ({USER_VAR}) are never sent unencrypted: use tls \"starttls\" or \"tls\" for {host}"
    )]
    CredentialsUnencrypted { host: String },
    #[error("SMTP server {host}: {source}")]
    Transport {
        host: String,
        source: lettre::transport::smtp::Error,
    },
}

/// What a send did: messages delivered and not.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    pub failed: usize,
}

/// One message to send: one recipient, one workbook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The district whose workbook this is; `None` = the whole report.
    pub district: Option<String>,
    pub to: String,
    pub attachment: PathBuf,
}

impl Outgoing {
    fn scope(&self) -> &str {
        self.district.as_deref().unwrap_or("hela rapporten")
    }

    fn file_name(&self) -> String {
        self.attachment
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Who gets what, and what cannot be sent at all (a district the report does not have, a
/// workbook that is missing).
#[derive(Debug, Default)]
pub struct Plan {
    pub messages: Vec<Outgoing>,
    pub problems: Vec<String>,
}

/// Pairs every recipient with the one workbook meant for them. A district's recipients get
/// only `<stem>_<period>_<district>.xlsx`; the whole report goes only to
/// `mottagare_hela_rapporten`.
pub fn plan(report: &ReportFile, settings: &DeliverySettings, dir: &Path, stem: &str) -> Plan {
    let mut p = Plan::default();
    let base = format!("{stem}_{}", report.period);
    let add = |district: Option<&str>, file: PathBuf, to: &[String], p: &mut Plan| {
        if to.is_empty() {
            return;
        }
        if !file.is_file() {
            p.problems.push(format!(
                "{}: workbook {} is missing; not sent to its {} recipient(s)",
                district.unwrap_or("hela rapporten"),
                file.display(),
                to.len()
            ));
            return;
        }
        for address in to {
            p.messages.push(Outgoing {
                district: district.map(str::to_string),
                to: address.clone(),
                attachment: file.clone(),
            });
        }
    };
    let listed: BTreeMap<&str, &Vec<String>> = settings
        .recipients
        .iter()
        .map(|(d, a)| (d.as_str(), a))
        .collect();
    for (district, to) in &listed {
        if !report.districts.iter().any(|d| d == district) {
            p.problems.push(format!(
                "mottagare: {district:?} is not a district of the report ({}); nothing sent to {}",
                report.districts.join(", "),
                to.join(", ")
            ));
        }
    }
    for district in &report.districts {
        if let Some(to) = listed.get(district.as_str()) {
            let file = dir.join(format!("{base}_{}.xlsx", file_name_part(district)));
            add(Some(district), file, to, &mut p);
        }
    }
    add(
        None,
        dir.join(format!("{base}.xlsx")),
        &settings.whole_report,
        &mut p,
    );
    p
}

/// The report's JSON in `dir`: the given period's, or the one written last.
fn find_report(dir: &Path, stem: &str, period: Option<Period>) -> Result<PathBuf, SendError> {
    let none = || SendError::NoReport {
        dir: dir.to_path_buf(),
        stem: stem.to_string(),
    };
    if let Some(p) = period {
        let path = dir.join(format!("{stem}_{}.json", p.label()));
        return if path.is_file() {
            Ok(path)
        } else {
            Err(none())
        };
    }
    let prefix = format!("{stem}_");
    let entries = std::fs::read_dir(dir).map_err(|_| none())?;
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix) && n.ends_with(".json")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, p)| p)
        .ok_or_else(none)
}

/// The SMTP server to use, or `None` for `.eml` files.
fn smtp_config(
    config: &SendConfig,
    pack: &DeliverySettings,
) -> Result<Option<SmtpConfig>, SendError> {
    let Some(host) = config.smtp.host.clone().or_else(|| pack.smtp.host.clone()) else {
        return Ok(None);
    };
    let tls = match (config.smtp.tls, &pack.smtp.tls) {
        (Some(t), _) => t,
        (None, Some(word)) => TlsMode::parse(word).ok_or_else(|| SendError::Tls {
            value: word.clone(),
        })?,
        (None, None) => TlsMode::StartTls,
    };
    if tls == TlsMode::None && config.credentials.is_some() {
        return Err(SendError::CredentialsUnencrypted { host });
    }
    Ok(Some(SmtpConfig {
        port: config
            .smtp
            .port
            .or(pack.smtp.port)
            .unwrap_or_else(|| tls.default_port()),
        host,
        tls,
        timeout: Duration::from_secs(pack.smtp.timeout_seconds.unwrap_or(30)),
        attempts: pack.smtp.attempts.unwrap_or(3),
    }))
}

fn sender(config: &SendConfig, pack: &DeliverySettings, smtp: bool) -> Result<Mailbox, SendError> {
    let text = match config
        .smtp
        .from
        .clone()
        .or_else(|| pack.smtp.sender.clone())
    {
        Some(t) => t,
        // A mail client puts the user's own address on a draft; a server needs a real one.
        None if !smtp => "utfall <utfall@localhost>".to_string(),
        None => return Err(SendError::NoSender),
    };
    text.parse::<Mailbox>().map_err(|e| SendError::Sender {
        value: text.clone(),
        reason: e.to_string(),
    })
}

/// Builds one message: plain-text summary and the workbook attached under its own name.
fn build_message(
    from: &Mailbox,
    to: Mailbox,
    subject: String,
    body: String,
    file_name: String,
    workbook: Vec<u8>,
    draft: bool,
) -> Result<Message, lettre::error::Error> {
    let xlsx = ContentType::parse(XLSX_MIME).expect("XLSX_MIME is a valid MIME type");
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject);
    if draft {
        // Outlook opens an .eml with this header as a draft the user can send.
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Unsent"),
            "1".to_string(),
        ));
    }
    builder.multipart(
        MultiPart::mixed()
            .singlepart(SinglePart::plain(body))
            .singlepart(Attachment::new(file_name).body(workbook, xlsx)),
    )
}

/// Sends (or, with `dry_run`, lists) the messages for the report in `config.output_dir`.
///
/// Fails (exit 2) when there is no report, no recipient, or the SMTP settings are unusable;
/// a message that cannot be delivered is reported on stderr and counted in `failed`.
pub fn send(config: &SendConfig) -> Result<SendReport, SendError> {
    let log = |s: &str| {
        if !config.quiet {
            eprintln!("{s}");
        }
    };
    let pack = RulePack::load(&config.rules_dir, Limits::default())?;
    let (report_settings, _) = report_settings(&pack);
    let (settings, pack_errors) = delivery_settings(&pack);
    let mut result = SendReport::default();
    for e in &pack_errors {
        eprintln!("error: {}", e.with_caret());
        result.failed += 1;
    }
    let stem = file_name_part(&report_settings.file_stem);
    let json = find_report(&config.output_dir, &stem, config.period)?;
    let report = match ReportFile::read(&json) {
        Err(source) => return Err(SendError::ReadReport { path: json, source }),
        Ok(Err(source)) => return Err(SendError::ParseReport { path: json, source }),
        Ok(Ok(r)) => r,
    };
    let plan = plan(&report, &settings, &config.output_dir, &stem);
    if plan.messages.is_empty() && plan.problems.is_empty() {
        return Err(SendError::NoRecipients {
            rules: config.rules_dir.clone(),
        });
    }
    for p in &plan.problems {
        eprintln!("error: {p}");
        result.failed += 1;
    }
    let smtp = smtp_config(config, &settings)?;
    let from = sender(config, &settings, smtp.is_some())?;
    let outbox = match &smtp {
        Some(s) => {
            Outbox::smtp(s, config.credentials.as_ref()).map_err(|source| SendError::Transport {
                host: s.host.clone(),
                source,
            })?
        }
        None => Outbox::Eml {
            dir: config.output_dir.clone(),
        },
    };

    if config.dry_run {
        println!(
            "{} {}: {} message(s) from {from} {} (dry run, nothing sent)",
            report.report,
            report.period,
            plan.messages.len(),
            outbox.describe()
        );
        for m in &plan.messages {
            println!("  {}: {} -> {}", m.scope(), m.file_name(), m.to);
        }
        return Ok(result);
    }

    if let Err(e) = outbox.check() {
        eprintln!(
            "error: {}; {} message(s) not sent",
            e.0,
            plan.messages.len()
        );
        result.failed += plan.messages.len();
        return Ok(result);
    }
    for m in &plan.messages {
        match deliver_one(&outbox, &from, &report, m) {
            Ok(how) => {
                log(&format!(
                    "{}: {} -> {} ({how})",
                    m.scope(),
                    m.file_name(),
                    m.to
                ));
                result.sent += 1;
            }
            Err(why) => {
                eprintln!("error: {}: {} -> {}: {why}", m.scope(), m.file_name(), m.to);
                result.failed += 1;
            }
        }
    }
    log(&format!(
        "{} of {} message(s) delivered {}{}",
        result.sent,
        result.sent + result.failed,
        outbox.describe(),
        if result.failed > 0 {
            format!("; {} failed", result.failed)
        } else {
            String::new()
        }
    ));
    Ok(result)
}

fn deliver_one(
    outbox: &Outbox,
    from: &Mailbox,
    report: &ReportFile,
    m: &Outgoing,
) -> Result<String, String> {
    let to: Mailbox =
        m.to.parse()
            .map_err(|e| format!("not a valid address: {e}"))?;
    let workbook = std::fs::read(&m.attachment)
        .map_err(|e| format!("cannot read {}: {e}", m.attachment.display()))?;
    let file_name = m.file_name();
    let district = m.district.as_deref();
    let message = build_message(
        from,
        to,
        summary::subject(report, district),
        summary::body(report, district, &file_name),
        file_name,
        workbook,
        matches!(outbox, Outbox::Eml { .. }),
    )
    .map_err(|e| format!("cannot build the message: {e}"))?;
    outbox
        .deliver(&message, &eml_name(&m.attachment, &m.to))
        .map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ReportFile {
        ReportFile::parse(
            r#"{"report": "R", "period": "2019-05", "period_label": "januari–maj 2019",
                "districts": ["Kungsholmen", "Norrmalm", "Östermalm"], "results": []}"#,
        )
        .unwrap()
    }

    fn folder_with_workbooks(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("utfall-plan-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in [
            "R_2019-05.xlsx",
            "R_2019-05_Kungsholmen.xlsx",
            "R_2019-05_Norrmalm.xlsx",
            "R_2019-05_Östermalm.xlsx",
        ] {
            std::fs::write(dir.join(n), n).unwrap();
        }
        dir
    }

    #[test]
    fn every_district_gets_only_its_own_workbook() {
        let dir = folder_with_workbooks("own");
        let mut s = DeliverySettings::default();
        for (d, a) in [("Kungsholmen", "k"), ("Norrmalm", "n"), ("Östermalm", "o")] {
            s.recipients.insert(
                d.into(),
                vec![format!("{a}1@example.se"), format!("{a}2@example.se")],
            );
        }
        // The same person managing two districts gets two messages, one workbook each.
        s.recipients
            .get_mut("Norrmalm")
            .unwrap()
            .push("k1@example.se".into());
        s.whole_report = vec!["ek@example.se".into()];
        let p = plan(&report(), &s, &dir, "R");
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.messages.len(), 8);
        for m in &p.messages {
            let name = m.file_name();
            match &m.district {
                Some(d) => {
                    assert_eq!(name, format!("R_2019-05_{d}.xlsx"));
                    assert!(s.recipients[d].contains(&m.to), "{m:?}");
                }
                None => {
                    assert_eq!(name, "R_2019-05.xlsx");
                    assert_eq!(m.to, "ek@example.se");
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_district_and_missing_workbook_are_problems_not_silence() {
        let dir = folder_with_workbooks("unknown");
        std::fs::remove_file(dir.join("R_2019-05_Norrmalm.xlsx")).unwrap();
        let mut s = DeliverySettings::default();
        s.recipients
            .insert("Ostermalm".into(), vec!["o@example.se".into()]);
        s.recipients
            .insert("Norrmalm".into(), vec!["n@example.se".into()]);
        s.recipients
            .insert("Kungsholmen".into(), vec!["k@example.se".into()]);
        let p = plan(&report(), &s, &dir, "R");
        assert_eq!(p.messages.len(), 1);
        assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
        assert!(
            p.problems
                .iter()
                .any(|x| x.contains("\"Ostermalm\" is not a district"))
        );
        assert!(
            p.problems
                .iter()
                .any(|x| x.contains("Norrmalm.xlsx is missing"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn attachment_has_the_xlsx_type_and_an_encoded_non_ascii_name() {
        let from: Mailbox = "utfall@example.se".parse().unwrap();
        let m = build_message(
            &from,
            "chef@example.se".parse().unwrap(),
            "Uppföljning – Östermalm".into(),
            "Hej!".into(),
            "R_2019-05_Östermalm.xlsx".into(),
            vec![0, 1, 2, 255],
            true,
        )
        .unwrap();
        let text = String::from_utf8_lossy(&m.formatted()).into_owned();
        assert!(
            text.contains(&format!("Content-Type: {XLSX_MIME}")),
            "{text}"
        );
        // RFC 2231: percent-encoded UTF-8 (as one continuation segment).
        assert!(
            text.contains("filename*0*=utf-8''R_2019-05_%C3%96stermalm.xlsx"),
            "{text}"
        );
        assert!(text.contains("X-Unsent: 1"), "{text}");
        assert!(!text.contains("Östermalm"), "headers are 7-bit: {text}");
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            user: "u".into(),
            password: "hemligt".into(),
        };
        assert!(!format!("{c:?}").contains("hemligt"));
    }
}
