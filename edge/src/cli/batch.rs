//! A loaded version's pipeline over a data file, in batches: `ferry transform --model` and
//! `ferry edge predict`.

use ferry_core::data::{Format, read_table, select, slice_rows, write_csv};
use ferry_core::steps::BATCH_ROWS;
use ferry_core::{ServeError, ServingPipeline};

/// What [`run_pipeline`] writes after the kept columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// The transforms' output (a pipeline without a model).
    Features,
    /// The features the model reads.
    ModelFeatures,
    /// The features the model reads, then its outputs.
    FeaturesAndPredictions,
    /// Only the model's outputs.
    Predictions,
}

/// Runs a loaded version's pipeline over a data file in batches and writes `columns` after
/// the `keep` columns to a CSV file; returns the rows written.
pub async fn run_pipeline(
    pipeline: &ServingPipeline,
    data: &std::path::Path,
    out: &std::path::Path,
    keep: &[String],
    columns: Columns,
) -> anyhow::Result<usize> {
    let table = read_table(data, Format::of(data, None)?)?;
    let n = table.num_rows as usize;
    let mut batches = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + BATCH_ROWS).min(n);
        let chunk = slice_rows(&table, start, end);
        let mut out_batch = select(&chunk, keep).map_err(|e| anyhow::anyhow!("--keep: {e}"))?;
        if columns == Columns::Features {
            let f = pipeline
                .transform(&chunk)
                .await
                .map_err(|e| rows_error(e, start))?;
            // The pipeline's output carries the input columns too: a kept column once, first.
            let kept = |name: &str| keep.iter().any(|k| k == name);
            out_batch
                .columns
                .extend(f.columns.into_iter().filter(|c| !kept(&c.name)));
        } else {
            let p = pipeline
                .predict(&chunk)
                .await
                .map_err(|e| rows_error(e, start))?;
            if columns != Columns::Predictions {
                out_batch.columns.extend(p.features.columns);
            }
            if columns != Columns::ModelFeatures {
                out_batch.columns.extend(p.outputs.columns);
            }
        }
        batches.push(out_batch);
        start = end;
    }
    write_csv(out, &batches)?;
    Ok(n)
}

/// A pipeline's failure on the batch that starts at row `offset`, naming the rows.
pub fn rows_error(e: ServeError, offset: usize) -> anyhow::Error {
    anyhow::Error::new(e).context(format!("rows {}..", offset + 1))
}
