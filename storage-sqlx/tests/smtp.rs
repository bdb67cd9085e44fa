//! The SMTP mailer against the test sink (`agora_sqlx::testing::SmtpSink`)
//! on 127.0.0.1: envelope, headers and parts of a mail, AUTH, configuration
//! errors, secrets kept out of messages, header injection, and delivery
//! (with a retry) of a password reset link by the core services.
#![cfg(all(feature = "smtp", feature = "testing"))]

use std::sync::Arc;
use std::time::Duration;

use agora_core::config::JwtSecret;
use agora_core::crypto::password::HashParams;
use agora_core::domain::ClientInfo;
use agora_core::mail::{Mail, MailConfig, MailKind, MailTemplate, MailTemplates, Mailer};
use agora_core::schema::{EmailRequest, ResetPasswordRequest, UserCreate};
use agora_core::storage::memory::MemoryStore;
use agora_core::{Agora, Config, Email, Error};
use agora_sqlx::smtp::SmtpMailer;
use agora_sqlx::testing::{SmtpAuth, SmtpSink, TestDatabase};

const FROM: &str = "Agora <no-reply@example.com>";
const PUBLIC_URL: &str = "https://app.example.com";
const LINK: &str = "https://app.example.com/reset-password?token=0123abcd";
const PASSWORD: &str = "plum orchard at dusk";
const WAIT: Duration = Duration::from_secs(10);

fn mail_config(smtp_url: &str) -> MailConfig {
    MailConfig {
        public_url: Some(url::Url::parse(PUBLIC_URL).expect("a URL")),
        smtp_url: Some(smtp_url.to_owned()),
        from: Some(FROM.to_owned()),
        retry_base: Duration::from_millis(100),
        send_timeout: Duration::from_secs(5),
        ..MailConfig::default()
    }
}

fn mailer(smtp_url: &str) -> SmtpMailer {
    SmtpMailer::from_config(&mail_config(smtp_url))
        .expect("a valid configuration")
        .expect("a mailer")
}

/// A password reset mail to `to`, from the default templates.
fn reset_mail(to: &str) -> Mail {
    mail_from_template(to, &MailTemplates::default().password_reset)
}

fn mail_from_template(to: &str, template: &MailTemplate) -> Mail {
    let (subject, text, html) = template.render(LINK, Duration::from_secs(3600));
    Mail {
        kind: MailKind::PasswordReset,
        to: Email::parse(to).expect("an address"),
        subject,
        text,
        html,
        link: LINK.to_owned(),
    }
}

/// The header lines of a received message (before the first empty line).
fn header_lines(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .split("\r\n")
        .take_while(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_mail_arrives_with_its_envelope_headers_and_both_parts() {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink.url());
    mailer
        .send(&reset_mail("Ada@Example.com"))
        .await
        .expect("sent");

    let mail = sink.next_mail(WAIT).await.expect("a mail");
    assert_eq!(mail.mail_from, "no-reply@example.com");
    assert_eq!(mail.rcpt_to, ["ada@example.com"]);
    assert_eq!(mail.auth, None);
    assert_eq!(
        mail.header("From").as_deref(),
        Some("Agora <no-reply@example.com>")
    );
    assert_eq!(mail.header("to").as_deref(), Some("ada@example.com"));
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Reset your password")
    );
    assert!(mail.header("Date").is_some());
    assert!(mail.header("Message-ID").is_some());
    let content_type = mail.header("Content-Type").expect("a content type");
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );

    let text = mail.text().expect("a text/plain part");
    let html = mail.html().expect("a text/html part");
    assert!(text.contains(LINK), "{text}");
    assert!(html.contains(&format!("href=\"{LINK}\"")), "{html}");
    assert_eq!(mail.link().as_deref(), Some(LINK));
    // text/plain first, then text/html: clients show the last they can.
    let raw = String::from_utf8_lossy(&mail.data).to_ascii_lowercase();
    let plain = raw.find("content-type: text/plain").expect("a plain part");
    let rich = raw.find("content-type: text/html").expect("an html part");
    assert!(plain < rich);
    assert_eq!(sink.received(), [mail]);
}

#[tokio::test]
async fn auth_credentials_in_the_url_reach_the_server_and_nowhere_else() {
    let sink = SmtpSink::start().await;
    let password = "s3cr3t p@ss:word";
    let url = sink.url_with_auth("agora", password);
    let mailer = mailer(&url);
    for shown in [format!("{mailer:?}"), format!("{mailer:#?}")] {
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains("SmtpMailer") && shown.contains("agora:***@"),
            "{shown}"
        );
    }
    mailer
        .send(&reset_mail("ada@example.com"))
        .await
        .expect("sent");

    let mail = sink.next_mail(WAIT).await.expect("a mail");
    assert_eq!(
        mail.auth,
        Some(SmtpAuth {
            mechanism: "PLAIN",
            user: "agora".to_owned(),
            password: password.to_owned(),
        })
    );
}

