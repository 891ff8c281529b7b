"""Pod settings (`compute`) in every form the targets must carry, for the target tests."""

from __future__ import annotations

from dataclasses import replace

# Every pod setting in every form a target must carry: both units of CPU, every memory unit,
# GPUs of another vendor, compound and day durations, both toleration operators, two secrets.
FULL = {
    "ingest": {"resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
               "timeout": "30m", "retries": {"limit": 3, "backoff": "10s", "factor": 3, "max_backoff": "5m"},
               "node_selector": {"kubernetes.io/arch": "amd64", "acme.com/pool": "batch"},
               "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"},
                               {"key": "acme.com/spot", "operator": "Exists"}],
               "service_account": "charter-pipelines",
               "secrets": {"DB_URL": {"name": "churn-db", "key": "url"},
                           "AWS_ACCESS_KEY_ID": {"name": "store", "key": "access-key-id"}}},
    "prepare": {"resources": {"requests": {"cpu": "0.5", "memory": "4G"}, "limits": {"cpu": "1.25", "memory": "8T"}}},
    "validate": {"resources": {"limits": {"memory": "1536Mi"}}, "retries": {"limit": 1, "backoff": "1h30m",
                                                                            "factor": 1}},
    "split": {"resources": {"requests": {"memory": "1000000"}, "limits": {"memory": "2Ki"}}, "timeout": "2d"},
    "train": {"resources": {"requests": {"cpu": "4", "memory": "16Gi"}, "limits": {"cpu": "8", "memory": "1Ti"},
                            "gpus": 2, "gpu_type": "amd.com/gpu"}, "timeout": "6h",
              "retries": {"limit": 2, "backoff": "1m", "factor": 2}},
    "evaluate": {"resources": {"limits": {"memory": "1Pi"}, "gpus": 1, "gpu_type": "nvidia.com/gpu"}},
    "gate": {"retries": {"limit": 0}},
    "package": {"resources": {"requests": {"memory": "3M"}, "limits": {"memory": "1E", "cpu": "250m"}},
                "secrets": {"TOKEN": {"name": "registry", "key": "token.txt"}}},
    "monitor": {"timeout": "10m", "service_account": "charter-monitor",
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
                "secrets": {"AWS_ACCESS_KEY_ID": {"name": "store", "key": "access-key-id"}}},
}


def with_full_compute(graph):
    """The example's IR with every pod setting of FULL, for every model and data check."""
    models = tuple(replace(m, compute=FULL) for m in graph.models)
    checks = tuple(replace(c, compute={"check-data": FULL["ingest"]}) for c in graph.checks)
    return replace(graph, models=models, checks=checks)
