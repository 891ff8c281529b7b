"""`Project`: the optional `charter.yaml` at the repository root."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from compiler.plain import PLAIN_PATH, PLAIN_URL
from compiler.spec.base import Document, Name, Strict
from compiler.spec.compute import Compute
from compiler.spec.datasource import DataLimits, DuckDBOptions, Engine, SparkOptions

TARGETS: tuple[Target, ...] = ("github", "gitlab", "argo", "airflow", "kubeflow", "kubernetes", "runner", "codeowners",
                               "docs")
Target = Literal["github", "gitlab", "argo", "airflow", "kubeflow", "kubernetes", "runner", "codeowners", "docs"]


# An OCI image reference: [registry[:port]/]path[:tag][@sha256:digest], lowercase path.
_IMAGE = (r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?::[0-9]{1,5})?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
          r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")
# git check-ref-format for a branch: no control characters, spaces, ~ ^ : ? * [ \, no `..`,
# `@{` or `//`, not starting with `-` or `/`, not ending with `/`, `.` or `.lock`.
_BRANCH = r"^(?!-)(?!/)(?!.*\.\.)(?!.*@\{)(?!.*//)(?!.*/$)(?!.*\.$)(?!.*\.lock$)[^\x00-\x20\x7f~^:?*\[\\]+$"


def _check(regex: str, what: str):
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise PydanticCustomError("charter_value", "`{shown}` is not {what}", {"shown": value[:80], "what": what})
        return value

    return AfterValidator(check)


def _committed(value: object) -> object:
    """`site` is a target of `charter compile`, but not of the committed output `targets` lists."""
    if value == "site":
        raise PydanticCustomError("charter_value", "`site` is not a target of the committed output",
                                  {"help": "the site reads git history and the artifact store, so it is built on its "
                                           "own: `charter compile --target site` (docs/targets/site.md)"})
    return value


CommittedTarget = Annotated[Target, BeforeValidator(_committed)]


Image = Annotated[str, _check(_IMAGE, "a container image reference such as `ghcr.io/acme/runner:1.2`")]
Branch = Annotated[str, _check(_BRANCH, "a valid git branch name")]


class AirflowOptions(Strict):
    """How Airflow DAGs run each step."""

    operator: Literal["kubernetes", "bash"] = Field("kubernetes", description="KubernetesPodOperator or BashOperator.")


class InstallOptions(Strict):
    """How the generated CI jobs install Charter."""

    constraints: str | None = Field(
        None, max_length=300, pattern=PLAIN_PATH,
        description="A pip constraints file in the repository, such as `requirements/constraints.txt`: the "
                    "generated GitHub jobs install Charter with it (`PIP_CONSTRAINT`), so CI gets the versions "
                    "it pins.")


class PromotionOptions(Strict):
    """How a model promoted on the base branch reaches the deployment configs."""

    via: Literal["pull-request", "branch"] = Field(
        "pull-request", description="The main workflow commits charter.lock with the manifests that serve it to "
                                    "a branch `charter/promote-<sha>-<run id>` and opens a pull request "
                                    "(`pull-request`), or only pushes the branch (`branch`).")


class Limits(Strict):
    """Ceilings on the estimator parameters that size a training run; a Model asking for more
    is an error (S229). Parameters whose default is unbounded (`max_depth`) have none. `data`
    holds the default bounds on reading every DataSource's file.
    """  # noqa: D205 - pydantic publishes this docstring as the JSON Schema description (`charter schema`)

    n_estimators: int = Field(5000, ge=1, description="Trees or boosting rounds of an ensemble.")
    max_iter: int = Field(100_000, ge=1, description="Iterations of a solver (boosting rounds of "
                                                     "`HistGradientBoosting*`).")
    n_jobs: int = Field(8, ge=1, description="Parallel processes or threads; a negative `n_jobs` (every CPU) is "
                                             "refused.")
    n_neighbors: int = Field(1000, ge=1, description="Neighbours of a nearest-neighbours model.")
    cv: int = Field(20, ge=2, description="Cross-validation folds of a `*CV` estimator, each a full fit.")
    data: DataLimits = Field(default_factory=DataLimits,
                             description="Defaults of every DataSource's `limits`; a source's own value wins.")


class ProjectSpec(Strict):
    """The `spec` of the Project."""

    specs: list[str] = Field(default_factory=lambda: ["specs"], min_length=1, description="Folders holding specs.")
    output: str = Field("generated", min_length=1, description="Folder of generated files.")
    image: Image | None = Field(
        None, max_length=300,
        description="Container image that has `charter` installed, e.g. `ghcr.io/acme/runner:1.2`.")
    artifact_store: str = Field(".charter/artifacts", min_length=1, max_length=500, pattern=r"^[^\s\x00-\x1f\x7f]+$",
                                description="Local folder or fsspec URL (no spaces): the store of commands run on "
                                            "this machine (`--store` and `CHARTER_STORE` override it).")
    # Not a path: reached from pods and CI runners. Quotes, `$`, braces and backslashes are
    # refused so the URL can stand in GitHub, GitLab, Argo and Jinja fields as plain text.
    shared_store: str | None = Field(
        None, max_length=500, pattern=PLAIN_URL,
        description="The artifact store every generated job and model server uses, an fsspec URL such as "
                    "`s3://acme-ml/charter`: it becomes `CHARTER_STORE` in CI jobs, pipeline pods and the "
                    "analysis Job, and the root of KServe's `storageUri`.")
    prometheus: str | None = Field(
        None, max_length=500, pattern=PLAIN_URL,
        description="Address of the Prometheus that scrapes the model servers, e.g. "
                    "`http://prometheus.monitoring.svc:9090`: canary and blue-green analysis query it. No default: a "
                    "rollout with `analysis` needs it.")
    base_branch: Branch = Field("main", min_length=1, max_length=200,
                             description="Branch that plans compare against (a valid git branch name).")
    targets: list[CommittedTarget] = Field(default_factory=lambda: list(TARGETS),
                                           description="Targets `compile` renders.")
    default_ownership: Name | None = Field(None, description="Ownership for specs no Ownership covers.")
    tracking: Literal["none", "mlflow"] = Field("none", description="Experiment tracking backend.")
    airflow: AirflowOptions = Field(default_factory=AirflowOptions)
    install: InstallOptions = Field(default_factory=InstallOptions)
    promotion: PromotionOptions = Field(default_factory=PromotionOptions)
    limits: Limits = Field(default_factory=Limits)
    engine: Engine | None = Field(
        None, description="The engine of every DataSource's `charter check-data` that does not choose its own: "
                          "`polars` (the default), `duckdb`, `postgres` or `spark`.")
    duckdb: DuckDBOptions | None = Field(
        None, description="Defaults of every DataSource's `duckdb` settings; a source's own value wins.")
    spark: SparkOptions | None = Field(
        None, description="Defaults of every DataSource's `spark` settings; a source's own value wins.")
    compute: Compute | None = Field(
        None, description="Defaults for how orchestrators run every pipeline's pods; a Model's `compute` "
                          "overrides them, and `steps.<step>` overrides its block.")


class Project(Document):
    """Repository-wide settings, read from `charter.yaml`."""

    kind: Literal["Project"]
    spec: ProjectSpec = Field(default_factory=ProjectSpec)