#[tokio::test]
async fn the_sink_takes_auth_login_too() {
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let sink = SmtpSink::start().await;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(sink.addr().port())
        .credentials(Credentials::new("user".to_owned(), "pa ss".to_owned()))
        .authentication(vec![Mechanism::Login])
        .build();
    let message = Message::builder()
        .from("a@example.com".parse().expect("an address"))
        .to("b@example.com".parse().expect("an address"))
        .subject("Hi")
        // A line starting with a dot is stuffed by the client, unstuffed here.
        .body("line one\r\n.hidden dot\r\nhttp://x.example/a.\r\n".to_owned())
        .expect("a message");
    transport.send(message).await.expect("sent");

    let mail = sink.next_mail(WAIT).await.expect("a mail");
    let auth = mail.auth.clone().expect("credentials");
    assert_eq!(
        (auth.mechanism, auth.user.as_str(), auth.password.as_str()),
        ("LOGIN", "user", "pa ss")
    );
    let text = mail.text().expect("a text body");
    assert!(text.contains("\n.hidden dot"), "{text:?}");
    assert_eq!(mail.link().as_deref(), Some("http://x.example/a"));
    assert_eq!(mail.html(), None);
}

#[tokio::test]
async fn the_sink_refuses_the_deliveries_it_is_told_to() {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink.url());
    sink.fail_next(2);
    for _ in 0..2 {
        let error = mailer
            .send(&reset_mail("ada@example.com"))
            .await
            .expect_err("refused");
        assert!(error.to_string().contains("451"), "{error}");
    }
    assert_eq!(sink.refused(), 2);
    assert!(sink.received().is_empty());
    mailer
        .send(&reset_mail("ada@example.com"))
        .await
        .expect("sent");
    assert!(sink.next_mail(WAIT).await.is_some());
    assert_eq!(sink.next_mail(Duration::from_millis(200)).await, None);
}

#[test]
fn without_a_server_there_is_no_mailer() {
    let config = MailConfig::default();
    assert!(matches!(SmtpMailer::from_config(&config), Ok(None)));
}

