//! The host side of `ferry:plugin/smtp`: writes a plugin's message and sends it through a
//! relay the operator granted (`crate::smtp`), which the plugin names but never reaches
//! itself. Only with the `net` feature; the edge build does not link the interface.

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::bindings::base::ferry::plugin::smtp::{Mail, SendError};
use crate::smtp::SmtpGrant;
use crate::state::StoreState;

/// Recipients one message may have.
const MAX_RECIPIENTS: usize = 50;
/// Messages one instance may send.
const MAX_MAILS_PER_INSTANCE: u32 = 10;
/// The largest body (text and HTML together), in bytes.
const MAX_BODY_BYTES: usize = 1 << 20;
/// The longest subject, in bytes (RFC 5322's line limit).
const MAX_SUBJECT_BYTES: usize = 998;

/// How long one SMTP command may wait; the plugin's deadline bounds the whole call too.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

impl crate::bindings::base::ferry::plugin::smtp::Host for StoreState {
    async fn send(&mut self, mail: Mail) -> Result<(), SendError> {
        send(self, mail).await
    }
}

/// Sends `mail` for the plugin whose store is `state`, if it names a granted relay.
async fn send(state: &mut StoreState, mail: Mail) -> Result<(), SendError> {
    let Some(grant) = state
        .grants
        .smtp
        .iter()
        .find(|g| g.matches(&mail.relay))
        .cloned()
    else {
        state.denials.push(format!(
            "SMTP relay {} (not on the plugin's allow-list)",
            mail.relay
        ));
        return Err(SendError::Denied(format!(
            "SMTP relay {:?} is not granted to this plugin",
            mail.relay
        )));
    };
    state.mails_sent += 1;
    if state.mails_sent > MAX_MAILS_PER_INSTANCE {
        return Err(SendError::Invalid(format!(
            "at most {MAX_MAILS_PER_INSTANCE} messages per call"
        )));
    }
    let message = compose(&mail, &state.plugin)?;
    let transport =
        transport(&grant).map_err(|e| SendError::Relay(format!("{}: {e}", grant.relay())))?;
    let recipients = mail.recipients.len();
    transport
        .send(message)
        .await
        .map_err(|e| SendError::Relay(format!("{}: {e}", grant.relay())))?;
    tracing::info!(plugin = %state.plugin, relay = %grant.relay(), recipients, "mail sent");
    Ok(())
}

fn transport(grant: &SmtpGrant) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&grant.url)
        .map_err(|e| e.to_string())?
        .timeout(Some(COMMAND_TIMEOUT));
    if let Some((user, pass)) = &grant.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    Ok(builder.build())
}

/// The message the host writes for `mail`: checked addresses, one-line subject, bounded
/// sizes, `Date`, `Message-ID` and `X-Ferry-Plugin`.
fn compose(mail: &Mail, plugin: &str) -> Result<Message, SendError> {
    let invalid = SendError::Invalid;
    let mailbox = |what: &str, text: &str| {
        text.parse::<Mailbox>()
            .map_err(|e| invalid(format!("{what} {text:?} is not an address: {e}")))
    };
    if mail.recipients.is_empty() {
        return Err(invalid("no recipients".into()));
    }
    if mail.recipients.len() > MAX_RECIPIENTS {
        return Err(invalid(format!(
            "{} recipients; at most {MAX_RECIPIENTS}",
            mail.recipients.len()
        )));
    }
    if mail.subject.len() > MAX_SUBJECT_BYTES || mail.subject.chars().any(char::is_control) {
        return Err(invalid(format!(
            "the subject must be one line of at most {MAX_SUBJECT_BYTES} bytes"
        )));
    }
    let body = mail.text.len() + mail.html.as_ref().map_or(0, String::len);
    if body > MAX_BODY_BYTES {
        return Err(invalid(format!(
            "the body is {body} bytes; at most {MAX_BODY_BYTES}"
        )));
    }
    let mut builder = Message::builder()
        .from(mailbox("sender", &mail.sender)?)
        .subject(mail.subject.clone())
        .date_now()
        .message_id(None)
        .user_agent(format!("ferry/{}", env!("CARGO_PKG_VERSION")));
    for r in &mail.recipients {
        builder = builder.to(mailbox("recipient", r)?);
    }
    if let Ok(name) = HeaderName::new_from_ascii("X-Ferry-Plugin".into()) {
        builder = builder.raw_header(HeaderValue::new(name, plugin.to_string()));
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(mail.text.clone());
    let built = match &mail.html {
        Some(html) => builder.multipart(
            MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
        ),
        None => builder.singlepart(text),
    };
    built.map_err(|e| invalid(format!("the message cannot be written: {e}")))
}
