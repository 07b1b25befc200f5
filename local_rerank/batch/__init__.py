"""Corpus-scale reranking: (query, document) rows in, the same rows with p("yes") out.

    from local_rerank.batch import BatchJob, LocalRunner, ModelOpener, prepare, run_job

    job = BatchJob(Path("pairs.jsonl"), Path("scored"), model, settings)
    summary = run_job(prepare(job), LocalRunner(ModelOpener(model, settings), workers=2))

See :mod:`local_rerank.batch.job` for the life of a job, :mod:`~local_rerank.batch.shards`
for the OUTPUT folder, and :mod:`~local_rerank.batch.ray_runner` for Ray. Nothing here
imports pyarrow or Ray until a Parquet file or ``--ray`` needs them.
"""

from local_rerank.batch.job import (
    DEFAULT_SHARD_ROWS,
    BatchJob,
    BatchSummary,
    LocalRunner,
    ModelOpener,
    Prepared,
    Runner,
    prepare,
    run_job,
)

__all__ = ["BatchJob", "BatchSummary", "DEFAULT_SHARD_ROWS", "LocalRunner", "ModelOpener", "Prepared", "Runner",
           "prepare", "run_job"]
