# Voice (issue 8): server-added latency per turn and concurrent real-time sessions, and chat
# streaming overhead (issue 11), with
# every vendor replaced by the zero-latency simulators (target/release/cadence-sim). A second
# Cadence on another port, against the same bench database, has its providers pointed at
# the simulator. Sourced by scripts/bench.sh; writes its section to BENCHMARKS.extra.md.
# shellcheck shell=bash
VOICE_STEPS="${BENCH_VOICE_STEPS:-25 50 100 200 300 400 500}"
VOICE_STEP_SECS="${BENCH_VOICE_STEP_SECS:-8}"
VOICE_BUDGET_SECS="${BENCH_VOICE_BUDGET_SECS:-120}"
VOICE_TURNS="${BENCH_VOICE_TURNS:-20}"

log "voice: building cadence-sim"
SQLX_OFFLINE=true cargo build --release --quiet --bin cadence-sim --bin loadgen
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SIM_PORT=$(free_port)
VOICE_PORT=$(free_port)
VOICE_BASE="http://127.0.0.1:$VOICE_PORT"

./target/release/cadence-sim --addr "127.0.0.1:$SIM_PORT" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
env CADENCE_ENV=production DATABASE_URL="$DB" PORT="$VOICE_PORT" \
  CADENCE__SERVER__HOST=127.0.0.1 \
  CADENCE__AUTH__JWT_SECRET=bench-secret-bench-secret-bench-secret-0001 \
  CADENCE__AUTH__LOGIN_RATE_PER_IP=100000000 CADENCE__AUTH__LOGIN_RATE_PER_ACCOUNT=100000000 \
  CADENCE__AUTH__REGISTER_RATE_PER_IP=100000000 CADENCE__AUTH__REFRESH_RATE_PER_IP=100000000 \
  CADENCE__LOG__LEVEL=warn CADENCE__DATABASE__MAX_CONNECTIONS=32 \
  CADENCE__PROVIDERS__OPENAI__API_KEY=sim CADENCE__PROVIDERS__OPENAI__BASE_URL="http://127.0.0.1:$SIM_PORT/v1" \
  CADENCE__PROVIDERS__DEEPGRAM__API_KEY=sim CADENCE__PROVIDERS__DEEPGRAM__BASE_URL="ws://127.0.0.1:$SIM_PORT" \
  CADENCE__PROVIDERS__ELEVENLABS__API_KEY=sim CADENCE__PROVIDERS__ELEVENLABS__BASE_URL="http://127.0.0.1:$SIM_PORT" \
  ./target/release/cadence >"$WORK/voice-server.log" 2>&1 &
VOICE_PID=$!
# Runs in its own subshell (scripts/bench.sh): stop what this scenario started when it ends.
trap 'kill "${VOICE_PID:-}" "${SIM_PID:-}" 2>/dev/null || true' EXIT
until curl -fsS "$VOICE_BASE/health" >/dev/null 2>&1; do
  kill -0 $VOICE_PID 2>/dev/null || { cat "$WORK/voice-server.log"; die "voice server died"; }
  sleep 0.05
done

# Each user's wallet (signup credits) holds the minimum call for many sessions; 50 users.
$LOADGEN register --base "$VOICE_BASE" --users 50 --prefix "voice$$" --out "$WORK/voice-tokens.txt" >/dev/null

log "voice: latency, $VOICE_TURNS sequential typed turns on one session"
VOICE_LAT=$($LOADGEN voice --base "$VOICE_BASE" --tokens "$WORK/voice-tokens.txt" --sessions 1 \
  --turns "$VOICE_TURNS" --duration 30 --ramp-ms 0 --server-pid $VOICE_PID)
echo "$VOICE_LAT" >"$WORK/voice-latency.json"

: >"$WORK/voice-steps.jsonl"
voice_start=$(date +%s)
for n in $VOICE_STEPS; do
  if (( $(date +%s) - voice_start + VOICE_STEP_SECS > VOICE_BUDGET_SECS )); then
    log "voice: step budget (${VOICE_BUDGET_SECS}s) spent before N=$n"; break
  fi
  log "voice: $n sessions streaming real-time audio for ${VOICE_STEP_SECS}s"
  out=$($LOADGEN voice --base "$VOICE_BASE" --tokens "$WORK/voice-tokens.txt" --sessions "$n" --audio \
    --duration "$VOICE_STEP_SECS" --ramp-ms 1000 --server-pid $VOICE_PID)
  echo "$out" >>"$WORK/voice-steps.jsonl"
  ok=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); j=d["jitter_ms"]["p99"]
print("yes" if d["turns"] > 0 and d["failed_sessions"] == 0 and d["late_frames"] == 0 and j is not None and j < 20 else "no")' "$out")
  [ "$ok" = yes ] || { log "voice: N=$n missed the bar; stopping"; break; }
done

python3 - "$WORK/voice-latency.json" "$WORK/voice-steps.jsonl" "$VOICE_STEP_SECS" <<'PY' >>BENCHMARKS.extra.md
import json, sys
lat = json.load(open(sys.argv[1]))
steps = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
secs = sys.argv[3]
def ok(d):
    j = d["jitter_ms"]["p99"]
    return d["turns"] > 0 and d["failed_sessions"] == 0 and d["late_frames"] == 0 and j is not None and j < 20
f = lambda v: "—" if v is None else f"{v:.2f}"
print("## Voice (issue 8)\n")
print("A second Cadence instance (same database) with OpenAI (LLM), Deepgram (STT) and ElevenLabs (TTS) "
      "pointed at `target/release/cadence-sim` with zero added latency; driven by `loadgen voice` over "
      "the voice WebSocket. Server, simulator and load generator share the 2 cores.\n")
