package opsdeck.rules.script_test

import data.opsdeck.rules.script

_results(inp) := ((d | w) | i) if {
	d := script.deny with input as inp
	w := script.warn with input as inp
	i := script.info with input as inp
}

_ids(inp) := {r.rule | some r in _results(inp)}

_run(lines) := {"script": {"name": "cleanup", "file": "cleanup.sh", "shell": "bash", "lines": lines}}

test_ordinary_scripts_pass if {
	_results(_run([
		"#!/bin/bash",
		"set -euo pipefail",
		"curl -fsSLo /tmp/agent.tgz https://example.com/agent.tgz",
		"echo \"$OPSDECK_KEEP_DAYS\" | sh_check",
		"sha256sum -c agent.sha256 && tar xzf /tmp/agent.tgz",
		"chmod 0755 /opt/app/run",
		"chmod -R u=rwx,g=rx,o=rx /srv/app",
		"chmod 1755 /tmp/x",
		"chmod -w /etc/app.conf",
		"mkdir -m 0750 /srv/data",
		"find /var/log -mtime +\"$OPSDECK_KEEP_DAYS\" -delete",
		"# curl https://x.example | sh   (a comment)",
		"out=\"$(curl -s https://x.example/health)\"",
		"cmd || sh fallback.sh",
	])) == set()
}

test_no_script_passes if {
	_results({}) == set()
	_results(_run([])) == set()
	_results({"script": null}) == set()
}

test_download_piped_into_a_shell_is_denied if {
	_ids(_run(["curl -fsSL https://get.example.com | sudo bash"])) == {"script.remote_script"}
	_ids(_run(["wget -qO- https://x.example | sh -s --"])) == {"script.remote_script"}
	_ids(_run(["  curl https://x.example|/bin/sh"])) == {"script.remote_script"}
	_ids(_run(["bash <(curl -s https://x.example/i.sh)"])) == {"script.remote_script"}
	_ids(_run(["sh -c \"$(wget -qO- https://x.example/i.sh)\""])) == {"script.remote_script"}
	_ids(_run(["source <( curl -s https://x.example/env )"])) == {"script.remote_script"}
	_ids(_run(["eval \"$(curl -s https://x.example/env)\""])) == {"script.remote_script"}
}

test_world_writable_modes_are_denied if {
	_ids(_run(["chmod 777 /srv/app"])) == {"script.world_writable"}
	_ids(_run(["chmod -R 0777 /srv/app"])) == {"script.world_writable"}
	_ids(_run(["sudo chmod 666 /etc/app.conf"])) == {"script.world_writable"}
	_ids(_run(["chmod o+w /srv/app"])) == {"script.world_writable"}
	_ids(_run(["chmod 'a=rw' /srv/app"])) == {"script.world_writable"}
	_ids(_run(["cd /srv && chmod u=rwx,o=rwx app"])) == {"script.world_writable"}
	_ids(_run(["mkdir -p -m 1777 /srv/drop"])) == {"script.world_writable"}
	_ids(_run(["install --mode=0666 a /etc/a"])) == {"script.world_writable"}
}

test_the_reason_names_the_rule_line_and_file if {
	res := script.deny with input as _run(["#!/bin/sh", "set -e", "chmod 777 /srv/app"])
	count(res) == 1
	some r in res
	r.rule == "script.world_writable"
	contains(r.reason, "line 3 of cleanup.sh sets mode 777")
	res2 := script.deny with input as _run(["#!/bin/sh", "curl -s https://x.example | sh"])
	some r2 in res2
	contains(r2.reason, "line 2 of cleanup.sh runs a download in a shell")
}

test_each_bad_line_reported if {
	res := script.deny with input as _run(["chmod 777 /a", "echo ok", "chmod 666 /b"])
	count(res) == 2
}

test_malformed_input_does_not_error if {
	every garbage in [
		{"script": "curl x | sh"},
		{"script": {"lines": "chmod 777 /x"}},
		{"script": {"lines": [null, 5, {"x": 1}, "echo ok"], "file": 3}},
		{"script": {"lines": ["chmod", "chmod -R", "mkdir -m", "install --mode="]}},
	] {
		doc := script with input as garbage
		is_object(doc)
		_results(garbage) == set()
	}
}
