//! Every console pane at 80x24, 120x40 and 200x60, from fixed data (fixed clock, fixed plan
//! ids), with style snapshots where colour carries meaning (risk badges, gate results, diff
//! lines).

mod common;
#[path = "tui_fixture/mod.rs"]
mod fixture;

use fixture::{fixture, render, show};
use opsdeck::tui::action::Pane;
use opsdeck::tui::app::{App, Msg};
use opsdeck::tui::jobs;
use opsdeck::tui::theme::Theme;
use ratatui::buffer::Buffer;

/// Types `text` into the prompt key by key and lets the live preview's pause pass.
fn type_and_wait(app: &mut App, text: &str) {
    use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    for c in text.chars() {
        app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        ))));
    }
    app.on_timers(std::time::Instant::now() + std::time::Duration::from_secs(1));
}

macro_rules! both_sizes {
    ($name:ident, $setup:expr) => {
        #[test]
        fn $name() {
            let mut fx = fixture();
            #[allow(clippy::redundant_closure_call)]
            ($setup)(&mut fx.app);
            for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
                let t = render(&fx.app, w, h);
                insta::assert_snapshot!(format!("{}_{w}x{h}", stringify!($name)), t.backend());
            }
        }
    };
}

both_sizes!(conversation, |app: &mut App| {
    app.focus = Pane::Conversation;
    app.prompt_active = true;
});
both_sizes!(preview_plan, |app: &mut App| show(app, Pane::Preview));
both_sizes!(preview_live_intent, |app: &mut App| {
    app.focus = Pane::Preview;
    app.prompt_active = false;
    app.preview.plan = None;
    app.focus = Pane::Conversation;
    app.prompt_active = true;
    type_and_wait(app, "restart ec2 instances tagged env=staging");
    app.focus = Pane::Preview;
    app.prompt_active = false;
});
both_sizes!(diff_unified, |app: &mut App| show(app, Pane::Diff));
both_sizes!(diff_side_by_side, |app: &mut App| {
    show(app, Pane::Diff);
    app.update(opsdeck::tui::action::Action::ToggleDiffMode);
    app.update(opsdeck::tui::action::Action::NextHunk);
    app.update(opsdeck::tui::action::Action::NextHunk);
});
// Through the focus action: the preview follows the selected plan.
both_sizes!(approvals, |app: &mut App| app
    .update(opsdeck::tui::action::Action::FocusApprovals));
both_sizes!(audit, |app: &mut App| app
    .update(opsdeck::tui::action::Action::FocusAudit));
both_sizes!(audit_filtered, |app: &mut App| {
    app.update(opsdeck::tui::action::Action::FocusAudit);
    app.update(opsdeck::tui::action::Action::SetFilter(
        "user:olga denied".into(),
    ));
});
// The Reports pane from the fixture's trail: operations and compliance built and stored for
// real; cost failing (its error in its row), security being built, monitoring never stored;
// two stacks' drift checks, the drifted one first.
both_sizes!(reports, |app: &mut App| {
    use opsdeck::pipeline::{DriftStatus, StackDriftStatus};
    use opsdeck::reports::{ReportName, ReportOptions};
    let deck = app.deck.clone();
    for name in [ReportName::Operations, ReportName::Compliance] {
        let (doc, run) = deck
            .reports()
            .refresh(name, &ReportOptions::default())
            .unwrap();
        app.reports.docs.insert(name, doc);
        app.reports.runs.insert(name, run);
    }
    app.reports.errors.insert(
        ReportName::Cost,
        opsdeck::tui::errors::shared(opsdeck::Error::Unavailable(
            "ce GetCostAndUsage: AccessDeniedException: not authorized".into(),
        )),
    );
    app.reports.building.insert(ReportName::Security);
    let stack = |name: &str, status, resources| StackDriftStatus {
        stack: name.into(),
        status,
        resources,
        reason: None,
        checked_at: "2026-11-24T09:30:00Z".into(),
        checked_by: "olga".into(),
    };
    app.reports.drift = vec![
        stack("logs-demo", DriftStatus::Clean, 0),
        stack("web-demo", DriftStatus::Drifted, 2),
    ];
    app.reports.loaded = true;
    app.reports.selected = 3;
    app.update(opsdeck::tui::action::Action::FocusReports);
});
both_sizes!(help_overlay, |app: &mut App| {
    show(app, Pane::Approvals);
    app.update(opsdeck::tui::action::Action::Help);
});
both_sizes!(confirm_reject_overlay, |app: &mut App| {
    use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
    show(app, Pane::Approvals);
    app.update(opsdeck::tui::action::Action::Down);
    app.update(opsdeck::tui::action::Action::Reject);
    for c in "wrong region".chars() {
        app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        ))));
    }
});

