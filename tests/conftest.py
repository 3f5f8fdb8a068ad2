"""Shared fixtures: the bundled knowledge base, loaded once per session; Hypothesis profiles;
argon2 at its smallest cost for test accounts; the `slow` marker on every test that needs
Spark (a JVM)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

import hypothesis_profiles  # noqa: F401 - registers and loads the Hypothesis profile
from db_support import BACKENDS, fresh_database
from identity_support import bearer, identity_settings
from jwt_support import BASE, issuer_settings
from venapath.api.app import create_app
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.identity import passwords
from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import KnowledgeBase
from venapath.persistence.database import Database
from venapath.services.registry import Registry
from venapath.settings import load_settings

POPULATION_TESTS = ("tests/screen/", "tests/cli/test_screen_cli.py", "tests/synth/")
"""Whole-population pipelines (DuckDB screens of generated cohorts): tens of seconds each."""


SLOW_MODULES = (
    "tests/api/test_openapi_fuzz.py",
    "tests/api/test_server_e2e.py",
    "tests/persistence/test_crash_safety.py",
    "tests/persistence/test_database_restart.py",
    "tests/web/test_browser.py",
)
"""Modules whose every test is `slow` (a `pytestmark`). Some do real work when imported (the
schemathesis module builds the service and reads its OpenAPI), which `make unit` would pay
for only to deselect every test: under `-m "not slow"` they are not even imported."""

ROOT = Path(__file__).resolve().parent.parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under exactly `-m "not slow"` (`make unit`), skip importing the modules and folders
    whose every test is slow; any other selection (`make test`) collects everything."""
    if config.getoption("markexpr", "") != "not slow":
        return None
    try:
        relative = collection_path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return None
    if relative in SLOW_MODULES or relative.startswith(POPULATION_TESTS):
        return True
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make unit` leaves out the `slow` tests. Besides the ones marked in their modules
    (servers in subprocesses, crash tests, fuzzing), that is every Spark test (a JVM, seconds
    per query) and every population pipeline test."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        spark = "spark_session" in fixtures or any(
            tag in item.nodeid for tag in ("[spark", "-spark", "/spark]")
        )
        if spark or item.nodeid.startswith(POPULATION_TESTS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def production_password_hasher() -> Iterator[PasswordHasher]:
    """Test accounts are hashed with argon2id at its smallest cost (one pass over 8 KiB).

    The production parameters cost about 0.2 s of CPU per hash or sign-in, by design; the
    web and security tests sign in hundreds of times. The hasher production uses is yielded
    so that `test_passwords_and_scopes.py` can prove its parameters."""
    production = passwords._hasher
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", cheap)
        yield production


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.fixture(scope="module")
def module_registry(
    kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """A registry on a fresh SQLite file, shared by one test module's HTTP client."""
    with fresh_database("sqlite", tmp_path_factory.mktemp("registry")) as db:
        yield Registry(db, kb)


@pytest.fixture(scope="module")
def client(kb: KnowledgeBase, module_registry: Registry) -> Iterator[TestClient]:
    """The HTTP service in development mode (no CDS Hooks JWT), in process, called by a
    machine client whose bearer token holds every SMART scope (`system/*.cruds`)."""
    settings = load_settings(env="development", max_body_bytes=1_000_000, **identity_settings())
    app = create_app(settings, kb=kb, feedback=MemoryFeedbackStore(), registry=module_registry)
    with TestClient(app, headers=bearer()) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def secured(kb: KnowledgeBase, module_registry: Registry) -> Iterator[TestClient]:
    """The HTTP service as in production: CDS Hooks calls need a valid JWT."""
    settings = load_settings(
        trusted_issuers=issuer_settings(), public_base_url=BASE, **identity_settings()
    )
    app = create_app(settings, kb=kb, feedback=MemoryFeedbackStore(), registry=module_registry)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty registry database: SQLite, and PostgreSQL when configured."""
    with fresh_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture
def registry(database: Database, kb: KnowledgeBase) -> Registry:
    return Registry(database, kb)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local Spark for the whole run (a JVM start costs seconds); UTC like the screen."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime on PATH")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("venapath-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "3g")
        .config("spark.sql.maxPlanStringLength", "100000")
        # The whole run shares this JVM: keep no finished query's plan graph, job or stage
        # for a UI nobody looks at (the screen's plans are large; 1,000 are kept by default).
        .config("spark.sql.ui.retainedExecutions", "1")
        .config("spark.ui.retainedJobs", "10")
        .config("spark.ui.retainedStages", "10")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
