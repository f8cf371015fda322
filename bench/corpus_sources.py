"""Where the conformance corpus comes from: public repositories (pinned commits) and PyPI wheels.

Only names, addresses, commits and paths live here, never the files themselves: ``bench/corpus.py``
reads the files at run time from the local mirrors (``/work/.mirror/<owner>+<name>/repo``, bare git
directories) and from wheels downloaded with ``pip download --no-deps``.

``airflow`` is the style a source is written for; each file is classified on its own (see
``classify_file`` in ``tests/conformance/wheel_corpus.py``) and the source's value only decides the
files that carry no marker of either version.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GitSource:
    name: str
    repo: str  # owner/name on GitHub
    commit: str
    kind: str  # book, course, tutorial, guide
    airflow: str  # "2" or "3": the style of files with no marker of either
    include: tuple[str, ...]  # path prefixes to take
    exclude: tuple[str, ...] = ()  # path fragments to leave out (tests, Docker images' scripts...)
    #: The whole include is one DAGs folder (the repo is someone's $AIRFLOW_HOME/dags); otherwise each
    #: file's folder is its nearest ancestor called ``dags``, or its own directory.
    single_folder: str | None = None
    #: Repo paths copied beside each home's dags/ (files the DAGs read relative to their project).
    home_files: tuple[str, ...] = ()
    #: Repo paths put on PYTHONPATH: the source's own packages its DAGs expect installed (setup.py),
    #: for the DAGs folders under the same top-level directory (chapter) only.
    pythonpath: tuple[str, ...] = ()
    note: str = ""

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repo}"


@dataclass(frozen=True)
class WheelSource:
    name: str
    dist: str
    version: str
    prefix: str  # member prefix inside the wheel that holds the example DAGs
    airflow: str
    kind: str = "wheel"
    exclude: tuple[str, ...] = ()
    note: str = ""

    @property
    def url(self) -> str:
        return f"https://pypi.org/project/{self.dist}/{self.version}/"


_COMMON_EXCLUDES = ("/tests/", "tests/", ".astro/", "/docker/images/", "/services/", "/api/",
                    "/package/", "setup.py", "/src/", "/scripts/", "webserver_config.py", "conf.py")

GIT_SOURCES: tuple[GitSource, ...] = (
    GitSource(
        name="book-dpwaa-1st", repo="BasPH/data-pipelines-with-apache-airflow",
        commit="d5b18a70d3be23d64e4ec2d3134db9d12445688e", kind="book", airflow="2",
        include=("chapter",), exclude=_COMMON_EXCLUDES, pythonpath=("chapter14/src",),
        note="Data Pipelines with Apache Airflow (Manning, 1st edition, Airflow 2); the seeds' chapters 1 and 7"),
    GitSource(
        name="book-dpwaa-2nd", repo="godatadriven/data-pipelines-with-airflow-2nd-ed",
        commit="ae8de25be16dfb9cc1860d481093e68a2fd9c9a0", kind="book", airflow="3",
        include=("chapter",), exclude=_COMMON_EXCLUDES + ("_legacy_dags/", "_old/"),
        pythonpath=("chapter07/src", "chapter09/src", "chapter13/src"),
        note="Data Pipelines with Apache Airflow (Manning, 2nd edition, Airflow 3)"),
    GitSource(
        name="book-practical-guide-af3", repo="astronomer/practical-guide-to-apache-airflow-3",
        commit="20c9785a72392c94783fd7176b7b3f6ffd366644", kind="book", airflow="3",
        include=("code_examples/", "dags/"), exclude=_COMMON_EXCLUDES,
        note="Astronomer's Practical Guide to Apache Airflow 3 (book listings)"),
    GitSource(
        name="course-mlops-study-kr", repo="mlops-study/mlops-study-ml-pipeline",
        commit="44cd46c72f8efd468f7f6a035d7796d8bb3f2e1e", kind="course", airflow="2",
        include=("features/", "models/", "support/"), exclude=("/tests/", "tests/", "before_refactor/"),
        single_folder="", note="Korean MLOps course (seed 004's): the repository is the DAGs folder"),
    GitSource(
        name="tutorial-heumsi-kr", repo="heumsi/apache-airflow-tutorials-for-beginner",
        commit="23f8ee0490e4d7f5c559c13e49bfb55049a19675", kind="tutorial", airflow="2",
        include=("my-airflow-project/dags/",), single_folder="my-airflow-project/dags",
        note="Korean beginners' tutorial (Airflow 2)"),
    GitSource(
        name="guide-astro-2-9-examples", repo="astronomer/2-9-example-dags",
        commit="4f10ef1e4de17e8f3b8ec8ee40e78498d997bc37", kind="guide", airflow="2",
        include=("dags/", "include/"), exclude=("include/api_script/", "include/data_generation/"),
        single_folder="", note="Astronomer's Airflow 2.9 feature examples"),
    GitSource(
        name="guide-astro-2-8-examples", repo="astronomer/2-8-example-dags",
        commit="4bb111938d02b1c33c3df9abcff93da025c6f8ff", kind="guide", airflow="2",
        include=("dags/",), single_folder="dags", note="Astronomer's Airflow 2.8 feature examples"),
    GitSource(
        name="guide-astro-example-dags", repo="astronomer/astro-example-dags",
        commit="721939f7f1f007301ce70062a271c9cc76a4dc9b", kind="guide", airflow="2",
        include=("dags/",), single_folder="dags", note="The Astro CLI's example DAG"),
    GitSource(
        name="tutorial-astro-quickstart", repo="astronomer/airflow-quickstart",
        commit="9502f5dea7fead3cafa170e0d696352055baeae8", kind="tutorial", airflow="3",
        include=("etl/dags/", "etl/include/", "etl/solutions/", "generative-ai/dags/", "generative-ai/include/",
                 "generative-ai/solutions/", "learning-airflow/dags/", "learning-airflow/solutions/"),
        note="Astronomer's quickstart tutorials (Airflow 3)"),
    GitSource(
        name="tutorial-pyconus-2026", repo="thelearningdev/pyconus-2026-apache-airflow-tutorial",
        commit="ad02fdcbce256c70ed89182b1f1b9d8c4ab58700", kind="tutorial", airflow="3",
        include=("dags/",), home_files=("sql", "data"), note="PyCon US 2026 Apache Airflow tutorial (Airflow 3)"),
)

WHEEL_SOURCES: tuple[WheelSource, ...] = (
    WheelSource(name="wheel-airflow-core-3.3.2", dist="apache-airflow-core", version="3.3.2",
                prefix="airflow/example_dags/", airflow="3", note="Airflow 3's bundled example DAGs"),
    WheelSource(name="wheel-airflow-2.10.5", dist="apache-airflow", version="2.10.5",
                prefix="airflow/example_dags/", airflow="2", note="Airflow 2's bundled example DAGs"),
    WheelSource(name="wheel-providers-standard-1.21.0", dist="apache-airflow-providers-standard",
                version="1.21.0", prefix="airflow/providers/standard/example_dags/", airflow="3"),
    WheelSource(name="wheel-providers-common-sql-2.4.0", dist="apache-airflow-providers-common-sql",
                version="2.4.0", prefix="airflow/providers/common/sql/example_dags/", airflow="3"),
)

#: Provider wheels checked for example DAGs; only those listed in WHEEL_SOURCES ship any (the others
#: keep theirs in Airflow's source tree as system tests, which are not in the wheels).
PROVIDER_WHEELS_CHECKED: dict[str, str] = {
    "apache-airflow-providers-standard": "1.21.0", "apache-airflow-providers-common-sql": "2.4.0",
    "apache-airflow-providers-sqlite": "4.3.4", "apache-airflow-providers-postgres": "7.1.1",
    "apache-airflow-providers-mysql": "6.7.1", "apache-airflow-providers-http": "6.3.0",
    "apache-airflow-providers-ssh": "7.0.1", "apache-airflow-providers-amazon": "9.39.0",
    "apache-airflow-providers-slack": "9.11.1", "apache-airflow-providers-redis": "4.7.1",
    "apache-airflow-providers-smtp": "3.2.0", "apache-airflow-providers-docker": "4.6.1",
}


@dataclass
class SourceIndex:
    """All sources by name (what ``--source`` picks from)."""

    git: dict[str, GitSource] = field(default_factory=lambda: {s.name: s for s in GIT_SOURCES})
    wheels: dict[str, WheelSource] = field(default_factory=lambda: {s.name: s for s in WHEEL_SOURCES})
