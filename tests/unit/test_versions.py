import re


def test_spark_connector_and_dedupe_operator_match_the_pinned_pyspark(repo_root):
    pinned = re.search(r"^pyspark==(\S+)$", (repo_root / "requirements.txt").read_text(), re.M).group(1)
    for name in ("spark", "dedupe"):
        pom = (repo_root / "jvm" / name / "pom.xml").read_text()
        assert re.search(r"<spark.version>(.*?)</spark.version>", pom).group(1) == pinned, name


def test_every_requirement_is_pinned(repo_root):
    lines = [
        line.strip()
        for line in (repo_root / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines and all("==" in line for line in lines)
