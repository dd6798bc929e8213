//! Requests holding credentials are refused before anything is stored, through every front end:
//! `Deck::request` and `Deck::classify`, the real binary (`opsdeck ask`, `opsdeck classify`),
//! the MCP server driven by the official Python SDK, and the console. After each, every file
//! under the home is searched for the secret and for pieces of it. Ordinary requests that
//! mention passwords, secrets and tokens are not refused.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Home, quiet};
use opsdeck::Error;
use opsdeck::audit::AuditFilter;
use opsdeck::tui::app::Msg;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

struct Case {
    rule: String,
    masked: String,
    secret: String,
    request: String,
}

fn cases() -> Vec<Case> {
    let cases: Vec<Case> = include_str!("corpus/credentials.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "four tab-separated fields: {l}");
            Case {
                rule: f[0].into(),
                masked: f[1].into(),
                secret: f[2].into(),
                request: f[3].replace("{secret}", f[2]).replace("\\n", "\n"),
            }
        })
        .collect();
    assert!(cases.len() >= 40, "the corpus keeps at least 40 shapes");
    cases
}

/// The ordinary requests: the hand-written negative corpus and the labelled intent corpus.
fn ordinary() -> Vec<String> {
    let mut out: Vec<String> = include_str!("corpus/ordinary_requests.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    for l in include_str!("corpus/requests.jsonl").lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        out.push(v["text"].as_str().unwrap().to_string());
    }
    out
}

fn kind(rule: &str) -> &'static str {
    opsdeck::secrets::RULES
        .iter()
        .find(|r| r.id == rule)
        .unwrap_or_else(|| panic!("no rule {rule}"))
        .kind
}

/// The secret and every 8-character piece of it that is not part of its masked form.
fn pieces(case: &Case) -> Vec<String> {
    let chars: Vec<char> = case.secret.chars().collect();
    let mut out = vec![case.secret.clone()];
    for w in chars.windows(8.min(chars.len())) {
        let piece: String = w.iter().collect();
        if !case.masked.contains(&piece) {
            out.push(piece);
        }
    }
    out
}

/// Every file under `dir` holding the secret or a piece of it.
fn leaks(dir: &Path, case: &Case) -> Vec<String> {
    let pieces = pieces(case);
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            for piece in &pieces {
                if text.contains(piece.as_str()) {
                    found.push(format!("{} holds {piece:?}", p.display()));
                }
            }
        }
    }
    found
}

/// What every refusal says: the kind found, its masked form, where it belongs; never the value.
fn assert_refusal(case: &Case, message: &str) {
    assert!(
        message.contains(kind(&case.rule)),
        "{}: should name {}: {message}",
        case.request,
        kind(&case.rule)
    );
    assert!(
        message.contains(&case.masked),
        "{}: should show {}: {message}",
        case.request,
        case.masked
    );
    assert!(message.contains("Secrets Manager") || message.contains("Parameter Store"));
    for piece in pieces(case) {
        assert!(
            !message.contains(&piece),
            "{}: the message repeats {piece:?}: {message}",
            case.request
        );
    }
}

#[test]
fn every_corpus_shape_is_found_by_its_rule() {
    for case in cases() {
        let refusal = opsdeck::secrets::check(&case.request).unwrap_err();
        assert!(
            refusal.rule_ids().contains(&case.rule.as_str()),
            "{}: expected {}, found {:?}",
            case.request,
            case.rule,
            refusal.rule_ids()
        );
        assert_refusal(&case, &refusal.to_string());
        let masked = opsdeck::redact::redact(&case.request);
        assert!(!masked.contains(&case.secret), "{}: {masked}", case.request);
        assert!(matches!(
            opsdeck::intent::parse(&case.request),
            Err(opsdeck::intent::IntentError::Credential(_))
        ));
    }
}

#[test]
fn ordinary_requests_are_not_refused() {
    let requests = ordinary();
    assert!(requests.len() > 300);
    let home = Home::new();
    let deck = home.deck("alice");
    for text in &requests {
        if let Err(r) = opsdeck::secrets::check(text) {
            panic!("{text:?} was taken for a credential: {r}");
        }
        assert_eq!(opsdeck::redact::redact(text), *text);
        deck.requests().refuse_credentials(text).unwrap();
        if let Err(e) = deck.requests().classify(text) {
            assert!(!matches!(e, Error::Refused(_)), "{text}: {e}");
        }
    }
}

