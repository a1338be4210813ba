#!/usr/bin/env bash
# The demo: a throwaway Postgres 17 with booking_ext, the Oolite Digital Lab of seed 000 and a
# second tenant, and a short story told through the API roles exactly as PostgREST would call it;
# then PostgREST 12 in front of it, and two calls made the way an app makes them.
# `scripts/demo.sh stop` stops the servers it leaves running.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo_dir=$root/build/demo
pg_major=${BOOKING_DEMO_PG:-17}

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
if [ "${1:-}" = stop ]; then
  . scripts/env.sh
  postgrest_stop "$demo_dir"
  throwaway_pg_stop "$demo_dir" "$("$(pg_config_for $pg_major)" --bindir)"
  exit 0
fi

bash scripts/bootstrap.sh
. scripts/env.sh
cfg=$(pg_config_for $pg_major)
bindir=$("$cfg" --bindir)

say "Building and installing booking_ext into Postgres $pg_major"
bash scripts/install-extension.sh "$cfg" >/dev/null

# A fresh server each run: data under build/ (ignored by git), owned by the postgres user.
postgrest_stop "$demo_dir"
throwaway_pg_start "$demo_dir" "$bindir"

psql_demo() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_demo -d postgres -c "CREATE DATABASE booking_demo"
psql_demo -d booking_demo -c "CREATE EXTENSION booking_ext CASCADE" -c "SELECT booking.create_api_roles()" >/dev/null
psql_demo -d booking_demo -f tests/fixtures/tenants.sql >/dev/null
psql_demo -d booking_demo -P footer=off -f scripts/demo.sql

db_port=$port
say "14. The same database behind PostgREST 12, called the way an app calls it"
secret=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 48)
echo "$secret" >"$demo_dir/jwt-secret"
postgrest_start "$demo_dir" "$db_port" booking_demo "$secret" "$bindir"
token=$(node tests/e2e/mint-jwt.mjs "$secret" '{"sub":"u-client2","role":"authenticated"}')
read -r printer day_start day_end < <(psql_demo -d booking_demo -At -F ' ' -c "
  SELECT r.id, to_char(d AT TIME ZONE 'America/New_York' AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
         to_char((d + interval '1 day') AT TIME ZONE 'America/New_York' AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
  FROM booking.resources r, (SELECT (date_trunc('week', now() AT TIME ZONE 'America/New_York')::date + 8)::timestamp AS d) t
  WHERE r.title = '3D Printer'")
api=http://127.0.0.1:$api_port
echo "Ben (u-client2) asks for next Tuesday's free hours of the 3D Printer, a read-only GET:"
echo "  curl -H 'Accept-Profile: booking' -H \"Authorization: Bearer \$JWT\" \\"
echo "       '$api/rpc/get_available_slots?p_resource_id=$printer&p_start=$day_start&p_end=$day_end&p_duration_minutes=60'"
curl -s -H 'Accept-Profile: booking' -H "Authorization: Bearer $token" \
  "$api/rpc/get_available_slots?p_resource_id=$printer&p_start=$day_start&p_end=$day_end&p_duration_minutes=60"
echo
echo
echo "He tries to book 10:00-11:00, which Ana holds (POST; the refusal is HTTP 409 with SQLSTATE PT409):"
read -r start_10 end_11 < <(psql_demo -d booking_demo -At -F ' ' -c "
  SELECT to_char(('$day_start'::timestamptz + h) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
         to_char(('$day_start'::timestamptz + h + interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
  FROM (VALUES (interval '10 hours')) v(h)")
curl -s -w '\nHTTP %{http_code}\n' -X POST -H 'Content-Profile: booking' -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $token" "$api/rpc/book" \
  -d "{\"p_resource_id\": \"$printer\", \"p_start\": \"$start_10\", \"p_end\": \"$end_11\"}"
echo
echo "The printer's bookings as an iCalendar feed, what a calendar subscription is served (through a proxy"
echo "adding these two headers, see docs/calendars.md); anonymous, so every booking is Busy:"
echo "  curl -H 'Accept-Profile: booking' -H 'Accept: text/calendar' '$api/rpc/resource_calendar_ics?p_resource_id=$printer'"
curl -s -H 'Accept-Profile: booking' -H 'Accept: text/calendar' "$api/rpc/resource_calendar_ics?p_resource_id=$printer" | tr -d '\r'
cat <<EOT

With supabase-js the same calls read:
    const booking = createClient(url, anonKey, { db: { schema: 'booking' }, global: { headers: { Authorization: \`Bearer \${jwt}\` } } })
    const { data: slots } = await booking.rpc('get_available_slots', { p_resource_id, p_start, p_end, p_duration_minutes: 60 }, { get: true })
    const { error } = await booking.rpc('book', { p_resource_id, p_start, p_end })   // error.code === 'PT409'

The database and PostgREST are still running:
    $bindir/psql -h 127.0.0.1 -p $db_port -U postgres booking_demo
    $api   (JWT secret in build/demo/jwt-secret; mint a token with
           node tests/e2e/mint-jwt.mjs "\$(cat build/demo/jwt-secret)" '{"sub":"u-client","role":"authenticated"}')
Stop both with:
    make demo-stop
EOT
