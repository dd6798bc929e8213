//! Generated artifacts are parsed back and checked against what their template can produce
//! before any tool sees them: a request's words are data, so whatever they hold, a playbook stays
//! one play on `hosts: all` with the template's modules, and Terraform stays AWS resources with no
//! provisioners and no function that reads files. A check that fails means opsdeck rendered
//! something its template cannot: the plan is refused, never run.
//!
//! Also the static checks of hand-written Terraform (`opsdeck submit`) that a dry run depends on:
//! nothing that runs a program or reads files outside the configuration while planning.

use hcl::expr::{Expression, ObjectKey, Operation, TraversalOperator};
use hcl::structure::{Body, Structure};
use hcl::template::{Directive, Element, Template};

use crate::error::{Error, Result};

/// Characters no generated artifact may hold raw: controls other than newline and tab, and the
/// ones YAML or a terminal take as line breaks or that hide or reorder what a reviewer reads
/// (NEL, the Unicode line and paragraph separators, bidi controls, BOM, other format
/// characters): the characters the output sanitiser never shows raw.
pub fn hidden_character(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|(_, c)| is_hidden(*c))
}

pub fn is_hidden(c: char) -> bool {
    c != '\n' && c != '\t' && crate::sanitize::is_unsafe(c)
}

/// `\uXXXX`, or `\UXXXXXXXX` beyond the Basic Multilingual Plane: how YAML double-quoted scalars
/// and HCL strings both spell a character by its code.
pub fn unicode_escape(c: char) -> String {
    match c as u32 {
        n @ 0..=0xffff => format!("\\u{n:04x}"),
        n => format!("\\U{n:08x}"),
    }
}

fn refuse(artifact: &str, what: impl std::fmt::Display) -> Error {
    Error::Execution(format!(
        "generated artifact {artifact} failed its structure check ({what}); nothing was run. This is a bug in opsdeck's templates or escaping: report the request that caused it"
    ))
}

