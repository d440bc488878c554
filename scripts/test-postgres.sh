# Sourced (by .ci/run, or by hand: `source scripts/test-postgres.sh && cargo test`): starts a
# throwaway PostgreSQL cluster from Debian's postgresql package (initdb into a temporary folder,
# as the unprivileged postgres user when run as root) on a free loopback port below 32768,
# exports PAPERBOY_TEST_POSTGRES_URL for the store tests, and stops and removes the cluster
# when the shell that sourced it exits.
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$PGBIN" ]; then
  echo "PostgreSQL is not installed: apt-get install postgresql" >&2
  return 1 2>/dev/null || exit 1
fi
PGTMP="$(mktemp -d /tmp/paperboy-pg.XXXXXX)"
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then
  id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  chown postgres "$PGTMP"
fi
stop_postgres() {
  as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGTMP"
}
trap stop_postgres EXIT
as_pg "$PGBIN/initdb" -D "$PGTMP/data" -U paperboy --auth=trust -E UTF8 --locale=C >/dev/null
port=""
for candidate in $(seq 25432 25531); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "no free loopback port for PostgreSQL in 25432-25531" >&2; return 1 2>/dev/null || exit 1; }
as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
  -o "-p $port -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=300" start >/dev/null \
  || { cat "$PGTMP/server.log" >&2; return 1 2>/dev/null || exit 1; }
export PAPERBOY_TEST_POSTGRES_URL="postgres://paperboy@127.0.0.1:$port/postgres"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port for the store tests"