/// Runs of equal style along a row: `text ← fg/bg/modifiers`, so colour changes show in review.
fn style_runs(buf: &Buffer, y: u16) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let mut cur: Option<ratatui::style::Style> = None;
    for x in 0..buf.area.width {
        let cell = &buf[(x, y)];
        let s = cell.style();
        if cur != Some(s) {
            if let Some(c) = cur
                && !run.trim().is_empty()
            {
                out.push_str(&format!(
                    "  {:?} ← fg={:?} bg={:?} {:?}\n",
                    run.trim_end(),
                    c.fg,
                    c.bg,
                    c.add_modifier
                ));
            }
            run.clear();
            cur = Some(s);
        }
        run.push_str(cell.symbol());
    }
    if let Some(c) = cur
        && !run.trim().is_empty()
    {
        out.push_str(&format!(
            "  {:?} ← fg={:?} bg={:?} {:?}\n",
            run.trim_end(),
            c.fg,
            c.bg,
            c.add_modifier
        ));
    }
    out
}

fn find_row(buf: &Buffer, needle: &str) -> u16 {
    (0..buf.area.height)
        .find(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, *y)].symbol().to_string())
                .collect::<String>()
                .contains(needle)
        })
        .unwrap_or_else(|| panic!("{needle} not on screen"))
}

#[test]
fn colour_carries_risk_gate_and_diff_meaning() {
    let mut fx = fixture();
    let mut out = String::new();
    show(&mut fx.app, Pane::Approvals);
    let t = render(&fx.app, 80, 24);
    let buf = t.backend().buffer();
    for id in ["p-web2demo42", "p-logs7demo3"] {
        out.push_str(&format!("approvals row {id}:\n"));
        out.push_str(&style_runs(buf, find_row(buf, id)));
    }
    show(&mut fx.app, Pane::Diff);
    let t = render(&fx.app, 80, 24);
    let buf = t.backend().buffer();
    for needle in ["region = \"eu-west-1\"", "region = \"ap-south-1\""] {
        out.push_str(&format!("diff row {needle:?}:\n"));
        out.push_str(&style_runs(buf, find_row(buf, needle)));
    }
    show(&mut fx.app, Pane::Preview);
    let t = render(&fx.app, 80, 24);
    let buf = t.backend().buffer();
    out.push_str("preview risk:\n");
    out.push_str(&style_runs(buf, find_row(buf, "risk ")));
    insta::assert_snapshot!("colour_meaning", out);
}

#[test]
fn no_color_keeps_meaning_in_modifiers_and_text() {
    let mut fx = fixture();
    fx.app.theme = Theme::builtin("dark", true).unwrap();
    show(&mut fx.app, Pane::Approvals);
    let t = render(&fx.app, 80, 24);
    let buf = t.backend().buffer();
    for c in buf.content() {
        assert!(
            matches!(c.fg, ratatui::style::Color::Reset)
                && matches!(c.bg, ratatui::style::Color::Reset),
            "colour with NO_COLOR: {c:?}"
        );
    }
    let row = find_row(buf, "p-web2demo42");
    let text: String = (0..80)
        .map(|x| buf[(x, row)].symbol().to_string())
        .collect();
    assert!(text.contains("MEDIUM"), "{text}");
}

