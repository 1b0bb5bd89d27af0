"""Which executor the jobs run their steps with (`TOWNSTAT_EXECUTOR`).

- `in_process` (default): every step in the run's own process. The files of a source are
  still validated side by side (ingest's process pool) and Polars uses every core, so a
  step process of its own buys little on one machine and costs each step the imports
  again: the nightly province case (one new tax file) took 96.7 s with `multiprocess` and
  59.1 s in process, the same run and machine (issue 16, bench/README.md);
- `multiprocess`: each step in its own process (the imports paid per step);
- `k8s`: each step in its own Kubernetes Job (dagster-k8s), for a province or the country
  where a backfill fans out over county × year partitions (docs/deployment.md); its run
  config is `deploy/k8s/run_config.yaml`.
"""

from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor

from pipelines import settings

EXECUTORS = ("multiprocess", "in_process", "k8s")


def job_executor() -> ExecutorDefinition:
    choice = settings.executor()
    if choice == "in_process":
        return in_process_executor
    if choice == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    if choice != "multiprocess":
        raise ValueError(f"TOWNSTAT_EXECUTOR={choice!r}: expected one of {', '.join(EXECUTORS)}")
    return multiprocess_executor
