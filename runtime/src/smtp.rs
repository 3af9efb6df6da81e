//! The SMTP capability: relays an operator grants alert sinks (`--allow-smtp URL`); the host
//! side of `ferry:plugin/smtp` that sends through them is in `crate::mail`. The grant holds
//! how to reach the relay, credentials included, so they never enter the sandbox; a relay that
//! is not granted is refused before any connection is made.

use std::fmt;

/// An SMTP relay an operator granted: where it is and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpGrant {
    /// The connection URL without credentials.
    pub(crate) url: String,
    host: String,
    port: u16,
    /// The user name and password, kept out of the URL and of `Debug`.
    pub(crate) credentials: Option<(String, String)>,
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
