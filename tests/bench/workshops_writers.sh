# The workshops write side of the benchmark, shared by scripts/bench.sh (part 5) and
# tests/bench/workshops.sh (that part alone): sourced, not run. On the server psql_bench
# reaches (database bench, with tests/bench/workshops_dataset.sql loaded), the three writers
# take turns ROUNDS times, each for SECONDS with $clients pgbench clients: the plain INSERT +
# UPDATE of the registrations (workshops_plain.pgbench), the floor (workshops_floor.pgbench: the
# same rows with the session lock, audit rows and outbox events, no rules), then the RPCs
# (workshops.pgbench: register_for_session + cancel_registration). Each run reports calls per
# second and p50/p95/p99 of each call (pgbench's per-transaction logs in LOG_DIR); after each
# RPC run, no session may hold more seats than its capacity nor have a seat free while people
# wait, and no transaction may fail, or the benchmark fails. Then the throughput ratios and the
# targets. With BOOKING_BENCH_PERF=1 (needs perf, run as root) each run is also sampled with
# `perf record -a` and the server's CPU samples per 1 000 calls are printed, with and without the
# memory checking of an assertion-enabled build (AllocSetCheck, MemoryContextCheck,
# randomize_mem): the source builds of 17 and 18 used by the tests check every memory context
# after each command, a cost that grows with the backend's caches (the RPCs' backends compile
# many functions and plans, the plain writers' almost none), so their throughput ratio
# understates what a production build does.
#
#   run_workshop_writers ROUNDS SECONDS LOG_DIR     (needs psql_bench, $bindir, $port, $clients)
run_workshop_writers() {
  local rounds=$1 seconds=$2 log_dir=$3
  # Back to the rows as loaded before each run (the 11 people of each session stay registered
  # throughout), and the outbox's account of what a run did.
  local reset="SET row_security = off;
    DELETE FROM booking.workshop_registrations WHERE user_id NOT LIKE 'wb-bg-%';
    DELETE FROM bench.workshop_registrations_plain WHERE user_id NOT LIKE 'wb-bg-%';
    TRUNCATE bench.audit_log_floor, bench.outbox_floor"
  local events="booking.outbox WHERE payload ->> 'workshop_id' = 'b0000000-0000-4000-a007-000000000001'"
  local joined_line="(SELECT count(*) FROM $events AND payload ->> 'status' = 'waitlisted'
                      AND topic IN ('workshop.registration_created', 'workshop.registration_status_changed'))"
  local promotions="(SELECT count(*) FROM $events AND topic = 'workshop.registration_promoted')"
  local -A tps_sum=([plain]=0 [floor]=0 [rpc]=0) cpu_sum=([plain]=0 [floor]=0 [rpc]=0)
  local p95s=() round writer script out tps failed retried waitlisted0 promoted0 pgbench line
  local p50 p95 p99 c50 c95 c99 over idle waitlisted promoted all net
  mkdir -p "$log_dir"
  # Latencies of each call (microseconds, third column of the per-transaction logs; the second
  # is the client's transaction number: odd for a register, even for a cancel).
  percentiles() {
    cat "$log_dir"/workshops_log.* | awk -v parity="$1" '$3 ~ /^[0-9]+$/ && $2 % 2 == parity { print $3 }' | sort -n |
      awk '{ v[NR] = $1 } END { printf "%.2f %.2f %.2f\n", v[int(NR * 0.50 + 0.999)] / 1000, v[int(NR * 0.95 + 0.999)] / 1000, v[int(NR * 0.99 + 0.999)] / 1000 }'
  }
  for round in $(seq "$rounds"); do
    for writer in plain floor rpc; do
      psql_bench -d bench -c "$reset" -c "VACUUM ANALYZE booking.workshop_sessions, booking.workshop_registrations, bench.workshop_registrations_plain, bench.workshop_sessions_floor" >/dev/null
      script=tests/bench/workshops.pgbench
      [ "$writer" = plain ] && script=tests/bench/workshops_plain.pgbench
      [ "$writer" = floor ] && script=tests/bench/workshops_floor.pgbench
      read -r waitlisted0 promoted0 <<<"$(psql_bench -d bench -At -F ' ' -c "SELECT $joined_line, $promotions")"
      rm -f "$log_dir"/workshops_log.*
      # --max-tries: a deadlock or serialization failure is tried again (and counted), as an app
      # retries; any other error aborts the client and fails the run. Each pgbench transaction is
      # one call: a client registers in its odd transactions and cancels in its even ones.
      "$bindir/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c "$clients" -j "$clients" -T "$seconds" \
        -D phase=0 --max-tries=10 -l --log-prefix="$log_dir/workshops_log" -f "$script" bench >"$log_dir/pgbench.out" 2>&1 &
      pgbench=$!
      if [ "${BOOKING_BENCH_PERF:-0}" = 1 ]; then
        sleep 1
        perf record -a -F 499 -o "$log_dir/perf.data" -- sleep $((seconds - 2)) >/dev/null 2>&1
      fi
      if ! wait $pgbench; then
        cat "$log_dir/pgbench.out" >&2
        echo "pgbench failed: the benchmark fails" >&2
        return 1
      fi
      out=$(cat "$log_dir/pgbench.out")
      tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)
      failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
      retried=$(sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p' <<<"$out")
      read -r p50 p95 p99 < <(percentiles 1)
      read -r c50 c95 c99 < <(percentiles 0)
      if [ "$writer" = rpc ]; then
        # Zero oversubscription: no session holds more seats than its capacity; and no seat is
        # left free while people wait (every freed seat went to the line).
        read -r over idle waitlisted promoted <<<"$(psql_bench -d bench -At -F ' ' -c "
          SELECT count(*) FILTER (WHERE held > capacity), count(*) FILTER (WHERE held < capacity AND waiting),
                 $joined_line - $waitlisted0, $promotions - $promoted0
          FROM (SELECT s.capacity, booking_internal.session_seats_held(s.id) AS held,
                       EXISTS (SELECT 1 FROM booking.workshop_registrations r WHERE r.session_id = s.id AND r.status = 'waitlisted') AS waiting
                FROM booking.workshop_sessions s WHERE s.workshop_id = 'b0000000-0000-4000-a007-000000000001') x")"
        line=$(printf '%-7s round %s: %8.1f calls/s; register p50 %s, p95 %s, p99 %s ms; cancel p50 %s, p95 %s, p99 %s ms; %s joined the line, %s promoted; %s retried (deadlock or serialization), %s failed; %s sessions oversubscribed, %s with a seat free while people wait' \
          "$writer" "$round" "$tps" "$p50" "$p95" "$p99" "$c50" "$c95" "$c99" "$waitlisted" "$promoted" "${retried:-0}" "${failed:-0}" "$over" "$idle")
        p95s+=("$p95" "$c95")
        if [ "$over" != 0 ] || [ "$idle" != 0 ] || [ "${failed:-0}" != 0 ]; then
          echo "$line" >&2
          echo "oversubscription, a seat left free while people wait, or failed transactions: the benchmark fails" >&2
          return 1
        fi
      else
        line=$(printf '%-7s round %s: %8.1f calls/s; INSERT p50 %s, p95 %s, p99 %s ms; UPDATE p50 %s, p95 %s, p99 %s ms; %s retried, %s failed' \
          "$writer" "$round" "$tps" "$p50" "$p95" "$p99" "$c50" "$c95" "$c99" "${retried:-0}" "${failed:-0}")
      fi
      if [ "${BOOKING_BENCH_PERF:-0}" = 1 ]; then
        read -r all net <<<"$(perf script -i "$log_dir/perf.data" -F comm,ip,sym 2>/dev/null |
          awk -v tx="$(python3 -c "print($tps * ($seconds - 2))")" '
            $1 == "postgres" { pg++; if ($3 ~ /^(AllocSetCheck|MemoryContextCheck|randomize_mem|wipe_mem)$/) checks++ }
            END { printf "%.0f %.0f", pg / tx * 1000, (pg - checks) / tx * 1000 }')"
        line="$line; server CPU samples per 1000 calls: $all, $net without memory checks"
        cpu_sum[$writer]=$(python3 -c "print(${cpu_sum[$writer]} + $net)")
      fi
      echo "$line"
      tps_sum[$writer]=$(python3 -c "print(${tps_sum[$writer]} + $tps)")
    done
  done
  python3 -c "
r, f, p, n = ${tps_sum[rpc]}, ${tps_sum[floor]}, ${tps_sum[plain]}, $rounds
p95 = max(float(x) for x in '${p95s[*]}'.split())
print(f'register_for_session + cancel_registration: {r / p:.1%} of the plain INSERT + UPDATE (mean of {n} rounds: {r / n:.0f} vs {p / n:.0f} calls/s)')
print(f'the floor (the same rows, the session lock, audit rows and outbox events, no rules): {f / p:.1%} of the plain writes ({f / n:.0f} calls/s); the RPCs: {r / f:.1%} of the floor')
if ${cpu_sum[rpc]}:
    print(f'without the memory checks: the plain writes take {${cpu_sum[plain]} / ${cpu_sum[rpc]}:.1%} of the RPCs\' server CPU per call')
print(f'targets: p95 under 10 ms (worst call and round {p95:.2f} ms): {\"met\" if p95 < 10 else \"NOT met\"}; '
      f'at least 50% of the plain writes: {\"met\" if r >= 0.5 * p else \"NOT met\"}; zero oversubscription: met')"
}
