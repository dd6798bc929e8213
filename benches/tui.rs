//! Console measurements, printed (never asserted): frame time per pane at 200x60 with realistic
//! content, launch to first frame, keypress to screen while agents run, idle CPU and memory.
//! Run: `cargo bench --bench tui`. Needs tmux for the real-binary figures (skipped otherwise).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opsdeck::approval::PlanRecord;
use opsdeck::audit::{AuditEvent, EventKind, Signer, Status};
use opsdeck::pipeline::{Deck, OpenOptions};
use opsdeck::tui::action::{Action, Pane};
use opsdeck::tui::app::{App, AppOptions, AuditRow, Msg};
use opsdeck::tui::diff::{DiffDoc, FileInput};
use opsdeck::tui::highlight::Highlighter;
use opsdeck::tui::keymap::Keymap;
use opsdeck::tui::theme::{Meaning, Theme};
use opsdeck::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

const REQUEST: &str = "Create 3 t3.medium instances in ap-south-1 with ALB in stack web-bench";

fn deck(home: &Path, user: &str) -> Deck {
    Deck::open(OpenOptions {
        home: Some(home.to_path_buf()),
        user: Some(user.to_string()),
        ..OpenOptions::default()
    })
    .expect("open deck")
}

fn app(deck: Deck, rt: &tokio::runtime::Runtime) -> App {
    App::new(
        Arc::new(deck),
        AppOptions {
            theme: Theme::builtin("dark", false).expect("theme"),
            keymap: Keymap::defaults().expect("keymap"),
            config_dir: None,
            handle: rt.handle().clone(),
            reopen: None,
        },
    )
}