#[test]
fn identifiers_are_never_cut_and_cut_text_shows_an_ellipsis() {
    let mut fx = fixture();
    show(&mut fx.app, Pane::Approvals);
    for w in [40u16, 50, 64, 80, 100] {
        let t = render(&fx.app, w, 16);
        let screen = t.backend().to_string();
        assert!(screen.contains("p-web2demo42"), "{w}:\n{screen}");
        assert!(screen.contains("p-logs7demo3"), "{w}:\n{screen}");
    }
    let t = render(&fx.app, 80, 24);
    assert!(
        t.backend().to_string().contains('…'),
        "a cut summary shows it was cut"
    );
    // The audit list keeps plan ids whole too, down to narrow widths.
    show(&mut fx.app, Pane::Audit);
    for w in [50u16, 80] {
        let screen = render(&fx.app, w, 16).backend().to_string();
        assert!(screen.contains("p-web2demo42"), "{w}:\n{screen}");
    }
    let _ = &fx.web;
}

#[test]
fn every_pane_survives_any_size() {
    let mut fx = fixture();
    for pane in Pane::ALL {
        show(&mut fx.app, pane);
        for (w, h) in [
            (1u16, 1u16),
            (10, 3),
            (39, 9),
            (40, 10),
            (41, 11),
            (60, 12),
            (80, 24),
            (99, 30),
            (100, 30),
            (200, 60),
            (300, 100),
        ] {
            render(&fx.app, w, h);
        }
    }
    fx.app.update(opsdeck::tui::action::Action::Help);
    for (w, h) in [(40u16, 10u16), (80, 24)] {
        render(&fx.app, w, h);
    }
}

#[test]
fn diff_search_and_hunk_jumps() {
    use opsdeck::tui::action::Action;
    let mut fx = fixture();
    show(&mut fx.app, Pane::Diff);
    let doc = fx.app.diff.doc.clone().unwrap();
    assert!(doc.added > 0 && doc.removed > 0);
    fx.app.update(Action::NextHunk);
    let first = fx.app.diff.scroll;
    assert!(doc.hunks.contains(&first));
    fx.app.update(Action::NextHunk);
    assert!(fx.app.diff.scroll > first);
    fx.app.update(Action::PrevHunk);
    assert_eq!(fx.app.diff.scroll, first);
    fx.app.update(Action::SetFilter("instance_type".into()));
    assert!(!fx.app.diff.matches.is_empty());
    let m0 = fx.app.diff.scroll;
    assert!(doc.rows[m0].text.contains("instance_type"));
    fx.app.update(Action::NextHunk);
    assert!(doc.rows[fx.app.diff.scroll].text.contains("instance_type"));
}

both_sizes!(results_as_table_and_sparkline, |app: &mut App| {
    use opsdeck::events::{AgentEvent, Output};
    use opsdeck::intent::AgentKind;
    app.transcript.lines.clear();
    app.handle_msg(Msg::Agent {
        job: 0,
        event: AgentEvent::Result {
            agent: AgentKind::Ops,
            output: Output::Table {
                title: "instances tagged Env=staging".into(),
                columns: vec![
                    "INSTANCE".into(),
                    "TYPE".into(),
                    "STATE".into(),
                    "NAME".into(),
                ],
                rows: vec![
                    vec![
                        "i-0abc12345def67890".into(),
                        "t3.medium".into(),
                        "running".into(),
                        "web-1".into(),
                    ],
                    vec![
                        "i-0fedcba9876543210".into(),
                        "t3.medium".into(),
                        "stopped".into(),
                        "web-2".into(),
                    ],
                ],
            },
        },
    });
    app.handle_msg(Msg::Agent {
        job: 0,
        event: AgentEvent::Result {
            agent: AgentKind::Cost,
            output: Output::Series {
                title: "EC2 daily spend, ap-south-1".into(),
                unit: "USD".into(),
                points: (18..25)
                    .map(|d| {
                        (
                            format!("2026-11-{d}"),
                            [12.1, 13.4, 12.9, 18.2, 25.0, 24.1, 19.7][d as usize - 18],
                        )
                    })
                    .collect(),
            },
        },
    });
    show(app, Pane::Conversation);
});