#[test]
fn deck_refuses_before_storing_anything() {
    let home = Home::new();
    let deck = home.deck("alice");
    let cases = cases();
    for case in &cases {
        let err = deck.requests().request(&case.request, &quiet).unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{}: {err}", case.request);
        assert_refusal(case, &err.to_string());
        let err = deck.requests().classify(&case.request).unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{}: {err}", case.request);
        assert_refusal(case, &err.to_string());
        assert_eq!(leaks(home.path(), case), Vec::<String>::new());
    }
    assert!(
        deck.approvals().plans(None).unwrap().is_empty(),
        "no plan was made"
    );
    // Each refusal is in the trail, with only what was found, masked.
    let failed = deck
        .trail()
        .audit(&AuditFilter {
            status: Some("failed".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(failed.len(), cases.len());
    for (case, record) in cases.iter().zip(&failed) {
        let message = record.event.message.as_deref().unwrap();
        assert!(message.contains(&case.masked), "{message}");
        assert!(
            message.contains("the request text was not kept"),
            "{message}"
        );
        assert!(record.event.intent.is_none() && record.event.artifacts.is_empty());
    }
    assert!(deck.trail().verify(true).unwrap().ok);
}

#[test]
fn the_binary_refuses_and_stores_nothing() {
    let home = Home::new();
    for case in cases() {
        for args in [
            vec!["ask", case.request.as_str()],
            vec!["--json", "ask", case.request.as_str()],
            vec!["classify", case.request.as_str()],
            vec!["explain", case.request.as_str()],
        ] {
            let out = home.cmd().args(&args).output().unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.status.success(), "{args:?}: {said}");
            assert_refusal(&case, &said);
        }
        let code = home
            .cmd()
            .args(["ask", case.request.as_str()])
            .output()
            .unwrap()
            .status
            .code();
        assert_eq!(code, Some(5), "refused: {}", case.request);
        assert_eq!(leaks(home.path(), &case), Vec::<String>::new());
    }
}

#[test]
fn mcp_tools_refuse_and_store_nothing() {
    let Some(python) = common::python_with_mcp() else {
        return;
    };
    let home = Home::new();
    let cases = cases();
    let requests: Vec<&str> = cases.iter().map(|c| c.request.as_str()).collect();
    // The list of requests lives outside the home that is searched afterwards.
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), serde_json::to_vec(&requests).unwrap()).unwrap();
    let answers: Vec<serde_json::Value> = common::python_json(
        &python,
        "mcp_credentials.py",
        &[
            env!("CARGO_BIN_EXE_opsdeck").as_ref(),
            home.path().as_os_str(),
            list.path().as_os_str(),
        ],
        |c| {
            c.env("AWS_ENDPOINT_URL", common::NO_AWS);
        },
    );
    assert_eq!(answers.len(), cases.len());
    for (case, seen) in cases.iter().zip(&answers) {
        for tool in ["ask", "classify", "explain", "security_scan"] {
            let [is_error, text] = [&seen[tool][0], &seen[tool][1]];
            assert_eq!(is_error, true, "{tool}: {}", case.request);
            assert_refusal(case, text.as_str().unwrap());
        }
    }
    for case in &cases {
        assert_eq!(leaks(home.path(), case), Vec::<String>::new());
    }
}

#[test]
fn the_console_keeps_the_text_to_edit_and_nowhere_else() {
    let home = Home::new();
    let (rt, mut app) = common::console(home.deck("alice"));
    let typed: Vec<Case> = cases()
        .into_iter()
        .filter(|c| !c.request.contains('\n'))
        .collect();
    rt.block_on(async {
        app.start();
        for case in &typed {
            for c in case.request.chars() {
                app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
                    KeyCode::Char(c),
                    KeyModifiers::NONE,
                ))));
            }
            // The live preview already says it will be refused.
            app.on_timers(Instant::now() + Duration::from_secs(1));
            let preview = app.preview.live.clone().unwrap().unwrap_err().to_string();
            assert_refusal(case, &preview);
            app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
                KeyCode::Enter,
                KeyModifiers::NONE,
            ))));
            // Refused on the spot: nothing runs, the text stays to be edited, no copy is kept.
            assert!(!app.agents_running(), "{}", case.request);
            assert_eq!(app.prompt_text(), case.request);
            assert!(app.history.is_empty());
            let shown: Vec<String> = app.transcript.lines.iter().map(|l| l.text()).collect();
            let last = shown.last().unwrap();
            assert_refusal(case, last);
            for piece in pieces(case) {
                assert!(
                    !shown.iter().any(|l| l.contains(&piece)),
                    "the transcript holds {piece:?}"
                );
            }
            assert_eq!(leaks(home.path(), case), Vec::<String>::new());
            // Clear the prompt for the next request, as the user would after editing.
            while !app.prompt_text().is_empty() {
                app.handle_msg(Msg::Term(Event::Key(KeyEvent::new(
                    KeyCode::Backspace,
                    KeyModifiers::NONE,
                ))));
            }
        }
    });
    assert!(typed.len() >= 40);
}

#[test]
fn the_parser_takes_secret_names_never_secret_values() {
    let named = opsdeck::intent::parse("rotate the secret db-password").unwrap();
    assert_eq!(named.params.secret.as_deref(), Some("db-password"));
    let named = opsdeck::intent::parse("rotate secret prod/db/MainPassword2024").unwrap();
    assert_eq!(
        named.params.secret.as_deref(),
        Some("prod/db/MainPassword2024")
    );
    // A random token is not a name, even where a name would stand.
    let odd = opsdeck::intent::parse("rotate the Xk29fj3kLm2P9qRz8WvT4 secret").unwrap();
    assert_eq!(odd.params.secret.as_deref(), None, "{:?}", odd.params);
    // A secret key after "secret" is refused outright, so it becomes no parameter at all.
    assert!(matches!(
        opsdeck::intent::parse(
            "AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        ),
        Err(opsdeck::intent::IntentError::Credential(_))
    ));
}
