//! Alerts: each firing of a rule, its resolution, and the notification still to deliver.

use sqlx::Row;

use crate::{Registry, RegistryError};

/// One alert.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AlertRecord {
    /// Its id.
    pub id: String,
    /// The rule that raised it.
    pub rule: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// Its title.
    pub title: String,
    /// What was seen.
    pub text: String,
    /// The value that crossed the rule's threshold (the latest while firing).
    pub value: f64,
    /// When it fired (ms since the epoch).
    pub fired_at: i64,
    /// When it resolved (0 while firing).
    pub resolved_at: i64,
    /// When a notification was last delivered (0: never).
    pub notified_at: i64,
    /// The notification waiting to be delivered: `firing`, `resolved` or empty.
    pub pending: String,
    /// Failed deliveries of the pending notification.
    pub attempts: i64,
    /// When to try again (ms since the epoch).
    pub next_attempt_at: i64,
    /// The last delivery error.
    pub last_error: String,
    /// When it last changed.
    pub updated_at: i64,
    /// The sinks the pending notification has reached; a retry goes only to the others.
    #[serde(default)]
    pub delivered: Vec<String>,
}

const COLUMNS: &str = "id, rule, state, severity, title, text, value, fired_at, resolved_at, notified_at, pending, attempts, next_attempt_at, last_error, updated_at, delivered";

fn record(row: &sqlx::any::AnyRow) -> Result<AlertRecord, sqlx::Error> {
    Ok(AlertRecord {
        id: row.try_get("id")?,
        rule: row.try_get("rule")?,
        state: row.try_get("state")?,
        severity: row.try_get("severity")?,
        title: row.try_get("title")?,
        text: row.try_get("text")?,
        value: row.try_get("value")?,
        fired_at: row.try_get("fired_at")?,
        resolved_at: row.try_get("resolved_at")?,
        notified_at: row.try_get("notified_at")?,
        pending: row.try_get("pending")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        updated_at: row.try_get("updated_at")?,
        delivered: serde_json::from_str(&row.try_get::<String, _>("delivered")?)
            .unwrap_or_default(),
    })
}

impl Registry {
    /// Stores an alert, replacing the stored one with its id.
    pub async fn put_alert(&self, a: &AlertRecord) -> Result<(), RegistryError> {
        sqlx::query(&format!("INSERT INTO alerts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (id) DO UPDATE SET state = excluded.state, severity = excluded.severity, title = excluded.title, text = excluded.text, value = excluded.value, resolved_at = excluded.resolved_at, notified_at = excluded.notified_at, pending = excluded.pending, attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error, updated_at = excluded.updated_at, delivered = excluded.delivered"))
            .bind(&a.id)
            .bind(&a.rule)
            .bind(&a.state)
            .bind(&a.severity)
            .bind(&a.title)
            .bind(&a.text)
            .bind(a.value)
            .bind(a.fired_at)
            .bind(a.resolved_at)
            .bind(a.notified_at)
            .bind(&a.pending)
            .bind(a.attempts)
            .bind(a.next_attempt_at)
            .bind(&a.last_error)
            .bind(a.updated_at)
            .bind(serde_json::to_string(&a.delivered).unwrap_or_else(|_| "[]".into()))
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// The latest alert of `rule`, firing or not.
    pub async fn latest_alert(&self, rule: &str) -> Result<Option<AlertRecord>, RegistryError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alerts WHERE rule = $1 ORDER BY fired_at DESC, id DESC LIMIT 1"
        ))
        .bind(rule)
        .fetch_optional(self.db().pool())
        .await?;
        Ok(row.as_ref().map(record).transpose()?)
    }

    /// Alerts, newest first.
    pub async fn alerts(&self, limit: i64) -> Result<Vec<AlertRecord>, RegistryError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alerts ORDER BY fired_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
    }

    /// Alerts with a notification still to deliver.
    pub async fn pending_alerts(&self) -> Result<Vec<AlertRecord>, RegistryError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM alerts WHERE pending <> '' ORDER BY fired_at"
        ))
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.iter().map(record).collect::<Result<_, _>>()?)
    }
}

/// An alert rule stored through the API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StoredRule {
    /// Its name.
    pub name: String,
    /// The rule, as JSON.
    pub spec: String,
    /// Who last wrote it.
    pub actor: String,
    /// When.
    pub updated_at: i64,
}

impl Registry {
    /// Creates or replaces rule `name`.
    pub async fn put_alert_rule(
        &self,
        name: &str,
        spec: &str,
        actor: &str,
    ) -> Result<StoredRule, RegistryError> {
        let now = crate::db::now_ms();
        sqlx::query("INSERT INTO alert_rules (name, spec, actor, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, actor = excluded.actor, updated_at = excluded.updated_at")
            .bind(name)
            .bind(spec)
            .bind(actor)
            .bind(now)
            .execute(self.db().pool())
            .await?;
        Ok(StoredRule {
            name: name.into(),
            spec: spec.into(),
            actor: actor.into(),
            updated_at: now,
        })
    }

    /// Deletes rule `name`.
    pub async fn delete_alert_rule(&self, name: &str) -> Result<(), RegistryError> {
        let done = sqlx::query("DELETE FROM alert_rules WHERE name = $1")
            .bind(name)
            .execute(self.db().pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!("alert rule {name:?}")));
        }
        Ok(())
    }

    /// The rules stored through the API, by name.
    pub async fn alert_rules(&self) -> Result<Vec<StoredRule>, RegistryError> {
        let rows =
            sqlx::query("SELECT name, spec, actor, updated_at FROM alert_rules ORDER BY name")
                .fetch_all(self.db().pool())
                .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredRule {
                    name: row.try_get("name")?,
                    spec: row.try_get("spec")?,
                    actor: row.try_get("actor")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
