# The lanes' report (ci/lib/l1.sh l1_report). Reads, in order:
#   lists.tsv    "JOB<TAB>TEST" for every test a libtest job holds (host `--list`)
#   planned.txt  the planned job names, in order
#   boots.txt    "BOOT<TAB>OUTCOME<TAB>DETAIL" per L1 boot (outcome: done, retried,
#                hung, timeout, crashed, error)
#   results.N    what L1 wrote to its results port in boot N (ci/l1/init)
# Prints the summary; writes each failed job's output to `failures`; exits 0
# only when every planned job ran and passed and L1 reported nothing fatal.

function add_unique(arr, key, line,    i) {
    for (i = 1; i <= arr[key, "n"]; i++) if (arr[key, i] == line) return
    if (arr[key, "n"] >= 8) { arr[key, "more"]++; return }
    arr[key, ++arr[key, "n"]] = line
}

function begin_job(j) {
    cur = j
    started[j] = 1
    st[j] = "interrupted"
    boot_of[j] = boot
    nout[j] = 0
    nok[j] = 0; nfail[j] = 0; nign[j] = 0
    failedlist[j] = ""
    slow[j] = ""
    crash[j, "n"] = 0; crash[j, "more"] = 0
    check[j, "n"] = 0; check[j, "more"] = 0
}

function joblist(j, sep,    s, i) {
    s = ""
    for (i = 1; i <= nlist[j]; i++) if (!((j, list[j, i]) in finished)) s = s (s == "" ? "" : sep) list[j, i]
    return s
}

FILENAME ~ /lists\.tsv$/ { split($0, f, "\t"); nlist[f[1]]++; list[f[1], nlist[f[1]]] = f[2]; next }
FILENAME ~ /planned\.txt$/ { nplan++; plan[nplan] = $0; next }
FILENAME ~ /boots\.txt$/ { split($0, f, "\t"); bootout[f[1]] = f[2]; bootdetail[f[1]] = f[3]; nboots = f[1] > nboots ? f[1] : nboots; next }

{ sub(/\r$/, "") }
/^@@boot / { boot = $2; cur = ""; next }

