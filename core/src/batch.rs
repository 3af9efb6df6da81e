//! A loaded version's pipeline over many rows, on every core: the input cut into batches of
//! [`BATCH_ROWS`], each batch scored on fresh instances by one of `workers` tasks at once,
//! the results handed on in input order. Only a bounded window of batches is in memory at a
//! time, and the output is the same, bit for bit, whatever the number of workers: the
//! batches are the same and each is scored alone.

use std::collections::BTreeMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use ferry_runtime::bindings::types::Batch;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::data::{BatchStream, CsvChunk, CsvSink, DataError, Format, select};
use crate::serving::{DEFAULT_SETS_PER_VERSION, ServingPipeline};
use crate::steps::{BATCH_ROWS, ServeError};

/// One worker per core the process may use.
pub fn default_workers() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// The instance sets a version scoring a file may hold: [`DEFAULT_SETS_PER_VERSION`], or
/// one per core if there are more cores.
pub fn default_sets() -> NonZeroUsize {
    NonZeroUsize::new(DEFAULT_SETS_PER_VERSION)
        .unwrap_or(NonZeroUsize::MIN)
        .max(default_workers())
}

/// What [`score_file`] writes after the kept columns.
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

/// Why scoring a file stopped. Nothing is written to the output path unless every row was
/// scored.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The input could not be read or the output written.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A column to keep is not in the input.
    #[error("--keep: {0}")]
    Keep(String),
    /// The pipeline failed on rows `first..=last` (counted from 1): the first such batch in
    /// input order, whichever worker failed first.
    #[error("rows {first}..{last}")]
    Rows {
        /// The batch's first row, from 1.
        first: usize,
        /// Its last row.
        last: usize,
        /// What failed.
        #[source]
        source: ServeError,
    },
}

impl BatchError {
    /// The pipeline's failure on `rows` rows starting at row `offset` (counted from 0).
    pub fn rows(offset: usize, rows: usize, source: ServeError) -> Self {
        BatchError::Rows {
            first: offset + 1,
            last: offset + rows,
            source,
        }
    }
}

/// Runs `work` on every batch `next` yields, at most `workers` at once and at most twice as
/// many batches in memory, and gives each result to `sink` in input order. `work` gets the
/// batch's first row (counted from 0) and the batch. The first error in input order ends
/// the run: a batch's error once every batch before it has reached `sink`, or an error of
/// `next` or `sink` at once; work still running is dropped.
pub async fn in_order<T, E, Fut>(
    workers: NonZeroUsize,
    mut next: impl FnMut() -> Result<Option<Batch>, E>,
    work: impl Fn(usize, Batch) -> Fut,
    mut sink: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E>
where
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let window = workers.get().saturating_mul(2) as u64;
    let gate = Arc::new(Semaphore::new(workers.get()));
    let mut running: JoinSet<(u64, Result<T, E>)> = JoinSet::new();
    let mut finished: BTreeMap<u64, Result<T, E>> = BTreeMap::new();
    let (mut started, mut handed, mut offset, mut ended) = (0u64, 0u64, 0usize, false);
    loop {
        while !ended && started - handed < window {
            match next()? {
                None => ended = true,
                Some(batch) => {
                    let rows = batch.num_rows as usize;
                    let job = work(offset, batch);
                    let gate = gate.clone();
                    let seq = started;
                    running.spawn(async move {
                        let _turn = gate.acquire_owned().await;
                        (seq, job.await)
                    });
                    started += 1;
                    offset += rows;
                }
            }
        }
        while let Some(result) = finished.remove(&handed) {
            sink(result?)?;
            handed += 1;
            // Reading and writing run on this task and finished batches are often waiting:
            // without a yield, a whole run could pass in one poll, and whatever the caller
            // races it against (a signal, a deadline) would never be looked at.
            tokio::task::yield_now().await;
        }
        if handed == started {
            if ended {
                return Ok(());
            }
            continue;
        }
        match running.join_next().await {
            Some(Ok((seq, result))) => {
                finished.insert(seq, result);
            }
            Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Some(Err(_)) | None => {
                unreachable!("a batch not yet handed on is running, and none is cancelled")
            }
        }
    }
}

