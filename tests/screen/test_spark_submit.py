"""Under spark-submit the screen takes spark-submit's master; run directly, local[*].

Python's SparkConf is empty until Python joins the JVM, so a check made before that used to
replace `spark-submit --master ...` with local[*] without a word. Each case runs in a fresh
interpreter (the test session's own Spark would answer otherwise) and starts one JVM.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROBE = (
    "from venapath.screen.pipeline import _configured_master\n"
    "print('master=' + str(_configured_master()))\n"
)


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime on PATH")
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    return script


def _master_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("master="))


def test_spark_submits_master_is_the_one_used(probe: Path, tmp_path: Path) -> None:
    import pyspark

    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    env = {
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_CONF_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [str(spark_submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false", str(probe)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert _master_line(result.stdout) == "master=local[1]"


def test_run_directly_it_is_local(probe: Path, tmp_path: Path) -> None:
    env = {"SPARK_CONF_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, str(probe)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    # PySpark starts its JVM through spark-submit, whose default master is local[*].
    assert _master_line(result.stdout) == "master=local[*]"
