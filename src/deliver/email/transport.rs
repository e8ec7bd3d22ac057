//! How a built message leaves: by SMTP (lettre, rustls; STARTTLS, implicit TLS or none;
//! timeouts; retries on temporary failures) or as an `.eml` file in the output folder,
//! written atomically, for the user's mail client.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials as SmtpCredentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use super::{Credentials, SmtpConfig, TlsMode};
use crate::deliver::write_atomic;

/// Where messages go.
pub enum Outbox {
    Smtp {
        transport: Box<SmtpTransport>,
        /// `smtp.example.se:587 (starttls)`, for messages.
        label: String,
        attempts: u32,
        backoff: Duration,
    },
    Eml {
        dir: PathBuf,
    },
}

/// Why one message was not delivered, in words for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDelivered(pub String);

impl Outbox {
    /// An SMTP outbox for `config`.
    ///
    /// Fails only when the TLS parameters cannot be built (e.g. the host is not a valid
    /// name for a certificate).
    pub fn smtp(
        config: &SmtpConfig,
        credentials: Option<&Credentials>,
    ) -> Result<Outbox, lettre::transport::smtp::Error> {
        let tls = match config.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => Tls::Required(TlsParameters::new(config.host.clone())?),
            TlsMode::Implicit => Tls::Wrapper(TlsParameters::new(config.host.clone())?),
        };
        let mut builder = SmtpTransport::builder_dangerous(config.host.clone())
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout));
        if let Some(c) = credentials {
            builder = builder.credentials(SmtpCredentials::new(c.user.clone(), c.password.clone()));
        }
        Ok(Outbox::Smtp {
            transport: Box::new(builder.build()),
            label: format!("{}:{} ({})", config.host, config.port, config.tls.word()),
            attempts: config.attempts.max(1),
            backoff: Duration::from_millis(500),
        })
    }

    /// `via smtp.example.se:587 (starttls)` or `as .eml files in out/`.
    pub fn describe(&self) -> String {
        match self {
            Outbox::Smtp { label, .. } => format!("via {label}"),
            Outbox::Eml { dir } => format!("as .eml files in {}", dir.display()),
        }
    }

    /// Checks that the SMTP server answers (connect, EHLO, TLS, login) before anything is
    /// sent, so a server that is down is reported once, not once per message. Retries like
    /// a send. An `.eml` outbox is always ready.
    pub fn check(&self) -> Result<(), NotDelivered> {
        let Outbox::Smtp {
            transport,
            label,
            attempts,
            backoff,
        } = self
        else {
            return Ok(());
        };
        retrying(*attempts, *backoff, || match transport.test_connection() {
            Ok(true) => Ok(()),
            Ok(false) => Err(Attempt::Retry("the server did not answer".into())),
            Err(e) => Err(classify(&e)),
        })
        .map_err(|e| NotDelivered(format!("SMTP server {label} unreachable: {e}")))
    }

    /// Delivers one message. `eml_name` is the file name used by an `.eml` outbox.
    pub fn deliver(&self, message: &Message, eml_name: &str) -> Result<String, NotDelivered> {
        match self {
            Outbox::Smtp {
                transport,
                label,
                attempts,
                backoff,
            } => retrying(*attempts, *backoff, || {
                transport
                    .send(message)
                    .map(|_| ())
                    .map_err(|e| classify(&e))
            })
            .map(|()| format!("sent via {label}"))
            .map_err(NotDelivered),
            Outbox::Eml { dir } => {
                let path = dir.join(eml_name);
                write_atomic(&path, &message.formatted())
                    .map(|()| format!("written to {}", path.display()))
                    .map_err(|e| NotDelivered(e.to_string()))
            }
        }
    }
}

/// The result of one try.
enum Attempt {
    /// Worth another try: a 4xx reply, a dropped or refused connection, a timeout.
    Retry(String),
    /// Will fail again: a 5xx reply (recipient refused, login refused), a TLS failure.
    Final(String),
}

fn classify(e: &lettre::transport::smtp::Error) -> Attempt {
    let text = e.to_string();
    if e.is_permanent() {
        Attempt::Final(format!("refused by the server: {text}"))
    } else if e.is_tls() || e.is_client() || e.is_response() {
        Attempt::Final(text)
    } else {
        Attempt::Retry(text)
    }
}

fn retrying(
    attempts: u32,
    backoff: Duration,
    mut f: impl FnMut() -> Result<(), Attempt>,
) -> Result<(), String> {
    let mut last = String::new();
    for n in 1..=attempts {
        match f() {
            Ok(()) => return Ok(()),
            Err(Attempt::Final(e)) => return Err(e),
            Err(Attempt::Retry(e)) => {
                last = if attempts > 1 {
                    format!("{e} (tried {n} times)")
                } else {
                    e
                };
                if n < attempts {
                    std::thread::sleep(backoff * n);
                }
            }
        }
    }
    Err(last)
}

/// The `.eml` file name for one message: the workbook's stem and the recipient.
pub fn eml_name(attachment: &Path, recipient: &str) -> String {
    let stem = attachment
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::deliver::file_name_part(&format!("{stem}_{recipient}.eml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_what_may_succeed_later() {
        let mut calls = 0;
        let r = retrying(3, Duration::ZERO, || {
            calls += 1;
            Err(Attempt::Retry("421 busy".into()))
        });
        assert_eq!(calls, 3);
        assert_eq!(r.unwrap_err(), "421 busy (tried 3 times)");
        let mut calls = 0;
        let r = retrying(3, Duration::ZERO, || {
            calls += 1;
            Err(Attempt::Final("550 no such user".into()))
        });
        assert_eq!((calls, r.unwrap_err().as_str()), (1, "550 no such user"));
    }

    #[test]
    fn eml_names_are_safe_and_name_the_recipient() {
        let n = eml_name(Path::new("out/R_2019-05_Östermalm.xlsx"), "chef@example.se");
        assert_eq!(n, "R_2019-05_Östermalm_chef@example.se.eml");
    }
}
