//! Rego evaluated in process by regorus: the starter set in `policies/` (compiled in) plus each
//! tenant's own files. Every package `opsdeck.rules.<area>` yields `deny`, `warn` and `info`
//! sets of `{rule, reason}`.

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::RegoVM;
use regorus::{Engine, Value};

use super::PolicyError;

type Result<T> = std::result::Result<T, PolicyError>;
use crate::plan::{Gate, GateResult};

/// The starter policies, compiled into the binary (file name, source).
pub const STARTER: &[(&str, &str)] = &[
    ("regions.rego", include_str!("../../policies/regions.rego")),
    (
        "instance_types.rego",
        include_str!("../../policies/instance_types.rego"),
    ),
    ("tags.rego", include_str!("../../policies/tags.rego")),
    ("s3.rego", include_str!("../../policies/s3.rego")),
    (
        "encryption.rego",
        include_str!("../../policies/encryption.rego"),
    ),
    ("network.rego", include_str!("../../policies/network.rego")),
    ("iam.rego", include_str!("../../policies/iam.rego")),
    (
        "maintenance.rego",
        include_str!("../../policies/maintenance.rego"),
    ),
    ("ssm.rego", include_str!("../../policies/ssm.rego")),
    ("change.rego", include_str!("../../policies/change.rego")),
    ("ansible.rego", include_str!("../../policies/ansible.rego")),
    ("script.rego", include_str!("../../policies/script.rego")),
];

/// Their Rego unit tests, run by the test suite and by `opsdeck policy test`.
pub const STARTER_TESTS: &[(&str, &str)] = &[
    (
        "regions_test.rego",
        include_str!("../../policies/regions_test.rego"),
    ),
    (
        "instance_types_test.rego",
        include_str!("../../policies/instance_types_test.rego"),
    ),
    (
        "tags_test.rego",
        include_str!("../../policies/tags_test.rego"),
    ),
    ("s3_test.rego", include_str!("../../policies/s3_test.rego")),
    (
        "encryption_test.rego",
        include_str!("../../policies/encryption_test.rego"),
    ),
    (
        "network_test.rego",
        include_str!("../../policies/network_test.rego"),
    ),
    (
        "iam_test.rego",
        include_str!("../../policies/iam_test.rego"),
    ),
    (
        "maintenance_test.rego",
        include_str!("../../policies/maintenance_test.rego"),
    ),
    (
        "ssm_test.rego",
        include_str!("../../policies/ssm_test.rego"),
    ),
    (
        "change_test.rego",
        include_str!("../../policies/change_test.rego"),
    ),
    (
        "ansible_test.rego",
        include_str!("../../policies/ansible_test.rego"),
    ),
    (
        "script_test.rego",
        include_str!("../../policies/script_test.rego"),
    ),
];

/// A prepared policy set. Plans are evaluated by regorus's bytecode VM (several times faster
/// than its tree-walking interpreter); the interpreter remains for `with`-based unit tests and as
/// the fallback when a tenant policy uses something the VM cannot compile.
pub struct PolicySet {
    vm: Option<std::sync::Mutex<RegoVM>>,
    /// Rule paths evaluated for a plan, with the gate result each yields.
    entries: Vec<(String, GateResult)>,
    engine: std::sync::Mutex<Engine>,
    pub files: Vec<String>,
}

impl PolicySet {
    /// The starter set plus a tenant's files (name, source), with the tenant's policy config as
    /// `data.opsdeck.config`. A file that does not parse is an error naming it: a broken policy
    /// must never silently allow.
    pub fn load(
        tenant_files: &[(String, String)],
        config: &serde_json::Value,
    ) -> Result<PolicySet> {
        let mut engine = Engine::new();
        let mut files = Vec::new();
        for (name, src) in STARTER {
            engine
                .add_policy(format!("policies/{name}"), (*src).to_string())
                .map_err(|e| PolicyError::Starter {
                    file: name.to_string(),
                    detail: e.to_string(),
                })?;
            files.push(format!("policies/{name}"));
        }
        for (name, src) in tenant_files {
            let path = format!("tenant/{name}");
            engine
                .add_policy(path.clone(), src.clone())
                .map_err(|e| PolicyError::compile(name, &path, e.to_string()))?;
            files.push(path);
        }
        let data = Value::from(serde_json::json!({"opsdeck": {"config": config}}));
        engine
            .add_data(data.clone())
            .map_err(|e| PolicyError::Data {
                detail: e.to_string(),
            })?;
        engine.set_input(Value::from(serde_json::json!({})));
        engine
            .eval_query("data.opsdeck.rules".to_string(), false)
            .map_err(|e| PolicyError::Evaluate {
                detail: e.to_string(),
            })?;
        // Every deny/warn/info set of every opsdeck.rules package is an entry point.
        let packages = engine.get_packages().map_err(|e| PolicyError::Packages {
            detail: e.to_string(),
        })?;
        let mut entries = Vec::new();
        for pkg in packages
            .iter()
            .filter(|p| p.starts_with("data.opsdeck.rules."))
        {
            for (set, result) in [
                ("deny", GateResult::Deny),
                ("warn", GateResult::Warn),
                ("info", GateResult::Info),
            ] {
                let path = format!("{pkg}.{set}");
                if engine.eval_rule(path.clone()).is_ok() {
                    entries.push((path, result));
                }
            }
        }
        let vm = compile_vm(&mut engine, &entries, data).map(std::sync::Mutex::new);
        if vm.is_none() {
            tracing::warn!("policies fall back to the interpreter (the VM cannot compile them)");
        }
        Ok(PolicySet {
            vm,
            entries,
            engine: std::sync::Mutex::new(engine),
            files,
        })
    }

