//! `cargo bench --bench iac`: time from request to reviewed plan when the plan carries its dry
//! runs, with the real tools (no provider downloads: terraform_data, or an empty provider mirror).
//!
//! - hybrid, submitted: Terraform (terraform_data) + playbook → `terraform init/plan -out/show
//!   -json` and `ansible-playbook --syntax-check`, run side by side, then the plan is stored
//! - hybrid, in plain language: "Create 2 EC2 instances with nginx" → the AWS provider is not
//!   installable (empty mirror), so the plan falls back to the template's resources; syntax check
//! - configuration with a check run: `--syntax-check` + `--check --diff` on this machine
//! - for comparison, the same hybrid with each dry run alone
//!
//! Needs terraform on PATH and ansible-playbook (OPSDECK_TEST_ANSIBLE_BIN or PATH); parts whose
//! tool is missing print SKIP.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use opsdeck::pipeline::{Deck, OpenOptions, RequestOptions, Submission};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(label: &str, mut lat: Vec<Duration>) {
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label} ({} runs): p50 {:.0} ms, p90 {:.0} ms, min {:.0} ms, max {:.0} ms",
        lat.len(),
        ms(p(0.5)),
        ms(p(0.9)),
        ms(lat[0]),
        ms(*lat.last().unwrap())
    );
}

fn ansible() -> Option<PathBuf> {
    std::env::var_os("OPSDECK_TEST_ANSIBLE_BIN")
        .map(|d| PathBuf::from(d).join("ansible-playbook"))
        .filter(|p| p.is_file())
        .or_else(|| opsdeck::exec::find_binary("ansible-playbook"))
}

fn deck(home: &Path, config: &str) -> Deck {
    std::fs::write(home.join("config.toml"), config).unwrap();
    Deck::open(OpenOptions {
        home: Some(home.to_path_buf()),
        user: Some("bench".into()),
        ..OpenOptions::default()
    })
    .unwrap()
}

fn main() {
    // SAFETY: set before any thread starts; terraform must never read a user CLI config here.
    unsafe {
        std::env::set_var("TF_CLI_CONFIG_FILE", "/dev/null");
        std::env::set_var("CHECKPOINT_DISABLE", "1");
    }
    let Some(tf) = opsdeck::exec::find_binary("terraform") else {
        println!("SKIP: no terraform on PATH");
        return;
    };
    let Some(ans) = ansible() else {
        println!("SKIP: no ansible-playbook (set OPSDECK_TEST_ANSIBLE_BIN)");
        return;
    };
    let q = |p: &Path| serde_json::Value::String(p.display().to_string()).to_string();
    let work = tempfile::tempdir().unwrap();
    let mirror = work.path().join("no-providers");
    std::fs::create_dir_all(&mirror).unwrap();
    let tf_dir = work.path().join("tf");
    std::fs::create_dir_all(&tf_dir).unwrap();
    std::fs::write(
        tf_dir.join("main.tf"),
        "resource \"terraform_data\" \"web\" {\n  count = 3\n  input = \"127.0.0.1\"\n}\n\noutput \"private_ips\" {\n  value = terraform_data.web[*].output\n}\n",
    )
    .unwrap();
    let playbook = work.path().join("web.yml");
    std::fs::write(
        &playbook,
        "- name: web\n  hosts: all\n  become: true\n  tasks:\n    - name: nginx\n      ansible.builtin.package:\n        name: nginx\n        state: present\n",
    )
    .unwrap();
    let inventory = work.path().join("hosts.yml");
    std::fs::write(
        &inventory,
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n      ansible_become: false\n",
    )
    .unwrap();
    let both = format!(
        "[exec]\nterraform = {}\nansible_playbook = {}\nprovider_mirror = {}\n",
        q(&tf),
        q(&ans),
        q(&mirror)
    );
    let runs = 10;

    // 1. Hybrid, submitted: both dry runs, side by side.
    let home = tempfile::tempdir().unwrap();
    let d = deck(home.path(), &both);
    let sub = Submission {
        terraform: Some(tf_dir.clone()),
        stack: Some("web".into()),
        playbook: Some(playbook.clone()),
        inventory: None,
    };
    d.requests().submit(&sub, &|_| {}).unwrap();
    let mut lat = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let rec = d.requests().submit(&sub, &|_| {}).unwrap();
        lat.push(t.elapsed());
        assert_eq!(rec.plan.dry_runs.len(), 2);
    }
    stats(
        "hybrid submit → reviewed plan (terraform init/plan/show ‖ ansible --syntax-check)",
        lat,
    );

    // 1b. Each dry run alone, for comparison with the overlap.
    let tf_only = Submission {
        playbook: None,
        ..sub.clone()
    };
    let mut lat = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        d.requests().submit(&tf_only, &|_| {}).unwrap();
        lat.push(t.elapsed());
    }
    stats("  terraform part alone (submit without the playbook)", lat);
    let pb_only = Submission {
        terraform: None,
        stack: None,
        playbook: Some(playbook.clone()),
        inventory: Some(inventory.clone()),
    };
    let home_nocheck = tempfile::tempdir().unwrap();
    let d_nocheck = deck(
        home_nocheck.path(),
        &format!("{both}ansible_check_at_plan = false\n"),
    );
    let mut lat = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        d_nocheck.requests().submit(&pb_only, &|_| {}).unwrap();
        lat.push(t.elapsed());
    }
    stats("  ansible part alone (--syntax-check only)", lat);

    // 2. Hybrid in plain language, AWS provider not installable.
    let mut lat = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let rec = d
            .requests()
            .ask("Create 2 EC2 instances with nginx in eu-west-1", &|_| {})
            .unwrap();
        lat.push(t.elapsed());
        assert_eq!(rec.plan.steps.len(), 2);
    }
    stats(
        "\"Create 2 EC2 instances with nginx\" → reviewed plan (provider unavailable: template resources; syntax check)",
        lat,
    );

    // 3. Configuration with a check run on this machine.
    let opts = RequestOptions {
        inventory: Some(inventory.clone()),
        ..RequestOptions::default()
    };
    let mut lat = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        d.requests()
            .request_with("add user benchuser on the dev servers", &opts, &|_| {})
            .unwrap();
        lat.push(t.elapsed());
    }
    stats(
        "\"add user benchuser on the dev servers\" --inventory → reviewed plan (--syntax-check + --check --diff on localhost)",
        lat,
    );
}
