# bench/report.awk - turn run.sh's raw results (rep, workload id, library,
# metric, value; tab-separated) into the Markdown tables of results.md.
# Every figure is the median over the repetitions. Plain POSIX awk (no
# asort), so it runs under mawk too.

BEGIN {
    FS = "\t"
}

# Derived per-run totals: a program starting from nothing schedules and
# runs its timers (a); the removal workload's three timed phases (b).
function adds_to_work(w, metric) {
    if (w == "timers") {
        return metric == "schedule_cold_s" || metric == "run_cpu_s"
    }
    return w == "cancel" && (metric == "schedule_s" || metric == "cancel_s" ||
                             metric == "run_cpu_s")
}

function add(id, lib, metric, v,    k) {
    k = id SUBSEP lib SUBSEP metric
    cnt[k]++
    val[k, cnt[k]] = v
}

{
    add($2, $3, $4, $5 + 0)
    split($2, p, ":")
    if (!(($2) in seen)) {
        seen[$2] = 1
        sizes[p[1]] = sizes[p[1]] " " p[2]
    }
    if (adds_to_work(p[1], $4)) {
        wk = $1 SUBSEP $2 SUBSEP $3
        if (!(wk in work)) {
            worder[++nwork] = wk
        }
        work[wk] += $5
    }
}

function med(id, lib, metric,    k, n, i, j, t, a) {
    k = id SUBSEP lib SUBSEP metric
    n = cnt[k]
    if (n == 0) {
        return ""
    }
    for (i = 1; i <= n; i++) {
        a[i] = val[k, i]
    }
    for (i = 2; i <= n; i++) {
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--) {
            a[j + 1] = a[j]
        }
        a[j + 1] = t
    }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

# The sizes run for workload w, ascending, in out[1..n]; returns n.
function sizes_of(w, out,    n, i, j, t) {
    n = split(sizes[w], out, " ")
    for (i = 2; i <= n; i++) {
        t = out[i]
        for (j = i - 1; j >= 1 && out[j] + 0 > t + 0; j--) {
            out[j + 1] = out[j]
        }
        out[j + 1] = t
    }
    return n
}

function largest(w,    s, n) {
    n = sizes_of(w, s)
    return n > 0 ? s[n] : ""
}

function human(n) {
    if (n >= 1000000 && n % 1000000 == 0) {
        return (n / 1000000) "M"
    }
    if (n >= 1000 && n % 1000 == 0) {
        return (n / 1000) "k"
    }
    return n
}

function fmt(v) {
    if (v == "") {
        return "–"
    }
    return sprintf("%.3g", v)
}

# One row of the main table: eddy, three other columns, the best of the
# target columns and eddy's ratio to it. note marks the first column.
function row(title, id, metric, c1, c2, c3, targets, note,
             e, nt, t, i, x, best, bl, ratio) {
    e = med(id, "eddy", metric)
    if (e == "") {
        return
    }
    nt = split(targets, t, " ")
    best = ""
    for (i = 1; i <= nt; i++) {
        x = med(id, t[i], metric)
        if (x != "" && (best == "" || x + 0 < best + 0)) {
            best = x
            bl = t[i]
        }
    }
    ratio = best == "" || best + 0 == 0 ? "–" : sprintf("%.2f", e / best)
    printf "| %s | %s | %s%s | %s | %s | %s %s | %s |\n", title, fmt(e),
           fmt(med(id, c1, metric)), note, fmt(med(id, c2, metric)),
           fmt(med(id, c3, metric)), fmt(best), bl, ratio
}

