#!/usr/bin/env bash
# Mailbox benchmark: libimapsrv's example daemon (imapsrvd) against Dovecot,
# in one run, on loopback, plaintext IMAP.
#
# Builds bench/mboxload.c into a temp dir, starts imapsrvd and a private
# Dovecot instance (never the system service), fills one mailbox on each
# with the same generated messages (APPEND; pipelined with LITERAL+ and
# batched with MULTIAPPEND when the server offers them), flushes the page
# cache's dirty pages, then times, one server at a time and in one session
# per server: SELECT, FETCH 1:* (UID FLAGS), FETCH 1:* (ENVELOPE
# BODYSTRUCTURE), UID SEARCH SUBJECT <word> (a header search) and UID SEARCH
# BODY <word> (a body text search).  Prints markdown tables: the medians and
# the ratio Dovecot/libimapsrv (> 1: libimapsrv is faster), and each
# server's memory after the fill.  Everything lives in a temp dir that is
# removed on exit.
#
# A server that fails (does not start, refuses APPEND, answers BAD) gets
# "n/a" in its cells; the run goes on with the other one.
#
# Environment (all optional):
#   IMAPSRVD            daemon binary (default: the in-tree build,
#                       examples/imapsrvd/imapsrvd)
#   BENCH_SERVERS       which servers, in the order they are timed
#                       (default "imapsrvd dovecot")
#   BENCH_MESSAGES      messages in the mailbox (default 100000)
#   BENCH_REPEAT        runs of each timed command (default 5)
#   BENCH_SEED          generator seed (default 1)
#   BENCH_BATCH         messages per APPEND command when the server offers
#                       MULTIAPPEND (default 500; 1: one message per APPEND).
#                       Dovecot's Maildir rewrites its whole dovecot-uidlist
#                       on every APPEND transaction, so one message per
#                       APPEND gets slower as the mailbox grows (112 msg/s
#                       on average over 15,000 messages on a 2-CPU VM,
#                       2,000-2,700 msg/s with x500): 100,000 would take
#                       hours.
#   BENCH_WINDOW        APPEND commands in flight with LITERAL+ (default 64)
#   BENCH_LITERAL       APPEND literals: auto (LITERAL+ when offered), plus,
#                       sync (wait for each "+"; one APPEND at a time)
#   BENCH_TIMEOUT       seconds any single socket read may take (default 1200)
#   DOVECOT_MAIL_FSYNC  Dovecot's mail_fsync (default "never": imapsrvd's
#                       demo store is in memory, so the fill does not
#                       measure disk flushes; "optimized" is Dovecot's default)
#   KEEP_TMP            1: keep the temp dir (logs, configs, the Maildir)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
IMAPSRVD=${IMAPSRVD:-$here/../examples/imapsrvd/imapsrvd}
nmsg=${BENCH_MESSAGES:-100000}
repeat=${BENCH_REPEAT:-5}
seed=${BENCH_SEED:-1}
window=${BENCH_WINDOW:-64}
literal=${BENCH_LITERAL:-auto}
batch=${BENCH_BATCH:-500}
sock_timeout=${BENCH_TIMEOUT:-1200}
servers_req=${BENCH_SERVERS:-"imapsrvd dovecot"}
dv_fsync=${DOVECOT_MAIL_FSYNC:-never}
mailbox=Bench
ncpu=$(nproc)

die() { echo "mailbox.sh: $*" >&2; exit 1; }
is_uint() { [[ $1 =~ ^(0|[1-9][0-9]{0,8})$ ]]; }

for v in nmsg repeat seed window sock_timeout batch; do
    is_uint "${!v}" || die "$v='${!v}' is not a number"
