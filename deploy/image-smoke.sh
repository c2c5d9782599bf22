#!/usr/bin/env bash
# `make image-smoke`: build the image from deploy/Dockerfile and prove it works, in containers:
#   1. `cwdrift baseline validate` (the builder stage runs it too)
#   2. `cwdrift demo`: the simulator, real checks, alerts to the Slack sink, self-checked
#   3. the simulator in one container and, in its network namespace, `cwdrift check` with the
#      compose trial's config, then a node (`run`) whose HEALTHCHECK (/readyz) must say healthy
#   4. a PDF report of what step 3 recorded
# Not part of `make test`. Skips (exit 0, saying why) where no engine can build and run
# containers, or no base image can be had. Settings (environment):
#   CONTAINER_ENGINE   docker or podman (default: whichever can run a container, docker first)
#   PYTHON_IMAGE       the base (default python:3.11-slim; if it cannot be pulled, a local
#                      Debian base is built with debootstrap, see deploy/OPERATIONS.md)
#   SMOKE_TAG          the image tag (default localhost/cwdrift:smoke)
set -euo pipefail

cd "$(dirname "$0")/.."
TAG=${SMOKE_TAG:-localhost/cwdrift:smoke}
BASE=${PYTHON_IMAGE:-python:3.11-slim}
LOCAL_BASE=localhost/cwdrift-base:bookworm
WORK=$(mktemp -d /tmp/cwdrift-smoke.XXXXXX)
PREFIX=cwdrift-smoke-$$
ENGINE=()
RUN_OPTS=()

say() { printf '\n== %s\n' "$*"; }
skip() { printf '\nimage-smoke SKIPPED: %s\n' "$*"; exit 0; }
cleanup() {
  if [ ${#ENGINE[@]} -gt 0 ]; then  # one at a time: a missing one must not spare the other
    "${ENGINE[@]}" rm -f "$PREFIX-node" >/dev/null 2>&1 || true
    "${ENGINE[@]}" rm -f "$PREFIX-sim" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# -- an engine that can run a container ----------------------------------------------------------
# Podman on a cgroup-v1/v2 hybrid host needs runc (crun refuses hybrid mode), and a root without
# CAP_SYS_RESOURCE cannot raise rlimits to podman's defaults: try the plain engine first, then
# those adjustments, and keep the first that runs a container.
try_engine() {  # try_engine IMAGE ENGINE... -- RUN_OPTS...
  local image=$1; shift
  local engine=() opts=()
  while [ "$1" != "--" ]; do engine+=("$1"); shift; done; shift
  opts=("$@")
  if "${engine[@]}" run --rm ${opts[@]+"${opts[@]}"} "$image" true >/dev/null 2>&1; then
    ENGINE=("${engine[@]}"); RUN_OPTS=(${opts[@]+"${opts[@]}"}); return 0
  fi
  return 1
}

pick_engine() {  # pick_engine IMAGE
  local image=$1 limits=()
  limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=32768:32768")
  case "${CONTAINER_ENGINE:-}" in
    docker) candidates=(docker) ;;
    podman) candidates=(podman) ;;
    *) candidates=(docker podman) ;;
  esac
  for engine in "${candidates[@]}"; do
    command -v "$engine" >/dev/null || continue
    try_engine "$image" "$engine" -- && return 0
    if [ "$engine" = podman ]; then
      try_engine "$image" podman -- "${limits[@]}" && return 0
      if command -v runc >/dev/null; then
        try_engine "$image" podman --runtime runc -- && return 0
        try_engine "$image" podman --runtime runc -- "${limits[@]}" && return 0
      fi
    fi
  done
  return 1
}

have_image() { "$1" image inspect "$2" >/dev/null 2>&1; }

# -- a base image ---------------------------------------------------------------------------------
engine_cli=""
for candidate in ${CONTAINER_ENGINE:-docker podman}; do
  if command -v "$candidate" >/dev/null && "$candidate" info >/dev/null 2>&1; then
    engine_cli=$candidate; break
  fi
