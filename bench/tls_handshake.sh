#!/usr/bin/env bash
# TLS handshake benchmark: libimapsrv's example daemon (imapsrvd) against
# Dovecot, in one run, on loopback, with the same certificate and key.
#
# Builds bench/tlsload.c into a temp dir, makes a self-signed ECDSA P-256
# certificate, starts imapsrvd and one private Dovecot instance per variant
# (never the system service), and loads them one after another (never at
# the same time).  Everything lives in a temp dir that is removed on exit.
#
# Environment (all optional):
#   IMAPSRVD           daemon binary (default: the in-tree build, examples/imapsrvd/imapsrvd)
#   BENCH_SECONDS      seconds per measurement (default 10)
#   BENCH_CONCURRENCY  client threads (default 4)
#   BENCH_LOGIN        1: add a row with LOGIN/LOGOUT after the handshake (default 1)
#   DOVECOT_VARIANTS   space-separated, from:
#                        perf     service_count=0, process_min_avail=$(nproc)
#                                 (Dovecot's "high-performance" login mode)
#                        default  service_count=1, one login process per connection
#                                 (Dovecot's shipped "high-security" default)
#                        perf1    service_count=0, a single login process
#                      (default "perf default"; the ratio column is against the first)
#   KEEP_TMP           1: keep the temp dir (logs, configs) for inspection
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
IMAPSRVD=${IMAPSRVD:-$here/../examples/imapsrvd/imapsrvd}
secs=${BENCH_SECONDS:-10}
conc=${BENCH_CONCURRENCY:-4}
with_login=${BENCH_LOGIN:-1}
variants=${DOVECOT_VARIANTS:-"perf default"}
ncpu=$(nproc)
tck=$(getconf CLK_TCK)

die() { echo "tls_handshake.sh: $*" >&2; exit 1; }

[[ -x $IMAPSRVD ]] || die "IMAPSRVD=$IMAPSRVD is not executable"
command -v dovecot >/dev/null ||
    die "dovecot not found (apt-get install -y dovecot-imapd)"
command -v gcc >/dev/null && pkg-config --exists gnutls ||
    die "need gcc and the GnuTLS development files (libgnutls28-dev)"

tmp=$(mktemp -d /tmp/tlsbench.XXXXXX)
# Dovecot's unprivileged processes must reach the mail dir and users file.
chmod 755 "$tmp"
pids=()          # every server master we started, killed by PID on exit
sampler_pid=