done
((nmsg >= 1000)) || die "BENCH_MESSAGES must be at least 1000 (the body search has one hit per 1000)"
((repeat >= 1)) || die "BENCH_REPEAT must be at least 1"
((batch >= 1)) || die "BENCH_BATCH must be at least 1"
[[ $literal =~ ^(auto|plus|sync)$ ]] || die "BENCH_LITERAL must be auto, plus or sync"
servers=()
for s in $servers_req; do
    case $s in
    imapsrvd | dovecot) servers+=("$s") ;;
    *) die "BENCH_SERVERS: unknown server '$s' (imapsrvd, dovecot)" ;;
    esac
done
((${#servers[@]})) || die "BENCH_SERVERS is empty"
want() { [[ " ${servers[*]} " == *" $1 "* ]]; }

command -v gcc >/dev/null || die "gcc not found"
if want dovecot; then
    command -v dovecot >/dev/null ||
        die "dovecot not found (apt-get install -y dovecot-imapd), or set BENCH_SERVERS=imapsrvd"
fi

tmp=$(mktemp -d /tmp/mboxbench.XXXXXX)
# Dovecot's unprivileged processes must reach the mail dir and users file.
chmod 755 "$tmp"
pids=()        # every server we started, stopped by PID on exit
client_pid=    # a held mboxload, if any
hold_fd=

cleanup() {
    local rc=$?
    set +e
    [[ -n $hold_fd ]] && exec {hold_fd}>&-
    [[ -n $client_pid ]] && kill "$client_pid" 2>/dev/null
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    # Dovecot's master stops its own children on SIGTERM; wait for it.
    for p in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build the load generator (never into the source tree) -----------------
gcc -std=c11 -O2 -Wall -Wextra -Werror "$here/mboxload.c" -o "$tmp/mboxload"
read -r genline < <("$tmp/mboxload" gen --messages "$nmsg" --seed "$seed")
[[ $genline == *" bad=0"* ]] || die "generator self-check failed: $genline"

# --- ports and processes ------------------------------------------------------
taken=" "
free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 10000))
        [[ $taken == *" $p "* ]] && continue
        if ! ss -Htln "sport = :$p" | grep -q .; then
            taken+="$p "
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

wait_port() { # PORT PID: until PORT accepts, or PID died, or 10 s
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# A system Dovecot is left alone, but it would compete for the CPUs.
for p in $(pgrep -x dovecot || true); do
    echo "warning: a Dovecot not started by this script is running (pid $p:" \
        "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)); its load would" \
        "skew the numbers" >&2
done

declare -A port pid user_of
broken=" "   # servers that could not be started

# --- imapsrvd ---------------------------------------------------------------
if want imapsrvd; then
    if [[ ! -x $IMAPSRVD ]]; then
        echo "warning: IMAPSRVD=$IMAPSRVD is not executable; imapsrvd is n/a" >&2
        broken+="imapsrvd "
    else
        mkdir -p "$tmp/imapsrvd"
        port[imapsrvd]=$(free_port)
        user_of[imapsrvd]=demo:demo
        # Plaintext only: no certificate (the demo would make one in its
        # cwd, the temp dir), no STARTTLS, no implicit-TLS listener.
        (cd "$tmp/imapsrvd" && exec "$IMAPSRVD" \
            -o imap.port="${port[imapsrvd]}" -o imap.address=127.0.0.1 \
            -o imap.tls=none -o imaps.status=disabled \
            -o tls.cert= -o tls.key= \
            -o threads=2 -o log.level=warning) >"$tmp/imapsrvd/log" 2>&1 &
        pid[imapsrvd]=$!
        pids+=("${pid[imapsrvd]}")
        if ! wait_port "${port[imapsrvd]}" "${pid[imapsrvd]}"; then
            sed 's/^/  imapsrvd: /' "$tmp/imapsrvd/log" >&2
            echo "warning: imapsrvd did not start; it is n/a" >&2
            broken+="imapsrvd "
        fi
    fi
fi

# --- Dovecot: one private instance --------------------------------------------
if want dovecot; then
    d=$tmp/dovecot
    mkdir -p "$d/run" "$d/state" "$d/mail/bench"
    chown -R 65534:65534 "$d/mail"
    # One test user; uid/gid nobody because Dovecot refuses root for mail.
    echo "bench:{PLAIN}bench:65534:65534::$d/mail/bench::" >"$d/users"
    chmod 644 "$d/users"
    port[dovecot]=$(free_port)
    user_of[dovecot]=bench:bench
    cat >"$d/dovecot.conf" <<EOF
# private benchmark instance; nothing from /etc/dovecot is read
base_dir = $d/run
state_dir = $d/state
instance_name = mboxbench-$$
protocols = imap
listen = 127.0.0.1
log_path = $d/log
info_log_path = /dev/null
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/users
}
mail_location = maildir:~/Maildir
mail_fsync = $dv_fsync
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port[dovecot]}
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
    dovecot -c "$d/dovecot.conf" -F >"$d/stdout" 2>&1 &
    pid[dovecot]=$!
    pids+=("${pid[dovecot]}")
    if ! wait_port "${port[dovecot]}" "${pid[dovecot]}"; then
        cat "$d/stdout" "$d/log" 2>/dev/null | sed 's/^/  dovecot: /' >&2
        echo "warning: dovecot did not start; it is n/a" >&2
        broken+="dovecot "
    fi
fi

# --- memory ---------------------------------------------------------------------
status_kb() { # PID FIELD: a /proc/PID/status field in kB, or empty
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true
}
# "HWM RSS" in kB: imapsrvd's process; for Dovecot the sums over its imap
# processes (the per-session mail processes; login, auth, log and config
# processes are not counted).
mem_of() { # SERVER
    local s=$1 h=0 r=0 p x y
    if [[ $s == imapsrvd ]]; then
        echo "$(status_kb "${pid[$s]}" VmHWM) $(status_kb "${pid[$s]}" VmRSS)"
        return
    fi
    for p in $(pgrep -P "${pid[$s]}" || true); do
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == imap ]] || continue
        x=$(status_kb "$p" VmHWM) y=$(status_kb "$p" VmRSS)
        h=$((h + ${x:-0})) r=$((r + ${y:-0}))
    done
    echo "$h $r"
}
declare -A mem_fill mem_time

