//! Requests: `classify` (offline; the tenant's similar past requests when a store is there),
//! `explain`, `ask` (`--like PLAN_ID`), `submit` and `suggest`, and what a request comes back
//! as (a plan queued for approval, or a report).

use std::io::BufRead;
use std::path::Path;

use serde_json::json;

use super::args::{AskArgs, SubmitArgs};
use super::print::{plan_lines, print_json, print_lines, report_lines};
use crate::approval::PlanRecord;
use crate::error::{Error, Result};
use crate::events::Sink;
use crate::intent;
use crate::knowledge::{Similar, SuggestOptions};
use crate::pipeline::{
    Answer, Deck, OpenOptions, ReportRecord, RequestOptions, Submission, UseRequest,
};
use crate::view::{PlanView, ReportView};

/// `classify`: one request, or one per line of a batch file. One request also shows the
/// tenant's similar past requests when its trail can be read.
pub fn classify(
    batch: Option<&str>,
    text: &[String],
    json_out: bool,
    open: &OpenOptions,
) -> Result<u8> {
    if let Some(path) = batch {
        if !text.is_empty() {
            return Err(Error::input(
                "give either --batch FILE or a request, not both",
            ));
        }
        let reader: Box<dyn BufRead> = if path == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(std::fs::File::open(path).map_err(
                |e| Error::io(format!("opening batch file {path}"), e),
            )?))
        };
        return classify_batch(reader, json_out);
    }
    let text = text.join(" ");
    let intent = intent::parse(&text).map_err(|e| Error::input(e.to_string()))?;
    let similar = similar_past(open, &intent, &text);
    if json_out {
        let mut v = serde_json::to_value(&intent).map_err(|e| Error::io("encoding", e.into()))?;
        if let Some(o) = v.as_object_mut() {
            match &similar {
                Ok(found) => {
                    o.insert("similar".into(), json!(found));
                }
                Err(why) => {
                    o.insert("similar".into(), json!([]));
                    o.insert("similar_unavailable".into(), json!(why));
                }
            }
        }
        let v = crate::sanitize::to_json_line(&v).map_err(|e| Error::io("encoding", e.into()))?;
        outln!("{v}");
    } else {
        let v = serde_json::to_value(&intent).unwrap_or_default();
        outln!("{}", human_intent_line(1, &v));
        for e in &intent.evidence {
            outln!("  {:<16} {}", e.word, e.meaning);
        }
        for n in &intent.notes {
            outln!("  note: {n}");
        }
        match &similar {
            Ok(found) if !found.is_empty() => {
                outln!("similar past requests:");
                print_lines(&similar_lines(found));
            }
            Ok(_) => {}
            Err(why) => outln!("  (similar past requests not shown: {why})"),
        }
    }
    Ok(0)
}

/// The tenant's past requests closest to this one. Classification needs no store, so a data
/// directory no session ever opened (no configuration, no signing keys) means no past, and
/// nothing is created to look; a store that cannot be opened or read is said, never an error
/// of `classify`.
fn similar_past(
    open: &OpenOptions,
    intent: &intent::Intent,
    text: &str,
) -> std::result::Result<Vec<Similar>, String> {
    let paths = crate::config::Paths::resolve(open.home.as_deref(), open.identity_dir.as_deref())
        .map_err(|e| e.to_string())?;
    if !paths.config_file.exists() && !paths.data.join("keys").exists() {
        return Ok(Vec::new());
    }
    let deck = Deck::open(open.clone()).map_err(|e| e.to_string())?;
    deck.requests()
        .similar(intent, text)
        .map_err(|e| e.to_string())
}

/// Two lines per similar request: who, when, how it ended and the score; then why.
fn similar_lines(found: &[Similar]) -> Vec<String> {
    let mut out = Vec::new();
    for s in found {
        out.push(format!(
            "  {:<10} {:<9} {} by {}  score {:.2}  \"{}\"",
            s.plan_id.as_deref().unwrap_or("(no plan)"),
            s.outcome.as_str(),
            s.when,
            s.who,
            s.score,
            s.text
        ));
        out.push(format!("             {}", s.why.join("; ")));
    }
    if let Some(p) = found.iter().find_map(|s| s.plan_id.as_deref()) {
        out.push(format!(
            "  plan one again against today's state: opsdeck ask --like {p}"
        ));
    }
    out
}