    /// Evaluates every `opsdeck.rules.*` package against `input`.
    pub fn evaluate(&self, input: &serde_json::Value) -> Result<Vec<Gate>> {
        match &self.vm {
            Some(vm) => {
                let mut vm = vm.lock().map_err(|_| PolicyError::Poisoned {
                    engine: "policy VM",
                })?;
                vm.set_input(Value::from(input.clone()));
                let mut gates = Vec::new();
                for (path, result) in &self.entries {
                    let v =
                        vm.execute_entry_point_by_name(path)
                            .map_err(|e| PolicyError::Rule {
                                rule: path.clone(),
                                detail: e.to_string(),
                            })?;
                    collect(&to_json(&v), *result, &mut gates);
                }
                Ok(sorted(gates))
            }
            None => self.evaluate_interpreted(input),
        }
    }

    /// The same evaluation through the interpreter (the reference the VM is tested against).
    pub fn evaluate_interpreted(&self, input: &serde_json::Value) -> Result<Vec<Gate>> {
        let mut engine = self.engine.lock().map_err(|_| PolicyError::Poisoned {
            engine: "policy engine",
        })?;
        engine.set_input(Value::from(input.clone()));
        let mut gates = Vec::new();
        for (path, result) in &self.entries {
            let v = engine
                .eval_rule(path.clone())
                .map_err(|e| PolicyError::Rule {
                    rule: path.clone(),
                    detail: e.to_string(),
                })?;
            collect(&to_json(&v), *result, &mut gates);
        }
        Ok(sorted(gates))
    }

    pub fn uses_vm(&self) -> bool {
        self.vm.is_some()
    }
}

/// Instructions one policy rule may execute per plan.
const MAX_INSTRUCTIONS: usize = 20_000_000;

fn compile_vm(
    engine: &mut Engine,
    entries: &[(String, GateResult)],
    data: Value,
) -> Option<RegoVM> {
    let first = entries.first()?;
    let compiled = engine
        .compile_with_entrypoint(&regorus::Rc::from(first.0.as_str()))
        .ok()?;
    let paths: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    let program = Compiler::compile_from_policy(&compiled, &paths).ok()?;
    let mut vm = RegoVM::new();
    vm.load_program(program);
    // regorus stops a rule after 25,000 instructions by default, which the starter set reaches
    // at about ten resources; this bound still stops a policy that runs away.
    vm.set_max_instructions(MAX_INSTRUCTIONS);
    vm.set_data(data).ok()?;
    Some(vm)
}

fn to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// Adds the `{rule, reason}` objects of one set to `gates`.
fn collect(set: &serde_json::Value, result: GateResult, gates: &mut Vec<Gate>) {
    for r in set.as_array().into_iter().flatten() {
        gates.push(Gate {
            rule: r
                .get("rule")
                .and_then(|x| x.as_str())
                .unwrap_or("policy.unnamed")
                .to_string(),
            result,
            reason: r
                .get("reason")
                .and_then(|x| x.as_str())
                .unwrap_or("(no reason given)")
                .to_string(),
        });
    }
}

fn sorted(mut gates: Vec<Gate>) -> Vec<Gate> {
    gates.sort_by(|a, b| {
        b.result
            .cmp(&a.result)
            .then(a.rule.cmp(&b.rule))
            .then(a.reason.cmp(&b.reason))
    });
    gates
}

/// One Rego unit test's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestOutcome {
    pub file: String,
    pub test: String,
    pub passed: bool,
    pub detail: String,
}

/// Runs `test_*` rules the way `opa test` does: each test file is loaded with every policy and
/// each of its `test_` rules must evaluate to `true`.
pub fn run_tests(policies: &[(String, String)], tests: &[(String, String)]) -> Vec<TestOutcome> {
    let mut out = Vec::new();
    for (file, src) in tests {
        let mut engine = Engine::new();
        let mut setup_error = None;
        for (name, p) in policies {
            if let Err(e) = engine.add_policy(name.clone(), p.clone()) {
                setup_error = Some(format!("{name}: {e}"));
            }
        }
        let package = match engine.add_policy(file.clone(), src.clone()) {
            Ok(p) => p,
            Err(e) => {
                setup_error = Some(format!("{file}: {e}"));
                String::new()
            }
        };
        let names = test_names(src);
        if let Some(err) = setup_error {
            out.push(TestOutcome {
                file: file.clone(),
                test: "(load)".into(),
                passed: false,
                detail: err,
            });
            continue;
        }
        for name in names {
            let rule = format!("{package}.{name}");
            let (passed, detail) = match engine.eval_rule(rule) {
                Ok(v) if v == Value::from(true) => (true, String::new()),
                Ok(v) => (false, format!("evaluated to {v}")),
                Err(e) => (false, e.to_string()),
            };
            out.push(TestOutcome {
                file: file.clone(),
                test: name,
                passed,
                detail,
            });
        }
    }
    out
}

/// Names of the `test_` rules defined in a test file.
fn test_names(src: &str) -> Vec<String> {
    let mut names: Vec<String> = src
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let name: String = l
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (name.starts_with("test_") && l[name.len()..].trim_start().starts_with("if"))
                .then_some(name)
        })
        .collect();
    names.dedup();
    names
}

pub fn starter_sources() -> Vec<(String, String)> {
    STARTER
        .iter()
        .map(|(n, s)| (format!("policies/{n}"), (*s).to_string()))
        .collect()
}

pub fn starter_test_sources() -> Vec<(String, String)> {
    STARTER_TESTS
        .iter()
        .map(|(n, s)| (format!("policies/{n}"), (*s).to_string()))
        .collect()
}