# --- running mboxload with --hold ---------------------------------------------
# Runs mboxload in the background with its stdin on a FIFO; when it prints
# HOLD (its session is still logged in) or exits, records the server's
# memory into the array named by MEMVAR, then closes the FIFO so that it
# logs out, and waits for it.  Its RESULT lines are appended to results.
: >"$tmp/results"
run_client() { # SERVER MEMVAR MODE [ARGS...]
    local s=$1 memvar=$2 mode=$3 rc=0
    shift 3
    local out=$tmp/$s.$mode.out err=$tmp/$s.$mode.err fifo=$tmp/hold.fifo
    rm -f "$fifo"
    mkfifo "$fifo"
    "$tmp/mboxload" "$mode" --host 127.0.0.1 --port "${port[$s]}" \
        --user "${user_of[$s]}" --server "$s" --mailbox "$mailbox" \
        --messages "$nmsg" --timeout "$sock_timeout" --hold "$@" \
        <"$fifo" >"$out" 2>"$err" &
    client_pid=$!
    exec {hold_fd}>"$fifo"
    # its progress lines (every 5 s) are shown as they come
    local shown=0 n
    while kill -0 "$client_pid" 2>/dev/null && ! grep -q '^HOLD' "$out"; do
        sleep 0.2
        n=$(wc -l <"$err")
        if ((n > shown)); then
            sed -n "$((shown + 1)),${n}p" "$err" | sed "s/^/    $s: /" >&2
            shown=$n
        fi
    done
    if grep -q '^HOLD' "$out"; then
        local -n memref=$memvar
        # shellcheck disable=SC2034  # memref names mem_fill or mem_time
        memref["$s"]=$(mem_of "$s")
    fi
    exec {hold_fd}>&-
    hold_fd=
    wait "$client_pid" || rc=$?
    client_pid=
    rm -f "$fifo"
    grep '^RESULT' "$out" >>"$tmp/results" || true
    sed -n "$((shown + 1)),\$p" "$err" | tail -20 | sed "s/^/    $s: /" >&2
    grep '^RESULT' "$out" | sed "s/^/  /" >&2 || true
    kill -0 "${pid[$s]}" 2>/dev/null ||
        { echo "WARNING: $s (pid ${pid[$s]}) died during $mode" >&2; broken+="$s "; }
    return "$rc"
}

