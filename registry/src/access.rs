//! Who may do what: API tokens with roles, package owners, and the audit log.

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::now_ms;
use crate::{Registry, RegistryError};

/// What a token may do; each role includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read packages and download plugins.
    Reader,
    /// Also publish and yank packages it owns.
    Publisher,
    /// Also deploy models.
    Deployer,
    /// Everything: tokens, owners, the audit log, any package.
    Admin,
}

impl Role {
    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Publisher => "publisher",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        match s {
            "reader" => Ok(Role::Reader),
            "publisher" => Ok(Role::Publisher),
            "deployer" => Ok(Role::Deployer),
            "admin" => Ok(Role::Admin),
            other => Err(RegistryError::Invalid(format!(
                "role {other:?} is not one of reader, publisher, deployer, admin"
            ))),
        }
    }
}

/// Someone acting through a token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Principal {
    /// The token's id (its public part).
    pub token_id: String,
    /// The token's name, e.g. `alice` or `ci`.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// A token as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it was created (ms since the epoch).
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Its position in the log.
    pub id: i64,
    /// When (ms since the epoch).
    pub at: i64,
    /// Who (`token:NAME`, `anonymous`, `local:USER`).
    pub actor: String,
    /// What, e.g. `plugin.publish`.
    pub action: String,
    /// Which object, e.g. `plugin:ratio@0.1.0`.
    pub object: String,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    /// The request's id.
    pub request_id: String,
    /// More about it (the error, for a refusal).
    pub detail: String,
}

fn hash_secret(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_hex(bytes: usize) -> Result<String, RegistryError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| RegistryError::Database(format!("no randomness for a token: {e}")))?;
    Ok(hex::encode(buf))
}

impl Registry {
    /// Creates a token and returns it once, with its info; only its hash is stored.
    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
    ) -> Result<(String, TokenInfo), RegistryError> {
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
        {
            return Err(RegistryError::Invalid(format!(
                "token name {name:?}: 1 to 64 of letters, digits, - _ . @"
            )));
        }
        let id = random_hex(8)?;
        let token = format!("ferry_{id}_{}", random_hex(24)?);
        let now = now_ms();
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(name)
        .bind(role.name())
        .bind(hash_secret(&token))
        .bind(now)
        .execute(self.db().pool())
        .await?;
        Ok((
            token,
            TokenInfo {
                id,
                name: name.to_string(),
                role,
                created_at: now,
                revoked_at: None,
            },
        ))
    }

    /// The principal a token stands for, or `None` for an unknown or revoked token. A valid
    /// token is remembered until the registry's generation moves (a revocation moves it), so
    /// a server checks each token against the database once, not on every request.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, RegistryError> {
        let hash = hash_secret(token);
        let generation = self.generation();
        if generation >= 0
            && let Some(p) = self.tokens.remembered(&hash, generation)
        {
            return Ok(Some(p));
        }
        let row = sqlx::query(
            "SELECT id, name, role FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(self.db().pool())
        .await?;
        let principal = row
            .map(|r| {
                Ok::<_, RegistryError>(Principal {
                    token_id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    role: Role::parse(&r.try_get::<String, _>("role")?)?,
                })
            })
            .transpose()?;
        if generation >= 0
            && let Some(p) = &principal
        {
            self.tokens.remember(hash, generation, p.clone());
        }
        Ok(principal)
    }

    /// Every token, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, RegistryError> {
        let rows = sqlx::query(
            "SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY created_at, id",
        )
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    role: Role::parse(&r.try_get::<String, _>("role")?)?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Revokes a token by id.
    pub async fn revoke_token(&self, id: &str) -> Result<(), RegistryError> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(self.db().pool())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(RegistryError::NotFound(format!("active token {id}")));
        }
        self.bump_generation().await
    }

    /// The owners of a package.
    pub async fn owners(&self, package: &str) -> Result<Vec<String>, RegistryError> {
        let rows = sqlx::query("SELECT owner FROM plugin_owners WHERE name = $1 ORDER BY owner")
            .bind(package)
            .fetch_all(self.db().pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get("owner")?)).collect()
    }

    /// Adds an owner to a package (no-op if already one).
    pub async fn add_owner(&self, package: &str, owner: &str) -> Result<(), RegistryError> {
        sqlx::query("INSERT INTO plugin_owners (name, owner) VALUES ($1, $2) ON CONFLICT (name, owner) DO NOTHING")
            .bind(package)
            .bind(owner)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Whether `who` may publish new versions of, or yank, `package`: admins always; others
    /// if they own it, or if nobody does yet (the first publisher becomes its owner).
    pub async fn may_change(&self, who: &Principal, package: &str) -> Result<bool, RegistryError> {
        if who.role == Role::Admin {
            return Ok(true);
        }
        if who.role < Role::Publisher {
            return Ok(false);
        }
        let owners = self.owners(package).await?;
        Ok(owners.is_empty() || owners.contains(&who.name))
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        object: &str,
        outcome: &str,
        request_id: &str,
        detail: &str,
    ) -> Result<(), RegistryError> {
        sqlx::query("INSERT INTO audit_log (at, actor, action, object, outcome, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(now_ms())
            .bind(actor)
            .bind(action)
            .bind(object)
            .bind(outcome)
            .bind(request_id)
            .bind(detail)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// The newest `limit` audit entries, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, RegistryError> {
        let rows = sqlx::query("SELECT id, at, actor, action, object, outcome, request_id, detail FROM audit_log ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(self.db().pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    object: r.try_get("object")?,
                    outcome: r.try_get("outcome")?,
                    request_id: r.try_get("request_id")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}

/// Valid tokens a registry has checked, by hash, with the generation they were checked at.
#[derive(Default)]
pub(crate) struct TokenMemory(
    std::sync::RwLock<std::collections::HashMap<String, (i64, Principal)>>,
);

impl TokenMemory {
    /// The most tokens remembered; past it the memory starts over.
    const MAX: usize = 10_000;

    fn remembered(&self, hash: &str, generation: i64) -> Option<Principal> {
        let m = self.0.read().ok()?;
        m.get(hash)
            .filter(|(g, _)| *g == generation)
            .map(|(_, p)| p.clone())
    }

    fn remember(&self, hash: String, generation: i64, principal: Principal) {
        if let Ok(mut m) = self.0.write() {
            if m.len() >= Self::MAX {
                m.clear();
            }
            m.insert(hash, (generation, principal));
        }
    }
}
