#!/usr/bin/env bash
# Measures the client against `gzip -dc` and the provider's Python SDK (`rstapi`), all on
# this machine, against the same local servers, and prints one table.
#
#   bash benches/compare.sh             # 250,000 and 1,000,000 records, 3 rounds
#   RECORDS=50000 BIG_RECORDS=200000 ROUNDS=1 bash benches/compare.sh   # a quick look
#
# Snapshots are generated once and kept in $CACHE (default /tmp/rstcloud-bench).
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS=${RECORDS:-250000}
BIG_RECORDS=${BIG_RECORDS:-1000000}
ROUNDS=${ROUNDS:-3}
CACHE=${CACHE:-${TMPDIR:-/tmp}/rstcloud-bench}
PY=${PYTHON:-python3}
mkdir -p "$CACHE"

python_has_sdk() { "$PY" -c 'import rstapi, requests' 2>/dev/null; }
python_has_sdk || "$PY" -m pip install -q rstapi
if [ ! -x /usr/bin/time ]; then
    apt-get install -y -qq time >/dev/null
fi

echo "building the benchmark binary (release)..." >&2
BIN=$(cargo build --release --bench snapshot_server --message-format=json 2>/dev/null |
    "$PY" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") \
            and m["target"]["name"] == "snapshot_server":
        print(m["executable"])')

# The Python side: the SDK's own feed download, then json.loads per line; its own
# indicator lookup, one after another (it opens a connection per request).
cat >"$CACHE/sdk.py" <<'EOF'
import gzip, json, os, sys, tempfile, time
import rstapi

mode, api = sys.argv[1], sys.argv[2]
if mode == "stream":
    out = os.path.join(tempfile.mkdtemp(), "threatfeed_ip_latest.json")
    start = time.perf_counter()
    feed = rstapi.threatfeed(APIKEY="bench-key", APIURL=api, READ=120)
    result = feed.GetFeed("ip", filetype="json", compressed=True, path=out)
    count = 0
    with gzip.open(result["message"], "rb") as f:
        for line in f:
            json.loads(line)
            count += 1
    print(f"{time.perf_counter() - start:.4f} {count}")
    os.remove(result["message"])
else:
    count = int(sys.argv[3])
    lines = open("src/sandbox/data/random100_ioc_ip_latest.json").read().split("\n")
    values = [json.loads(l)["ip"]["v4"] for l in lines if l.strip()]
    lookup = rstapi.ioclookup(APIKEY="bench-key", APIURL=api)
    lookup.GetIndicator(values[0])
    start = time.perf_counter()
    for i in range(count):
        lookup.GetIndicator(values[i % len(values)])
    print(f"{count / (time.perf_counter() - start):.0f}")
EOF

SERVERS=()
cleanup() { for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# Starts a server for $1 records; sets API and FILE.
start_server() {
    local out="$CACHE/serve_$1.out"
    : >"$out"
    echo "generating/serving $1 records..." >&2
    "$BIN" serve "$1" "$CACHE" >"$out" &
    SERVERS+=($!)
    until grep -q '^file=' "$out"; do sleep 0.2; done
    API=$(sed -n 's/^api=//p' "$out")
    FILE=$(sed -n 's/^file=//p' "$out")
}

start_server "$RECORDS"
API1=$API FILE1=$FILE
start_server "$BIG_RECORDS"
API2=$API

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$CACHE/gzip.t"; : >"$CACHE/ours.t"; : >"$CACHE/python.t"
for round in $(seq "$ROUNDS"); do
    echo "round $round of $ROUNDS: gzip -dc, client, Python SDK..." >&2
    t0=$(now); gzip -dc "$FILE1" >/dev/null; t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }' >>"$CACHE/gzip.t"
    "$BIN" stream "$API1" | awk '{print $1}' >>"$CACHE/ours.t"
    "$PY" "$CACHE/sdk.py" stream "$API1" |
        awk '{print $1}' >>"$CACHE/python.t"
done
GZIP_S=$(median <"$CACHE/gzip.t")
OURS_S=$(median <"$CACHE/ours.t")
PY_S=$(median <"$CACHE/python.t")

echo "peak memory at $RECORDS and $BIG_RECORDS records..." >&2
rss_mb() {
    /usr/bin/time -v "$BIN" stream "$1" 2>&1 >/dev/null |
        awk '/Maximum resident set size/ {printf "%.1f", $NF / 1024}'
}
RSS1=$(rss_mb "$API1")
RSS2=$(rss_mb "$API2")

echo "lookups..." >&2
LOOKUP1=$("$BIN" lookup "$API1" 1 2000)
LOOKUP64=$("$BIN" lookup "$API1" 64 20000)
PY_LOOKUP=$("$PY" "$CACHE/sdk.py" lookup "$API1" 500)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# `verdict RATIO CONDITION`: the condition is an awk expression on `r`.
verdict() { if awk -v r="$1" "BEGIN { exit !($2) }"; then echo met; else echo "NOT met"; fi; }

R1=$(ratio "$OURS_S" "$GZIP_S")
R2=$(ratio "$PY_S" "$OURS_S")
R3=$(ratio "$RSS1" 32)
R3b=$(ratio "$RSS2" "$RSS1")
R4a=$(ratio "$LOOKUP1" "$PY_LOOKUP")
R4=$(ratio "$LOOKUP64" "$PY_LOOKUP")

echo
echo "rstcloud benchmark: $RECORDS-record IP snapshot ($(du -m "$FILE1" | cut -f1) MB gzip), $(nproc) cores, median of $ROUNDS"
fmt="| %-44s | %-14s | %-24s | %-7s | %-7s |\n"
printf "$fmt" "target" "rstcloud" "reference" "ratio" "result"
printf "$fmt" "--------------------------------------------" "--------------" "------------------------" "-------" "-------"
printf "$fmt" "1. stream typed records, below gzip -dc" "${OURS_S} s" "gzip -dc ${GZIP_S} s" "$R1" "$(verdict "$R1" "r < 1")"
printf "$fmt" "2. same, >= 3x the Python SDK" "${OURS_S} s" "rstapi+json ${PY_S} s" "${R2}x" "$(verdict "$R2" "r >= 3")"
printf "$fmt" "3a. peak RSS streaming, < 32 MB" "${RSS1} MB" "limit 32 MB" "$R3" "$(verdict "$R3" "r < 1")"
printf "$fmt" "3b. RSS at $BIG_RECORDS vs $RECORDS, within 10%" "${RSS2} MB" "${RSS1} MB" "$R3b" "$(verdict "$R3b" "r <= 1.10 && r >= 0.90")"
printf "$fmt" "4a. lookups/s, concurrency 1" "$LOOKUP1/s" "rstapi $PY_LOOKUP/s" "${R4a}x" "(info)"
printf "$fmt" "4b. lookup_many at 64, >= 20x the SDK" "$LOOKUP64/s" "rstapi $PY_LOOKUP/s" "${R4}x" "$(verdict "$R4" "r >= 20")"
