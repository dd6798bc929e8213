package opsdeck.rules.iam_test

import data.opsdeck.rules.iam

_cfg := {"pipeline_role": "opsdeck-pipeline"}

_results(inp) := ((d | w) | i) if {
	d := iam.deny with input as inp
	w := iam.warn with input as inp
	i := iam.info with input as inp
}

_of(inp, id) := [r | some r in _results(inp); r.rule == id]

_res(type, name, change) := {
	"address": sprintf("%s.%s", [type, name]),
	"type": type,
	"name": name,
	"mode": "managed",
	"change": change,
	"attributes": {},
}

_role := _res("aws_iam_role", "app", "create")

test_non_iam_plan_passes if {
	_results({
		"plan": {"requester": "alice", "requester_roles": ["operator"]},
		"resources": [_res("aws_instance", "web", "create")],
		"iam_actions": ["ec2:DescribeInstances", "s3:GetObject"],
		"config": _cfg,
	}) == set()
}

test_iam_resource_by_operator_denied if {
	res := _of(
		{"plan": {"requester": "alice", "requester_roles": ["operator"]}, "resources": [_role], "config": _cfg},
		"iam.pipeline_only",
	)
	count(res) == 1
	contains(res[0].reason, "aws_iam_role.app")
	contains(res[0].reason, "alice")
	contains(res[0].reason, "opsdeck-pipeline")
}

test_deleted_iam_resource_denied if {
	res := _of(
		{"plan": {"requester": "alice"}, "resources": [_res("aws_iam_policy", "old", "delete")], "config": _cfg},
		"iam.pipeline_only",
	)
	count(res) == 1
	contains(res[0].reason, "delete")
}

test_pipeline_requester_allowed if {
	_results({"plan": {"requester": "opsdeck-pipeline", "requester_roles": []}, "resources": [_role], "iam_actions": ["iam:CreateRole"], "config": _cfg}) == set()
}

test_pipeline_role_in_requester_roles_allowed if {
	_results({"plan": {"requester": "ci-bot", "requester_roles": ["deployer", "opsdeck-pipeline"]}, "resources": [_role], "config": _cfg}) == set()
}

test_iam_actions_denied if {
	res := _of(
		{"plan": {"requester": "bob", "requester_roles": ["security"]}, "iam_actions": ["iam:CreateUser", "IAM:AttachUserPolicy", "sts:GetCallerIdentity"], "config": _cfg},
		"iam.pipeline_only",
	)
	count(res) == 2
	some r in res
	contains(r.reason, "iam:CreateUser")
}

test_wildcard_action_counts_as_iam if {
	count(_of({"plan": {"requester": "bob"}, "iam_actions": ["*"], "config": _cfg}, "iam.pipeline_only")) == 1
}

test_iam_prefix_must_be_exact if {
	# aws_iam_ is the prefix, not aws_iam (e.g. a hypothetical aws_iamx_ type) and not data sources
	data_source := object.union(_res("aws_iam_policy_document", "doc", "create"), {"mode": "data"})
	_results({"plan": {"requester": "alice"}, "resources": [data_source, _res("aws_iamx_thing", "x", "create")], "iam_actions": ["iamx:Do"], "config": _cfg}) == set()
}

test_no_pipeline_role_configured_blocks_everyone if {
	res := _of({"plan": {"requester": "opsdeck-pipeline"}, "resources": [_role], "config": {}}, "iam.pipeline_only")
	count(res) == 1
	contains(res[0].reason, "no pipeline_role is configured")
	count(_of({"plan": {"requester": ""}, "resources": [_role], "config": {"pipeline_role": ""}}, "iam.pipeline_only")) == 1
}

test_malformed_input_does_not_error if {
	# the engine evaluates whole packages (data.opsdeck.rules), helpers included
	every garbage in _garbage_inputs {
		doc := iam with input as garbage
		is_object(doc)
	}
	res := _results({
		"plan": {"requester": 5, "requester_roles": "opsdeck-pipeline"},
		"resources": [null, {"type": 3}, {"type": "aws_iam_user"}],
		"iam_actions": [null, 7, "iam:ListUsers"],
		"config": {"pipeline_role": ["opsdeck-pipeline"]},
	})
	count(res) == 2
	_results({"plan": null, "resources": null, "iam_actions": "iam:CreateUser", "config": null}) == set()
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