fn check_text(artifact: &str, text: &str) -> Result<()> {
    if let Some((at, c)) = hidden_character(text) {
        return Err(refuse(
            artifact,
            format!(
                "it holds the hidden character U+{:04X} at byte {at}",
                c as u32
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Playbooks

/// Play keys the templates write.
const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "become",
    "gather_facts",
    "serial",
    "max_fail_percentage",
    "vars",
    "tasks",
    "handlers",
];

/// Task keywords the templates use besides the module.
const TASK_KEYS: &[&str] = &[
    "name",
    "when",
    "register",
    "notify",
    "listen",
    "changed_when",
    "failed_when",
    "check_mode",
    "loop",
    "loop_control",
    "no_log",
    "ignore_errors",
    "become",
];

/// Keywords whose values Ansible evaluates as expressions without braces.
const EXPRESSION_KEYS: &[&str] = &["when", "changed_when", "failed_when"];

/// Checks a playbook rendered from `template` (its source, as compiled in) with `modules` the
/// only modules it may call.
pub fn check_playbook(artifact: &str, text: &str, template: &str, modules: &[&str]) -> Result<()> {
    check_text(artifact, text)?;
    // Folded once: every evaluated string is looked up in it.
    let template = &fold(template);
    let doc: serde_norway::Value = serde_norway::from_str(text)
        .map_err(|e| refuse(artifact, format!("it is not YAML: {e}")))?;
    let plays = doc
        .as_sequence()
        .ok_or_else(|| refuse(artifact, "it is not a list of plays"))?;
    if plays.len() != 1 {
        return Err(refuse(
            artifact,
            format!("it holds {} plays, the template one", plays.len()),
        ));
    }
    let play = plays[0]
        .as_mapping()
        .ok_or_else(|| refuse(artifact, "its play is not a mapping"))?;
    for (k, v) in play {
        let key = k.as_str().unwrap_or_default();
        if !PLAY_KEYS.contains(&key) {
            return Err(refuse(artifact, format!("its play has the key '{key}'")));
        }
        match key {
            "hosts" if v.as_str() != Some("all") => {
                return Err(refuse(artifact, "its play is not on hosts: all"));
            }
            "tasks" | "handlers" => {
                let tasks = v
                    .as_sequence()
                    .ok_or_else(|| refuse(artifact, format!("{key} is not a list")))?;
                for task in tasks {
                    check_task(artifact, task, template, modules)?;
                }
            }
            "vars" => {
                let vars = v
                    .as_mapping()
                    .ok_or_else(|| refuse(artifact, "vars is not a mapping"))?;
                for (name, value) in vars {
                    let name = name.as_str().unwrap_or_default();
                    if !name.starts_with("opsdeck_") {
                        return Err(refuse(artifact, format!("it sets the variable '{name}'")));
                    }
                    check_templated_strings(artifact, value, template)?;
                }
            }
            _ => check_templated_strings(artifact, v, template)?,
        }
    }
    Ok(())
}

fn check_task(
    artifact: &str,
    task: &serde_norway::Value,
    template: &str,
    modules: &[&str],
) -> Result<()> {
    let task = task
        .as_mapping()
        .ok_or_else(|| refuse(artifact, "a task is not a mapping"))?;
    let mut module = None;
    for (k, v) in task {
        let key = k.as_str().unwrap_or_default();
        if matches!(key, "block" | "rescue" | "always") {
            let tasks = v
                .as_sequence()
                .ok_or_else(|| refuse(artifact, format!("{key} is not a list")))?;
            for t in tasks {
                check_task(artifact, t, template, modules)?;
            }
            module.get_or_insert(key);
            continue;
        }
        if TASK_KEYS.contains(&key) {
            if EXPRESSION_KEYS.contains(&key) {
                check_expression(artifact, v, template)?;
            } else {
                check_templated_strings(artifact, v, template)?;
            }
            continue;
        }
        if !modules.contains(&key) {
            return Err(refuse(artifact, format!("a task calls '{key}'")));
        }
        if module
            .replace(key)
            .is_some_and(|m| !matches!(m, "block" | "rescue" | "always"))
        {
            return Err(refuse(artifact, "a task calls two modules"));
        }
        check_templated_strings(artifact, v, template)?;
    }
    if module.is_none() {
        return Err(refuse(artifact, "a task calls no module"));
    }
    Ok(())
}

/// An expression keyword's value: written by the template, never by a request.
fn check_expression(artifact: &str, v: &serde_norway::Value, template: &str) -> Result<()> {
    match v {
        serde_norway::Value::Bool(_) => Ok(()),
        serde_norway::Value::String(s) if in_template(s, template) => Ok(()),
        serde_norway::Value::Sequence(items) => items
            .iter()
            .try_for_each(|i| check_expression(artifact, i, template)),
        _ => Err(refuse(
            artifact,
            "a condition is not one the template writes",
        )),
    }
}

/// Lines Ansible would evaluate (`{{ }}`, `{% %}`) are the template's own; request values are
/// tagged `!unsafe` (never evaluated) wherever they hold a brace, and where the template writes
/// one into a text block (a comment line of a config file), that line holds no expression.
fn check_templated_strings(artifact: &str, v: &serde_norway::Value, template: &str) -> Result<()> {
    use serde_norway::Value as Y;
    match v {
        Y::String(s)
            if s.lines().any(|line| {
                (line.contains("{{") || line.contains("{%") || line.contains("{#"))
                    && !in_template(line, template)
            }) =>
        {
            Err(refuse(
                artifact,
                "a value Ansible would evaluate is not one the template writes",
            ))
        }
        Y::Sequence(items) => items
            .iter()
            .try_for_each(|i| check_templated_strings(artifact, i, template)),
        Y::Mapping(m) => m.iter().try_for_each(|(k, v)| {
            check_templated_strings(artifact, k, template)?;
            check_templated_strings(artifact, v, template)
        }),
        Y::Tagged(t) if t.tag == "!unsafe" => Ok(()),
        Y::Tagged(t) => Err(refuse(artifact, format!("it uses the tag {}", t.tag))),
        _ => Ok(()),
    }
}

/// `text` appears in the template source, as written there: plain or folded (`>-` blocks; runs
/// of whitespace compared as one) or in a double-quoted scalar (with its escapes).
/// `template` is already folded (see [`check_playbook`]).
fn in_template(text: &str, template: &str) -> bool {
    let quoted = serde_json::Value::String(text.to_string()).to_string();
    let quoted = &quoted[1..quoted.len() - 1];
    [fold(text), fold(quoted)]
        .iter()
        .any(|needle| !needle.is_empty() && template.contains(needle.as_str()))
}

/// Text with every run of whitespace as one space, as YAML folds `>-` blocks.
fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// Terraform

/// Functions that read files or the host's paths: never in generated Terraform; in hand-written
/// Terraform only on paths inside the configuration.
const FILE_FUNCTIONS: &[&str] = &[
    "file",
    "filebase64",
    "filebase64sha256",
    "filebase64sha512",
    "fileexists",
    "filemd5",
    "filesha1",
    "filesha256",
    "filesha512",
    "fileset",
    "templatefile",
    "abspath",
    "pathexpand",
];

const TOP_LEVEL_BLOCKS: &[&str] = &[
    "terraform",
    "provider",
    "resource",
    "data",
    "variable",
    "output",
    "locals",
];

/// Checks Terraform rendered from opsdeck's templates.
pub fn check_generated_terraform(artifact: &str, text: &str) -> Result<()> {
    check_text(artifact, text)?;
    let body: Body =
        hcl::parse(text).map_err(|e| refuse(artifact, format!("it is not HCL: {e}")))?;
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                return Err(refuse(artifact, format!("top-level attribute '{}'", a.key)));
            }
            Structure::Block(b) => {
                let kind = b.identifier.as_str();
                if !TOP_LEVEL_BLOCKS.contains(&kind) {
                    return Err(refuse(artifact, format!("top-level block '{kind}'")));
                }
                if matches!(kind, "resource" | "data") {
                    let ty = b.labels.first().map(|l| l.as_str()).unwrap_or_default();
                    if !(ty.starts_with("aws_") || ty == "archive_file" || ty == "terraform_data") {
                        return Err(refuse(artifact, format!("{kind} type '{ty}'")));
                    }
                }
            }
        }
    }
    let mut problem = None;
    visit_body(&body, &mut |node| {
        if problem.is_some() {
            return;
        }
        match node {
            Node::Block(name) if matches!(name.as_str(), "provisioner" | "connection") => {
                problem = Some(format!("a {name} block"));
            }
            Node::Call(name, _) if FILE_FUNCTIONS.contains(&name.as_str()) => {
                problem = Some(format!("a call to {name}()"));
            }
            _ => {}
        }
    });
    match problem {
        Some(p) => Err(refuse(artifact, p)),
        None => Ok(()),
    }
}

/// What hand-written Terraform may not do, because the dry run made before anyone approved
/// would do it: run a program (`data "external"`), or read a file outside the configuration
/// (`file("/…")`, `file("../…")`, `file("~/…")`, or a path the function cannot know before
/// planning). Each problem is one sentence naming the file.
pub fn handwritten_terraform_problems(name: &str, text: &str) -> Vec<String> {
    let body: Body = match hcl::parse(text) {
        Ok(b) => b,
        // Terraform itself reports syntax errors in the dry run, with line numbers.
        Err(_) => return Vec::new(),
    };
    let mut problems = Vec::new();
    for s in body.iter() {
        if let Structure::Block(b) = s
            && b.identifier.as_str() == "data"
            && b.labels.first().is_some_and(|l| l.as_str() == "external")
        {
            problems.push(format!(
                "{name}: data \"external\" runs a program while planning, before anyone approved the plan"
            ));
        }
    }
    visit_body(&body, &mut |node| {
        if let Node::Call(func, args) = node
            && FILE_FUNCTIONS.contains(&func.as_str())
        {
            let inside = args.first().is_some_and(path_stays_inside);
            if !inside {
                problems.push(format!(
                    "{name}: {func}() reads a path outside the configuration directory (only relative paths such as \"${{path.module}}/files/x\" or \"files/x\" are accepted)"
                ));
            }
        }
    });
    problems
}

/// A path argument that cannot leave the configuration: a relative literal without `..` or `~`,
/// or `"${path.module}/…"` with such a rest.
fn path_stays_inside(arg: &Expression) -> bool {
    let relative = |p: &str| {
        !p.is_empty()
            && !p.starts_with('/')
            && !p.starts_with('~')
            && !p.contains('\\')
            && p.split('/').all(|part| part != "..")
    };
    match arg {
        Expression::String(s) => relative(s),
        Expression::TemplateExpr(t) => {
            let Ok(template) = Template::from_expr(t) else {
                return false;
            };
            let elements = template.elements();
            match elements {
                [Element::Literal(s)] => relative(s),
                [Element::Interpolation(i), Element::Literal(rest)] => {
                    is_path_module(&i.expr)
                        && rest.starts_with('/')
                        && relative(rest.trim_start_matches('/'))
                }
                _ => false,
            }
        }
        _ => false,
    }
}

fn is_path_module(e: &Expression) -> bool {
    match e {
        Expression::Traversal(t) => {
            matches!(&t.expr, Expression::Variable(v) if v.as_str() == "path")
                && matches!(t.operators.as_slice(), [TraversalOperator::GetAttr(a)] if a.as_str() == "module")
        }
        _ => false,
    }
}

/// What the walk over a configuration reports: each block's type and each function call.
enum Node {
    Block(String),
    Call(String, Vec<Expression>),
}

fn visit_body(body: &Body, f: &mut dyn FnMut(Node)) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => visit_expr(&a.expr, f),
            Structure::Block(b) => {
                f(Node::Block(b.identifier.to_string()));
                visit_body(&b.body, f);
            }
        }
    }
}

