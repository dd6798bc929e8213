package opsdeck.rules.regions_test

import data.opsdeck.rules.regions

_cfg := {"allowed_regions": ["ap-south-1", "eu-west-1"]}

_results(inp) := ((d | w) | i) if {
	d := regions.deny with input as inp
	w := regions.warn with input as inp
	i := regions.info with input as inp
}

_of(inp, id) := [r | some r in _results(inp); r.rule == id]

test_allowed_region_passes if {
	_results({
		"plan": {"region": "ap-south-1"},
		"provider": {"region": "ap-south-1"},
		"config": _cfg,
	}) == set()
}

test_disallowed_plan_region_denied if {
	res := _of(
		{
			"plan": {"region": "us-east-1"},
			"provider": {"region": "us-east-1"},
			"config": _cfg,
		},
		"regions.allowed",
	)
	count(res) == 1
	contains(res[0].reason, "us-east-1")
	contains(res[0].reason, "ap-south-1, eu-west-1")
}

test_null_plan_region_falls_back_to_provider if {
	count(_of(
		{
			"plan": {"region": null},
			"provider": {"region": "us-west-2"},
			"config": _cfg,
		},
		"regions.allowed",
	)) == 1
}

test_provider_region_checked_even_when_plan_region_allowed if {
	res := _of(
		{
			"plan": {"region": "eu-west-1"},
			"provider": {"region": "us-west-2"},
			"config": _cfg,
		},
		"regions.allowed",
	)
	count(res) == 1
	contains(res[0].reason, "us-west-2")
}

test_empty_allowed_list_allows_any_region if {
	_results({
		"plan": {"region": "us-east-1"},
		"provider": {"region": "us-east-1"},
		"config": {"allowed_regions": []},
	}) == set()
}

test_missing_config_allows_any_region if {
	_results({"plan": {"region": "us-east-1"}}) == set()
}

test_no_region_anywhere_passes if {
	_results({"plan": {"region": null}, "provider": {}, "config": _cfg}) == set()
}

test_resource_level_region_denied if {
	res := _of(
		{
			"plan": {"region": "ap-south-1"},
			"provider": {"region": "ap-south-1"},
			"resources": [{
				"address": "aws_s3_bucket.replica",
				"type": "aws_s3_bucket",
				"mode": "managed",
				"change": "create",
				"attributes": {"bucket": "x", "region": "us-east-1"},
			}],
			"config": _cfg,
		},
		"regions.allowed",
	)
	count(res) == 1
	contains(res[0].reason, "aws_s3_bucket.replica")
}

test_deleted_resource_region_ignored if {
	_results({
		"plan": {"region": "ap-south-1"},
		"resources": [{
			"address": "aws_s3_bucket.old",
			"type": "aws_s3_bucket",
			"mode": "managed",
			"change": "delete",
			"attributes": {"region": "us-east-1"},
		}],
		"config": _cfg,
	}) == set()
}

test_malformed_input_does_not_error if {
	# the engine evaluates whole packages (data.opsdeck.rules), helpers included
	every garbage in _garbage_inputs {
		doc := regions with input as garbage
		is_object(doc)
	}
	res := _results({
		"plan": {"region": 5},
		"provider": null,
		"resources": [null, 3, {"attributes": "x"}, {"attributes": {"region": 7}}],
		"config": {"allowed_regions": "ap-south-1"},
	})
	res == set()
	_results({"plan": null, "resources": null, "config": null}) == set()
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
