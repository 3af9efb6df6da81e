//! `ferry models tag`: sets a tag on a model or a version.

use ferry_runtime::Runtime;

use super::{split_ref, version_number};
use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry models tag`.
pub async fn run(
    runtime: &Runtime,
    model: String,
    key: String,
    value: String,
    registry: RegistryArgs,
) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    let tags = [(key.as_str(), value.as_str())];
    match split_ref(&model) {
        (name, None) => r.describe_model(name, None, &tags).await?,
        (name, Some(v)) => {
            r.describe_version(name, version_number(v)?, None, &tags)
                .await?
        }
    }
    r.audit("model.tag", &model, &key).await?;
    Ok(exit::OK)
}