done
[ -n "$engine_cli" ] || skip "no container engine answers (tried: ${CONTAINER_ENGINE:-docker podman}; docker needs its daemon, podman needs installing: apt-get install podman)"

if ! have_image "$engine_cli" "$BASE" && ! "$engine_cli" pull "$BASE" >/dev/null 2>&1; then
  echo "cannot pull $BASE (no registry reachable?)"
  if [ -n "${PYTHON_IMAGE:-}" ]; then skip "the base image $BASE is not available"; fi
  if ! have_image "$engine_cli" "$LOCAL_BASE"; then
    command -v debootstrap >/dev/null || skip "no base image: $BASE cannot be pulled and debootstrap is not installed (apt-get install debootstrap) to build $LOCAL_BASE"
    say "building $LOCAL_BASE: Debian bookworm with python3 (debootstrap, from Debian's mirror)"
    rootfs="$WORK/rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
      bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
      || skip "no base image: $BASE cannot be pulled and debootstrap failed (see the mirror; last lines: $(tail -2 "$WORK/debootstrap.log" | tr '\n' ' '))"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | "$engine_cli" import --change 'CMD ["python3"]' - "$LOCAL_BASE" >/dev/null
    rm -rf "$rootfs"
  fi
  BASE=$LOCAL_BASE
fi
pick_engine "$BASE" || skip "$engine_cli cannot run a container here (tried the defaults, runc, and rlimits at the host's own)"
echo "engine: ${ENGINE[*]} ${RUN_OPTS[*]}"
echo "base: $BASE"

# -- build ----------------------------------------------------------------------------------------
build=("${ENGINE[@]}" build --network host --build-arg "PYTHON_IMAGE=$BASE" -f deploy/Dockerfile -t "$TAG")
if [ "${ENGINE[0]}" = podman ]; then
  build+=(--format docker "${RUN_OPTS[@]}")  # docker format: the OCI format drops HEALTHCHECK
fi
# A host whose pip reaches the index through its own configuration (a proxy's CA): the build's
# pip uses it too. Nothing of it ends up in the image (build-time volumes).
if [ -f /etc/pip.conf ]; then build+=(-v /etc/pip.conf:/etc/pip.conf:ro); fi
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  build+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
fi
say "build: ${build[*]} ."
"${build[@]}" . >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; echo "image-smoke FAILED: the build"; exit 1; }
{ grep -E "baseline.yaml: OK" "$WORK/build.log" || echo "(cached: validated when first built)"; } | sed 's/^/  builder: /'
health=$("${ENGINE[0]}" image inspect "$TAG" --format '{{json .Config.Healthcheck}}')
echo "  HEALTHCHECK: $health"
case "$health" in *"/readyz"*) ;; *) echo "image-smoke FAILED: the image lost its HEALTHCHECK"; exit 1 ;; esac

# One-shot containers skip the image's HEALTHCHECK (podman would ask systemd for timers).
run() { "${ENGINE[@]}" run --rm --no-healthcheck "${RUN_OPTS[@]}" "$@"; }

say "1. cwdrift baseline validate"
run "$TAG" baseline validate

say "2. cwdrift demo (simulator, checks, Slack sink; exits 1 on any surprise)"
run --workdir /tmp "$TAG" demo --workdir /tmp/demo >"$WORK/demo.log" 2>&1 \
  || { tail -40 "$WORK/demo.log"; echo "image-smoke FAILED: the demo"; exit 1; }
grep -E "^(1|3)\. |Slack sink received" "$WORK/demo.log" | sed 's/^/  /'
echo "  demo: exit 0"

