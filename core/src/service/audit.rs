//! The audit log: every security event is one `tracing` event with target
//! `agora::audit` and the same fields, in the same order and types, built
//! here and nowhere else (README, "Audit log"):
//!
//! - `event` (string): what happened (`login`, `register`, `refresh`, ...);
//! - `outcome` (string): how it ended, for events that can fail;
//! - `kind` (string): the mail kind of `mail_request` and `mail_sent`;
//! - `user_id` (integer) and `session_id` (string), when known;
//! - `by_session` (string): the session that ended another one;
//! - `sessions_ended` (integer): sessions a change ended;
//! - `email` (string): the normalised address a refused login tried;
//! - `ip` (string, `127.0.0.1`): the client's address, absent when unknown.
//!
//! A field without a value is absent. No password and no token is ever a
//! field: there is no way to give one.

use std::net::IpAddr;

use tracing::Level;

use crate::domain::{ClientInfo, Email, UserId};

/// One audit event, logged by [`Audit::info`] or [`Audit::warn`].
#[derive(Debug, Clone, Copy)]
#[must_use = "an audit event is logged by `info` or `warn`"]
pub(crate) struct Audit<'a> {
    event: &'a str,
    outcome: Option<&'a str>,
    kind: Option<&'a str>,
    user_id: Option<i64>,
    session_id: Option<&'a str>,
    by_session: Option<&'a str>,
    sessions_ended: Option<u64>,
    email: Option<&'a str>,
    ip: Option<IpAddr>,
}

impl<'a> Audit<'a> {
    /// An `event` with no other field yet.
    pub(crate) fn new(event: &'a str) -> Self {
        Audit {
            event,
            outcome: None,
            kind: None,
            user_id: None,
            session_id: None,
            by_session: None,
            sessions_ended: None,
            email: None,
            ip: None,
        }
    }

    pub(crate) fn outcome(self, outcome: &'a str) -> Self {
        Audit {
            outcome: Some(outcome),
            ..self
        }
    }

    pub(crate) fn kind(self, kind: &'a str) -> Self {
        Audit {
            kind: Some(kind),
            ..self
        }
    }

    pub(crate) fn user(self, user: UserId) -> Self {
        Audit {
            user_id: Some(user.0),
            ..self
        }
    }

    pub(crate) fn session(self, session_id: &'a str) -> Self {
        Audit {
            session_id: Some(session_id),
            ..self
        }
    }

    pub(crate) fn by_session(self, session_id: &'a str) -> Self {
        Audit {
            by_session: Some(session_id),
            ..self
        }
    }

    pub(crate) fn sessions_ended(self, ended: u64) -> Self {
        Audit {
            sessions_ended: Some(ended),
            ..self
        }
    }

    /// The normalised address a login tried; only ever a parsed [`Email`],
    /// never raw input (which could be a password typed in the wrong field).
    pub(crate) fn email(self, email: Option<&'a Email>) -> Self {
        Audit {
            email: email.map(Email::as_str),
            ..self
        }
    }

    pub(crate) fn ip(self, ip: Option<IpAddr>) -> Self {
        Audit { ip, ..self }
    }

    /// The client's IP (its user agent is not logged).
    pub(crate) fn client(self, client: &ClientInfo) -> Self {
        self.ip(client.ip)
    }

    /// Logs the event at INFO.
    pub(crate) fn info(self) {
        self.log(Level::INFO);
    }

    /// Logs the event at WARN: throttling and detected token reuse.
    pub(crate) fn warn(self) {
        self.log(Level::WARN);
    }

    fn log(self, level: Level) {
        let ip = self.ip.map(|ip| ip.to_string());
        // `event!` needs its level as a constant: one call site per level.
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "agora::audit",
                    $level,
                    event = self.event,
                    outcome = self.outcome,
                    kind = self.kind,
                    user_id = self.user_id,
                    session_id = self.session_id,
                    by_session = self.by_session,
                    sessions_ended = self.sessions_ended,
                    email = self.email,
                    ip = ip.as_deref(),
                )
            };
        }
        if level == Level::WARN {
            emit!(Level::WARN);
        } else {
            emit!(Level::INFO);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(audit: Audit<'_>) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = recorder::Subscriber(writer);
        tracing::subscriber::with_default(subscriber, || audit.info());
        String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned()
    }

    /// A minimal subscriber writing `name=value` pairs (core has no
    /// tracing-subscriber dependency): enough to see what is recorded.
    mod recorder {
        use std::fmt::Debug;
        use std::io::Write;

        use tracing::field::{Field, Visit};
        use tracing::span::{Attributes, Id, Record};
        use tracing::{Event, Metadata};

        pub(super) struct Subscriber(pub(super) super::Captured);

        struct Fields(String);

        impl Visit for Fields {
            fn record_str(&mut self, field: &Field, value: &str) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
            fn record_i64(&mut self, field: &Field, value: i64) {
                self.0.push_str(&format!("{}={value} ", field.name()));
            }
            fn record_u64(&mut self, field: &Field, value: u64) {
                self.0.push_str(&format!("{}={value} ", field.name()));
            }
            fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
                self.0.push_str(&format!("{}=?{value:?} ", field.name()));
            }
        }

        impl tracing::Subscriber for Subscriber {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &Attributes<'_>) -> Id {
                Id::from_u64(1)
            }
            fn record(&self, _: &Id, _: &Record<'_>) {}
            fn record_follows_from(&self, _: &Id, _: &Id) {}
            fn event(&self, event: &Event<'_>) {
                let mut fields = Fields(format!("{} ", event.metadata().target()));
                event.record(&mut fields);
                let mut out = self.0.clone();
                out.write_all(fields.0.trim_end().as_bytes())
                    .expect("write");
            }
            fn enter(&self, _: &Id) {}
            fn exit(&self, _: &Id) {}
        }
    }

    #[test]
    fn every_field_is_a_plain_value_and_absent_ones_are_left_out() {
        let email = Email::parse("Someone@Example.COM").expect("email");
        let line = logged(
            Audit::new("login")
                .outcome("failure")
                .email(Some(&email))
                .ip(Some("127.0.0.1".parse().expect("ip"))),
        );
        assert_eq!(
            line,
            r#"agora::audit event="login" outcome="failure" email="someone@example.com" ip="127.0.0.1""#
        );
        let line = logged(
            Audit::new("logout")
                .user(UserId(7))
                .session("s1")
                .sessions_ended(2),
        );
        assert_eq!(
            line,
            r#"agora::audit event="logout" user_id=7 session_id="s1" sessions_ended=2"#
        );
    }
}