/// `suggest`: what the tenant's past suggests.
pub fn suggest(deck: &Deck, min_repeats: usize, json_out: bool) -> Result<u8> {
    let found = deck.requests().suggest(&SuggestOptions {
        min_repeats,
        ..SuggestOptions::default()
    })?;
    if json_out {
        print_json(&json!({ "suggestions": found }))?;
    } else {
        for line in crate::view::suggestions::lines(&found, min_repeats, usize::MAX) {
            outln!("{line}");
        }
    }
    Ok(0)
}

/// One output line per input line, in order; a line that cannot be read as text or classified
/// is an error object of its own and every other line is still answered.
fn classify_batch(mut reader: Box<dyn BufRead>, json_out: bool) -> Result<u8> {
    let mut failures = 0u8;
    let mut buf = Vec::new();
    for n in 1.. {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(format!("reading line {n}"), e))?;
        if read == 0 {
            break;
        }
        let bytes = buf
            .strip_suffix(b"\n")
            .map(|b| b.strip_suffix(b"\r").unwrap_or(b))
            .unwrap_or(&buf);
        let value = match std::str::from_utf8(bytes) {
            Ok(line) => match intent::parse(line) {
                Ok(i) => serde_json::to_value(&i).unwrap_or_default(),
                Err(e) => {
                    failures = 1;
                    json!({"line": n, "error": e.to_string()})
                }
            },
            Err(e) => {
                failures = 1;
                json!({"line": n, "error": format!(
                    "line {n} is not UTF-8 text (invalid byte at offset {}); save the file as UTF-8",
                    e.valid_up_to()
                )})
            }
        };
        if json_out {
            outln!(
                "{}",
                crate::sanitize::to_json_line(&value).unwrap_or_default()
            );
        } else {
            outln!("{}", human_intent_line(n, &value));
        }
    }
    Ok(failures)
}

fn human_intent_line(n: usize, v: &serde_json::Value) -> String {
    // An error names the line, never echoes it: the line may hold a credential.
    if let Some(err) = v.get("error") {
        return format!("line {n}: error: {}", err.as_str().unwrap_or_default());
    }
    format!(
        "{} / {}  confidence {}{}  {}",
        agents_of(v),
        v["action"].as_str().unwrap_or_default(),
        v["confidence"],
        if v["low_confidence"].as_bool() == Some(true) {
            " (LOW)"
        } else {
            ""
        },
        v["params"]
    )
}

/// `infra+config` from an intent's (or an explanation's) `agents` list.
fn agents_of(v: &serde_json::Value) -> String {
    v["agents"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join("+")
        })
        .unwrap_or_default()
}

/// `explain`: a plan id or a request text, told apart by [`crate::pipeline::Requests::explain`].
pub fn explain(deck: &Deck, what: &str, json_out: bool) -> Result<u8> {
    let (intent, v) = deck.requests().explain(what)?;
    if json_out {
        print_json(&v)?;
        return Ok(0);
    }
    outln!(
        "routed to {} / {} (confidence {}{})",
        agents_of(&v),
        v["action"].as_str().unwrap_or_default(),
        v["confidence"],
        if intent.low_confidence { ", LOW" } else { "" }
    );
    for r in v["routed_by"].as_array().into_iter().flatten() {
        outln!(
            "  {:<16} {}",
            r["word"].as_str().unwrap_or(""),
            r["means"].as_str().unwrap_or("")
        );
    }
    for (k, p) in v["parameters"].as_object().into_iter().flatten() {
        let from: Vec<&str> = p["from"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str())
            .collect();
        outln!("  {:<16} = {} (from \"{}\")", k, p["value"], from.join(" "));
    }
    for n in &intent.notes {
        outln!("  note: {n}");
    }
    Ok(0)
}