# --- the runs -------------------------------------------------------------------
started=$(date -u)
t_start=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "generated: $genline" >&2
for s in "${servers[@]}"; do
    [[ $broken == *" $s "* ]] && continue
    echo "filling $s with $nmsg messages ..." >&2
    t0=$SECONDS
    run_client "$s" mem_fill fill --seed "$seed" --window "$window" \
        --literal "$literal" --batch "$batch" ||
        echo "warning: the fill of $s did not complete (exit $?)" >&2
    echo "  ($((SECONDS - t0)) s)" >&2
done
# The fill leaves up to a GB of dirty pages (Dovecot's Maildir) whose
# writeback would otherwise run during the timings; flush it first.
sync
sleep 2
for s in "${servers[@]}"; do
    [[ $broken == *" $s "* ]] && continue
    echo "timing $s, $repeat runs each ..." >&2
    t0=$SECONDS
    run_client "$s" mem_time time --repeat "$repeat" ||
        echo "warning: $s did not pass every timing (exit $?)" >&2
    echo "  ($((SECONDS - t0)) s)" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$((SECONDS - t_start))

# --- report -------------------------------------------------------------------
field() { # KEY LINE
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2" | head -1
}
line_of() { # SERVER OP
    grep -E "^RESULT server=$1 op=$2 " "$tmp/results" | head -1 || true
}
# The median of one server and op in ms (fill: its total), or nothing.
median_of() { # SERVER OP
    local l
    l=$(line_of "$1" "$2")
    [[ -n $l && $(field status "$l") == OK ]] || return 0
    if [[ $2 == fill ]]; then field ms "$l"; else field median_ms "$l"; fi
}
# The cell of one server and op: "median (best)" in ms, or n/a with why.
cell() { # SERVER OP
    local s=$1 op=$2 l st
    if ! want "$s"; then echo "-"; return; fi
    l=$(line_of "$s" "$op")
    [[ -n $l ]] || { echo "n/a"; return; }
    st=$(field status "$l")
    if [[ $st != OK ]]; then echo "n/a ($st)"; return; fi
    if [[ $op == fill ]]; then
        printf '%s (%s msg/s, %s)' "$(field ms "$l")" "$(field rate "$l")" \
            "$(fill_mode "$s")"
    else
        printf '%s (%s)' "$(field median_ms "$l")" "$(field best_ms "$l")"
    fi
    [[ $(field match "$l") == yes ]] ||
        printf ' **check %s, expected %s**' "$(field check "$l")" "$(field expect "$l")"
}
# How a server was filled: "APPEND" or "MULTIAPPEND xN", and the literals.
fill_mode() { # SERVER
    local l b
    l=$(line_of "$1" fill)
    [[ -n $l ]] || return 0
    b=$(field batch "$l")
    if [[ $b == 1 ]]; then printf 'APPEND'; else printf 'MULTIAPPEND x%s' "$b"; fi
    [[ $(field literal "$l") == plus ]] && printf ', LITERAL+'
    return 0
}
ratio() { # OURS_MS DOVECOT_MS
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a + 0 <= 0) print "n/a"
        else printf "%.2f", b / a }'
}

