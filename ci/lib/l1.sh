# shellcheck shell=bash
# The host side of the hardware-virtualization lanes (ci/svm-lane.sh,
# ci/vmx-lane.sh): the L1 kernel (Debian's stock kernel, downloaded once and
# cached), the initramfs around ci/l1/init, the test binaries copied into it at
# their own absolute paths, and the report. See docs/hwvirt-lanes.md.
#
# Sourced; expects `set -euo pipefail`, $ROOT (the repository) and $W (the
# lane's scratch directory) to be set, and calls lane_fail on errors.

CACHE=${KVMFORK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvmfork}

log() { echo "$LANE_NAME: $*" >&2; }
lane_fail() {
    log "error: $*"
    exit 2
}
now() { date +%s; }

# need TOOL PACKAGE...: fail with the package to install when TOOL is missing.
need() {
    local tool=$1
    shift
    command -v "$tool" > /dev/null || lane_fail "missing $tool: run ci/setup.sh (apt-get install $*)"
}

# ---------------------------------------------------------------------------
# The L1 kernel: linux-image-*-amd64, the package linux-image-amd64 depends on.
# The cache keeps vmlinuz, config and the modules KVM needs (decompressed),
# about 15 MB, in $CACHE/l1-kernel/PACKAGE_VERSION, and L1's kernel symbols
# once a boot has written them (kallsyms).

# The package and version apt would install now ("" if apt cannot say).
l1_kernel_candidate() {
    local pkg ver
    pkg=$(apt-cache depends linux-image-amd64 2> /dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }') || true
    [ -n "$pkg" ] || return 0
    ver=$(apt-cache policy "$pkg" 2> /dev/null | awk '/Candidate:/ { print $2 }') || true
    if [ -n "$ver" ] && [ "$ver" != "(none)" ]; then echo "${pkg}_$ver"; fi
}

# The modules in the closure of $@ (names as in modinfo: kvm-amd), dependencies
# first, from an unpacked package's module tree $1.
l1_module_order() {
    local tree=$1
    shift
    local -A seen=()
    local out=()
    visit() {
        local m=${1//_/-} f deps d
        [ -n "${seen[$m]:-}" ] && return
        seen[$m]=1
        f=$(find "$tree" -name "$m.ko*" -print -quit)
        if [ -z "$f" ]; then
            f=$(find "$tree" -name "${m//-/_}.ko*" -print -quit)
        fi
        [ -n "$f" ] || lane_fail "the kernel package has no module $m"
        deps=$(l1_ko_cat "$f" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -1)
        for d in ${deps//,/ }; do visit "$d"; done
        out+=("$m:$f")
    }
    local m
    for m in "$@"; do visit "$m"; done
    printf '%s\n' "${out[@]}"
}

l1_ko_cat() {
    case "$1" in
        *.xz) xz -dc "$1" ;;
        *.zst) zstd -qdc "$1" ;;
        *.gz) gzip -dc "$1" ;;
        *) cat "$1" ;;
    esac
}