cleanup() {
    local rc=$?
    set +e
    [[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    # Dovecot's master stops its own children on SIGTERM; wait for it.
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
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
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra "$here/tlsload.c" \
    -o "$tmp/tlsload" $(pkg-config --cflags --libs gnutls) -pthread

# --- certificate: self-signed ECDSA P-256, shared by both servers ---------
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 7 \
        -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
else
    certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
        --outfile "$tmp/key.pem" 2>/dev/null
    printf 'cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\nexpiration_days = 7\ntls_www_server\n' \
        >"$tmp/cert.tmpl"
    certtool --generate-self-signed --load-privkey "$tmp/key.pem" \
        --template "$tmp/cert.tmpl" --outfile "$tmp/cert.pem" 2>/dev/null
fi
chmod 600 "$tmp/key.pem"

# --- ports: free ones below the ephemeral range the client uses -----------
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

wait_port() { # PORT PID NAME: until PORT accepts, or PID died, or 10 s
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# --- a system Dovecot left running by the package would skew everything ---
for p in $(pgrep -x dovecot || true); do
    cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)
    [[ $cmd == *"$tmp"* ]] && continue
    if ss -Htlnp | grep -E ':(143|993)\b' | grep -q "pid=$p,"; then
        echo "note: stopping the system dovecot (pid $p: $cmd) started by the package" >&2
        doveadm stop 2>/dev/null || kill -TERM "$p"
        sleep 1
    fi
done

# --- imapsrvd ---------------------------------------------------------------
mkdir -p "$tmp/imapsrvd"
ours_port=$(free_port)
ours_plain=$(free_port)
# Its cwd is the temp dir: the demo setup writes files under the cwd.
(cd "$tmp/imapsrvd" && exec "$IMAPSRVD" \
    -o imaps.status=enabled -o imaps.port="$ours_port" \
    -o imaps.address=127.0.0.1 -o imaps.auth.password=yes \
    -o tls.cert="$tmp/cert.pem" -o tls.key="$tmp/key.pem" \
    -o imap.port="$ours_plain" -o imap.address=127.0.0.1 \
    -o threads=2 -o log.level=warning) >"$tmp/imapsrvd/log" 2>&1 &
ours_pid=$!
pids+=("$ours_pid")
wait_port "$ours_port" "$ours_pid" ||
    { cat "$tmp/imapsrvd/log" >&2; die "imapsrvd did not start"; }

# --- Dovecot, one private instance per variant ------------------------------
declare -A dv_port dv_pid dv_conf
start_dovecot() { # VARIANT
    local v=$1 d="$tmp/dovecot-$1" svc
    case $v in
    perf) svc="service_count = 0
  process_min_avail = $ncpu" ;;
    default) svc="service_count = 1" ;;
    perf1) svc="service_count = 0
  process_min_avail = 1
  process_limit = 1" ;;
    *) die "unknown DOVECOT_VARIANTS entry: $v" ;;
    esac
    mkdir -p "$d/run" "$d/state" "$d/mail/bench"
    chown -R 65534:65534 "$d/mail"
    # One test user; uid/gid nobody because Dovecot refuses root for mail.
    echo "bench:{PLAIN}bench:65534:65534::$d/mail/bench::" >"$d/users"
    chmod 644 "$d/users"
    dv_port[$v]=$(free_port)
    dv_conf[$v]=$d/dovecot.conf
    cat >"$d/dovecot.conf" <<EOF
# private benchmark instance ($v); nothing from /etc/dovecot is read
base_dir = $d/run
state_dir = $d/state
instance_name = tlsbench-$v-$$
protocols = imap
listen = 127.0.0.1
log_path = $d/log
# imapsrvd runs with log.level=warning; keep Dovecot's per-connection
# info lines off the disk as well (they still pass through its log process)
info_log_path = /dev/null
ssl = required
ssl_cert = <$tmp/cert.pem
ssl_key = <$tmp/key.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/users
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${dv_port[$v]}
    ssl = yes
  }
  $svc
}
EOF
    dovecot -c "$d/dovecot.conf" -F >"$d/stdout" 2>&1 &
    dv_pid[$v]=$!
    pids+=("${dv_pid[$v]}")
    wait_port "${dv_port[$v]}" "${dv_pid[$v]}" ||
        { cat "$d/stdout" "$d/log" >&2; die "dovecot ($v) did not start"; }
}
for v in $variants; do start_dovecot "$v"; done

# --- process-tree measurements ----------------------------------------------
tree_pids() { echo "$1"; pgrep -P "$1" || true; }

# CPU ticks of a server so far: the master (with its reaped children, which
# covers Dovecot's exited per-connection login processes) plus live children.
cpu_ticks() {
    local root=$1 total=0 p f
    for p in $(tree_pids "$root"); do
        f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        read -r -a a <<<"$f"
        # after "pid (comm) ": a[11]=utime a[12]=stime a[13]=cutime a[14]=cstime
        if [[ $p == "$root" ]]; then
            total=$((total + a[11] + a[12] + a[13] + a[14]))
        else
            total=$((total + a[11] + a[12]))
        fi
    done
    echo "$total"
}

