//! The guest's tracepoints (`protocol::trace`) as a Chrome trace-event JSON
//! file that the Perfetto UI (ui.perfetto.dev) and `chrome://tracing` open,
//! and that file drawn as an SVG timeline (`vmm trace-svg`).
//!
//! The file has one track per vCPU (process 1 "vCPUs", thread = CPU index)
//! with:
//! - the running task as complete slices (`"ph": "X"`, category `task`, or
//!   `idle` for the idle task) from one `sched_switch` to the next; their args
//!   are the switch's fields (`pid`, `prev_pid`, `prev_state`, `prio`);
//! - instant events (`"ph": "i"`, category `sched`, `process` or `mm`) for
//!   every other tracepoint, named as Linux names it, with its fields as args
//!   (`comm` decoded; the `mm` events get the `pid` running on the CPU);
//! - a flow (`"ph": "s"` at the fork, `"ph": "f"` at the child's first
//!   switch-in, category `fork`, one id per fork) from each fork to the child's
//!   first run;
//! - metadata naming the process and each vCPU's thread.
//!
//! Timestamps are microseconds since the first record, from the guest's TSC
//! (`otherData.tsc0` is that record's TSC, `otherData.tsc_khz` the rate).

use std::collections::HashMap;

use protocol::trace::{comm_bytes, Event, Record};
use serde_json::{json, Map, Value};

/// The records drained from the rings, and how many each ring dropped.
#[derive(Clone, Debug, Default)]
pub struct RawTrace {
    /// Per CPU, in the order the CPU wrote them.
    pub cpus: Vec<Vec<Record>>,
    pub dropped: Vec<u64>,
}

