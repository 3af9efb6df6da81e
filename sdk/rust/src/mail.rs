//! Mail for alert sinks: a message handed to the host (`ferry:plugin/smtp`), which writes it and
//! sends it through the relay the plugin names, if the operator granted that relay
//! (`ferry serve --allow-smtp`). The relay's TLS settings and credentials stay with the host.

use crate::bindings::ferry::plugin::smtp;
use crate::error::{Result, config_error, internal_error};

/// Why the host did not send a message.
pub use smtp::SendError;

/// One message, built with [`Mail::new`] and sent with [`Mail::send`].
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    /// The relay, `host` or `host:port`, as the operator granted it.
    pub relay: String,
    /// The sender, `name@example.com` or `Name <name@example.com>`.
    pub sender: String,
    /// The recipients (at most 50).
    pub recipients: Vec<String>,
    /// One line of text.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML alternative to the text.
    pub html: Option<String>,
}

impl Mail {
    /// A plain-text message.
    pub fn new(
        relay: impl Into<String>,
        sender: impl Into<String>,
        recipients: impl IntoIterator<Item = impl Into<String>>,
        subject: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            relay: relay.into(),
            sender: sender.into(),
            recipients: recipients.into_iter().map(Into::into).collect(),
            subject: subject.into(),
            text: text.into(),
            html: None,
        }
    }

    /// Adds an HTML alternative.
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    /// Asks the host to send the message. A relay that is not granted and a message the host
    /// finds malformed are configuration errors; a relay that fails is an internal error, which
    /// the host retries later.
    pub fn send(self) -> Result<()> {
        let mail = smtp::Mail {
            relay: self.relay,
            sender: self.sender,
            recipients: self.recipients,
            subject: self.subject,
            text: self.text,
            html: self.html,
        };
        smtp::send(&mail).map_err(|e| match e {
            SendError::Denied(m) => config_error(m),
            SendError::Invalid(m) => config_error(m),
            SendError::Relay(m) => internal_error(m),
        })
    }
}