# Peak memory: sum of Rss and of Pss over a server's processes (Pss shares
# common pages out between Dovecot's processes; Rss double counts them).
# Sampled every 0.5 s, only for the server under load (idle ones do not
# grow), with two forks a sample to keep the sampler's own CPU small; it
# stops with the script, and after 2 hours at most.
mem_sample() { # NAME ROOTPID
    local files=() p old_r=0 old_p=0 r s
    for p in $(tree_pids "$2"); do files+=("/proc/$p/smaps_rollup"); done
    read -r r s < <(awk '/^Rss:/ { r += $2 } /^Pss:/ { s += $2 }
        END { print r + 0, s + 0 }' "${files[@]}" 2>/dev/null) || return 0
    [[ -f $tmp/peak.$1 ]] && read -r old_r old_p <"$tmp/peak.$1"
    ((r > old_r)) || r=$old_r
    ((s > old_p)) || s=$old_p
    echo "$r $s" >"$tmp/peak.$1"
}
sampler() {
    local end=$((SECONDS + 7200)) cur
    while ((SECONDS < end)); do
        cur=$(cat "$tmp/active" 2>/dev/null) || cur=
        [[ -n $cur ]] && mem_sample "${cur% *}" "${cur#* }"
        sleep 0.5
    done
}
: >"$tmp/active"
sampler &
sampler_pid=$!

# --- the runs -----------------------------------------------------------------
servers=(imapsrvd)
for v in $variants; do servers+=("dovecot-$v"); done
port_of() { [[ $1 == imapsrvd ]] && echo "$ours_port" || echo "${dv_port[${1#dovecot-}]}"; }
pid_of() { [[ $1 == imapsrvd ]] && echo "$ours_pid" || echo "${dv_pid[${1#dovecot-}]}"; }
user_of() { [[ $1 == imapsrvd ]] && echo demo:demo || echo bench:bench; }

tests=("full 1.3" "full 1.2" "resumed 1.3" "resumed 1.2")
[[ $with_login == 1 ]] && tests+=("full 1.3 login")

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$tmp/results"
row=0
for t in "${tests[@]}"; do
    read -r mode tls login <<<"$t"
    # Alternate the order row by row so that drift in the machine's load
    # does not always favour the same server.
    order=("${servers[@]}")
    if ((row % 2)); then
        order=()
        for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[$i]}"); done
    fi
    for s in "${order[@]}"; do
        args=(--host 127.0.0.1 --port "$(port_of "$s")" --mode "$mode"
              --tls "$tls" --seconds "$secs" --concurrency "$conc")
        [[ -n $login ]] && args+=(--login "$(user_of "$s")")
        spid=$(pid_of "$s")
        mem_sample "$s" "$spid"
        echo "$s $spid" >"$tmp/active"
        c0=$(cpu_ticks "$spid")
        # timeout: belt and braces over tlsload's own --seconds bound
        line=$(timeout $((secs + 60)) "$tmp/tlsload" "${args[@]}" 2>"$tmp/err") || true
        c1=$(cpu_ticks "$spid")
        : >"$tmp/active"
        mem_sample "$s" "$spid"
        kill -0 "$spid" 2>/dev/null || echo "WARNING: $s (pid $spid) died during '$t'" >&2
        [[ -n $line ]] || line="tlsload failed rate=0 handshakes=0 errors=?"
        echo "$s | $t | $line | server_cpu_ticks=$((c1 - c0))" >>"$tmp/results"
        echo "$s [$t]: $line" >&2
        [[ -s $tmp/err ]] && sed "s/^/    $s: /" "$tmp/err" >&2
        sleep 1
    done
    row=$((row + 1))
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------
field() { # KEY LINE
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}
echo
echo "TLS handshake benchmark: ${secs} s per cell, concurrency $conc, $ncpu CPUs, loopback"
echo "handshakes/s (a handshake counts when the IMAP greeting arrived through TLS)"
echo
hdr="| test | libimapsrv"
sep="|---|---:"
first=
for v in $variants; do
    hdr+=" | dovecot-$v"
    [[ -z $first ]] && { hdr+=" | ratio vs dovecot-$v"; sep+="|---:"; first=$v; }
    sep+="|---:"