/// A replaced resource looks the same in the transcript and the preview (and the CLI, see
/// `cli::print`): Terraform's `-/+`, in the colour of a destroy-first change.
#[test]
fn a_replaced_resource_reads_the_same_in_transcript_and_preview() {
    use opsdeck::plan::ChangeAction;
    use opsdeck::tui::theme::Meaning;
    let mut fx = fixture();
    let mut rec = fx.web.clone();
    let address = rec.plan.resources[9].address.clone();
    rec.plan.resources[9].action = ChangeAction::Replace;
    let want = format!("-/+ {address}");

    let transcript = jobs::plan_transcript(&rec, &[], "olga");
    let row = transcript
        .iter()
        .find(|l| l.text().contains(&address))
        .expect("the resource is listed");
    assert!(row.text().contains(&want), "{}", row.text());
    assert!(
        row.segments
            .iter()
            .any(|(m, s)| *m == Meaning::GateDeny && s.trim() == "-/+"),
        "{row:?}"
    );

    fx.app.preview.plan = Some(rec);
    let preview = opsdeck::tui::components::preview::lines(&fx.app);
    let line = preview
        .iter()
        .find(|l| l.to_string().contains(&address))
        .expect("the resource is listed");
    assert!(line.to_string().contains(&want), "{line}");
    let deny = fx.app.theme.get(Meaning::GateDeny);
    assert!(
        line.spans
            .iter()
            .any(|s| s.content.trim() == "-/+" && s.style == deny),
        "{line:?}"
    );
    assert!(
        line.to_string()
            .contains("REPLACED: destroyed, then created again")
    );
}

// Typing at any size shows how the request reads: at 80x24 in the compact preview under the
// conversation, from 100 columns in the preview beside it.
both_sizes!(conversation_typing, |app: &mut App| {
    app.focus = Pane::Conversation;
    app.prompt_active = true;
    type_and_wait(app, "restart ec2 instances tagged env=staging");
});

// A wide result with a long error cell: each row stays one row, the identifier whole, the
// widest columns cut with an ellipsis.
both_sizes!(results_wide_table_with_error_cell, |app: &mut App| {
    use opsdeck::events::AgentEvent;
    use opsdeck::intent::AgentKind;
    app.transcript.lines.clear();
    app.handle_msg(Msg::Agent {
        job: 0,
        event: AgentEvent::Result {
            agent: AgentKind::Monitor,
            output: fixture::wide_table(),
        },
    });
    show(app, Pane::Conversation);
});

