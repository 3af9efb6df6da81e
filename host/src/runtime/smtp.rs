//! The SMTP capability: relays an operator grants alert sinks (`--allow-smtp URL`), and the
//! host side of `ferry:plugin/smtp`, which writes and sends a plugin's message through one of
//! them. The grant holds how to reach the relay, credentials included, so they never enter the
//! sandbox; a relay that is not granted is refused before any connection is made.

use std::fmt;

/// An SMTP relay an operator granted: where it is and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpGrant {
    /// The connection URL without credentials.
    url: String,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl fmt::Debug for SmtpGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = match &self.credentials {
            Some((user, _)) => format!("{user}:***@"),
            None => String::new(),
        };
        let shown = self.url.replacen("://", &format!("://{user}"), 1);
        f.debug_tuple("SmtpGrant").field(&shown).finish()
    }
}

impl SmtpGrant {
    /// Reads a grant: `smtp://HOST[:PORT]` (plain, port 25), `smtp://HOST[:PORT]?tls=required`
    /// (STARTTLS, port 587) or `smtps://HOST[:PORT]` (TLS, port 465), each optionally with
    /// `USER@` or `USER:PASSWORD@`. A user without a password in the URL takes `password`
    /// (the operator's `FERRY_SMTP_PASSWORD`), so the secret need not be on a command line.
    pub fn parse(text: &str, password: Option<&str>) -> Result<Self, String> {
        let expected = "expected smtp://HOST[:PORT], smtp://HOST[:PORT]?tls=required or smtps://HOST[:PORT], optionally with USER@";
        let mut url = url::Url::parse(text).map_err(|e| format!("{e}; {expected}"))?;
        let tls = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect::<Vec<_>>();
        let default_port = match (url.scheme(), tls.as_slice()) {
            ("smtp", []) => 25,
            ("smtp", [(k, v)]) if k == "tls" && (v == "required" || v == "opportunistic") => 587,
            ("smtps", []) => 465,
            ("smtp" | "smtps", _) => {
                return Err(format!(
                    "the only query parameter is tls=required or tls=opportunistic (smtp:// only); {expected}"
                ));
            }
            (scheme, _) => return Err(format!("unknown scheme {scheme:?}; {expected}")),
        };
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.trim_matches(['[', ']']).to_string(),
            _ => return Err(format!("no host; {expected}")),
        };
        let port = url.port().unwrap_or(default_port);
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| "the user or password is not valid UTF-8".to_string())
        };
        let credentials = if url.username().is_empty() {
            if url.password().is_some() {
                return Err("a password without a user".into());
            }
            None
        } else {
            let user = decode(url.username())?;
            let pass = match (url.password(), password) {
                (Some(p), _) => decode(p)?,
                (None, Some(p)) if !p.is_empty() => p.to_string(),
                (None, _) => {
                    return Err(format!(
                        "user {user:?} has no password: put it in FERRY_SMTP_PASSWORD"
                    ));
                }
            };
            Some((user, pass))
        };
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Ok(Self {
            url: url.to_string(),
            host,
            port,
            credentials,
        })
    }

    /// `host:port`, as a plugin names the relay.
    pub fn relay(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Whether a plugin's `host` or `host:port` names this relay.
    pub fn matches(&self, relay: &str) -> bool {
        let relay = relay.trim();
        if let Some((host, port)) = relay.rsplit_once(':')
            && let Ok(port) = port.parse::<u16>()
        {
            return host
                .trim_matches(['[', ']'])
                .eq_ignore_ascii_case(&self.host)
                && port == self.port;
        }
        relay
            .trim_matches(['[', ']'])
            .eq_ignore_ascii_case(&self.host)
    }
}

#[cfg(feature = "registry")]
mod send {
    use std::time::Duration;

    use lettre::message::header::{ContentType, HeaderName, HeaderValue};
    use lettre::message::{Mailbox, MultiPart, SinglePart};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    use super::super::bindings::base::ferry::plugin::smtp::{Mail, SendError};
    use super::super::state::StoreState;
    use super::SmtpGrant;

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

    impl super::super::bindings::base::ferry::plugin::smtp::Host for StoreState {
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
}

#[cfg(test)]
mod tests {
    use super::SmtpGrant;

    #[test]
    fn grants_parse_with_their_default_ports_and_keep_credentials_out_of_the_url() {
        let g = SmtpGrant::parse("smtp://127.0.0.1:2525", None).unwrap();
        assert_eq!(g.relay(), "127.0.0.1:2525");
        assert!(g.matches("127.0.0.1:2525") && g.matches("127.0.0.1"));
        assert!(!g.matches("127.0.0.1:25") && !g.matches("127.0.0.2:2525"));
        assert_eq!(
            SmtpGrant::parse("smtp://mail.example.com?tls=required", None)
                .unwrap()
                .relay(),
            "mail.example.com:587"
        );
        let g = SmtpGrant::parse("smtps://alerts%40x:p%40ss@mail.example.com", None).unwrap();
        assert_eq!(g.relay(), "mail.example.com:465");
        assert_eq!(
            g.credentials,
            Some(("alerts@x".to_string(), "p@ss".to_string()))
        );
        assert!(!g.url.contains("p%40ss") && !format!("{g:?}").contains("p@ss"));
        let g = SmtpGrant::parse("smtps://bot@mail.example.com", Some("secret")).unwrap();
        assert_eq!(g.credentials, Some(("bot".into(), "secret".into())));
    }

    #[test]
    fn bad_grants_are_named() {
        for (text, needle) in [
            ("http://mail.example.com", "unknown scheme"),
            ("smtp://mail.example.com?tls=maybe", "tls=required"),
            ("smtps://mail.example.com?tls=required", "tls=required"),
            ("smtps://bot@mail.example.com", "FERRY_SMTP_PASSWORD"),
            ("mail.example.com:25", "expected smtp://"),
        ] {
            let e = SmtpGrant::parse(text, None).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
