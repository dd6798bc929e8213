package opsdeck.rules.ansible_test

import data.opsdeck.rules.ansible

_results(inp) := ((d | w) | i) if {
	d := ansible.deny with input as inp
	w := ansible.warn with input as inp
	i := ansible.info with input as inp
}

_ids(inp) := {r.rule | some r in _results(inp)}

_run(tasks) := {"ansible": {"tasks": tasks}}

_task(module, args) := {"file": "site.yml", "play": "p", "name": "t", "module": module, "args": args}

test_ordinary_tasks_pass if {
	_results(_run([
		_task("shell", "curl -fsSLo /tmp/x https://example.com/x"),
		_task("command", {"cmd": "sh /opt/app/install.sh"}),
		_task("copy", {"dest": "/etc/x", "mode": "0644"}),
		_task("file", {"path": "/srv", "mode": "u=rwx,g=rx,o=rx"}),
		_task("file", {"path": "/tmp/x", "mode": "1755"}),
	])) == set()
}

test_no_playbook_passes if {
	_results({}) == set()
	_results(_run([])) == set()
}

test_download_piped_into_a_shell_is_denied if {
	_ids(_run([_task("shell", "curl -fsSL https://get.example.com | sudo bash")])) == {"ansible.remote_script"}
	_ids(_run([_task("command", {"cmd": "wget -qO- https://x.example | sh -s --"})])) == {"ansible.remote_script"}
	_ids(_run([_task("raw", "curl https://x.example|sh")])) == {"ansible.remote_script"}
}

test_world_writable_modes_are_denied if {
	_ids(_run([_task("file", {"path": "/srv/app", "mode": "0777"})])) == {"ansible.world_writable"}
	_ids(_run([_task("copy", {"dest": "/etc/app.conf", "mode": "666"})])) == {"ansible.world_writable"}
	_ids(_run([_task("file", {"path": "/srv/app", "mode": "u=rwx,o+w"})])) == {"ansible.world_writable"}
	_ids(_run([_task("template", {"dest": "/srv/app", "mode": "a=rw"})])) == {"ansible.world_writable"}
}

test_the_reason_names_the_task_and_file if {
	some r in ansible.deny with input as _run([_task("file", {"path": "/srv/app", "mode": "0777"})])
	contains(r.reason, "\"t\" in site.yml sets mode 0777")
}