/// The Library pane's data: two entries of the tenant (one with two versions, the second
/// approved and used by a plan; one deprecated), as the core's overview and versions give them.
fn library_data() -> (
    Vec<opsdeck::pipeline::EntryOverview>,
    Vec<opsdeck::library::VersionDetail>,
) {
    use opsdeck::library::{
        EntryKind, EntrySummary, Manifest, Mark, Usage, VersionDetail, VersionInfo,
    };
    let at = |s: &str| s.parse::<opsdeck::time::Stamp>().unwrap();
    let mark = |user: &str, when: &str| Mark {
        user: user.into(),
        at: at(when),
        reason: None,
    };
    let manifest = |v: serde_json::Value| -> Manifest { serde_json::from_value(v).unwrap() };
    let file = |name: &str, sha: &str, size: u64| serde_json::json!({"name": name, "sha256": sha.repeat(64 / sha.len()), "size": size});
    let v1 = VersionDetail {
        info: VersionInfo {
            name: "web-tier".into(),
            version: 1,
            sha256: "1a".repeat(32),
            added: mark("olga", "2026-11-20T08:15:00Z"),
            deprecated: None,
            approvals: Vec::new(),
            used_by: Vec::new(),
            serves: None,
            seq: 10,
        },
        manifest: manifest(serde_json::json!({
            "format": 1, "name": "web-tier", "kind": "terraform",
            "description": "the web tier", "tags": ["web"],
            "files": [file("main.tf", "ab", 212)], "from_plan": "p-web2demo42"
        })),
    };
    let v2 = VersionDetail {
        info: VersionInfo {
            name: "web-tier".into(),
            version: 2,
            sha256: "2b".repeat(32),
            added: mark("olga", "2026-11-22T14:02:00Z"),
            deprecated: None,
            approvals: vec![mark("bob", "2026-11-23T09:00:00Z")],
            used_by: vec![Usage {
                plan_id: "p-9q3w7e1r2t".into(),
                user: "alice".into(),
                at: at("2026-11-24T09:40:00Z"),
            }],
            serves: None,
            seq: 20,
        },
        manifest: manifest(serde_json::json!({
            "format": 1, "name": "web-tier", "kind": "terraform",
            "description": "the web tier, greeting as a parameter", "tags": ["web", "net"],
            "params": [
                {"name": "greeting", "type": "string", "default": "hello"},
                {"name": "replicas", "type": "number"}
            ],
            "files": [file("main.tf", "cd", 318), file("outputs.tf", "ef", 64)]
        })),
    };
    let old = VersionInfo {
        name: "nightly-patch".into(),
        version: 1,
        sha256: "3c".repeat(32),
        added: mark("alice", "2026-10-02T11:00:00Z"),
        deprecated: Some(Mark {
            reason: Some("replaced by the patch template".into()),
            ..mark("alice", "2026-11-01T10:00:00Z")
        }),
        approvals: Vec::new(),
        used_by: Vec::new(),
        serves: None,
        seq: 5,
    };
    let entries = vec![
        opsdeck::pipeline::EntryOverview {
            summary: EntrySummary {
                name: "nightly-patch".into(),
                kind: EntryKind::Ansible,
                description: "patch the fleet at night".into(),
                tags: vec!["patch".into(), "ops".into()],
                owner: "alice".into(),
                latest: 1,
                versions: 1,
                deprecated: true,
                uses: 0,
            },
            latest: old,
        },
        opsdeck::pipeline::EntryOverview {
            summary: EntrySummary {
                name: "web-tier".into(),
                kind: EntryKind::Terraform,
                description: v2.manifest.description.clone(),
                tags: v2.manifest.tags.clone(),
                owner: "olga".into(),
                latest: 2,
                versions: 2,
                deprecated: false,
                uses: 1,
            },
            latest: v2.info.clone(),
        },
    ];
    (entries, vec![v1, v2])
}

fn library_loaded(app: &mut App) {
    let (entries, _) = library_data();
    app.library.entries = entries;
    app.library.builtin = opsdeck::library::builtin::builtin_versions()
        .iter()
        .map(opsdeck::view::library::BuiltinRowView::of)
        .collect();
    app.library.loaded = true;
    // Loaded already: opening the pane reads nothing.
    app.update(opsdeck::tui::action::Action::FocusLibrary);
    assert!(!app.library.loading);
}

/// web-tier opened: its two versions read, the first selected, none marked.
fn open_web_tier(app: &mut App) {
    let (_, versions) = library_data();
    app.library.open = Some(opsdeck::tui::app::OpenEntry {
        name: "web-tier".into(),
        versions: Some(Ok(versions)),
        selected: 0,
        marked: Vec::new(),
        scroll: 0,
    });
}