# Sets KDIR to the cached kernel, downloading and unpacking it the first time.
l1_kernel() {
    local want dir tmp deb
    want=$(l1_kernel_candidate)
    if [ -n "$want" ] && [ -f "$CACHE/l1-kernel/$want/complete" ]; then
        KDIR=$CACHE/l1-kernel/$want
        return
    fi
    if [ -z "$want" ]; then
        # apt cannot say (no package lists, offline): the newest cached kernel.
        dir=$(ls -dt "$CACHE"/l1-kernel/*/complete 2> /dev/null | head -1 || true)
        [ -n "$dir" ] || lane_fail "apt cannot resolve linux-image-amd64 and no L1 kernel is cached in $CACHE/l1-kernel: run ci/setup.sh (it runs apt-get update)"
        KDIR=$(dirname "$dir")
        log "apt cannot resolve linux-image-amd64; using the cached $(basename "$KDIR")"
        return
    fi
    need apt-get apt
    need dpkg-deb dpkg
    log "downloading the L1 kernel ${want%%_*} ${want#*_} (once; cached in $CACHE/l1-kernel)"
    mkdir -p "$CACHE/l1-kernel"
    tmp=$(mktemp -d "$CACHE/l1-kernel/.fetch.XXXXXX")
    (cd "$tmp" && apt-get download -q "${want%%_*}=${want#*_}" 2>&1 | { grep -v unsandboxed || true; } >&2) ||
        { rm -rf "$tmp"; lane_fail "apt-get download ${want%%_*}=${want#*_} failed"; }
    deb=$(ls "$tmp"/*.deb)
    dpkg-deb -x "$deb" "$tmp/x"
    mkdir -p "$tmp/k/mod"
    cp "$tmp"/x/boot/vmlinuz-* "$tmp/k/vmlinuz"
    cp "$tmp"/x/boot/config-* "$tmp/k/config"
    basename "$tmp"/x/boot/vmlinuz-* | sed 's/^vmlinuz-//' > "$tmp/k/release"
    local line m f order
    order=$(l1_module_order "$tmp/x/lib/modules" kvm-amd kvm-intel)
    for line in $order; do
        m=${line%%:*} f=${line#*:}
        l1_ko_cat "$f" > "$tmp/k/mod/$m.ko"
    done
    # The dependencies of each, in load order, so a lane loads exactly what its
    # module needs.
    for m in kvm-amd kvm-intel; do
        order=$(l1_module_order "$tmp/x/lib/modules" "$m")
        cut -d: -f1 <<< "$order" > "$tmp/k/mod/$m.deps"
    done
    touch "$tmp/k/complete"
    rm -rf "${CACHE:?}/l1-kernel/$want"
    mv "$tmp/k" "$CACHE/l1-kernel/$want"
    rm -rf "$tmp"
    KDIR=$CACHE/l1-kernel/$want
}

# ---------------------------------------------------------------------------
# The project's test binaries, as `cargo test` builds them.

# Builds the workspace's tests and sets:
#   TESTS      lines "NAME<TAB>DIR<TAB>EXECUTABLE": every test binary (integration
#              tests by target name, unit tests as lib:NAME / bin:NAME), DIR the
#              package directory cargo runs it from
#   VMM_BIN    the vmm binary the tests run (CARGO_BIN_EXE_vmm)
#   OUT_DIRS   the workspace packages' build-script output directories
#   PROGRAMS   the test programs (vmm's OUT_DIR/programs)
l1_build_tests() {
    local json=$W/cargo-test.json
    log "cargo test --workspace --no-run"
    (cd "$ROOT" && cargo test --workspace --no-run --message-format=json > "$json") ||
        lane_fail "building the tests failed"
    need jq jq
    TESTS=$(jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
        | [ (if .target.kind == ["test"] then .target.name else "\(.target.kind[0]):\(.target.name)" end),
            (.manifest_path | sub("/[^/]*$"; "")), .executable ] | @tsv' "$json")
    VMM_BIN=$(jq -r 'select(.reason == "compiler-artifact" and (.profile.test | not)
        and .target.name == "vmm" and .target.kind == ["bin"]) | .executable' "$json" | tail -1)
    OUT_DIRS=$(jq -r 'select(.reason == "build-script-executed" and (.package_id | startswith("path+")))
        | .out_dir' "$json")
    [ -n "$TESTS" ] && [ -x "$VMM_BIN" ] || lane_fail "cargo produced no test binaries or no vmm binary"
    PROGRAMS=""
    local d
    for d in $OUT_DIRS; do [ ! -d "$d/programs" ] || PROGRAMS=$d/programs; done
    [ -n "$PROGRAMS" ] || lane_fail "no build script made the test programs (OUT_DIR/programs)"
}

# ---------------------------------------------------------------------------
# The initramfs.

# l1_root: a fresh $W/root with busybox, ci/l1/init and the modules of $1
# (kvm-amd or kvm-intel, with "PARAMS" in $2).
l1_root() {
    local vendor=$1 params=${2:-} m
    need busybox busybox-static
    need cpio cpio
    if ldd /bin/busybox > /dev/null 2>&1; then
        lane_fail "/bin/busybox is not statically linked: apt-get install busybox-static"
    fi
    rm -rf "$W/root"
    mkdir -p "$W/root"/{bin,lane/mod,proc,sys,dev,tmp,etc,root}
    cp /bin/busybox "$W/root/bin/busybox"
    cp "$ROOT/ci/l1/init" "$W/root/init"
    chmod +x "$W/root/init"
    : > "$W/root/lane/modules"
    while read -r m; do
        cp "$KDIR/mod/$m.ko" "$W/root/lane/mod/"
        if [ "$m" = "$vendor" ]; then echo "$m $params"; else echo "$m"; fi >> "$W/root/lane/modules"
    done < "$KDIR/mod/$vendor.deps"
    echo kvmfork-l1 > "$W/root/etc/hostname"
    echo "root:x:0:0:root:/root:/bb/sh" > "$W/root/etc/passwd"
    echo "nobody:x:65534:65534:nobody:/nonexistent:/bb/false" >> "$W/root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$W/root/etc/group"
}

declare -A L1_COPIED=()

# l1_copy PATH...: each file (or directory tree) into the root at the same
# absolute path, ELF files without debug information (set LANE_STRIP=0 to keep
# it), with the shared libraries and loader of dynamically linked ones.
l1_copy() {
    local p f orig
    for p in "$@"; do
        orig=$(realpath -s "$p")
        p=$(readlink -f "$p")
        # A symbolic link keeps its name in L1, pointing to the file.
        if [ "$orig" != "$p" ] && [ ! -e "$W/root$orig" ]; then
            mkdir -p "$W/root$(dirname "$orig")"
            ln -s "$p" "$W/root$orig"
        fi
        if [ -d "$p" ]; then
            # Skip nested cargo target directories (they hold CACHEDIR.TAG).
            while IFS= read -r -d '' f; do l1_copy_file "$f"; done < <(
                find "$p" \( -type d -exec test -e '{}/CACHEDIR.TAG' ';' -prune \) -o -type f -print0)
        else
            l1_copy_file "$p"
        fi
    done
}

l1_copy_file() {
    local f=$1 dst lib
    [ -n "${L1_COPIED[$f]:-}" ] && return
    L1_COPIED[$f]=1
    dst=$W/root$f
    mkdir -p "$(dirname "$dst")"
    if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then
        if [ "${LANE_STRIP:-1}" = 1 ]; then
            strip --strip-debug -o "$dst" "$f" 2> /dev/null || cp -p "$f" "$dst"
            chmod --reference="$f" "$dst"
        else
            cp -p "$f" "$dst"
        fi
        # Shared libraries and the loader, at their own paths.
        for lib in $(ldd "$f" 2> /dev/null | grep -oE '/[^ ]+' || true); do
            [ -e "$lib" ] || continue
            [ -n "${L1_COPIED[$lib]:-}" ] && continue
            L1_COPIED[$lib]=1
            mkdir -p "$W/root$(dirname "$lib")"
            cp -L "$lib" "$W/root$lib"
        done
    else
        cp -p "$f" "$dst"
    fi
}

# l1_pack LEVEL: $W/initrd.gz from $W/root.
l1_pack() {
    (cd "$W/root" && find . | cpio -o -H newc --quiet | gzip "-${1:-1}") > "$W/initrd.gz"
}

# ---------------------------------------------------------------------------
# The plan: what L1 runs (ci/l1/init's job functions).

# l1_plan_begin: an empty plan, job list and test list.
l1_plan_begin() {
    PLAN=$W/root/lane/plan
    : > "$PLAN"
    : > "$W/planned.txt"
    : > "$W/lists.tsv"
}

# l1_plan_tests TIMEOUT REPEAT JOBS TEST-ARGS...: a libtest job per test binary
# in $TESTS (only those named in JOBS, a newline-separated list, if not empty),
# REPEAT times each, with the binaries copied into the root and each test's
# name listed (for naming the tests a timed-out job did not finish).
l1_plan_tests() {
    local limit=$1 repeat=$2 only=$3 name dir exe tests r job a
    shift 3
    while IFS=$'\t' read -r name dir exe; do
        if [ -n "$only" ] && ! grep -qxF "$name" <<< "$only"; then continue; fi
        l1_copy "$exe"
        mkdir -p "$W/root$dir"
        tests=$(cd "$dir" && "$exe" --list --format terse "$@" 2> /dev/null | sed -n 's/: test$//p') || true
        for r in $(seq 1 "$repeat"); do
            job=$name
            [ "$repeat" = 1 ] || job="$name#$r"
            echo "$job" >> "$W/planned.txt"
            [ -z "$tests" ] || sed "s|^|$job\t|" <<< "$tests" >> "$W/lists.tsv"
            printf 'libtest %q %q %q %q' "$job" "$limit" "$dir" "$exe" >> "$PLAN"
            for a in "$@"; do printf ' %q' "$a" >> "$PLAN"; done
            echo >> "$PLAN"
        done
    done <<< "$TESTS"
}

# l1_copy_test_support: what the test binaries use besides themselves: the vmm
# binary, the build scripts' output (the test programs), the host programs
# tests run (a dynamically linked /bin/ls, to check it is refused; util-linux's
# setpriv and unshare; /bin/busybox, static, is in every root) and the sources.
l1_copy_test_support() {
    local tool p f
    l1_copy "$VMM_BIN"
    # shellcheck disable=SC2086
    l1_copy $OUT_DIRS
    for tool in /bin/ls setpriv unshare; do
        p=$(command -v "$tool" || true)
        [ -z "$p" ] || l1_copy "$p"
    done
    # The C compiler's front end (about 35 MB): uapi's tests check C headers
    # with `cc -fsyntax-only` (no assembler, linker or libc headers needed).
    if p=$(command -v cc); then
        f=$(cc -print-prog-name=cc1)
        l1_copy "$p" "$f" "$(dirname "$f")/liblto_plugin.so" "$(cc -print-file-name=include)"
    fi
    # The source tree (1.6 MB): tests read files next to them
    # (CARGO_MANIFEST_DIR/../tests/...).
    if git -C "$ROOT" rev-parse --git-dir > /dev/null 2>&1; then
        while IFS= read -r -d '' p; do
            [ -f "$ROOT/$p" ] && l1_copy_file "$ROOT/$p"
        done < <(git -C "$ROOT" ls-files -z --cached --others --exclude-standard)
    else
        l1_copy "$ROOT/tests"
    fi
}

# ---------------------------------------------------------------------------
# Running L1 and reading its results.
#
# A lane defines:
#   lane_start       start the emulator in the background on $W/initrd.boot.gz;
#                    set EMU_PID; L1's console goes to $CONSOLE, its results
#                    port to $RESULTS_RAW
#   lane_cpus N      (optional) where L1's CPUs are, sampled N times: "cpuN SYMBOL; ..."
# and sets LANE_TIMEOUT, HB_DEAD, BOOT_DEAD, LANE_BOOTS, deadline.

# The jobs earlier boots finished, as an extra cpio archive appended to the initramfs.
l1_initrd_for_boot() {
    mkdir -p "$W/skip/lane"
    cat "$W"/results.* 2> /dev/null | sed -n 's/^@@job end \([^ ]*\) .*/\1/p' > "$W/skip/lane/skip" || true
    (cd "$W/skip" && echo lane/skip | cpio -o -H newc --quiet | gzip -1) | cat "$W/initrd.gz" - > "$W/initrd.boot.gz"
}

# Where L1 is in the plan: "JOB", "set-up (before the first job)" or "the end
# (after JOB)".
l1_current_job() {
    awk '/^@@job begin/ { j = $3 } /^@@job end/ { last = $3; j = "" }
        END { print (j != "" ? j : last == "" ? "set-up (before the first job)" : "the end (after " last ")") }' \
        "$RESULTS_RAW" 2> /dev/null
}

# One L1 boot. Sets outcome (done, error, crashed, timeout, hung, livelock) and detail.
l1_boot() {
    local hb=0 hb_at c rc tpid job syms started
    CONSOLE=$W/console.$boot
    RESULTS_RAW=$W/results.$boot.raw
    : > "$CONSOLE"
    : > "$RESULTS_RAW"
    l1_initrd_for_boot
    lane_start
    started=$(now)
    # L1's console as it comes, with the host's seconds since the emulator started.
    tail --pid="$EMU_PID" -n +1 -F "$CONSOLE" 2> /dev/null | grep --line-buffered -av '^@@hb' |
        while IFS= read -r line; do
            printf -v t '%(%s)T' -1
            printf '  L1 %4ds| %s\n' $((t - started)) "${line%$'\r'}"
        done &
    tpid=$!
    hb_at=$started
    outcome=""
    while kill -0 "$EMU_PID" 2> /dev/null; do
        sleep 2
        c=$(grep -ac '^@@hb' "$CONSOLE" || true)
        if [ "$c" != "$hb" ]; then hb=$c hb_at=$(now); fi
        if [ "$(now)" -ge "$deadline" ]; then
            outcome=timeout
            job=$(l1_current_job)
            detail="the whole-run timeout (LANE_TIMEOUT=$LANE_TIMEOUT s) fired during $job"
            syms=$(lane_cpus 1)
            [ -z "$syms" ] || detail="$detail; L1 CPUs in: $syms"
            break
        fi
        # Before the first heartbeat L1 is booting (BOOT_DEAD); then HB_DEAD.
        if { [ "$hb" = 0 ] && [ $(( $(now) - started )) -ge "$BOOT_DEAD" ]; } ||
            { [ "$hb" != 0 ] && [ $(( $(now) - hb_at )) -ge "$HB_DEAD" ]; }; then
            job=$(l1_current_job)
            syms=$(lane_cpus 3)
            # A CPU in the int3 handler or in text patching: the livelock of
            # QEMU's multi-threaded TCG (docs/hwvirt-lanes.md), not a test's doing.
            if grep -qE "${LIVELOCK_RE:-int3|text_poke|kprobe|do_sync_core}" <<< "$syms"; then
                outcome=livelock
                detail="L1 livelocked in kernel text patching during $job"
            else
                outcome=hung
                detail="L1 stopped responding during $job"
            fi
            if [ "$hb" = 0 ]; then
                detail="$detail (no heartbeat within $BOOT_DEAD s of the start"
            else
                detail="$detail (no heartbeat for $HB_DEAD s"
            fi
            detail="$detail${syms:+; L1 CPUs in: $syms})"
            break
        fi
    done
    [ -z "$outcome" ] || kill "$EMU_PID" 2> /dev/null || true
    rc=0
    wait "$EMU_PID" || rc=$?
    sleep 0.5
    kill "$tpid" 2> /dev/null || true
    wait "$tpid" 2> /dev/null || true
    ! declare -F lane_booted > /dev/null || lane_booted
    { echo "@@boot $boot"; tr -d '\r' < "$RESULTS_RAW"; } > "$W/results.$boot"
    [ -z "$outcome" ] || return 0
    if grep -q '^@@lane done' "$RESULTS_RAW"; then
        outcome=done detail=""
    elif grep -q '^@@lane error' "$RESULTS_RAW"; then
        outcome=error detail=$(sed -n 's/^@@lane error //p' "$RESULTS_RAW" | head -1)
    else
        job=$(l1_current_job)
        outcome=crashed
        local why="emulator exit $rc"
        # QEMU's `-d cpu_reset` log names a triple fault of L1 itself (one
        # in L2 is a #VMEXIT to L1's KVM instead, and the VMM reports it).
        if [ -n "${EMU_LOG:-}" ] && grep -q '^Triple fault' "$EMU_LOG" 2> /dev/null; then
            why="L1 triple-faulted, emulator exit $rc; $EMU_LOG"
        fi
        detail="L1 ended during $job without finishing ($why; console: $CONSOLE)"
    fi
}

# l1_run: boot L1 until the plan is done, booting again (at most LANE_BOOTS
# times in all) only after a livelock, for the jobs not finished yet.
l1_run() {
    rm -f "$W"/results.* "$W"/console.* "$W"/boots.txt "$W"/failures.txt "$W"/summary.txt
    : > "$W/boots.txt"
    boot=0
    while :; do
        boot=$((boot + 1))
        log "L1 boot $boot"
        local t=$(now)
        l1_boot
        log "L1 boot $boot: $outcome after $(( $(now) - t )) s${detail:+: $detail}"
        if [ "$outcome" = livelock ] && [ $boot -lt "$LANE_BOOTS" ] && [ $(( deadline - $(now) )) -gt 60 ]; then
            printf '%s\tretried\t%s\n' $boot "$detail" >> "$W/boots.txt"
            continue
        fi
        printf '%s\t%s\t%s\n' $boot "$outcome" "$detail" >> "$W/boots.txt"
        break
    done
}

# The symbol at or below each kernel address on stdin ("ADDR" per line), from
# L1's /proc/kallsyms as an earlier boot saved it (L1 boots with nokaslr and
# loads the same modules in the same order, so addresses match; Debian's
# System.map is a placeholder).
l1_symbolize() {
    awk -v map="$KDIR/kallsyms" '
        BEGIN {
            while ((getline l < map) > 0) {
                split(l, f, " ")
                if (f[2] ~ /^[tTwW]$/) { n++; a[n] = tolower(f[1]); s[n] = f[3] f[4] }
            }
        }
        {
            x = tolower($1); while (length(x) < 16) x = "0" x
            lo = 1; hi = n; best = 0
            while (lo <= hi) { mid = int((lo + hi) / 2); if (a[mid] <= x) { best = mid; lo = mid + 1 } else hi = mid - 1 }
            print $1, (best && substr(x, 1, 8) == "ffffffff" ? s[best] : "?")
        }'
}

# l1_report HEADING: the summary of every job, then the output of each that
# failed; returns 0 when every planned job ran and passed.
l1_report() {
    local status=0
    awk -v failures="$W/failures.txt" -f "$ROOT/ci/lib/report.awk" \
        "$W/lists.tsv" "$W/planned.txt" "$W/boots.txt" \
        $(for b in $(seq 1 "$boot"); do echo "$W/results.$b"; done) > "$W/summary.txt" || status=1
    if [ -s "$W/failures.txt" ]; then
        echo
        echo "$LANE_NAME: output of the jobs that did not pass (also in $W/failures.txt):"
        head -n "${LANE_PRINT_LINES:-3000}" "$W/failures.txt"
    fi
    echo
    echo "$LANE_NAME: SUMMARY ($1)"
    cat "$W/summary.txt"
    return $status
}
