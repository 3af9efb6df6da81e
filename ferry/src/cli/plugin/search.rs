//! `ferry plugin search`.

use ferry_registry::SearchQuery;
use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

pub async fn run(
    runtime: &Runtime,
    args: &RegistryArgs,
    text: Option<String>,
    kind: Option<String>,
    keyword: Option<String>,
    json: bool,
) -> Result<u8, Exit> {
    let source = args.store(runtime).await?;
    let found = source
        .search(&SearchQuery {
            text,
            kind,
            keyword,
        })
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(exit::OK);
    }
    if found.is_empty() {
        println!("no plugins match");
    }
    for p in &found {
        let l = &p.latest;
        println!(
            "{:<18} {:<10} {:<11} {:>6} downloads  {}",
            l.name,
            l.version.to_string(),
            l.kind,
            p.downloads,
            l.description
        );
    }
    Ok(exit::OK)
}