#[test]
fn unusable_settings_are_clear_errors_without_the_password() {
    let cases = [
        // (smtp_url, from, the setting named, a word of the reason)
        ("not a url", Some(FROM), "mail.smtp_url", "not a URL"),
        (
            "http://u:hunter2@h:25",
            Some(FROM),
            "mail.smtp_url",
            "smtps://",
        ),
        (
            "smtp://u:hunter2@h:25?tls=maybe",
            Some(FROM),
            "mail.smtp_url",
            "tls=required",
        ),
        (
            "smtp://u:hunter2@:25",
            Some(FROM),
            "mail.smtp_url",
            "smtp://",
        ),
        ("smtp://u:hunter2@h:25", None, "mail.from", "required"),
        (
            "smtp://u:hunter2@h:25",
            Some("no address"),
            "mail.from",
            "no address",
        ),
        (
            "smtp://u:hunter2@h:25",
            Some("Eve <eve@>"),
            "mail.from",
            "not a mail address",
        ),
        (
            "smtp://u:hunter2@h:25",
            Some("a@example.com\r\nBcc: x@example.com"),
            "mail.from",
            "not a mail address",
        ),
    ];
    for (url, from, setting, reason) in cases {
        let config = MailConfig {
            from: from.map(str::to_owned),
            ..mail_config(url)
        };
        let error = SmtpMailer::from_config(&config).expect_err(url);
        let shown = error.to_string();
        assert!(
            shown.starts_with(&format!("{setting}: ")),
            "{url} {from:?}: {shown}"
        );
        assert!(shown.contains(reason), "{url} {from:?}: {shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    }
}

#[tokio::test]
async fn delivery_errors_never_show_the_password() {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("an address").port()
    };
    let mailer = mailer(&format!("smtp://agora:hunter2@127.0.0.1:{port}"));
    let error = mailer
        .send(&reset_mail("ada@example.com"))
        .await
        .expect_err("nobody listens");
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{mailer:?}"),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

#[tokio::test]
async fn line_breaks_in_a_subject_inject_no_header() {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink.url());
    let template = MailTemplate {
        subject: "Reset\r\nBcc: eve@example.com\nX-Evil: 1".to_owned(),
        ..MailTemplates::default().password_reset
    };
    let rendered = mail_from_template("ada@example.com", &template);
    // The same subject not through `render`: the mailer also keeps it on one line.
    let raw = Mail {
        subject: template.subject.clone(),
        ..rendered.clone()
    };
    for mail in [rendered, raw] {
        mailer.send(&mail).await.expect("sent");
        let received = sink.next_mail(WAIT).await.expect("a mail");
        assert_eq!(received.rcpt_to, ["ada@example.com"]);
        assert_eq!(received.header("Bcc"), None);
        assert_eq!(received.header("X-Evil"), None);
        let subject = received.header("Subject").expect("a subject");
        assert!(subject.starts_with("Reset ") && subject.ends_with("X-Evil: 1"));
        let injected = header_lines(&received.data)
            .into_iter()
            .filter(|line| {
                let line = line.to_ascii_lowercase();
                line.starts_with("bcc:") || line.starts_with("x-evil:")
            })
            .count();
        assert_eq!(injected, 0);
    }
}

/// The configuration of the service tests: a fresh secret, cheap hashing,
/// no throttling, mail through `smtp_url`.
fn config(smtp_url: &str) -> Config {
    let mut config = Config::default();
    config.tokens.secret = Some(JwtSecret::generate());
    config.hashing.params = HashParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    config.throttle.enabled = false;
    config.mail = mail_config(smtp_url);
    config
}

async fn register(agora: &Agora, email: &str) {
    let user = UserCreate {
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        username: None,
    };
    agora
        .register(user, &ClientInfo::default())
        .await
        .expect("registered");
}

async fn forgot(agora: &Agora, email: &str) {
    let request = EmailRequest {
        email: email.to_owned(),
    };
    agora
        .forgot_password(request, &ClientInfo::default())
        .await
        .expect("accepted");
}

async fn reset(agora: &Agora, token: &str) -> Result<(), Error> {
    let request = ResetPasswordRequest {
        token: token.to_owned(),
        new_password: "lanterns over the harbour".to_owned(),
    };
    agora.reset_password(request, &ClientInfo::default()).await
}

/// The token of a reset link under the public URL.
fn reset_token(link: &str) -> String {
    let prefix = format!("{PUBLIC_URL}/reset-password?token=");
    let token = link
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{link} is not a reset link"));
    assert!(!token.is_empty());
    token.to_owned()
}

#[tokio::test]
async fn a_reset_link_is_mailed_after_a_failed_attempt_and_works_once() {
    let sink = SmtpSink::start().await;
    let config = config(&sink.url());
    let mailer = SmtpMailer::from_config(&config.mail)
        .expect("a valid configuration")
        .expect("a mailer");
    let agora = Agora::from_parts(
        Arc::new(MemoryStore::new()),
        Arc::new(agora_core::throttle::MemoryThrottleStore::default()),
        Arc::new(mailer),
        &config,
    )
    .expect("a valid configuration");
    register(&agora, "ada@example.com").await;

    sink.fail_next(1);
    forgot(&agora, "ada@example.com").await;
    let mail = sink.next_mail(WAIT).await.expect("a mail, after a retry");
    assert_eq!(sink.refused(), 1);
    assert_eq!(mail.rcpt_to, ["ada@example.com"]);
    let link = mail.link().expect("a link");
    let token = reset_token(&link);
    assert!(mail.html().expect("an html part").contains(&token));

    reset(&agora, &token).await.expect("the first use works");
    assert!(matches!(
        reset(&agora, &token).await,
        Err(Error::ResetPasswordBadToken)
    ));

    // An unknown address gets nothing: once a known address's mail (asked
    // for after it) has arrived, and a second more, the queue has drained.
    register(&agora, "bob@example.com").await;
    forgot(&agora, "nobody@example.com").await;
    forgot(&agora, "bob@example.com").await;
    let mail = sink.next_mail(WAIT).await.expect("bob's mail");
    assert_eq!(mail.rcpt_to, ["bob@example.com"]);
    assert_eq!(sink.next_mail(Duration::from_secs(1)).await, None);
    assert!(
        sink.received()
            .iter()
            .all(|mail| !mail.rcpt_to.iter().any(|to| to.starts_with("nobody@")))
    );
}

#[tokio::test]
async fn open_mails_through_the_configured_server() {
    let sink = SmtpSink::start().await;
    let database = TestDatabase::create(agora_sqlx::Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let mut config = config(&sink.url_with_auth("agora", "hunter2"));
    config.server.database_url = database.url().to_owned();
    let agora = agora_sqlx::open(&config).await.expect("opened");
    register(&agora, "ada@example.com").await;
    forgot(&agora, "ada@example.com").await;

    let mail = sink.next_mail(WAIT).await.expect("a mail");
    assert_eq!(mail.rcpt_to, ["ada@example.com"]);
    assert_eq!(
        mail.auth.as_ref().map(|auth| auth.password.as_str()),
        Some("hunter2")
    );
    reset(&agora, &reset_token(&mail.link().expect("a link")))
        .await
        .expect("the link works");
}

#[tokio::test]
async fn open_refuses_an_unusable_sender_before_touching_the_database() {
    let mut config = config("smtp://agora:hunter2@127.0.0.1:25");
    config.mail.from = Some("not an address".to_owned());
    config.server.database_url = "sqlite:///nonexistent-dir/agora.db".to_owned();
    let error = agora_sqlx::open(&config).await.expect_err("refused");
    let shown = error.to_string();
    assert!(shown.contains("mail.from"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}
