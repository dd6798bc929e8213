package opsdeck.rules.instance_types_test

import data.opsdeck.rules.instance_types

_cfg := {"instance_types": {
	"prod": ["m5.large", "m5.xlarge", "db.r6g.large"],
	"*": ["t3.micro", "t3.small", "t3.medium", "db.t3.micro"],
}}

_results(inp) := ((d | w) | i) if {
	d := instance_types.deny with input as inp
	w := instance_types.warn with input as inp
	i := instance_types.info with input as inp
}

_of(inp, id) := [r | some r in _results(inp); r.rule == id]

_instance(type) := {
	"address": "aws_instance.web",
	"type": "aws_instance",
	"name": "web",
	"mode": "managed",
	"change": "create",
	"attributes": {"ami": "ami-123", "instance_type": type},
}

_db(cls) := {
	"address": "aws_db_instance.main",
	"type": "aws_db_instance",
	"mode": "managed",
	"change": "create",
	"attributes": {"engine": "postgres", "instance_class": cls},
}

_lt(attrs) := {
	"address": "aws_launch_template.lt",
	"type": "aws_launch_template",
	"mode": "managed",
	"change": "create",
	"attributes": attrs,
}

test_allowed_prod_type_passes if {
	_results({
		"plan": {"environment": "prod"},
		"resources": [_instance("m5.large")],
		"config": _cfg,
	}) == set()
}

test_disallowed_prod_type_denied if {
	res := _of(
		{
			"plan": {"environment": "prod"},
			"resources": [_instance("t3.micro")],
			"config": _cfg,
		},
		"instance_types.allowed",
	)
	count(res) == 1
	contains(res[0].reason, "aws_instance.web")
	contains(res[0].reason, "t3.micro")
	contains(res[0].reason, "environment prod")
}

test_unlisted_env_falls_back_to_star if {
	inp_ok := {"plan": {"environment": "staging"}, "resources": [_instance("t3.small")], "config": _cfg}
	_results(inp_ok) == set()
	inp_bad := {"plan": {"environment": "staging"}, "resources": [_instance("m5.large")], "config": _cfg}
	res := _of(inp_bad, "instance_types.allowed")
	count(res) == 1
	contains(res[0].reason, "default list")
}

test_null_environment_uses_star if {
	count(_of(
		{"plan": {"environment": null}, "resources": [_instance("m5.xlarge")], "config": _cfg},
		"instance_types.allowed",
	)) == 1
}

test_no_env_and_no_star_means_no_restriction if {
	_results({
		"plan": {"environment": "dev"},
		"resources": [_instance("x2iedn.32xlarge")],
		"config": {"instance_types": {"prod": ["m5.large"]}},
	}) == set()
}

test_empty_or_missing_map_means_no_restriction if {
	_results({
		"plan": {"environment": "prod"},
		"resources": [_instance("x2iedn.32xlarge")],
		"config": {"instance_types": {}},
	}) == set()
	_results({
		"plan": {"environment": "prod"},
		"resources": [_instance("x2iedn.32xlarge")],
		"config": {},
	}) == set()
}

test_empty_env_list_means_no_restriction if {
	_results({
		"plan": {"environment": "prod"},
		"resources": [_instance("x2iedn.32xlarge")],
		"config": {"instance_types": {"prod": [], "*": ["t3.micro"]}},
	}) == set()
}

test_db_instance_class_compared_literally if {
	_results({"plan": {"environment": "prod"}, "resources": [_db("db.r6g.large")], "config": _cfg}) == set()

	# "r6g.large" without the db. prefix is not the listed value.
	res := _of({"plan": {"environment": "prod"}, "resources": [_db("r6g.large")], "config": _cfg}, "instance_types.allowed")
	count(res) == 1
	contains(res[0].reason, "aws_db_instance.main")
	contains(res[0].reason, "instance_class")
}

test_launch_template_checked_and_optional if {
	count(_of(
		{"plan": {"environment": "prod"}, "resources": [_lt({"instance_type": "c5.large"})], "config": _cfg},
		"instance_types.allowed",
	)) == 1
	_results({"plan": {"environment": "prod"}, "resources": [_lt({"image_id": "ami-1"})], "config": _cfg}) == set()
}

test_one_result_per_offending_resource if {
	other := object.union(_instance("c5.large"), {"address": "aws_instance.worker"})
	count(_of(
		{"plan": {"environment": "prod"}, "resources": [_instance("m5.large"), _instance("t3.micro"), other], "config": _cfg},
		"instance_types.allowed",
	)) == 2
}

test_deleted_and_data_resources_ignored if {
	deleted := object.union(_instance("c5.large"), {"change": "delete"})
	data_source := object.union(_instance("c5.large"), {"mode": "data"})
	_results({"plan": {"environment": "prod"}, "resources": [deleted, data_source], "config": _cfg}) == set()
}

test_malformed_input_does_not_error if {
	# the engine evaluates whole packages (data.opsdeck.rules), helpers included
	every garbage in _garbage_inputs {
		doc := instance_types with input as garbage
		is_object(doc)
	}
	_results({
		"plan": {"environment": 3},
		"resources": [null, {"type": "aws_instance", "attributes": {"instance_type": 5}}, {"type": 7}],
		"config": {"instance_types": {"*": "t3.micro"}},
	}) == set()
	_results({"plan": null, "resources": {}, "config": {"instance_types": ["t3.micro"]}}) == set()
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