done
echo "$hdr |"
echo "$sep|"
declare -A rate
for t in "${tests[@]}"; do
    cells=()
    for s in "${servers[@]}"; do
        line=$(grep -F "$s | $t | " "$tmp/results" | head -1)
        r=$(field rate "$line"); n=$(field handshakes "$line")
        e=$(field errors "$line"); m=$(field misses "$line")
        rate[$s]=$r
        c="$r"
        [[ -n $m ]] && c+=" (resumed $(field resumed "$line")/$n)"
        [[ $e != 0 ]] && c+=" **errors=$e**"
        cells+=("$c")
    done
    out="| $t | ${cells[0]}"
    i=1
    for v in $variants; do
        out+=" | ${cells[$i]}"
        if [[ $v == "$first" ]]; then
            out+=" | $(awk -v a="${rate[imapsrvd]}" -v b="${rate[dovecot-$v]}" \
                'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
        fi
        i=$((i + 1))
    done
    echo "$out |"
done

echo
echo "latency p50/p99 ms (connect to greeting), server and client CPU ms per handshake"
echo
echo "| test | server | p50 | p99 | server CPU ms/hs | client CPU ms/hs |"
echo "|---|---|---:|---:|---:|---:|"
while IFS='|' read -r s t line cpu; do
    s=${s// /}; t=${t# }; t=${t% }
    n=$(field handshakes "$line")
    ticks=${cpu#*=}
    ccpu=$(field client_cpu "$line"); ccpu=${ccpu%s}
    awk -v s="$s" -v t="$t" -v p50="$(field p50 "$line")" -v p99="$(field p99 "$line")" \
        -v n="$n" -v ticks="$ticks" -v tck="$tck" -v cc="$ccpu" 'BEGIN {
            sub(/ms/, "", p50); sub(/ms/, "", p99)
            if (n > 0) printf "| %s | %s | %s | %s | %.3f | %.3f |\n", t, s, p50, p99,
                1000 * ticks / tck / n, 1000 * cc / n
            else printf "| %s | %s | - | - | - | - |\n", t, s }'
done <"$tmp/results"

echo
echo "peak memory during the run (sums sampled every 0.5 s under load; VmHWM is the kernel's exact peak)"
echo
echo "| server | VmHWM of main process | largest VmHWM of a live child | peak sum of Rss over its processes | peak sum of Pss |"
echo "|---|---:|---:|---:|---:|"
for s in "${servers[@]}"; do
    spid=$(pid_of "$s")
    hwm=$(awk '/^VmHWM:/{print $2 " kB"}' "/proc/$spid/status" 2>/dev/null || echo "?")
    # Dovecot's handshakes happen in imap-login children, not the master.
    kids=$(pgrep -P "$spid" || true)
    child=-
    if [[ -n $kids ]]; then
        child=$(for p in $kids; do
            awk -v n="$(cat /proc/$p/comm 2>/dev/null)" '/^VmHWM:/{print $2, n}' \
                "/proc/$p/status" 2>/dev/null
        done | sort -n | tail -1 | awk '{print $1 " kB (" $2 ")"}')
    fi
    read -r prss ppss <"$tmp/peak.$s" || { prss='?'; ppss='?'; }
    echo "| $s | $hwm | $child | $prss kB | $ppss kB |"
done
echo
echo "session parameters: $(field desc "$(grep -F 'imapsrvd | full 1.3 |' "$tmp/results")") (imapsrvd, TLS 1.3);"
for v in $variants; do
    echo "  dovecot-$v: $(field desc "$(grep -F "dovecot-$v | full 1.3 |" "$tmp/results")")"
done
echo "load average before: $load_before, after: $load_after"
echo
echo "raw:"
sed 's/^/  /' "$tmp/results"

# Server-side complaints belong in the report, not hidden in a temp dir.
if grep -qiE 'error|fatal|panic' "$tmp/imapsrvd/log" 2>/dev/null; then
    echo; echo "imapsrvd log:"; sed 's/^/  /' "$tmp/imapsrvd/log" | tail -20
fi
for v in $variants; do
    f="$tmp/dovecot-$v/log"
    if grep -qiE 'error|fatal|panic' "$f" 2>/dev/null; then
        echo; echo "dovecot-$v log (errors):"; grep -iE 'error|fatal|panic' "$f" | tail -20 | sed 's/^/  /'
    fi
done
