//! Property test: random Unicode, control characters and template syntax in every request path
//! that renders an artifact (playbooks for packages, services, users, TLS, SSH, patching and the
//! CloudWatch agent; Terraform for instances, buckets, databases, functions and security groups).
//! Whatever the words hold, every generated file parses, keeps its template's shape, holds no
//! hidden character and never holds the hostile fragment unescaped. Bounded: a fixed number of
//! cases per path (dry runs off, so each case is only parse, plan and render).

mod common;

use common::{Home, local_inventory, quiet};
use opsdeck::pipeline::{Answer, RequestOptions};
use opsdeck::plan::ArtifactKind;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Requests that render an artifact; `{X}` is where the hostile fragment goes.
const PATHS: &[&str] = &[
    "install {X} on the hosts",
    "install nginx {X} on instances tagged env=dev",
    "remove package {X} from instances tagged env=dev",
    "restart service {X} on instances tagged env=dev",
    "add user {X} on instances tagged env=dev",
    "install nginx with tls for {X} on instances tagged env=dev",
    "harden ssh on instances tagged env={X}",
    "patch instances tagged env=dev {X}",
    "install the cloudwatch agent on instances tagged env=dev log group {X}",
    "create 2 t3.micro instances in us-east-1 tagged team={X}",
    "create an s3 bucket named {X} in eu-west-1",
    "create an s3 bucket named logs-x with tag owner={X}",
    "create a postgres database {X} in us-east-1",
    "create a lambda function {X} with python",
    "create a security group {X} allowing https",
    "create 3 t3.medium instances in ap-south-1 with alb {X}",
];

fn fragment() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-zA-Z0-9 =._-]{1,8}",
        2 => prop::sample::select(vec![
            "{{", "}}", "{%", "%}", "${", "%{", "}", "\"", "'", "\\", ":", "#", "- hosts: localhost",
            "\n", "\r\n", "\u{2028}", "\u{2029}", "\u{85}", "\u{1b}[2J", "\u{1b}]0;x\u{7}",
            "\u{202e}", "\u{2066}", "\u{feff}", "\u{0}", "\t", "!unsafe", "&a", "*a", "|", ">",
            "lookup('pipe','id')", "file(\"/etc/passwd\")", "EOT\n", "<<EOT",
        ]).prop_map(str::to_string),
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 1..6).prop_map(|v| v.concat())
}

/// A fragment that could only appear verbatim in a generated file if it went in unescaped: it
/// holds a character every writer must escape, and enough letters not to occur by chance.
fn must_be_escaped(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '"' | '\n' | '\r' | '\\') || opsdeck::plan::verify::is_hidden(c))
        && s.chars().filter(char::is_ascii_alphanumeric).count() >= 3
}

/// Whether some value the request was understood to carry holds the fragment as typed: only
/// then must every writer escape it (the parser may end a value at a quote, and the template's
/// own closing quote then stands right after what it kept).
fn kept_verbatim(intent: &opsdeck::intent::Intent, fragment: &str) -> bool {
    fn holds(v: &serde_json::Value, fragment: &str) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains(fragment),
            serde_json::Value::Array(a) => a.iter().any(|x| holds(x, fragment)),
            serde_json::Value::Object(o) => o.values().any(|x| holds(x, fragment)),
            _ => false,
        }
    }
    serde_json::to_value(&intent.params).is_ok_and(|v| holds(&v, fragment))
}