function main_table(    T, C, CN, X, n, s, i, id) {
    print "## Time: eddy against the best other library"
    print ""
    print "CPU seconds of the benchmark process (user + system; median). CPU"
    print "time is what the work costs, and other load on a shared machine"
    print "disturbs it far less than wall time. The last column is eddy's time"
    print "divided by the best other library's: at most 1.00 meets the target."
    print ""
    print "| workload | eddy | libuv | libev | libevent | best other | eddy / best |"
    print "|---|---|---|---|---|---|---|"
    T = largest("timers")
    id = "timers:" T
    all = "libuv libev libevent"
    row("a. " human(T) " timers: schedule, first time", id,
        "schedule_cold_s", "libuv", "libev", "libevent", all, "")
    row("a. schedule again (memory in place)", id, "schedule_s",
        "libuv", "libev", "libevent", all, "")
    row("a. run to completion (CPU)", id, "run_cpu_s",
        "libuv", "libev", "libevent", all, "")
    row("a. schedule (first time) + run", id, "work_s", "libuv", "libev",
        "libevent", all, "")
    T = largest("cancel")
    id = "cancel:" T
    row("b. " human(T) " timers (memory in place): schedule", id,
        "schedule_s",
        "libuv", "libev", "libevent", all, "")
    row("b. remove 90% of them", id, "cancel_s",
        "libuv", "libev", "libevent", all, "")
    row("b. run the rest (CPU)", id, "run_cpu_s",
        "libuv", "libev", "libevent", all, "")
    row("b. schedule + remove + run", id, "work_s",
        "libuv", "libev", "libevent", all, "")
    C = largest("chain")
    row("c. " human(C) " chained callbacks", "chain:" C, "total_s",
        "libuv", "libev", "libevent", all, "")
    CN = largest("chain-next")
    row("c'. " human(CN) " chained, one per iteration", "chain-next:" CN,
        "total_s", "libuv", "libev", "libevent", all, "")
    X = largest("xthread")
    row("d. " human(X) " cross-thread callbacks, all run", "xthread:" X,
        "cpu_s", "libuv", "libev", "libevent", all, "")
    row("d. (no target) same, wall time", "xthread:" X, "total_s",
        "libuv", "libev", "libevent", all, "")
    row("d. producer thread alone", "xthread:" X, "post_cpu_s",
        "libuv", "libev", "libevent", all, "")
    n = sizes_of("pipes", s)
    for (i = 1; i <= n; i++) {
        id = "pipes:" s[i]
        row("e. pipe chain, " s[i] " fds, poll backends", id, "loop_s",
            "libuv-epoll", "libev-poll", "libevent-poll",
            "libev-poll libevent-poll", " (epoll)")
        row("e. (no target) same, epoll backends", id, "loop_s",
            "libuv-epoll", "libev-epoll", "libevent-epoll",
            "libuv-epoll libev-epoll libevent-epoll", " (epoll)")
    }
    print ""
    print "a, b: deadlines spread over " largest("timers") / 1000 \
          " ms. \"First time\": an empty loop and an"
    print "untouched handle array, so the memory the library and its caller"
    print "need is part of the time; it is then all removed, and later rounds"
    print "find that memory in place. Run: until the last timer fired."
    print "c: each library's fastest way for a callback to queue the next (eddy:"
    print "add_callback, next iteration; libev: ev_feed_event, libevent:"
    print "event_active, libuv: 0 ms timer, all three in the same pass). c': the"
    print "next one runs in the next iteration, as eddy's always does (libev and"
    print "libuv: idle watcher, libevent: zero timeout). d: both threads, from"
    print "the first post to the last callback run. e: 25 rounds of 10000 writes,"
    print "100 tokens in flight, socketpairs; libuv has no poll backend on Linux."
    print ""
}

function mem_row(title, id, c1, c2, c3,    e) {
    e = med(id, "eddy", "maxrss_kb")
    if (e == "") {
        return
    }
    printf "| %s | %.1f | %.1f | %.1f | %.1f |\n", title, e / 1024,
           med(id, c1, "maxrss_kb") / 1024, med(id, c2, "maxrss_kb") / 1024,
           med(id, c3, "maxrss_kb") / 1024
}

function mem_table(    n, s, i) {
    print "## Peak memory"
    print ""
    print "Peak resident set of the whole benchmark process (MiB, median),"
    print "including the timer handles each program allocates for libraries"
    print "whose caller provides them."
    print ""
    print "| workload | eddy | libuv | libev | libevent |"
    print "|---|---|---|---|---|"
    mem_row(human(largest("timers")) " timers", "timers:" largest("timers"),
            "libuv", "libev", "libevent")
    mem_row(human(largest("cancel")) " timers, 90% removed",
            "cancel:" largest("cancel"), "libuv", "libev", "libevent")
    mem_row(human(largest("chain")) " chained callbacks",
            "chain:" largest("chain"), "libuv", "libev", "libevent")
    mem_row(human(largest("xthread")) " cross-thread callbacks",
            "xthread:" largest("xthread"), "libuv", "libev", "libevent")
    n = sizes_of("pipes", s)
    for (i = 1; i <= n; i++) {
        mem_row("pipe chain, " s[i] " fds (libuv on epoll)", "pipes:" s[i],
                "libuv-epoll", "libev-poll", "libevent-poll")
    }
    print ""
}

