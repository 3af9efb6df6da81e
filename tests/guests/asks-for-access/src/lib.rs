//! A validator whose manifest asks for a directory and an environment variable. A plugin that
//! computes may have neither, so Ferry refuses it at load.

use ferry_sdk::prelude::*;

pub struct AsksForAccess;

impl Plugin for AsksForAccess {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("asks-for-access")
            .directory("/data", false, "a lookup table")
            .env("LOOKUP_TABLE")
    }
}

impl Validator for AsksForAccess {
    fn validate(_config: &str, batch: &Batch) -> Result<Report> {
        Ok(ReportBuilder::new(batch.num_rows, 10).finish())
    }
}

ferry_sdk::export_validator!(AsksForAccess);
