//! `send` and `run --send` as a district manager receives them: a real SMTP server
//! (Python's aiosmtpd, `tests/cli/smtp_server.py`) on 127.0.0.1 stores what arrives, and
//! Python's `email` package (`tests/cli/mime_check.py`), not our code, parses it back.
//! Needs `python3` with `aiosmtpd` (`pip install aiosmtpd`; `.ci/run` installs it).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{CRATE, Case, UTB, befolkning};

const STEM: &str = "Uppfoljning_ekonomiskt_bistand";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A real SMTP server on loopback, killed when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
}

impl SmtpServer {
    /// Starts the server; RCPT TO for `refused` addresses is answered 550.
    pub fn start(maildir: &Path, refused: &[&str]) -> SmtpServer {
        let mut child = Command::new("python3")
            .arg(Path::new(CRATE).join("tests/cli/smtp_server.py"))
            .arg(maildir)
            .args(refused)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is needed for the SMTP tests");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Some(port) = line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
        else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the test SMTP server did not start (is aiosmtpd installed? `pip install aiosmtpd`, \
                 as .ci/run does): {line:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        SmtpServer {
            child,
            port,
            maildir: maildir.to_path_buf(),
        }
    }

    /// The messages received so far, in order of arrival.
    pub fn received(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.maildir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|eml| {
                let envelope: Value =
                    serde_json::from_slice(&std::fs::read(eml.with_extension("json")).unwrap())
                        .unwrap();
                Received {
                    envelope_to: envelope["to"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                    mime: mime_check(&eml),
                }
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Closing stdin ends it; kill in case it hangs.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One message as the server stored it.
pub struct Received {
    pub envelope_to: Vec<String>,
    pub mime: Value,
}

impl Received {
    /// The one attachment: file name, content type and the decoded bytes.
    fn attachment(&self) -> (String, String, Vec<u8>) {
        let atts = self.mime["attachments"].as_array().unwrap();
        assert_eq!(
            atts.len(),
            1,
            "exactly one workbook per message: {}",
            self.mime
        );
        let a = &atts[0];
        (
            a["filename"].as_str().unwrap().to_string(),
            a["content_type"].as_str().unwrap().to_string(),
            std::fs::read(a["saved"].as_str().unwrap()).unwrap(),
        )
    }
}

/// Python's `email` package's view of a message file.
fn mime_check(path: &Path) -> Value {
    let out = Command::new("python3")
        .arg(Path::new(CRATE).join("tests/cli/mime_check.py"))
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} does not parse as MIME: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["defects"],
        serde_json::json!([]),
        "{}: {v}",
        path.display()
    );
    assert_eq!(v["mime_version"], "1.0");
    v
}

/// Exports for all three districts, January–May 2019.
fn three_districts() -> Case {
    let mut utb = format!("{UTB}\n");
    for m in 1..=5 {
        utb += &format!("2019-{m:02};Kungsholmen;H1;1000;1;2;0;Arbetslöshet;Ja\n");
        utb += &format!("2019-{m:02};Norrmalm;H2;800;2;0;1;;\n");
        utb += &format!("2019-{m:02};Östermalm;H3;1200;1;0;0;;\n");
    }
    Case::new().csv("utb_2019.csv", &utb).csv(
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

/// `rapport()` with these recipients (`"District": [...]` entries) and `smtp` fields.
fn rapport(recipients: &str, smtp: &str) -> String {
    format!(
        r#"fn rapport() {{
    #{{
        titel: "Uppföljning ekonomiskt bistånd",
        filnamn: "{STEM}",
        stadsdelar: ["Kungsholmen", "Norrmalm", "Östermalm"],
        mottagare: #{{ {recipients} }},
        mottagare_hela_rapporten: ["ekonomi@example.se"],
        smtp: #{{ {smtp} }},
    }}
}}
"#
    )
}

const RECIPIENTS: &str = r#""Kungsholmen": ["chef.kungsholmen@example.se"],
    "Norrmalm": ["chef.norrmalm@example.se"],
    "Östermalm": ["chef.ostermalm@example.se", "controller.ostermalm@example.se"]"#;

fn smtp_to(port: u16) -> String {
    format!(
        r#"host: "127.0.0.1", port: {port}, tls: "ingen", avsandare: "Uppföljning <uppfoljning@example.se>", forsok: 2"#
    )
}

/// `utfall send` for this case, with extra arguments.
fn send(case: &Case, extra: &[&str]) -> crate::harness::Run {
    let mut args: Vec<String> = vec![
        "send".into(),
        "--rules".into(),
        case.rules_dir().display().to_string(),
        "--output".into(),
        case.output_dir().display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    case.run_raw(&args)
}

/// The district whose workbook a recipient of `RECIPIENTS` must get.
fn district_of(address: &str) -> Option<&'static str> {
    match address {
        "chef.kungsholmen@example.se" => Some("Kungsholmen"),
        "chef.norrmalm@example.se" => Some("Norrmalm"),
        "chef.ostermalm@example.se" | "controller.ostermalm@example.se" => Some("Östermalm"),
        "ekonomi@example.se" => None,
        other => panic!("mail to an address nobody configured: {other}"),
    }
}

/// Every received message: addressed to exactly one configured recipient, carrying exactly
/// that recipient's workbook, byte-identical to the file in `out/`.
fn assert_each_got_its_own(case: &Case, received: &[Received]) {
    for r in received {
        assert_eq!(r.envelope_to.len(), 1, "one recipient per message");
        let to = &r.envelope_to[0];
        assert_eq!(r.mime["to"], to.as_str(), "header To matches the envelope");
        let district = district_of(to);
        let (name, content_type, bytes) = r.attachment();
        let want = match district {
            Some(d) => format!("{STEM}_2019-05_{d}.xlsx"),
            None => format!("{STEM}_2019-05.xlsx"),
        };
        assert_eq!(name, want, "{to} got the wrong workbook");
        assert_eq!(content_type, XLSX);
        let on_disk = std::fs::read(case.output_dir().join(&want)).unwrap();
        assert!(bytes == on_disk, "{want}: the attachment differs from out/");
        let subject = r.mime["subject"].as_str().unwrap();
        assert_eq!(
            subject,
            format!(
                "Uppföljning ekonomiskt bistånd januari–maj 2019 – {}",
                district.unwrap_or("alla stadsdelar")
            )
        );
        assert_eq!(r.mime["from"], "Uppföljning <uppfoljning@example.se>");
        let body = r.mime["body"].as_str().unwrap();
        assert!(body.contains("● Uppfylls helt:"), "{body}");
        assert!(body.contains(&want), "{body}");
        if let Some(d) = district {
            for other in ["Kungsholmen", "Norrmalm", "Östermalm"] {
                if other != d {
                    assert!(
                        !body.contains(other),
                        "{to}'s message names {other}: {body}"
                    );
                }
            }
        }
    }
}

#[test]
fn smtp_delivers_each_recipient_its_own_workbook() {
    let server_dir = tempdir("smtp-ok");
    let server = SmtpServer::start(&server_dir, &[]);
    let case = three_districts().rule("rapport.rhai", &rapport(RECIPIENTS, &smtp_to(server.port)));
    case.run(&["run"]).expect_code(0);
    let run = send(&case, &[]);
    run.expect_code(0);
    let received = server.received();
    assert_eq!(
        received.len(),
        5,
        "4 district recipients + the whole report; {}",
        run.stderr
    );
    assert_each_got_its_own(&case, &received);
    let mut tos: Vec<&str> = received.iter().map(|r| r.envelope_to[0].as_str()).collect();
    tos.sort();
    assert_eq!(
        tos,
        [
            "chef.kungsholmen@example.se",
            "chef.norrmalm@example.se",
            "chef.ostermalm@example.se",
            "controller.ostermalm@example.se",
            "ekonomi@example.se"
        ]
    );
    assert!(
        run.stderr
            .contains("5 of 5 message(s) delivered via 127.0.0.1:"),
        "{}",
        run.stderr
    );
    std::fs::remove_dir_all(&server_dir).unwrap();
}

#[test]
fn flags_override_the_pack_and_run_send_does_both() {
    let server_dir = tempdir("smtp-flags");
    let server = SmtpServer::start(&server_dir, &[]);
    // The pack names a host that must not be used; the flags point at the test server.
    let case = three_districts().rule(
        "rapport.rhai",
        &rapport(
            r#""Norrmalm": ["chef.norrmalm@example.se"]"#,
            r#"host: "smtp.invalid", port: 2, tls: "tls", avsandare: "x@example.se""#,
        ),
    );
    let port = server.port.to_string();
    let run = case.run(&[
        "run",
        "--send",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-tls",
        "ingen",
        "--from",
        "Uppföljning <uppfoljning@example.se>",
    ]);
    run.expect_code(0);
    let received = server.received();
    assert_eq!(received.len(), 2, "{}", run.stderr);
    assert_each_got_its_own(&case, &received);
    std::fs::remove_dir_all(&server_dir).unwrap();
}

#[test]
fn a_refused_recipient_fails_alone_with_exit_code_1() {
    let server_dir = tempdir("smtp-refuse");
    let server = SmtpServer::start(&server_dir, &["chef.norrmalm@example.se"]);
    let case = three_districts().rule("rapport.rhai", &rapport(RECIPIENTS, &smtp_to(server.port)));
    case.run(&["run"]).expect_code(0);
    let run = send(&case, &[]);
    run.expect_code(1);
    let received = server.received();
    assert_eq!(
        received.len(),
        4,
        "everyone else still gets theirs; {}",
        run.stderr
    );
    assert!(
        received
            .iter()
            .all(|r| r.envelope_to[0] != "chef.norrmalm@example.se")
    );
    assert_each_got_its_own(&case, &received);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {}", run.stderr));
    assert!(
        line.contains("Norrmalm") && line.contains("chef.norrmalm@example.se"),
        "{line}"
    );
    assert!(line.contains("550"), "{line}");
    assert!(
        run.stderr.contains("4 of 5 message(s) delivered"),
        "{}",
        run.stderr
    );
    std::fs::remove_dir_all(&server_dir).unwrap();
}

#[test]
fn a_server_that_is_down_is_reported_with_exit_code_1() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let case = three_districts().rule("rapport.rhai", &rapport(RECIPIENTS, &smtp_to(port)));
    case.run(&["run"]).expect_code(0);
    let run = send(&case, &[]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains(&format!("SMTP server 127.0.0.1:{port} (ingen) unreachable")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("5 message(s) not sent"),
        "{}",
        run.stderr
    );
    assert!(
        run.elapsed < Duration::from_secs(20),
        "gave up in time: {:?}",
        run.elapsed
    );
}

#[test]
fn dry_run_prints_who_would_get_what_and_sends_nothing() {
    let server_dir = tempdir("smtp-dry");
    let server = SmtpServer::start(&server_dir, &[]);
    let case = three_districts().rule("rapport.rhai", &rapport(RECIPIENTS, &smtp_to(server.port)));
    case.run(&["run"]).expect_code(0);
    let run = send(&case, &["--dry-run"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("dry run, nothing sent"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "  Östermalm: {STEM}_2019-05_Östermalm.xlsx -> controller.ostermalm@example.se"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "  hela rapporten: {STEM}_2019-05.xlsx -> ekonomi@example.se"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches(" -> ").count(), 5, "{}", run.stdout);
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.received().is_empty());
    std::fs::remove_dir_all(&server_dir).unwrap();
}

#[test]
fn without_smtp_eml_files_are_written_and_parse_as_mime() {
    let case = three_districts().rule(
        "rapport.rhai",
        &rapport(
            RECIPIENTS,
            r#"avsandare: "Uppföljning <uppfoljning@example.se>""#,
        ),
    );
    let run = case.run(&["run", "--send"]);
    run.expect_code(0);
    let emls: Vec<String> = run
        .files()
        .into_iter()
        .filter(|f| f.ends_with(".eml"))
        .collect();
    assert_eq!(
        emls,
        [
            format!("{STEM}_2019-05_Kungsholmen_chef.kungsholmen@example.se.eml"),
            format!("{STEM}_2019-05_Norrmalm_chef.norrmalm@example.se.eml"),
            format!("{STEM}_2019-05_ekonomi@example.se.eml"),
            format!("{STEM}_2019-05_Östermalm_chef.ostermalm@example.se.eml"),
            format!("{STEM}_2019-05_Östermalm_controller.ostermalm@example.se.eml"),
        ]
    );
    // Parsed in a copy, so the attachments mime_check saves do not land in out/.
    let copy = tempdir("eml");
    let mut received = Vec::new();
    for name in &emls {
        let p = copy.join(name);
        std::fs::copy(run.path(name), &p).unwrap();
        let mime = mime_check(&p);
        assert_eq!(mime["x_unsent"], "1", "opens as a draft in Outlook");
        received.push(Received {
            envelope_to: vec![mime["to"].as_str().unwrap().to_string()],
            mime,
        });
    }
    assert_each_got_its_own(&case, &received);
    assert!(!run.files().iter().any(|f| f.ends_with(".tmp")));
    std::fs::remove_dir_all(&copy).unwrap();
}

#[test]
fn a_district_the_report_does_not_have_is_an_error_not_silence() {
    let case = three_districts().rule(
        "rapport.rhai",
        &rapport(
            r#""Ostermalm": ["chef.ostermalm@example.se"], "Norrmalm": ["chef.norrmalm@example.se"]"#,
            "",
        ),
    );
    let run = case.run(&["run", "--send"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("mottagare: \"Ostermalm\" is not a district of the report"),
        "{}",
        run.stderr
    );
    // Norrmalm and the whole report still go out.
    assert_eq!(
        run.files().iter().filter(|f| f.ends_with(".eml")).count(),
        2
    );
}

#[test]
fn nothing_to_send_is_exit_code_2() {
    let case = three_districts();
    // No run yet: no report in out/.
    let run = send(&case, &[]);
    run.expect_code(2);
    assert!(run.stderr.contains("no report to send"), "{}", run.stderr);
}

#[test]
fn credentials_come_from_the_environment_and_never_travel_unencrypted() {
    let case = three_districts().rule("rapport.rhai", &rapport(RECIPIENTS, &smtp_to(2525)));
    case.run(&["run"]).expect_code(0);
    let out = Command::new(env!("CARGO_BIN_EXE_utfall"))
        .args(["send", "--rules"])
        .arg(case.rules_dir())
        .arg("--output")
        .arg(case.output_dir())
        .env("UTFALL_SMTP_USER", "controller")
        .env("UTFALL_SMTP_PASSWORD", "hemligt-lösen")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("never sent unencrypted"), "{stderr}");
    assert!(!stderr.contains("hemligt"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_utfall"))
        .args(["send", "--rules"])
        .arg(case.rules_dir())
        .arg("--output")
        .arg(case.output_dir())
        .env("UTFALL_SMTP_USER", "controller")
        .env_remove("UTFALL_SMTP_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("UTFALL_SMTP_PASSWORD: missing"), "{stderr}");
}

/// A fresh folder under the system temp dir.
fn tempdir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "utfall-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
