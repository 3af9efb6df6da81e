//! What an operator grants a plugin. A plugin gets a capability only when its manifest asks
//! for it and the operator grants it; everything else is refused.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::smtp::SmtpGrant;
use crate::manifest::Capabilities;

/// A host directory made visible to a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirGrant {
    /// The path the plugin sees, e.g. `/out`.
    pub guest_path: String,
    /// The host directory behind it.
    pub host_path: PathBuf,
    /// Whether the plugin may write there.
    pub writable: bool,
}

/// The capabilities an operator grants one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// Preopened directories.
    pub dirs: Vec<DirGrant>,
    /// Hosts (`name` or `name:port`) the plugin may send HTTP requests to.
    pub http_hosts: Vec<String>,
    /// Environment variables, with their values.
    pub env: Vec<(String, String)>,
    /// SMTP relays (alert sinks only). Never serialized: a grant may hold credentials.
    #[serde(skip)]
    pub smtp: Vec<SmtpGrant>,
}

impl Grants {
    /// Keeps only what the manifest asked for, read-only where it asked for read-only.
    /// Returns the effective grants and a note for each grant that was dropped.
    pub fn restrict_to(&self, asked: &Capabilities) -> (Grants, Vec<String>) {
        let mut dropped = Vec::new();
        let mut out = Grants::default();
        for d in &self.dirs {
            match asked
                .directories
                .iter()
                .find(|r| r.guest_path == d.guest_path)
            {
                Some(r) => out.dirs.push(DirGrant {
                    writable: d.writable && r.writable,
                    ..d.clone()
                }),
                None => dropped.push(format!(
                    "directory {} was granted but the plugin did not ask for it",
                    d.guest_path
                )),
            }
        }
        for h in &self.http_hosts {
            let name = h.split(':').next().unwrap_or(h);
            if asked
                .http_hosts
                .iter()
                .any(|a| a == "*" || a == h || a == name)
            {
                out.http_hosts.push(h.clone());
            } else {
                dropped.push(format!(
                    "HTTP host {h} was granted but the plugin did not ask for it"
                ));
            }
        }
        for (k, v) in &self.env {
            if asked.env.iter().any(|a| a == k) {
                out.env.push((k.clone(), v.clone()));
            } else {
                dropped.push(format!(
                    "environment variable {k} was granted but the plugin did not ask for it"
                ));
            }
        }
        out.smtp = self.smtp.clone();
        (out, dropped)
    }

    /// Drops the SMTP relays of a plugin that does not import `ferry:plugin/smtp`, with a note
    /// for each: importing the interface is how a plugin asks for mail.
    pub fn restrict_smtp(&mut self, imports: &[String]) -> Vec<String> {
        if imports.iter().any(|i| i.starts_with("ferry:plugin/smtp")) {
            return Vec::new();
        }
        std::mem::take(&mut self.smtp)
            .iter()
            .map(|g| {
                format!(
                    "SMTP relay {} was granted but the plugin does not import ferry:plugin/smtp",
                    g.relay()
                )
            })
            .collect()
    }

    /// Whether an HTTP request to `host` (with `port`) is allowed.
    pub fn allows_http(&self, host: &str, port: Option<u16>) -> bool {
        self.http_hosts.iter().any(|allowed| match port {
            Some(p) => allowed == host || *allowed == format!("{host}:{p}"),
            None => allowed == host,
        })
    }
}