/// Runs a loaded version's pipeline over a data file (CSV, Parquet or JSON lines) on
/// `workers` workers and writes the `keep` columns, then `columns`, as CSV to `out`;
/// returns the rows written. The file at `out` is replaced only once every row is scored.
pub async fn score_file(
    pipeline: Arc<ServingPipeline>,
    data: &Path,
    out: &Path,
    keep: &[String],
    columns: Columns,
    workers: NonZeroUsize,
) -> Result<u64, BatchError> {
    let mut input = BatchStream::open(data, Format::of(data, None)?, BATCH_ROWS)?;
    let mut output = CsvSink::create(out)?;
    let keep: Arc<[String]> = keep.into();
    let written: Arc<str> = out.display().to_string().into();
    in_order(
        workers,
        || Ok(input.next_batch()?),
        |offset, chunk| {
            let (pipeline, keep, written) = (pipeline.clone(), keep.clone(), written.clone());
            async move {
                let rows = chunk.num_rows as usize;
                let scored =
                    score(&pipeline, chunk, &keep, columns)
                        .await
                        .map_err(|e| match e {
                            Scored::Keep(m) => BatchError::Keep(m),
                            Scored::Serve(e) => BatchError::rows(offset, rows, e),
                        })?;
                // Encoded here, on the worker: writing is then only copying bytes in order.
                CsvChunk::encode(&scored, offset == 0).map_err(|message| {
                    BatchError::Data(DataError {
                        path: written.to_string(),
                        message,
                    })
                })
            }
        },
        |chunk| Ok(output.write_encoded(&chunk)?),
    )
    .await?;
    let rows = output.rows();
    output.finish()?;
    Ok(rows)
}

enum Scored {
    Keep(String),
    Serve(ServeError),
}

/// One batch's kept columns, then `columns`.
async fn score(
    pipeline: &ServingPipeline,
    chunk: Batch,
    keep: &[String],
    columns: Columns,
) -> Result<Batch, Scored> {
    let mut out = select(&chunk, keep).map_err(Scored::Keep)?;
    if columns == Columns::Features {
        let f = pipeline.transform(&chunk).await.map_err(Scored::Serve)?;
        // The pipeline's output carries the input columns too: a kept column once, first.
        let kept = |name: &str| keep.iter().any(|k| k == name);
        out.columns
            .extend(f.columns.into_iter().filter(|c| !kept(&c.name)));
    } else {
        let p = pipeline.predict(&chunk).await.map_err(Scored::Serve)?;
        if columns != Columns::Predictions {
            out.columns.extend(p.features.columns);
        }
        if columns != Columns::ModelFeatures {
            out.columns.extend(p.outputs.columns);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_runtime::bindings::types::{Column, ColumnData};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn numbered(from: usize, rows: usize) -> Batch {
        Batch {
            num_rows: rows as u32,
            columns: vec![Column {
                name: "n".into(),
                data: ColumnData::Int64((from..from + rows).map(|i| i as i64).collect()),
                nulls: None,
            }],
        }
    }

    /// Batches of 3 rows out of `total`, each worked on for a time that falls as the batch
    /// number rises, so that later batches finish first; the batch at `slow_at` takes longest.
    async fn run(
        workers: usize,
        total: usize,
        fail_at: &'static [usize],
        slow_at: Option<usize>,
        in_flight: Arc<AtomicUsize>,
        peak: Arc<AtomicUsize>,
    ) -> Result<Vec<i64>, String> {
        let mut at = 0;
        let mut seen = Vec::new();
        in_order(
            NonZeroUsize::new(workers).unwrap(),
            || {
                if at >= total {
                    return Ok(None);
                }
                let b = numbered(at, 3.min(total - at));
                at += 3;
                Ok(Some(b))
            },
            |offset, batch| {
                let (in_flight, peak) = (in_flight.clone(), peak.clone());
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    let ms = if slow_at == Some(offset) {
                        60
                    } else {
                        20u64.saturating_sub(offset as u64)
                    };
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    if fail_at.iter().any(|f| (offset..offset + 3).contains(f)) {
                        return Err(format!("failed at {offset}"));
                    }
                    Ok(batch)
                }
            },
            |b: Batch| {
                if let ColumnData::Int64(v) = &b.columns[0].data {
                    seen.extend(v);
                }
                Ok(())
            },
        )
        .await?;
        Ok(seen)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_come_in_input_order_with_at_most_workers_at_once() {
        for workers in [1, 2, 5] {
            let (in_flight, peak) = (Arc::default(), Arc::new(AtomicUsize::new(0)));
            let seen = run(workers, 31, &[], None, in_flight, peak.clone())
                .await
                .unwrap();
            assert_eq!(seen, (0..31).collect::<Vec<i64>>(), "{workers} workers");
            assert!(peak.load(Ordering::SeqCst) <= workers, "{workers} workers");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_first_failure_in_input_order_is_the_one_reported() {
        // Batch 18..21 fails long before batch 9..12 does.
        let e = run(4, 30, &[10, 20], Some(9), Arc::default(), Arc::default())
            .await
            .unwrap_err();
        assert_eq!(e, "failed at 9");
    }
}