/^@@lane ready/ { next }
/^@@lane done/ { next }
/^@@lane error / { lane_error = substr($0, 14); next }
/^@@job begin / { begin_job(substr($0, 13)); next }
/^@@job end / {
    j = $3
    if (j != cur) begin_job(j)
    for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    st[j] = v["status"]; rc[j] = v["rc"]; secs[j] = v["secs"]
    last = j
    cur = ""
    next
}
/^@@dmesg / {
    line = substr($0, 9)
    j = (cur != "" ? cur : last)
    # "traps: NAME[PID] general protection fault ip:... sp:..." is L1 logging
    # a user program's fault (show_unhandled_signals): the tests' own host
    # runs fault on purpose (the signals program jumps to a non-canonical
    # address). Only the kernel's own faults fail the lane.
    if (line ~ /traps: [^ ]+\[[0-9]+\] /) next
    if (line ~ /WARNING:|BUG:|Oops|Kernel panic|general protection fault|invalid opcode:|kernel BUG|Unable to handle/) {
        l1fatal[++nl1fatal] = line " (during " j ")"
    } else if (line ~ /rcu.*(stall|detected)|soft lockup|hard LOCKUP|hung_task|blocked for more than/) {
        l1note[++nl1note] = line " (during " j ")"
    }
    next
}
cur == "" { next }
{
    j = cur
    out[j, ++nout[j]] = $0
    if (match($0, /^test .* \.\.\. (ok|FAILED|ignored)/)) {
        t = $0
        sub(/^test /, "", t)
        res = t
        sub(/ \.\.\. .*/, "", t)
        sub(/.* \.\.\. /, "", res)
        sub(/ .*/, "", res)
        finished[j, t] = 1
        if (res == "ok") nok[j]++
        else if (res == "ignored") nign[j]++
        else { nfail[j]++; failedlist[j] = failedlist[j] (failedlist[j] == "" ? "" : ", ") t }
    }
    if (match($0, /^test .* has been running for over/)) {
        t = $0; sub(/^test /, "", t); sub(/ has been running for over.*/, "", t)
        slow[j] = slow[j] (slow[j] == "" ? "" : ", ") t
    }
    if ($0 ~ /guest (crashed|kernel exception|kernel panic|did not finish)|triple fault|Crashed \{|Exception\(ExceptionReport|Panic \{ cpu|emulation failure|KVM_EXIT_[A-Z_]+|internal error/) {
        l = $0; sub(/^[ \t]+/, "", l)
        add_unique(crash, j, substr(l, 1, 200))
    }
    if ($0 ~ /^CHECK FAILED|panicked at/) {
        l = $0; sub(/^[ \t]+/, "", l)
        add_unique(check, j, substr(l, 1, 200))
    }
}

END {
    npass = 0; nbad = 0; bad = ""
    for (b = 1; b <= nboots; b++) {
        printf "  boot %d: %s%s\n", b, bootout[b], (bootdetail[b] != "" ? ": " bootdetail[b] : "")
        if (bootout[b] == "retried") nretried++
        else if (bootout[b] != "done") nbad++
    }
    if (lane_error != "") { printf "  L1 set-up failed: %s\n", lane_error; nbad++ }
    for (p = 1; p <= nplan; p++) {
        j = plan[p]
        s = (j in st) ? st[j] : "not run"
        if (s == "pass") {
            npass++
            detail = (nok[j] + nfail[j] + nign[j] > 0) ? sprintf("%d tests", nok[j]) (nign[j] ? sprintf(", %d ignored", nign[j]) : "") : ""
            printf "  pass     %-26s %-28s %7s s\n", j, detail, secs[j]
            continue
        }
        nbad++
        bad = bad (bad == "" ? "" : ", ") j
        if (s == "fail") {
            if (nok[j] + nfail[j] > 0)
                detail = sprintf("%d passed, %d FAILED: %s", nok[j], nfail[j], failedlist[j])
            else
                detail = "exit status " rc[j]
            printf "  FAIL     %-26s %s (%s s)\n", j, detail, secs[j]
        } else if (s == "timeout") {
            printf "  TIMEOUT  %-26s killed after %s s (the per-job timeout fired)", j, secs[j]
            if (nfail[j]) printf "; FAILED before that: %s", failedlist[j]
            if (slow[j] != "") printf "; running for over 60 s: %s", slow[j]
            if (nlist[j]) printf "; did not finish (running or not started): %s", joblist(j, ", ")
            printf "\n"
        } else if (s == "interrupted") {
            printf "  STOPPED  %-26s L1 stopped during this job (boot %d: %s)", j, boot_of[j], bootout[boot_of[j]]
            if (nfail[j]) printf "; FAILED before that: %s", failedlist[j]
            if (slow[j] != "") printf "; running for over 60 s: %s", slow[j]
            if (nlist[j]) printf "; did not finish (running or not started): %s", joblist(j, ", ")
            printf "\n"
        } else {
            printf "  NOT RUN  %-26s\n", j
        }
        for (i = 1; i <= check[j, "n"]; i++) printf "             %s\n", check[j, i]
        for (i = 1; i <= crash[j, "n"]; i++) printf "             the guest: %s\n", crash[j, i]
        if (crash[j, "more"]) printf "             (%d more such lines)\n", crash[j, "more"]
        if (started[j] && nout[j] > 0) {
            printf "==== %s (%s, boot %d): its output ====\n", j, s, boot_of[j] > failures
            for (i = 1; i <= nout[j]; i++) print out[j, i] > failures
            printf "==== end of %s ====\n\n", j > failures
        }
    }
    for (i = 1; i <= nl1fatal; i++) { printf "  L1 KERNEL: %s\n", l1fatal[i]; nbad++ }
    for (i = 1; i <= nl1note; i++) printf "  L1 kernel (noted): %s\n", l1note[i]
    printf "  %d of %d jobs passed", npass, nplan
    if (nretried) printf "; L1 boots retried: %d (see above: only a livelocked L1 is retried, never a test)", nretried
    printf "\n"
    if (bad != "") printf "  not passed: %s\n", bad
    exit (nbad == 0 && npass == nplan && nplan > 0) ? 0 : 1
}
