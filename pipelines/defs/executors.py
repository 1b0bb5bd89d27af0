"""Which executor the jobs run their steps with (`TOWNSTAT_EXECUTOR`).

- `multiprocess` (default): each step in its own process, sources ingested side by side;
- `in_process`: one process, less start-up per step (small machines, the end-to-end test);
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