fn visit_expr(e: &Expression, f: &mut dyn FnMut(Node)) {
    match e {
        Expression::Array(items) => items.iter().for_each(|i| visit_expr(i, f)),
        Expression::Object(o) => {
            for (k, v) in o.iter() {
                if let ObjectKey::Expression(k) = k {
                    visit_expr(k, f);
                }
                visit_expr(v, f);
            }
        }
        Expression::TemplateExpr(t) => match Template::from_expr(t) {
            Ok(template) => visit_template(&template, f),
            // A template HCL parsed but cannot be read back: reported as a file read of an
            // unknown path, which no caller accepts.
            Err(_) => f(Node::Call("file".into(), Vec::new())),
        },
        Expression::Traversal(t) => {
            visit_expr(&t.expr, f);
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    visit_expr(i, f);
                }
            }
        }
        Expression::FuncCall(c) => {
            f(Node::Call(c.name.name.to_string(), c.args.clone()));
            c.args.iter().for_each(|a| visit_expr(a, f));
        }
        Expression::Parenthesis(inner) => visit_expr(inner, f),
        Expression::Conditional(c) => {
            visit_expr(&c.cond_expr, f);
            visit_expr(&c.true_expr, f);
            visit_expr(&c.false_expr, f);
        }
        Expression::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => visit_expr(&u.expr, f),
            Operation::Binary(b) => {
                visit_expr(&b.lhs_expr, f);
                visit_expr(&b.rhs_expr, f);
            }
        },
        Expression::ForExpr(fe) => {
            visit_expr(&fe.collection_expr, f);
            if let Some(k) = &fe.key_expr {
                visit_expr(k, f);
            }
            visit_expr(&fe.value_expr, f);
            if let Some(c) = &fe.cond_expr {
                visit_expr(c, f);
            }
        }
        _ => {}
    }
}

fn visit_template(t: &Template, f: &mut dyn FnMut(Node)) {
    for el in t.elements() {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => visit_expr(&i.expr, f),
            Element::Directive(d) => match d.as_ref() {
                Directive::If(d) => {
                    visit_expr(&d.cond_expr, f);
                    visit_template(&d.true_template, f);
                    if let Some(t) = &d.false_template {
                        visit_template(t, f);
                    }
                }
                Directive::For(d) => {
                    visit_expr(&d.collection_expr, f);
                    visit_template(&d.template, f);
                }
            },
        }
    }
}