print(f"### Latency per turn — one session, {lat['turns']} sequential typed turns ({lat['turns_failed']} failed)\n")
print("| measure | p50 ms | p99 ms |\n|---|---:|---:|")
rows = [("client: turn sent → first `response` text", "turn_to_first_text_ms"),
        ("client: turn sent → first audio byte", "turn_to_first_audio_ms"),
        ("server `metrics`: response_latency_ms (user turn end → first audio)", "server_response_latency_ms"),
        ("server `metrics`: llm_first_token_ms", "server_llm_first_token_ms"),
        ("server `metrics`: tts_first_byte_ms", "server_tts_first_byte_ms")]
for label, k in rows:
    print(f"| {label} | {f(lat[k]['p50'])} | {f(lat[k]['p99'])} |")
print("\nWith zero-latency simulators these are all server-added time (plus loopback HTTP/WS to the simulator).\n")
print(f"### Concurrency — N sessions, each streaming real-time 16 kHz PCM16 (20 ms frames) and sending typed turns back to back, {secs} s per step\n")
print("Bar: outbound audio inter-arrival jitter p99 < 20 ms (|gap − 20 ms| after the 100 ms lead burst), no late frames "
      "(a frame arriving after the audio before it finished playing), no failed sessions.\n")
print("| N | turns (failed) | first audio p50 / p99 ms | frames | late frames | jitter p99 / max ms | RSS per session KiB | errors | bar |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
best = None
for d in steps:
    a = d["turn_to_first_audio_ms"]; j = d["jitter_ms"]
    good = ok(d)
    if good: best = d
    print(f"| {d['sessions']} | {d['turns']} ({d['turns_failed']}) | {f(a['p50'])} / {f(a['p99'])} | {d['frames']} | {d['late_frames']} | {f(j['p99'])} / {f(j['max'])} | {d['rss_per_session_kb'] if d['rss_per_session_kb'] is not None else '—'} | {d['errors']} | {'met' if good else 'missed'} |")
print()
if best:
    print(f"Largest N that met the bar: **{best['sessions']}** (RSS per session ≈ {best['rss_per_session_kb']} KiB). "
          "Steps stop at the first miss or when the step budget is spent, so a larger N may still pass.")
else:
    print("No step met the bar.")
for d in steps:
    if d["error_samples"]:
        print(f"\nN={d['sessions']} error samples: " + "; ".join(d["error_samples"][:3]))
PY
# Chat streaming overhead: the same prompt to the simulated vendor directly and through
# Cadence's SSE chat route (fresh users: every reply is billed).
CHAT_SECS="${BENCH_CHAT_SECS:-8}"
CHAT_CONC="${BENCH_CHAT_CONCURRENCY:-8}"
$LOADGEN register --base "$VOICE_BASE" --users 48 --prefix "chat$$" --out "$WORK/chat-tokens.txt" >/dev/null
log "chat: streamed replies, vendor direct vs through Cadence (${CHAT_SECS}s per phase)"
$LOADGEN chat --base "$VOICE_BASE" --sim "http://127.0.0.1:$SIM_PORT" --tokens "$WORK/chat-tokens.txt" \
  --concurrency "$CHAT_CONC" --duration "$CHAT_SECS" >"$WORK/chat.json"
python3 - "$WORK/chat.json" <<'PY' >>BENCHMARKS.extra.md
import json, sys
d = json.load(open(sys.argv[1]))
f = lambda v: "—" if v is None else f"{v:.2f}"
print("\n## Chat streaming overhead (issue 11)\n")
print("`loadgen chat`: the same prompt streamed from the simulated OpenAI endpoint directly (`/v1/chat/completions`, "
      "`stream: true`) and through Cadence (`POST /api/v1/conversations/{id}/messages`, `Accept: text/event-stream`: "
      "auth, context from the database, the tool loop, both messages stored, the reply billed, SSE re-framed). "
      "The difference is what Cadence adds. Same instance and machine as the voice numbers above.\n")
print("| phase | workers | requests | req/s | first text p50 / p99 ms | whole reply p50 / p99 ms | errors |")
print("|---|---:|---:|---:|---:|---:|---:|")
for key, label in [("vendor_sequential", "vendor direct"), ("cadence_sequential", "through Cadence"),
                   ("vendor_concurrent", "vendor direct"), ("cadence_concurrent", "through Cadence")]:
    r = d[key]; w = 1 if key.endswith("sequential") else d["concurrency"]
    print(f"| {label} | {w} | {r['requests']} | {r['rps']} | {f(r['first_text_ms']['p50'])} / {f(r['first_text_ms']['p99'])} "
          f"| {f(r['total_ms']['p50'])} / {f(r['total_ms']['p99'])} | {r['errors']} |")
v, c = d["vendor_sequential"], d["cadence_sequential"]
if v["first_text_ms"]["p50"] is not None and c["first_text_ms"]["p50"] is not None:
    print(f"\nOverhead, one request at a time: first text +{c['first_text_ms']['p50'] - v['first_text_ms']['p50']:.2f} ms at p50, "
          f"whole reply +{c['total_ms']['p50'] - v['total_ms']['p50']:.2f} ms at p50.")
for k in d:
    if isinstance(d[k], dict) and d[k].get("error_samples"):
        print(f"\n{k} error samples: " + "; ".join(d[k]["error_samples"]))
PY

kill "$VOICE_PID" "$SIM_PID" 2>/dev/null || true