fn check_artifact(name: &str, kind: ArtifactKind, text: &str, fragment: &str, kept: bool) {
    assert!(
        opsdeck::plan::verify::hidden_character(text).is_none(),
        "{name} holds a hidden character for fragment {fragment:?}:\n{text}"
    );
    if kept && must_be_escaped(fragment) {
        // The fragment as the writers escape it may itself contain the raw fragment (`a\`
        // escapes to `a\\`): only what is left once those are taken out counts.
        let inner = |quoted: String| quoted[1..quoted.len() - 1].to_string();
        let escaped = [
            inner(opsdeck::plan::render::hcl_string(fragment)),
            inner(opsdeck::plan::playbook::yaml_str(fragment)),
        ];
        let rest = escaped
            .iter()
            .fold(text.to_string(), |t, e| t.replace(e.as_str(), ""));
        assert!(
            !rest.contains(fragment),
            "{name} holds the fragment {fragment:?} unescaped:\n{text}"
        );
    }
    match kind {
        ArtifactKind::Ansible if name.ends_with(".yml") => {
            let doc: serde_norway::Value = serde_norway::from_str(text)
                .unwrap_or_else(|e| panic!("{name} is not YAML ({e}):\n{text}"));
            if name == "inventory.yml" {
                return;
            }
            let plays = doc.as_sequence().expect("a list of plays");
            assert_eq!(plays.len(), 1, "{name}:\n{text}");
            assert_eq!(plays[0]["hosts"].as_str(), Some("all"), "{name}:\n{text}");
            for list in ["tasks", "handlers"] {
                for task in plays[0][list].as_sequence().into_iter().flatten() {
                    let modules = task
                        .as_mapping()
                        .expect("task")
                        .keys()
                        .filter_map(|k| k.as_str())
                        .filter(|k| k.starts_with("ansible."))
                        .count();
                    assert_eq!(
                        modules, 1,
                        "{name}: a task without exactly one module:\n{text}"
                    );
                }
            }
        }
        ArtifactKind::Terraform => {
            hcl::parse(text).unwrap_or_else(|e| panic!("{name} is not HCL ({e}):\n{text}"));
            opsdeck::plan::verify::check_generated_terraform(name, text)
                .unwrap_or_else(|e| panic!("{e}:\n{text}"));
        }
        _ => {}
    }
}

#[test]
fn hostile_fragments_never_shape_an_artifact() {
    let home = Home::new();
    // No dry runs: the property is about what is rendered, and it stays fast.
    home.configure(
        "[exec]\nterraform = \"/nonexistent/terraform\"\nansible_playbook = \"/nonexistent/ansible-playbook\"\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let inventory = local_inventory(dir.path());
    let deck = home.deck("alice");
    let cases: u32 = std::env::var("OPSDECK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let planned = std::cell::Cell::new(0usize);
    for path in PATHS {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&fragment(), |fragment| {
                let text = path.replace("{X}", &fragment);
                let opts = RequestOptions {
                    inventory: path.contains("on the hosts").then(|| inventory.clone()),
                    ..RequestOptions::default()
                };
                if let Ok(Answer::Plan(rec)) = deck.requests().request_with(&text, &opts, &quiet) {
                    planned.set(planned.get() + 1);
                    let kept = kept_verbatim(&rec.plan.intent, &fragment);
                    for (a, bytes) in deck.approvals().artifacts(&rec.plan).unwrap() {
                        let body = String::from_utf8_lossy(&bytes);
                        // The request itself is never template text (it once was, in a
                        // playbook's header comment).
                        assert!(
                            !body.contains(text.as_str()),
                            "{} holds the request text:\n{body}",
                            a.name
                        );
                        check_artifact(&a.name, a.kind, &body, &fragment, kept);
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    eprintln!(
        "hostile fragments: {} requests, {} became plans, every artifact held",
        PATHS.len() as u32 * cases,
        planned.get()
    );
    assert!(
        planned.get() > 0,
        "no request became a plan: the property was never checked"
    );
}

/// The two shapes the random search found where the oracle, not a writer, was wrong: a value
/// ended at a quote, and a trailing backslash (escaped as two). Both requests' artifacts hold
/// the values escaped; a raw quote or lone backslash never reaches them.
#[test]
fn a_trailing_backslash_or_quote_is_escaped_or_ends_the_value() {
    let home = Home::new();
    home.configure(
        "[exec]\nterraform = \"/nonexistent/terraform\"\nansible_playbook = \"/nonexistent/ansible-playbook\"\n",
    );
    let deck = home.deck("alice");
    for (request, fragment) in [
        (
            "create 2 t3.micro instances in us-east-1 tagged team=aa0\\",
            "aa0\\",
        ),
        (
            "create an s3 bucket named logs-x with tag owner=!unsafe\"",
            "!unsafe\"",
        ),
    ] {
        let Ok(Answer::Plan(rec)) =
            deck.requests()
                .request_with(request, &RequestOptions::default(), &quiet)
        else {
            panic!("{request}: no plan");
        };
        let kept = kept_verbatim(&rec.plan.intent, fragment);
        for (a, bytes) in deck.approvals().artifacts(&rec.plan).unwrap() {
            let body = String::from_utf8_lossy(&bytes);
            check_artifact(&a.name, a.kind, &body, fragment, kept);
            if a.name == "main.tf" && kept {
                // The backslash is written escaped.
                assert!(body.contains("\"aa0\\\\\""), "{body}");
            }
        }
    }
}
