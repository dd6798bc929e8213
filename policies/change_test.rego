package opsdeck.rules.change_test

import data.opsdeck.rules.change

_results(inp) := ((d | w) | i) if {
	d := change.deny with input as inp
	w := change.warn with input as inp
	i := change.info with input as inp
}

_of(inp, id) := [r | some r in _results(inp); r.rule == id]

_ids(inp) := {r.rule | some r in _results(inp)}

_res(address, change) := {"address": address, "type": "aws_instance", "name": "x", "mode": "managed", "change": change, "attributes": {}}

test_staging_create_has_no_notices if {
	_results({
		"plan": {"action": "create", "mutates": true, "environment": "staging"},
		"resources": [_res("aws_instance.web", "create")],
	}) == set()
}

test_destroy_action_warned if {
	res := _of({"plan": {"action": "destroy", "mutates": true, "environment": "dev"}, "resources": []}, "change.destroy")
	count(res) == 1
	contains(res[0].reason, "destroy")
}

test_deleted_resources_warned_once_with_addresses if {
	inp := {
		"plan": {"action": "apply", "mutates": true, "environment": "dev"},
		"resources": [_res("aws_instance.b", "delete"), _res("aws_instance.a", "delete"), _res("aws_instance.c", "create")],
	}
	res := _of(inp, "change.destroy")
	count(res) == 1
	contains(res[0].reason, "2 resource(s): aws_instance.a, aws_instance.b")
	_ids(inp) == {"change.destroy"}
}

test_destroy_action_with_resources_names_them if {
	res := _of({"plan": {"action": "destroy", "mutates": true}, "resources": [_res("aws_instance.web", "delete")]}, "change.destroy")
	count(res) == 1
	contains(res[0].reason, "aws_instance.web")
}

test_production_mutation_warned if {
	res := _of({"plan": {"action": "scale", "mutates": true, "environment": "prod", "stack": "web-1"}}, "change.production")
	count(res) == 1
	contains(res[0].reason, "scale")
	contains(res[0].reason, "web-1")
	_ids({"plan": {"action": "scale", "mutates": true, "environment": "prod"}}) == {"change.production"}
}

test_production_missing_mutates_counts_as_mutating if {
	_ids({"plan": {"action": "restart", "environment": "prod"}}) == {"change.production"}
}

test_read_only_plan_is_info_only if {
	inp := {"plan": {"action": "run", "mutates": false, "environment": "prod"}, "commands": ["df -h"]}
	_ids(inp) == {"change.read_only"}
	deny := change.deny with input as inp
	warn := change.warn with input as inp
	count(deny) == 0
	count(warn) == 0
}

test_non_prod_environments_not_flagged if {
	every env in ["staging", "dev", "qa", "test", "uat", "sandbox", null] {
		_results({"plan": {"action": "update", "mutates": true, "environment": env}}) == set()
	}
}

test_data_source_reads_not_destroys if {
	data_source := object.union(_res("aws_ami.ubuntu", "delete"), {"mode": "data"})
	_results({"plan": {"action": "apply", "mutates": true}, "resources": [data_source]}) == set()
}

test_malformed_input_does_not_error if {
	# the engine evaluates whole packages (data.opsdeck.rules), helpers included
	every garbage in _garbage_inputs {
		doc := change with input as garbage
		is_object(doc)
	}
	_ids({"plan": {"action": 5, "mutates": "no", "environment": "prod", "stack": 3}, "resources": [null, {"change": "delete"}]}) == {"change.destroy", "change.production"}
	_results({"plan": null, "resources": "x"}) == set()
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
