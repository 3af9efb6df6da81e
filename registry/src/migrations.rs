//! The schema migrations, embedded in the binary by `build.rs` and read as sqlx reads a
//! migrations folder: `<VERSION>_<DESCRIPTION>.sql`, the description with spaces for
//! underscores, and `-- no-transaction` at the top to run outside a transaction. The checksums
//! sqlx records are those of the same SQL, so databases migrated by earlier builds (which
//! embedded them with `sqlx::migrate!`) stay valid.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// One backend's embedded migrations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Embedded(pub(crate) &'static [(&'static str, &'static str)]);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move { self.migrations() })
    }
}

impl Embedded {
    /// The migrations, in version order.
    pub(crate) fn migrations(self) -> Result<Vec<Migration>, BoxDynError> {
        let mut all = self
            .0
            .iter()
            .map(|&(name, sql)| migration(name, sql))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by_key(|m| m.version);
        Ok(all)
    }
}

fn migration(name: &str, sql: &'static str) -> Result<Migration, BoxDynError> {
    let (version, rest) = name
        .split_once('_')
        .ok_or_else(|| format!("migration {name:?} is not named <VERSION>_<DESCRIPTION>.sql"))?;
    let version: i64 = version
        .parse()
        .map_err(|_| format!("migration {name:?} does not start with an integer version"))?;
    let migration_type = MigrationType::from_filename(rest);
    let description = rest
        .trim_end_matches(migration_type.suffix())
        .replace('_', " ");
    Ok(Migration::new(
        version,
        Cow::Owned(description),
        migration_type,
        Cow::Borrowed(sql),
        sql.starts_with("-- no-transaction"),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sqlx::migrate::Migrator;

    use super::*;

    /// The embedded migrations are what sqlx reads from the folders, as `sqlx::migrate!`
    /// embedded them in earlier builds: the same versions, descriptions, SQL and checksums.
    #[tokio::test]
    async fn embedded_migrations_are_the_folders() {
        for (embedded, folder) in [
            (Embedded(SQLITE), "sqlite"),
            (Embedded(POSTGRES), "postgres"),
        ] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(folder);
            let read = Migrator::new(dir.as_path()).await.unwrap();
            let ours = embedded.migrations().unwrap();
            assert_eq!(ours.len(), read.iter().count(), "{folder}");
            assert!(ours.len() >= 16, "{folder}: {} migrations", ours.len());
            for (a, b) in ours.iter().zip(read.iter()) {
                assert_eq!(
                    (
                        a.version,
                        &a.description,
                        a.migration_type,
                        &a.sql,
                        &a.checksum,
                        a.no_tx
                    ),
                    (
                        b.version,
                        &b.description,
                        b.migration_type,
                        &b.sql,
                        &b.checksum,
                        b.no_tx
                    ),
                    "{folder}"
                );
            }
        }
    }

    #[test]
    fn badly_named_migrations_are_refused_by_name() {
        let e = Embedded(&[("plugins.sql", "SELECT 1")])
            .migrations()
            .unwrap_err();
        assert!(e.to_string().contains("\"plugins.sql\""), "{e}");
        let e = Embedded(&[("v1_plugins.sql", "SELECT 1")])
            .migrations()
            .unwrap_err();
        assert!(e.to_string().contains("integer version"), "{e}");
    }
}