/// `ask`: a plan (queued when it changes anything) or a report.
pub fn ask(deck: &Deck, args: AskArgs, progress: Sink<'_>, json_out: bool) -> Result<u8> {
    let opts = RequestOptions {
        inventory: args.inventory,
        confirm_reading: args.confirm_reading,
    };
    if let Some(entry) = &args.library.use_entry {
        if opts.confirm_reading.is_some() {
            return Err(Error::input(
                "--use plans a library entry: there is no reading to confirm; leave out --confirm-reading",
            ));
        }
        let rec = deck.library().plan(
            &UseRequest {
                entry: entry.clone(),
                text: args.text.join(" "),
                set: args.library.set,
                stack: args.library.stack,
                inventory: opts.inventory,
                reading: None,
            },
            progress,
        )?;
        return plan_outcome(deck, &rec, json_out);
    }
    let answer = match &args.like {
        Some(plan_id) => {
            if opts.inventory.is_some() {
                return Err(Error::input(
                    "--like plans a past request with its own inventory: leave out --inventory",
                ));
            }
            if opts.confirm_reading.is_some() {
                return Err(Error::input(
                    "--like plans a past request as it was read then: leave out --confirm-reading",
                ));
            }
            deck.requests().replan(plan_id, progress)?
        }
        None => cancellable(deck, || {
            deck.requests()
                .request_with(&args.text.join(" "), &opts, progress)
        })?,
    };
    match answer {
        Answer::Plan(rec) => {
            if args.export.is_some() {
                errln!("note: --export writes a report's files; this request made a plan");
            }
            plan_outcome(deck, &rec, json_out)
        }
        Answer::Report(r) => {
            if let Some(dir) = &args.export {
                export_report(&r, dir)?;
            }
            report_outcome(&r, json_out)
        }
    }
}

/// Runs `work` (a request) with Ctrl-C cancelling it instead of killing the process: the AWS
/// call it waits for is abandoned and the request ends cancelled (audited, exit 8). A second
/// Ctrl-C (a dry run still running, say) exits at once.
fn cancellable<T>(deck: &Deck, work: impl FnOnce() -> T) -> T {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                tokio::select! {
                    asked = tokio::signal::ctrl_c() => {
                        if asked.is_err() {
                            return;
                        }
                        errln!("· cancelling (Ctrl-C again quits)");
                        deck.requests().cancel_running();
                    }
                    _ = &mut stopped => return,
                }
                tokio::select! {
                    again = tokio::signal::ctrl_c() => {
                        if again.is_ok() {
                            std::process::exit(130);
                        }
                    }
                    _ = &mut stopped => {}
                }
            });
        });
        let out = work();
        let _ = stop.send(());
        out
    })
}

/// `submit`: hand-written files become a plan like any other.
pub fn submit(deck: &Deck, args: SubmitArgs, progress: Sink<'_>, json_out: bool) -> Result<u8> {
    let rec = deck.requests().submit(
        &Submission {
            terraform: args.dir,
            stack: args.stack,
            playbook: args.playbook,
            inventory: args.inventory,
        },
        progress,
    )?;
    plan_outcome(deck, &rec, json_out)
}

/// A new plan and what happens to it next; exit 5 when a policy denied it.
pub(super) fn plan_outcome(deck: &Deck, rec: &PlanRecord, json_out: bool) -> Result<u8> {
    let view = PlanView::of(rec);
    if json_out {
        // The plan itself, with its id under plan_id, plus where it stands.
        let mut v = serde_json::to_value(&rec.plan).map_err(|e| Error::io("encoding", e.into()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("state".into(), json!(rec.state));
        }
        print_json(&v)?;
    } else {
        print_lines(&plan_lines(&view));
        if let Some(next) = view.next.cli_line(view.id, || deck.approval_hint(rec)) {
            outln!();
            outln!("{next}");
        }
    }
    Ok(if view.next.refused() { 5 } else { 0 })
}

/// A report's results were printed as they arrived; this adds the summary, notes and where it
/// is stored (or, with --json, the whole record including every output and the raw data).
fn report_outcome(r: &ReportRecord, json_out: bool) -> Result<u8> {
    if json_out {
        print_json(r)?;
    } else {
        print_lines(&report_lines(&ReportView::of(r)));
    }
    Ok(0)
}

/// `ask --export DIR`: report.json (the whole report) and each file the agent attached.
fn export_report(r: &ReportRecord, dir: &Path) -> Result<()> {
    let io = |e: std::io::Error| Error::io(format!("exporting the report to {}", dir.display()), e);
    std::fs::create_dir_all(dir).map_err(io)?;
    let body = serde_json::to_vec_pretty(&r.report).map_err(|e| io(e.into()))?;
    std::fs::write(
        dir.join("report.json"),
        crate::redact::redact(&String::from_utf8_lossy(&body)),
    )
    .map_err(io)?;
    for f in &r.report.files {
        // Names come from the agent; keep them inside DIR.
        let name = Path::new(&f.name)
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "file".into());
        let text = crate::redact::redact(&String::from_utf8_lossy(&f.content));
        std::fs::write(dir.join(name), text).map_err(io)?;
    }
    errln!(
        "exported report.json{} to {}",
        r.report
            .files
            .iter()
            .map(|f| format!(", {}", f.name))
            .collect::<String>(),
        dir.display()
    );
    Ok(())
}
