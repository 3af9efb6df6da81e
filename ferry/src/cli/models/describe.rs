//! `ferry models describe`: sets the description of a model or a version.

use ferry_runtime::Runtime;

use super::{split_ref, version_number};
use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry models describe`.
pub async fn run(
    runtime: &Runtime,
    model: String,
    text: String,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    match split_ref(&model) {
        (name, None) => r.describe_model(name, Some(&text), &[]).await?,
        (name, Some(v)) => {
            r.describe_version(name, version_number(v)?, Some(&text), &[])
                .await?
        }
    }
    r.audit("model.describe", &model, "").await?;
    Ok(exit::OK)
}