mb=$(awk -v t="$(field total "$genline")" 'BEGIN { printf "%.0f", t / 1048576 }')
echo
echo "Mailbox benchmark: $nmsg messages ($mb MB, seed $seed), $repeat runs of each command, $ncpu CPUs, loopback, plaintext"
echo "ms: median (best) over the runs; fill: the one pass that filled the mailbox"
echo
echo "| command | libimapsrv ms | Dovecot ms | ratio Dovecot/libimapsrv |"
echo "|---|---:|---:|---:|"
ops=(fill select fetch_flags fetch_envelope search_header search_body)
declare -A label=(
    [fill]="fill: $nmsg messages"
    [select]="SELECT $mailbox"
    [fetch_flags]='FETCH 1:* (UID FLAGS)'
    [fetch_envelope]='FETCH 1:* (ENVELOPE BODYSTRUCTURE)'
    [search_header]="UID SEARCH SUBJECT quillbrook ($((nmsg / 100)) hits)"
    [search_body]="UID SEARCH BODY zanzibarite ($((nmsg / 1000)) hits)"
)
for op in "${ops[@]}"; do
    r=$(ratio "$(median_of imapsrvd "$op")" "$(median_of dovecot "$op")")
    if [[ $op == fill && $r != n/a && $(fill_mode imapsrvd) != "$(fill_mode dovecot)" ]]; then
        r+=" (not comparable: different APPEND forms)"
    fi
    echo "| ${label[$op]} | $(cell imapsrvd "$op") | $(cell dovecot "$op") | $r |"
done
echo
echo "ratio > 1: libimapsrv is faster.  Checks: SELECT's EXISTS, the number of"
echo "FETCH responses and of UIDs found are compared with what the generator put"
echo "in; a mismatch is shown in bold."

echo
echo "first run and bytes received per run"
echo
echo "| command | server | first ms | bytes | check |"
echo "|---|---|---:|---:|---:|"
for op in "${ops[@]:1}"; do
    for s in "${servers[@]}"; do
        l=$(line_of "$s" "$op")
        [[ -n $l ]] || continue
        echo "| ${label[$op]} | $s | $(field first_ms "$l") | $(field bytes "$l") | $(field check "$l") |"
    done
done

echo
echo "memory (kB): libimapsrv: the daemon process (its in-memory store holds the"
echo "mail); Dovecot: the sum over its imap processes (mail is in files and the"
echo "page cache; the Maildir with indexes is shown)"
echo
echo "| server | VmHWM after fill | VmRSS after fill | VmHWM after timings | on disk |"
echo "|---|---:|---:|---:|---:|"
for s in "${servers[@]}"; do
    read -r fh fr <<<"${mem_fill[$s]:-n/a n/a}"
    read -r th _ <<<"${mem_time[$s]:-n/a n/a}"
    disk=-
    [[ $s == dovecot ]] && disk="$(du -sk "$tmp/dovecot/mail" | cut -f1)"
    echo "| $s | $fh | $fr | $th | $disk |"
done

echo
echo "started: $started; took $elapsed s (fill and timings)"
want dovecot && echo "Dovecot $(dovecot --version) (mail_fsync = $dv_fsync, maildir)"
want imapsrvd && echo "imapsrvd: $IMAPSRVD (threads=2, in-memory store)"
echo "load average before: $load_before, after: $load_after"
echo
echo "raw:"
sed 's/^/  /' "$tmp/results"

# Server-side complaints belong in the report, not hidden in a temp dir.
if [[ -f $tmp/imapsrvd/log ]] && grep -qiE 'error|fatal|panic' "$tmp/imapsrvd/log"; then
    echo; echo "imapsrvd log:"; tail -20 "$tmp/imapsrvd/log" | sed 's/^/  /'
fi
f=$tmp/dovecot/log
if [[ -f $f ]] && grep -qiE 'error|fatal|panic' "$f"; then
    echo; echo "dovecot log (errors):"; grep -iE 'error|fatal|panic' "$f" | tail -20 | sed 's/^/  /'
fi
