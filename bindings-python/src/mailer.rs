//! A Python callable as Agora's [`Mailer`] (the `mailer=` argument).
//!
//! Core delivers account mail from a background task and calls
//! [`Mailer::send`] there, with retries and a deadline per attempt. The
//! callable runs with the GIL on a thread of its own (one per attempt),
//! never on the runtime's threads, so a slow mailer holds up neither
//! requests nor other tasks, and it may call a synchronous `Agora`. It gets one dict: `{"kind", "to", "subject", "text", "html",
//! "link"}`. Returning (anything) is a delivery; raising is a failure, which
//! core retries and which core logs (`agora::mail`, forwarded to Python's
//! `agora.mail` logger at WARNING, ERROR for the last attempt) with the
//! link and token taken out of the message. A callable that returns an awaitable (an `async def`) has it run
//! to completion on a private event loop in that worker thread.

use std::fmt;
use std::sync::Arc;

use agora_core::mail::{Mail, MailError, Mailer};
use async_trait::async_trait;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

/// Delivers each mail by calling a Python callable.
pub(crate) struct PyMailer {
    /// Shared with each attempt's thread without taking the GIL.
    callable: Arc<Py<PyAny>>,
}

impl fmt::Debug for PyMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PyMailer")
    }
}

impl PyMailer {
    /// The mailer over `callable`; `TypeError` if it cannot be called.
    pub(crate) fn new(callable: &Bound<'_, PyAny>) -> PyResult<Self> {
        if !callable.is_callable() {
            return Err(PyTypeError::new_err(
                "mailer must be a callable taking one dict (or None)",
            ));
        }
        Ok(PyMailer {
            callable: Arc::new(callable.clone().unbind()),
        })
    }
}

/// The dict the callable gets.
fn mail_dict<'py>(py: Python<'py>, mail: &Mail) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("kind", mail.kind.as_str())?;
    dict.set_item("to", mail.to.as_str())?;
    dict.set_item("subject", &mail.subject)?;
    dict.set_item("text", &mail.text)?;
    dict.set_item("html", &mail.html)?;
    dict.set_item("link", &mail.link)?;
    Ok(dict)
}

/// `text` with the secret parts of `mail` (its link and the token in it)
/// replaced by `<redacted>`, cut to a reasonable length.
fn redacted(text: &str, mail: &Mail) -> String {
    let mut text = text.replace(&mail.link, "<redacted>");
    if let Some((_, token)) = mail.link.split_once("token=") {
        let token = token.split('&').next().unwrap_or(token);
        if !token.is_empty() {
            text = text.replace(token, "<redacted>");
        }
    }
    if text.chars().count() > 300 {
        text = text.chars().take(300).collect::<String>() + "...";
    }
    text
}

/// Calls the callable for `mail` (running an awaitable result on a private
/// event loop); a failure is described without secrets and logged to
/// Python's `agora.mail` logger (through core's log, `crate::logging`).
fn call(py: Python<'_>, callable: &Py<PyAny>, mail: &Mail) -> Result<(), String> {
    static RUN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static IS_AWAITABLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let attempt = || -> PyResult<()> {
        let result = callable.call1(py, (mail_dict(py, mail)?,))?;
        let awaitable = IS_AWAITABLE
            .import(py, "inspect", "isawaitable")?
            .call1((&result,))?
            .is_truthy()?;
        if awaitable {
            // An `async def` mailer: its own loop, in this thread.
            RUN.import(py, "agora._mail", "run_awaitable")?
                .call1((result,))?;
        }
        Ok(())
    };
    attempt().map_err(|e| {
        let name = e
            .get_type(py)
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "Exception".to_owned());
        let message = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
        // Neither the token nor the address: core logs the failure (by
        // user id) on `agora::mail`, which reaches Python's `agora.mail`.
        format!("the mailer raised {name}: {}", redacted(&message, mail))
    })
}

#[async_trait]
impl Mailer for PyMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let callable = Arc::clone(&self.callable);
        let mail = mail.clone();
        // A thread of its own, outside the runtime's context: the callable
        // may block, and may call a synchronous `Agora` (which waits on the
        // runtime, refused from the runtime's own threads).
        let (done, outcome) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("agora-mailer".to_owned())
            .spawn(move || {
                let result = Python::try_attach(|py| call(py, &callable, &mail))
                    .unwrap_or_else(|| Err("the Python interpreter is not running".to_owned()));
                let _ = done.send(result);
            })
            .map_err(|e| format!("cannot start the mailer thread: {e}"))?;
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(failure)) => Err(failure.into()),
            Err(_) => Err("the mailer thread ended without an answer".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use agora_core::Email;
    use agora_core::mail::MailKind;

    use super::*;

    #[test]
    fn failures_are_described_without_the_link_or_its_token() {
        let token = "ab".repeat(32);
        let mail = Mail {
            kind: MailKind::PasswordReset,
            to: Email::parse("ada@example.com").expect("valid"),
            subject: "s".to_owned(),
            text: "t".to_owned(),
            html: "h".to_owned(),
            link: format!("https://app.example.com/reset-password?token={token}"),
        };
        let described = redacted(&format!("cannot send {} (token {token})", mail.link), &mail);
        assert_eq!(described, "cannot send <redacted> (token <redacted>)");
        assert!(redacted(&"x".repeat(1000), &mail).chars().count() <= 303);
    }
}