/// A 2,000-line Terraform file and an older version with every 40th line changed.
fn terraform_pair() -> (String, String) {
    let mut new = String::new();
    let mut i = 0;
    while new.lines().count() < 2000 {
        new.push_str(&format!(
            "resource \"aws_instance\" \"web_{i}\" {{\n  ami           = data.aws_ami.al2023.id\n  instance_type = \"t3.medium\"\n  subnet_id     = aws_subnet.public[{}].id\n  tags = {{\n    Name = \"web-{i}\"\n    Env  = \"staging\"\n  }}\n}}\n\n",
            i % 2
        ));
        i += 1;
    }
    let old = new
        .lines()
        .enumerate()
        .map(|(n, l)| {
            if n % 40 == 2 {
                l.replace("t3.medium", "t3.small")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    (old, new)
}

fn audit_rows(n: usize) -> Vec<AuditRow> {
    let kinds = [
        EventKind::Requested,
        EventKind::Planned,
        EventKind::Queued,
        EventKind::Approved,
        EventKind::Completed,
    ];
    (0..n)
        .map(|i| AuditRow {
            seq: i as u64 + 1,
            timestamp: format!(
                "2026-11-{:02}T{:02}:{:02}:00.000Z",
                1 + i / 2000 % 28,
                i / 60 % 24,
                i % 60
            )
            .parse()
            .unwrap(),
            user: ["alice", "bob", "olga"][i % 3].into(),
            event: kinds[i % kinds.len()],
            status: if i % 5 == 4 {
                Status::Completed
            } else {
                Status::Pending
            },
            agent: Some("infra".into()),
            plan_id: Some(format!("p-{:010}", i / 5).into()),
            message: format!(
                "create stack web-{i} in eu-west-1: 3 × t3.medium, behind an ALB (risk medium)"
            )
            .into(),
            hash: [(i % 251) as u8; 32],
        })
        .collect()
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len().max(1) as u32;
    let p99 = v[(v.len() * 99 / 100).min(v.len() - 1)];
    let max = v[v.len() - 1];
    format!(
        "mean {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
        ms(mean),
        ms(p99),
        ms(max)
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn frame_times(app: &App, n: usize) -> Vec<Duration> {
    let mut t = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    (0..n)
        .map(|_| {
            let s = Instant::now();
            t.draw(|f| ui::draw(f, app)).expect("draw");
            s.elapsed()
        })
        .collect()
}

fn in_process(rt: &tokio::runtime::Runtime) {
    let home = tempfile::tempdir().expect("tmp");
    // Launch to first frame, in process: open the store, build the app, draw once.
    let s = Instant::now();
    let theme = Theme::builtin("dark", false).expect("theme");
    let _keys = Keymap::defaults().expect("keymap");
    let mut t = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    t.draw(|f| ui::draw_splash(f, &theme, None, "alice"))
        .expect("draw");
    let splash = s.elapsed();
    let d = deck(home.path(), "alice");
    let opened = s.elapsed();
    let mut a = app(d, rt);
    t.draw(|f| ui::draw(f, &a)).expect("draw");
    println!(
        "in process, 200x60: first frame (theme + keymap + shell) {:.2} ms; Deck::open (store, keys, policy compile) {:.2} ms; App::new + first full frame {:.2} ms; interactive after {:.2} ms",
        ms(splash),
        ms(opened - splash),
        ms(s.elapsed() - opened),
        ms(s.elapsed())
    );

    // Realistic content.
    let olga = deck(home.path(), "olga");
    let rec = olga.requests().ask(REQUEST, &|_| {}).expect("ask");
    let files: Vec<(String, String)> = olga
        .approvals()
        .artifacts(&rec.plan)
        .expect("artifacts")
        .into_iter()
        .map(|(a, b)| (a.name, String::from_utf8_lossy(&b).to_string()))
        .collect();
    let plans: Vec<PlanRecord> = (0..500)
        .map(|i| {
            let mut r = rec.clone();
            r.plan.plan_id = format!("p-{i:010}");
            r.plan.requester = ["olga", "bob", "carol"][i % 3].into();
            r
        })
        .collect();
    a.set_plans(plans);
    a.set_audit_rows(audit_rows(10_000));
    for _ in 0..200 {
        for l in opsdeck::tui::jobs::plan_transcript(&rec, &files, "alice") {
            a.transcript.push(l);
        }
    }
    a.say(Meaning::Request, format!("› {REQUEST}"));
    a.preview.plan = Some(rec.clone());
    let (old, new) = terraform_pair();
    let hl = Highlighter::new();
    let s = Instant::now();
    let doc = DiffDoc::build(
        &[
            FileInput {
                name: "compute.tf".into(),
                old: None,
                new: Some(new.clone()),
            },
            FileInput {
                name: "main.tf".into(),
                old: Some(old),
                new: Some(new),
            },
        ],
        "previous",
        Some((&hl, "base16-ocean.dark")),
    );
    println!(
        "diff job (off the UI thread): a new 2,000-line Terraform file + a 2,000-line change, diffed and highlighted in {:.1} ms ({} rows; the syntax set loads lazily inside)",
        ms(s.elapsed()),
        doc.rows.len()
    );
    let s = Instant::now();
    let again = hl.lines(&files[0].1, "main.tf", "base16-ocean.dark");
    let _ = hl.lines(&files[0].1, "main.tf", "base16-ocean.dark");
    println!(
        "highlight cache hit: {:.3} ms ({} lines)",
        ms(s.elapsed()),
        again.len()
    );
    a.diff.plan = Some(rec.clone());
    a.diff.doc = Some(Arc::new(doc));
    println!(
        "transcript {} lines, 500 queued approvals, 10,000 audit events, {} diff rows",
        a.transcript.lines.len(),
        a.diff.doc.as_ref().map(|d| d.rows.len()).unwrap_or(0)
    );
    println!("frame render time at 200x60 (TestBackend, 300 frames each):");
    for (label, pane, setup) in [
        ("conversation+preview", Pane::Conversation, None),
        ("preview (plan)", Pane::Preview, None),
        ("diff unified (2,000 lines)", Pane::Diff, None),
        (
            "diff side by side",
            Pane::Diff,
            Some(Action::ToggleDiffMode),
        ),
        ("approvals (500)", Pane::Approvals, None),
        ("audit (10,000)", Pane::Audit, None),
    ] {
        a.focus = pane;
        a.prompt_active = false;
        if let Some(act) = setup {
            a.update(act);
        }
        // Scroll to the middle so the frame is not a best case.
        if pane == Pane::Diff || pane == Pane::Audit || pane == Pane::Approvals {
            a.update(Action::ScrollLines(250));
        }
        println!("  {label:<28} {}", stats(frame_times(&a, 300)));
    }
    a.focus = Pane::Audit;
    a.update(Action::SetFilter("user:bob completed".into()));
    let s = Instant::now();
    a.update(Action::SetFilter("user:bob completed web-1".into()));
    println!(
        "audit filter over 10,000 events on a keystroke: {:.2} ms ({} match)",
        ms(s.elapsed()),
        a.audit.filtered.len()
    );
}

/// Key events through the channel while agents plan in the background: time from sending the
/// key to the end of the draw that shows it.
fn keypress_latency(rt: &tokio::runtime::Runtime) {
    let home = tempfile::tempdir().expect("tmp");
    let mut a = app(deck(home.path(), "alice"), rt);
    let tx = a.sender();
    let mut t = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    rt.block_on(async {
        a.update(Action::EnterPrompt);
        let mut lat = Vec::new();
        let mut submitted = 0;
        let mut i = 0usize;
        // Keep two agents planning at all times (one per core) while keys arrive.
        while lat.len() < 200 && i < 5000 {
            i += 1;
            while a.jobs.values().filter(|j| j.agent).count() < 2 {
                submitted += 1;
                let keep = a.prompt_text();
                a.update(Action::Submit(format!(
                    "create an s3 bucket called bench-{submitted} in eu-west-1 stack bench-{submitted}"
                )));
                a.update(Action::EnterPrompt);
                for c in keep.chars() {
                    a.prompt.insert_char(c);
                }
            }
            let c = (b'a' + (i % 26) as u8) as char;
            let s = Instant::now();
            let _ = tx.send(Msg::Term(Event::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            ))));
            loop {
                let dirty = a.step().await;
                if dirty {
                    t.draw(|f| ui::draw(f, &a)).expect("draw");
                }
                if dirty && a.prompt_text().ends_with(c) {
                    break;
                }
            }
            if a.agents_running() {
                lat.push(s.elapsed());
            }
            if a.prompt_text().len() > 60 {
                a.prompt = Default::default();
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        println!(
            "keypress → frame drawn while two agents plan in the background ({} samples, {submitted} requests planned): {}",
            lat.len(),
            stats(lat)
        );
    });
}

fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .arg("-L")
        .arg(socket)
        .args(args)
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default()
}

fn proc_field(pid: &str, file: &str, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn cpu_ticks(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = s.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn wait_for(socket: &str, what: &str, secs: u64) -> Option<Duration> {
    let s = Instant::now();
    while s.elapsed() < Duration::from_secs(secs) {
        if tmux(socket, &["capture-pane", "-p"]).contains(what) {
            return Some(s.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn launch(socket: &str, home: &Path) -> Option<(String, Duration)> {
    let bin = env!("CARGO_BIN_EXE_opsdeck");
    let env = format!("OPSDECK_HOME={}", home.display());
    let s = Instant::now();
    let ok = Command::new("tmux")
        .args([
            "-L",
            socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "60",
        ])
        .args(["-e", &env, "-e", "USER=alice", bin])
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let shown = wait_for(socket, "1 Conversation", 10)?;
    let _ = s;
    let pid = tmux(socket, &["list-panes", "-F", "#{pane_pid}"])
        .trim()
        .to_string();
    Some((pid, shown))
}

fn from_log(home: &Path, key: &str) -> Option<f64> {
    let log = std::fs::read_to_string(home.join("logs/opsdeck.log")).ok()?;
    let tag = format!("{key}=");
    let line = log.lines().rev().find(|l| l.contains(&tag))?;
    let v = line.split(&tag).nth(1)?.split_whitespace().next()?;
    v.parse::<f64>().ok().map(|us| us / 1000.0)
}

fn real_binary() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("SKIP real-binary figures: tmux is not installed");
        return;
    }
    let socket = format!("opsdeck-bench-{}", std::process::id());
    let home = tempfile::tempdir().expect("tmp");
    let Some((pid, shown)) = launch(&socket, home.path()) else {
        println!("SKIP: the binary did not start in tmux");
        tmux(&socket, &["kill-server"]);
        return;
    };
    println!(
        "launch → UI visible in tmux capture-pane (includes tmux start and 2 ms polling): {:.1} ms",
        ms(shown)
    );
    std::thread::sleep(Duration::from_millis(800));
    if let (Some(ff), Some(ia)) = (
        from_log(home.path(), "first_frame_us"),
        from_log(home.path(), "interactive_us"),
    ) {
        println!(
            "real binary, from the console's own log (entering tui::run →): first frame {ff:.2} ms, first interactive frame {ia:.2} ms"
        );
    }
    if let Some(rss) = proc_field(&pid, "status", "VmRSS:") {
        println!("RSS at start (empty tenant): {:.1} MB", rss as f64 / 1024.0);
    }
    let hz = 100.0; // USER_HZ on Linux
    let before = cpu_ticks(&pid);
    std::thread::sleep(Duration::from_secs(5));
    let after = cpu_ticks(&pid);
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "idle CPU over 5 s: {} ticks = {:.2} % of one core (utime+stime from /proc/{pid}/stat)",
            a - b,
            (a - b) as f64 / hz / 5.0 * 100.0
        );
    }
    tmux(&socket, &["kill-server"]);

    // 100k audit events in the tenant, then the audit browser open.
    let home = tempfile::tempdir().expect("tmp");
    let d = deck(home.path(), "alice");
    let signer = Signer::load_or_create(&home.path().join("keys")).expect("signer");
    let s = Instant::now();
    for batch in 0..20 {
        let events: Vec<AuditEvent> = (0..5000)
            .map(|i| {
                let n = batch * 5000 + i;
                AuditEvent {
                    event_id: format!("{n:08}-0000-7000-8000-000000000000"),
                    request_id: format!("{:08}-0000-4000-8000-000000000000", n / 5),
                    tenant_id: "default".into(),
                    user_id: ["alice", "bob", "olga"][n % 3].into(),
                    user_source: "os".into(),
                    os_user: "alice".into(),
                    timestamp: format!("2026-11-{:02}T{:02}:{:02}:00.000Z", 1 + n / 4000 % 28, n / 60 % 24, n % 60).parse().unwrap(),
                    event: EventKind::Planned,
                    status: Status::Pending,
                    plan_id: Some(format!("p-{:010}", n / 5)),
                    intent: Some(serde_json::json!({"agent": "infra", "action": "create", "params": {"count": 3, "instance_type": "t3.medium", "region": "eu-west-1"}})),
                    agent_type: Some("infra".into()),
                    approval_metadata: None,
                    execution_logs: None,
                    cost_impact: Some(124.51),
                    security_gates: None,
                    identity_receipt: None,
                    artifacts: vec![],
                    message: Some(format!("create stack web-{n} in eu-west-1: 3 × t3.medium, behind an ALB (risk medium)")),
                }
            })
            .collect();
        d.raw_store()
            .append_audit("default", &events, &signer)
            .expect("append");
    }
    println!(
        "(wrote 100,000 signed audit events in {:.1} s)",
        s.elapsed().as_secs_f64()
    );
    let socket = format!("opsdeck-bench2-{}", std::process::id());
    let Some((pid, _)) = launch(&socket, home.path()) else {
        println!("SKIP: the binary did not start in tmux");
        tmux(&socket, &["kill-server"]);
        return;
    };
    tmux(&socket, &["send-keys", "Escape"]);
    std::thread::sleep(Duration::from_millis(100));
    tmux(&socket, &["send-keys", "5"]);
    match wait_for(&socket, "100000 of 100000", 30) {
        Some(t) => println!(
            "100,000 audit events listed after {:.2} s (loaded off the UI thread)",
            t.as_secs_f64()
        ),
        None => println!("the audit browser did not show 100,000 events in 30 s"),
    }
    std::thread::sleep(Duration::from_millis(500));
    let s = Instant::now();
    tmux(&socket, &["send-keys", "G"]);
    let _ = wait_for(&socket, "p-0000000000", 5);
    println!(
        "jump to the oldest of 100,000 events shown after {:.1} ms (tmux polling included)",
        ms(s.elapsed())
    );
    if let (Some(rss), Some(hwm)) = (
        proc_field(&pid, "status", "VmRSS:"),
        proc_field(&pid, "status", "VmHWM:"),
    ) {
        println!(
            "RSS with 100,000 audit events: {:.1} MB (peak while loading: {:.1} MB)",
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
    }
    tmux(&socket, &["kill-server"]);
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    in_process(&rt);
    keypress_latency(&rt);
    real_binary();
}