say "3. the compose trial's config: simulator, then check and a node in its network namespace"
mkdir -p "$WORK/data" && chmod 0777 "$WORK/data"
# The trial's config as it is, but single mode: the trial's PostgreSQL is not part of the smoke.
sed 's/^  mode: cluster .*/  mode: single/' deploy/compose/cwdrift.yaml >"$WORK/cwdrift.yaml"
chmod 0644 "$WORK/cwdrift.yaml"
trial=(-v "$WORK/cwdrift.yaml:/etc/cwdrift/cwdrift.yaml:ro" -v "$WORK/data:/data"
       -e CWDRIFT_SIM_URL=http://127.0.0.1:8900 -e CWDRIFT_DATABASE_URL=sqlite:////data/cwdrift.db
       -e CWDRIFT_HEALTH_PORT=9100 --network "container:$PREFIX-sim")
"${ENGINE[@]}" run -d --no-healthcheck --name "$PREFIX-sim" "${RUN_OPTS[@]}" "$TAG" \
  simulate --scenario demo --host 127.0.0.1 --port 8900 --slack-sink >/dev/null
for _ in $(seq 1 100); do
  "${ENGINE[@]}" exec "$PREFIX-sim" python -c "import socket; socket.create_connection(('127.0.0.1', 8900), 1)" 2>/dev/null && break
  sleep 0.2  # a shell script polling a container: no event to wait on
done
set +e
run "${trial[@]}" "$TAG" check --json >"$WORK/check.json" 2>"$WORK/check.err"
code=$?
set -e
python3 - "$WORK/check.json" "$code" <<'EOF'
import json, sys
results = {r["tenant"]: r["status"] for r in json.load(open(sys.argv[1]))["tenants"]}
want = {"acme": "compliant", "globex": "drift", "initech": "drift", "umbrella": "error"}
print(f"  check: exit {sys.argv[2]}, {results}")
sys.exit(0 if results == want and sys.argv[2] == "2" else 1)
EOF
# The node keeps the image's HEALTHCHECK; podman runs it on request (its timers need systemd,
# hence the stderr kept aside), docker on its own (every 2 s here instead of 30 s).
node_opts=()
if [ "${ENGINE[0]}" = docker ]; then node_opts=(--health-interval 2s); fi
"${ENGINE[@]}" run -d --name "$PREFIX-node" "${RUN_OPTS[@]}" ${node_opts[@]+"${node_opts[@]}"} \
  "${trial[@]}" "$TAG" >/dev/null 2>"$WORK/node.err"
status=unknown
for _ in $(seq 1 100); do
  if [ "${ENGINE[0]}" = podman ]; then
    status=$("${ENGINE[@]}" healthcheck run "$PREFIX-node" 2>/dev/null || echo unhealthy)
    status=${status:-healthy}  # podman 4 prints nothing when healthy
  else
    status=$(docker inspect --format '{{.State.Health.Status}}' "$PREFIX-node")
  fi
  [ "$status" = healthy ] && break
  sleep 0.3  # a shell script polling a container: no event to wait on
done
"${ENGINE[@]}" exec "$PREFIX-node" python -c "import urllib.request; print('  /readyz:', urllib.request.urlopen('http://127.0.0.1:9100/readyz', timeout=4).read().decode().strip())" || true
echo "  node HEALTHCHECK: $status"
[ "$status" = healthy ] || { "${ENGINE[@]}" logs "$PREFIX-node" | tail -20; echo "image-smoke FAILED: the node's health"; exit 1; }
"${ENGINE[@]}" logs "$PREFIX-sim" 2>&1 | grep -m 3 "slack (webhook)" | cut -c1-110 | sed 's/^/  sink: /' || true
"${ENGINE[@]}" rm -f "$PREFIX-node" >/dev/null 2>&1

say "4. a PDF report of what the checks recorded"
run "${trial[@]}" "$TAG" report --format pdf --out /data/report.pdf
head -c 5 "$WORK/data/report.pdf" | grep -q '%PDF-' || { echo "image-smoke FAILED: no PDF"; exit 1; }
echo "  report.pdf: $(wc -c <"$WORK/data/report.pdf") bytes, $(head -c 8 "$WORK/data/report.pdf")"

say "image-smoke PASSED ($(${ENGINE[0]} --version))"