// The list: the tenant's entries (a deprecated one, an approved one), the built-in templates
// apart under them; the second entry selected.
both_sizes!(library, |app: &mut App| {
    library_loaded(app);
    app.update(opsdeck::tui::action::Action::Down);
});
// An entry opened: its versions, the second selected and both marked, its account below.
both_sizes!(library_versions, |app: &mut App| {
    use opsdeck::tui::action::Action;
    library_loaded(app);
    open_web_tier(app);
    app.update(Action::MarkVersion);
    app.update(Action::Down);
    app.update(Action::MarkVersion);
});
// Two versions compared in the diff viewer: `library diff`'s text as rows.
both_sizes!(library_diff, |app: &mut App| {
    let (_, versions) = library_data();
    let files = |v: &str| {
        vec![(
            "main.tf".to_string(),
            format!(
                "variable \"greeting\" {{\n  default = \"{v}\"\n}}\n\nresource \"terraform_data\" \"hello\" {{\n  input = var.greeting\n}}\n"
            ),
        )]
    };
    let text = opsdeck::library::diff_versions(
        "web-tier@1",
        &versions[0].manifest,
        &files("hello"),
        "web-tier@2",
        &versions[1].manifest,
        &files("hi"),
    );
    app.diff.plan = None;
    app.diff.doc = Some(std::sync::Arc::new(
        opsdeck::tui::diff::DiffDoc::from_unified(
            &text,
            "web-tier@1 (opsdeck library diff web-tier@1 web-tier@2)",
        ),
    ));
    show(app, Pane::Diff);
});

/// Keys on the Library pane: the filter is `library search`'s, space marks at most two, `u`
/// puts a request the parser reads as the version into the prompt, `a` and `x` put the
/// command on the `:` line for Enter to confirm.
#[test]
fn library_keys_filter_mark_use_and_decide() {
    use opsdeck::tui::action::Action;
    use opsdeck::tui::app::Overlay;
    let mut fx = fixture();
    library_loaded(&mut fx.app);
    let app = &mut fx.app;
    app.update(Action::SetFilter("greeting".into()));
    let visible: Vec<String> = app
        .library
        .visible()
        .iter()
        .map(|e| e.summary.name.clone())
        .collect();
    assert_eq!(visible, ["web-tier"]);
    app.update(Action::SetFilter("ansible patch".into()));
    assert_eq!(
        app.library.selected_entry().unwrap().summary.name,
        "nightly-patch"
    );
    app.update(Action::Back);
    assert!(app.library.filter.is_empty());
    assert_eq!(app.library.visible().len(), 2);

    open_web_tier(app);
    // One mark: d asks for a second and opens nothing.
    app.update(Action::MarkVersion);
    app.update(Action::CompareVersions);
    assert_eq!(app.focus, Pane::Library);
    assert!(
        app.notice
            .as_ref()
            .unwrap()
            .text()
            .contains("mark two versions")
    );
    app.update(Action::MarkVersion);
    assert!(app.library.open.as_ref().unwrap().marked.is_empty());

    app.update(Action::Down);
    app.update(Action::ApproveVersion);
    match app.overlays.last() {
        Some(Overlay::Command(line)) => assert_eq!(line.text, "library approve web-tier@2 "),
        _ => panic!("a approve puts the command on the : line"),
    }
    app.update(Action::Back);
    app.update(Action::DeprecateVersion);
    match app.overlays.pop() {
        Some(Overlay::Command(line)) => assert_eq!(line.text, "library deprecate web-tier@2 "),
        _ => panic!("x puts the command on the : line"),
    }

    app.update(Action::UseVersion);
    assert_eq!(app.focus, Pane::Conversation);
    assert_eq!(app.prompt_text(), "use library entry web-tier@2");
    // replicas has no default: the console says how to give it.
    let said = app.notice.as_ref().unwrap().text();
    assert!(
        said.contains("replicas") && said.contains("--set"),
        "{said}"
    );
    // The words name the version for the core, which plans it like any request.
    let names = ["web-tier", "nightly-patch"];
    assert_eq!(
        opsdeck::library::referenced_entry(&app.prompt_text(), names),
        Some(opsdeck::library::EntryRef {
            name: "web-tier".into(),
            version: Some(2)
        })
    );
}