impl RawTrace {
    pub fn events(&self) -> usize {
        self.cpus.iter().map(Vec::len).sum()
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

/// The process id of the vCPU tracks in the JSON.
const VCPU_PROCESS: u64 = 1;

fn comm(args: &[u64], at: usize) -> String {
    let (bytes, len) = comm_bytes([args[at], args[at + 1]]);
    String::from_utf8_lossy(&bytes[..len]).into_owned()
}

/// The Chrome trace-event JSON of `raw` (TSC at `tsc_khz`).
pub fn chrome_json(raw: &RawTrace, tsc_khz: u64) -> Value {
    let t0 = raw.cpus.iter().flatten().map(|r| r.tsc).min().unwrap_or(0);
    let khz = tsc_khz.max(1) as f64;
    let us = |tsc: u64| (tsc.saturating_sub(t0)) as f64 * 1000.0 / khz;
    // Names: pid → comm, from the events that carry one, in time order
    // (a child is named after its parent until it execs).
    let mut all: Vec<&Record> = raw.cpus.iter().flatten().collect();
    all.sort_by_key(|r| r.tsc);
    let mut names: HashMap<u64, Vec<(u64, String)>> = HashMap::new();
    for r in &all {
        let a = &r.args;
        match Event::from_u32(r.event) {
            Some(Event::SchedProcessFork) => {
                let c = comm(a, 3);
                names.entry(a[0]).or_default().push((r.tsc, c.clone()));
                names.entry(a[1]).or_default().push((r.tsc, c));
            }
            Some(Event::SchedProcessExec) => {
                names.entry(a[0]).or_default().push((r.tsc, comm(a, 2)))
            }
            _ => {}
        }
    }
    let name_at = |pid: u64, tsc: u64| -> String {
        if pid == 0 {
            return "idle".into();
        }
        let comm = names
            .get(&pid)
            .and_then(|v| v.iter().rev().find(|(t, _)| *t <= tsc).or(v.first()))
            .map_or("?", |(_, c)| c.as_str());
        format!("{comm} ({pid})")
    };

    let mut out = vec![json!({"name": "process_name", "ph": "M", "pid": VCPU_PROCESS,
        "args": {"name": "kvmfork guest vCPUs"}})];
    for cpu in 0..raw.cpus.len() {
        out.push(json!({"name": "thread_name", "ph": "M", "pid": VCPU_PROCESS, "tid": cpu,
            "args": {"name": format!("CPU {cpu}")}}));
        out.push(json!({"name": "thread_sort_index", "ph": "M", "pid": VCPU_PROCESS, "tid": cpu,
            "args": {"sort_index": cpu}}));
    }
    // Each fork's flow id, and the child's first switch-in after it (found
    // in time order across the CPUs): (CPU, TSC) of that switch → flow id.
    let mut pending: HashMap<u64, u64> = HashMap::new();
    let mut flow_ends: HashMap<(u32, u64), u64> = HashMap::new();
    let mut next_flow = 1u64;
    let mut flows_end = Vec::new();
    for r in &all {
        match Event::from_u32(r.event) {
            Some(Event::SchedProcessFork) => {
                let id = next_flow;
                next_flow += 1;
                pending.insert(r.args[1], id);
                out.push(json!({"name": "fork", "cat": "fork", "ph": "s", "id": id,
                    "pid": VCPU_PROCESS, "tid": r.cpu, "ts": us(r.tsc)}));
            }
            Some(Event::SchedSwitch) => {
                if let Some(id) = pending.remove(&r.args[3]) {
                    flow_ends.insert((r.cpu, r.tsc), id);
                }
            }
            _ => {}
        }
    }
    let end_ts = all.last().map_or(0, |r| r.tsc);
    for (cpu, records) in raw.cpus.iter().enumerate() {
        // The running slice: (start tsc, pid, args).
        let mut running: Option<(u64, u64, Value)> = None;
        let close = |out: &mut Vec<Value>, run: Option<(u64, u64, Value)>, end: u64| {
            if let Some((start, pid, args)) = run {
                let cat = if pid == 0 { "idle" } else { "task" };
                out.push(json!({"name": name_at(pid, start), "cat": cat, "ph": "X",
                    "pid": VCPU_PROCESS, "tid": cpu, "ts": us(start),
                    "dur": us(end) - us(start), "args": args}));
            }
        };
        for r in records {
            let a = &r.args;
            let Some(event) = Event::from_u32(r.event) else {
                out.push(json!({"name": format!("event {}", r.event), "cat": "unknown",
                    "ph": "i", "s": "t", "pid": VCPU_PROCESS, "tid": cpu, "ts": us(r.tsc),
                    "args": {"words": a.to_vec()}}));
                continue;
            };
            if event == Event::SchedSwitch {
                close(&mut out, running.take(), r.tsc);
                let next = a[3];
                if let Some(&id) = flow_ends.get(&(r.cpu, r.tsc)) {
                    flows_end.push(json!({"name": "fork", "cat": "fork", "ph": "f", "bp": "e",
                        "id": id, "pid": VCPU_PROCESS, "tid": cpu, "ts": us(r.tsc)}));
                }
                let args = json!({"pid": next, "prio": a[4], "prev_pid": a[0],
                    "prev_prio": a[1], "prev_state": a[2]});
                running = Some((r.tsc, next, args));
                continue;
            }
            let mut args = Map::new();
            let names = event.arg_names();
            let mut i = 0;
            while i < names.len() {
                let n = names[i];
                if n == "comm" || n == "parent_comm" {
                    args.insert(n.into(), comm(a, i).into());
                    i += 2;
                    continue;
                }
                let v = match (event, n) {
                    (Event::SchedProcessWait, "wait_pid") => Value::from(a[i] as i64),
                    _ => Value::from(a[i]),
                };
                args.insert(n.into(), v);
                i += 1;
            }
            let cat = match event {
                Event::MmCowFault | Event::MmPageTableUnshare => {
                    // The task the fault happened in: the one running here.
                    let pid = running.as_ref().map_or(0, |(_, p, _)| *p);
                    args.insert("pid".into(), pid.into());
                    "mm"
                }
                Event::SchedProcessFork
                | Event::SchedProcessExec
                | Event::SchedProcessExit
                | Event::SchedProcessWait
                | Event::SchedProcessFree => "process",
                Event::CgroupAttachTask => "cgroup",
                _ => "sched",
            };
            out.push(json!({"name": event.name(), "cat": cat, "ph": "i", "s": "t",
                "pid": VCPU_PROCESS, "tid": cpu, "ts": us(r.tsc), "args": args}));
        }
        let last = records.last().map_or(end_ts, |r| r.tsc).max(end_ts);
        close(&mut out, running.take(), last);
    }
    out.extend(flows_end);
    json!({
        "traceEvents": out,
        "displayTimeUnit": "ns",
        "otherData": {
            "source": "kvmfork vmm --trace",
            "tsc_khz": tsc_khz,
            "tsc0": t0,
            "events": raw.events(),
            "dropped": raw.dropped_total(),
            "dropped_per_cpu": raw.dropped,
        },
    })
}

fn ph(e: &Value) -> &str {
    e.get("ph").and_then(Value::as_str).unwrap_or("")
}

/// An SVG timeline of a trace file written by [`chrome_json`]: one lane per
/// vCPU with the running tasks' slices (coloured by pid, labelled where they
/// are wide enough), forks and exits marked, and the fork flows as arrows.
pub fn svg_timeline(trace: &Value, title: &str) -> Result<String, String> {
    let events = trace
        .get("traceEvents")
        .and_then(Value::as_array)
        .ok_or("not a trace-event file: no traceEvents array")?;
    let num = |e: &Value, k: &str| e.get(k).and_then(Value::as_f64);
    let lanes = events.iter().filter_map(|e| num(e, "tid")).fold(0f64, f64::max) as usize + 1;
    let t_end = events
        .iter()
        .filter_map(|e| Some(num(e, "ts")? + num(e, "dur").unwrap_or(0.0)))
        .fold(0f64, f64::max);
    // From shortly before the first task other than the idle ones runs: the
    // kernel's boot before it is idle time.
    let first_task = events
        .iter()
        .filter(|e| ph(e) == "X" && e["cat"] == "task")
        .filter_map(|e| num(e, "ts"))
        .fold(f64::INFINITY, f64::min);
    let t_start = if first_task.is_finite() { first_task * 0.98 } else { 0.0 };
    let span = (t_end - t_start).max(1.0);
    let (left, width, lane_h, top) = (70.0, 1100.0, 46.0, 40.0);
    let height = top + lanes as f64 * lane_h + 50.0;
    let x = |ts: f64| left + (ts - t_start).max(0.0) / span * width;
    let y = |tid: f64| top + tid * lane_h;
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    const PALETTE: [&str; 10] = [
        "#8fb8de", "#f4a582", "#a6d96a", "#c2a5cf", "#fdd86b", "#80cdc1", "#f1948a", "#b8b8e0",
        "#d9b38c", "#9ed4a5",
    ];
    let colour = |pid: u64| PALETTE[pid as usize % PALETTE.len()].to_string();
    let mut s = String::new();
    s += &format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" \
         font-family=\"monospace\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"20\" font-size=\"14\">{}</text>\n",
        esc(title),
        w = left + width + 50.0
    );
    for lane in 0..lanes {
        s += &format!(
            "<text x=\"8\" y=\"{}\">CPU {lane}</text>\n<line x1=\"{left}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#ccc\"/>\n",
            y(lane as f64) + lane_h / 2.0 + 4.0,
            left + width,
            y(lane as f64) + lane_h - 4.0,
            y(lane as f64) + lane_h - 4.0
        );
    }
    for e in events.iter().filter(|e| ph(e) == "X") {
        let (Some(ts), Some(dur), Some(tid)) = (num(e, "ts"), num(e, "dur"), num(e, "tid")) else {
            continue;
        };
        let pid = e.pointer("/args/pid").and_then(Value::as_u64).unwrap_or(0);
        let name = e.get("name").and_then(Value::as_str).unwrap_or("");
        let (x0, w) = (x(ts), (x(ts + dur) - x(ts)).max(0.5));
        let fill = if pid == 0 { "#eeeeee".to_string() } else { colour(pid) };
        s += &format!(
            "<rect x=\"{x0:.2}\" y=\"{:.1}\" width=\"{w:.2}\" height=\"{:.1}\" fill=\"{fill}\"><title>{} {ts:.1}–{:.1} µs</title></rect>\n",
            y(tid) + 6.0,
            lane_h - 14.0,
            esc(name),
            ts + dur
        );
        let label = if pid == 0 { String::new() } else { name.to_string() };
        if !label.is_empty() && w > label.len() as f64 * 6.8 {
            s += &format!(
                "<text x=\"{:.2}\" y=\"{:.1}\">{}</text>\n",
                x0 + 2.0,
                y(tid) + lane_h / 2.0 + 2.0,
                esc(&label)
            );
        }
    }
    let marks = [
        ("sched_process_fork", "#1f4e9c", "fork"),
        ("sched_process_exec", "#2a7f2a", "exec"),
        ("sched_process_exit", "#b22222", "exit"),
    ];
    for e in events.iter().filter(|e| ph(e) == "i") {
        let name = e.get("name").and_then(Value::as_str).unwrap_or("");
        let Some(&(_, c, _)) = marks.iter().find(|m| m.0 == name) else { continue };
        let (Some(ts), Some(tid)) = (num(e, "ts"), num(e, "tid")) else { continue };
        let (cx, cy) = (x(ts), y(tid) + 4.0);
        s += &format!(
            "<path d=\"M{:.2},{:.1} l4,-6 l-8,0 z\" fill=\"{c}\"><title>{name} {}</title></path>\n",
            cx,
            cy + 2.0,
            esc(&e.get("args").map(Value::to_string).unwrap_or_default())
        );
    }
    // Flows: each "s" to the "f" of the same id.
    let mut starts: HashMap<u64, (f64, f64)> = HashMap::new();
    for e in events.iter().filter(|e| ph(e) == "s") {
        if let (Some(id), Some(ts), Some(tid)) =
            (e.get("id").and_then(Value::as_u64), num(e, "ts"), num(e, "tid"))
        {
            starts.insert(id, (ts, tid));
        }
    }
    for e in events.iter().filter(|e| ph(e) == "f") {
        let (Some(id), Some(ts), Some(tid)) =
            (e.get("id").and_then(Value::as_u64), num(e, "ts"), num(e, "tid"))
        else {
            continue;
        };
        if let Some(&(ts0, tid0)) = starts.get(&id) {
            s += &format!(
                "<line x1=\"{:.2}\" y1=\"{:.1}\" x2=\"{:.2}\" y2=\"{:.1}\" stroke=\"#1f4e9c\" stroke-width=\"1\" marker-end=\"url(#a)\"/>\n",
                x(ts0),
                y(tid0) + 8.0,
                x(ts),
                y(tid) + lane_h / 2.0
            );
        }
    }
    s = s.replacen(
        "<rect width",
        "<defs><marker id=\"a\" viewBox=\"0 0 6 6\" refX=\"6\" refY=\"3\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L6,3 L0,6 z\" fill=\"#1f4e9c\"/></marker></defs>\n<rect width",
        1,
    );
    // Time axis.
    let axis_y = top + lanes as f64 * lane_h + 14.0;
    for k in 0..=10 {
        let ts = t_start + span * k as f64 / 10.0;
        s += &format!(
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#888\"/><text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{4:.1} ms</text>\n",
            x(ts),
            axis_y - 4.0,
            axis_y,
            axis_y + 12.0,
            ts / 1000.0
        );
    }
    s += &format!(
        "<text x=\"{left}\" y=\"{}\" fill=\"#555\">slices: running task (name (pid)); ▼ blue fork, green exec, red exit; arrows: fork → child's first run</text>\n",
        axis_y + 30.0
    );
    s += "</svg>\n";
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::trace::comm_words;

    fn rec(tsc: u64, event: Event, cpu: u32, args: &[u64]) -> Record {
        let mut a = [0; 6];
        a[..args.len()].copy_from_slice(args);
        Record { tsc, event: event as u32, cpu, args: a }
    }

    #[test]
    fn switches_become_slices_and_forks_flows() {
        let mut c = [0u8; 16];
        c[..4].copy_from_slice(b"init");
        let [c0, c1] = comm_words(&c);
        let raw = RawTrace {
            cpus: vec![
                vec![
                    rec(1000, Event::SchedSwitch, 0, &[0, 120, 0, 1, 120]),
                    rec(2000, Event::SchedProcessFork, 0, &[1, 2, 17, c0, c1, 2]),
                    rec(3000, Event::SchedSwitch, 0, &[1, 120, 1, 0, 120]),
                    // The child runs here later: its first run was on CPU 1.
                    rec(4000, Event::SchedSwitch, 0, &[0, 120, 0, 2, 120]),
                ],
                vec![
                    rec(2500, Event::SchedSwitch, 1, &[0, 120, 0, 2, 120]),
                    rec(2600, Event::MmCowFault, 1, &[0, 0x1000, 1]),
                ],
            ],
            dropped: vec![0, 0],
        };
        let v = chrome_json(&raw, 1000);
        let ev = v["traceEvents"].as_array().unwrap();
        let slices: Vec<_> = ev.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(slices.len(), 4);
        assert_eq!(slices[0]["name"], "init (1)");
        assert_eq!(slices[0]["ts"], 0.0);
        assert_eq!(slices[0]["dur"], 2000.0);
        assert_eq!(slices[3]["name"], "init (2)", "a child is named after its parent");
        let fork = ev.iter().find(|e| e["name"] == "sched_process_fork").unwrap();
        assert_eq!(fork["args"]["parent_comm"], "init");
        assert_eq!(fork["args"]["clone_flags"], 17);
        let s = ev.iter().find(|e| e["ph"] == "s").unwrap();
        let f = ev.iter().find(|e| e["ph"] == "f").unwrap();
        assert_eq!(
            (s["id"].clone(), f["tid"].clone(), f["ts"].clone()),
            (1.into(), 1.into(), 1500.0.into())
        );
        let cow = ev.iter().find(|e| e["name"] == "do_wp_page").unwrap();
        assert_eq!(cow["args"]["pid"], 2, "mm events name the running task");
        let svg = svg_timeline(&v, "t").unwrap();
        assert!(svg.contains("init (1)") && svg.contains("marker-end"));
    }
}