function fifo_table(    F, libs, n, i) {
    F = largest("fifo")
    if (F == "") {
        return
    }
    print "## Equal deadlines"
    print ""
    print "Timers of equal deadline that ran after a later-created one (of " \
          human(F) ","
    print "8 deadlines, all scheduled from one callback)."
    print ""
    print "| eddy | libuv | libev | libevent |"
    print "|---|---|---|---|"
    printf "| %d | %d | %d | %d |\n", med("fifo:" F, "eddy", "out_of_order"),
           med("fifo:" F, "libuv", "out_of_order"),
           med("fifo:" F, "libev", "out_of_order"),
           med("fifo:" F, "libevent", "out_of_order")
    print ""
}

function xthread_table(    X, id, n, l, i, d, b, t) {
    X = largest("xthread")
    if (X == "") {
        return
    }
    id = "xthread:" X
    print "## Cross-thread callbacks in detail"
    print ""
    print "Batches: wakeup callbacks that ran items (eddy has no way to count"
    print "its iterations without changing them). Every library delivered every"
    print "item; the rate is from wall time, so it depends on the load."
    print ""
    print "| library | delivered | batches | items per batch | M items/s |"
    print "|---|---|---|---|---|"
    n = split("eddy libuv libev libevent", l, " ")
    for (i = 1; i <= n; i++) {
        d = med(id, l[i], "delivered")
        b = med(id, l[i], "batches")
        t = med(id, l[i], "total_s")
        if (d == "") {
            continue
        }
        printf "| %s | %d | %s | %s | %.1f |\n", l[i], d,
               (b > 0 ? sprintf("%d", b) : "–"),
               (b > 0 ? sprintf("%.0f", d / b) : "–"),
               (t > 0 ? d / t / 1e6 : 0)
    }
    print ""
}

function scale_tables(    n, s, i, id, e, l, nl, j) {
    n = sizes_of("timers", s)
    print "## Scaling: timers"
    print ""
    print "ns per timer (first schedule + run, median). A heap promises O(log n)"
    print "per timer: the last column should stay roughly flat."
    print ""
    print "| timers | eddy | libuv | libev | libevent | eddy ns / log2 n |"
    print "|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        id = "timers:" s[i]
        e = med(id, "eddy", "work_s") / s[i] * 1e9
        printf "| %s | %.0f | %.0f | %.0f | %.0f | %.1f |\n", human(s[i]), e,
               med(id, "libuv", "work_s") / s[i] * 1e9,
               med(id, "libev", "work_s") / s[i] * 1e9,
               med(id, "libevent", "work_s") / s[i] * 1e9,
               e / (log(s[i]) / log(2))
    }
    print ""
    n = sizes_of("efd", s)
    if (n == 0) {
        return
    }
    print "## Scaling: descriptors"
    print ""
    print "ns per event of an eventfd chain with min(N, 100) tokens in flight."
    print "poll() scans all N fds per iteration (O(N / tokens) per event);"
    print "epoll does not. Setup: re-registering one fd."
    print ""
    print "| fds | eddy | libev poll | libevent poll | libuv epoll | libev epoll | libevent epoll | eddy setup ns/fd |"
    print "|---|---|---|---|---|---|---|---|"
    nl = split("eddy libev-poll libevent-poll libuv-epoll libev-epoll libevent-epoll", l, " ")
    for (i = 1; i <= n; i++) {
        id = "efd:" s[i]
        printf "| %s |", s[i]
        for (j = 1; j <= nl; j++) {
            printf " %.0f |", med(id, l[j], "loop_ns_per_event")
        }
        printf " %.0f |\n", med(id, "eddy", "setup_ns_per_fd")
    }
    print ""
}

END {
    for (i = 1; i <= nwork; i++) {
        split(worder[i], q, SUBSEP)
        add(q[2], q[3], "work_s", work[worder[i]])
    }
    main_table()
    mem_table()
    fifo_table()
    xthread_table()
    scale_tables()
}
