#!/usr/bin/env bash
# Installs what the project needs, idempotently: system packages (Postgres server, Chromium, wrk),
# the Python virtualenv, the JVM jars (Kafka broker, Spark's Kafka source) resolved by Maven, and the
# job's de-duplication operator (jvm/dedupe) built by Maven.
# Each step is skipped when its inputs have not changed since it last succeeded.
# `scripts/setup.sh python`: the virtualenv only.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
JARS=var/jars
PYTHON=${PYTHON:-python3}

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# hash of the given files, used as a stamp so a step reruns only when its inputs change
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

check_java() {
  command -v java >/dev/null || die "Java 17 or newer is required (apt-get install openjdk-17-jdk-headless)."
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  major=${major#1.}
  [ "${major%%.*}" -ge 17 ] || die "Java 17 or newer is required; found Java $major."
  command -v mvn >/dev/null || die "Maven is required to fetch the Kafka and Spark jars (apt-get install maven)."
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    die "missing system packages: $*. Install them with: sudo apt-get install -y $*"
  fi
  say "installing system packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_system_packages() {
  local missing=()
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || missing+=(postgresql)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v npm >/dev/null || missing+=(npm)
  command -v wrk >/dev/null || missing+=(wrk)  # HTTP load tool of `make bench`
  # docker-compose.yml is checked with `docker compose config`, which needs no engine.
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

install_python() {
  local stamp=$VENV/.requirements.sha256 want
  want=$(digest requirements.txt)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  [ -x $VENV/bin/python ] || { say "creating $VENV"; "$PYTHON" -m venv $VENV; }
  say "installing Python packages (pyspark builds from source: a minute or two the first time)"
  $VENV/bin/python -m pip install --quiet --upgrade pip
  $VENV/bin/python -m pip install --quiet -r requirements.txt
  echo "$want" >"$stamp"
}

maven() {  # quiet, and without the colour resets Maven's console still prints in batch mode
  mvn --batch-mode --quiet -Dstyle.color=never "$@" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'
}

resolve_jars() {
  local name=$1 dest=$JARS/$1 stamp want
  stamp=$dest/.pom.sha256
  want=$(digest "jvm/$name/pom.xml")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  say "resolving $name jars with Maven"
  rm -rf "$dest"
  mkdir -p "$dest"
  maven -f "jvm/$name/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$PWD/$dest"
  echo "$want" >"$stamp"
}

build_jar() {  # a jar of this project's own JVM code (jvm/<name>), built against pyspark's Spark
  local name=$1 dest=$JARS/$1 stamp want sources
  stamp=$dest/.sources.sha256
  mapfile -d '' sources < <(find "jvm/$name/pom.xml" "jvm/$name/src" -type f -print0 | LC_ALL=C sort -z)
  want=$(digest "${sources[@]}")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  say "building the $name jar with Maven"
  rm -rf "$dest"
  mkdir -p "$dest"
  maven -f "jvm/$name/pom.xml" clean package
  cp "jvm/$name"/target/*.jar "$dest/"
  echo "$want" >"$stamp"
}

install_web_libraries() {
  local stamp=webapp/node_modules/.lock.sha256 want
  want=$(digest webapp/package-lock.json)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  say "installing the page's chart library with npm"
  (cd webapp && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

if [ "${1:-}" = python ]; then  # `make unit`, `make lint`: the virtualenv alone
  install_python
  exit 0
fi

check_java
install_system_packages
install_python
install_web_libraries
resolve_jars kafka
resolve_jars spark
build_jar dedupe
say "ready: $VENV, $JARS/kafka ($(ls $JARS/kafka/*.jar | wc -l) jars), $JARS/spark ($(ls $JARS/spark/*.jar | wc -l) jars), $JARS/dedupe"
