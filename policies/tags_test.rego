package opsdeck.rules.tags_test

import data.opsdeck.rules.tags

_cfg := {"required_tags": ["Environment", "ManagedBy"]}

_results(inp) := ((d | w) | i) if {
	d := tags.deny with input as inp
	w := tags.warn with input as inp
	i := tags.info with input as inp
}

_of(inp, id) := [r | some r in _results(inp); r.rule == id]

_res(type, name, attrs) := {
	"address": sprintf("%s.%s", [type, name]),
	"type": type,
	"name": name,
	"mode": "managed",
	"change": "create",
	"attributes": attrs,
}

test_resource_tags_satisfy_requirement if {
	_results({
		"resources": [_res("aws_instance", "web", {"tags": {"Environment": "prod", "ManagedBy": "opsdeck", "Name": "web"}})],
		"config": _cfg,
	}) == set()
}

test_default_tags_satisfy_requirement if {
	_results({
		"provider": {"region": "ap-south-1", "default_tags": {"ManagedBy": "opsdeck", "Environment": "prod"}},
		"resources": [_res("aws_vpc", "main", {"cidr_block": "10.0.0.0/16"})],
		"config": _cfg,
	}) == set()
}

test_default_tags_merged_with_resource_tags if {
	_results({
		"provider": {"default_tags": {"ManagedBy": "opsdeck"}},
		"resources": [_res("aws_instance", "web", {"tags": {"Environment": "dev"}})],
		"config": _cfg,
	}) == set()
}

test_missing_tags_denied_and_listed if {
	res := _of(
		{
			"provider": {"default_tags": {}},
			"resources": [_res("aws_instance", "web", {"tags": {"Name": "web"}})],
			"config": _cfg,
		},
		"tags.required",
	)
	count(res) == 1
	contains(res[0].reason, "aws_instance.web")
	contains(res[0].reason, "Environment, ManagedBy")
}

test_only_the_missing_key_is_listed if {
	res := _of(
		{
			"provider": {"default_tags": {"ManagedBy": "opsdeck"}},
			"resources": [_res("aws_s3_bucket", "logs", {"bucket": "logs"})],
			"config": _cfg,
		},
		"tags.required",
	)
	count(res) == 1
	endswith(res[0].reason, "missing required tags: Environment")
}

test_tag_keys_are_case_sensitive if {
	count(_of(
		{
			"resources": [_res("aws_instance", "web", {"tags": {"environment": "prod", "ManagedBy": "opsdeck"}})],
			"config": _cfg,
		},
		"tags.required",
	)) == 1
}

test_non_taggable_types_skipped if {
	_results({
		"resources": [
			_res("aws_route_table_association", "a", {"subnet_id": "${aws_subnet.a.id}"}),
			_res("aws_route", "r", {"destination_cidr_block": "0.0.0.0/0"}),
			_res("aws_security_group_rule", "ssh", {"type": "ingress"}),
			_res("aws_iam_role_policy_attachment", "p", {"role": "x"}),
			_res("aws_lb_target_group_attachment", "t", {"port": 80}),
			_res("aws_s3_bucket_versioning", "v", {"bucket": "b"}),
			_res("aws_s3_bucket_server_side_encryption_configuration", "e", {"bucket": "b"}),
			_res("aws_s3_bucket_public_access_block", "p", {"bucket": "b"}),
			_res("aws_s3_bucket_ownership_controls", "o", {"bucket": "b"}),
		],
		"config": _cfg,
	}) == set()
}

test_lb_listener_is_taggable if {
	count(_of(
		{"resources": [_res("aws_lb_listener", "https", {"port": 443})], "config": _cfg},
		"tags.required",
	)) == 1
}

test_one_result_per_untagged_resource if {
	count(_of(
		{
			"resources": [
				_res("aws_instance", "a", {}),
				_res("aws_instance", "b", {"tags": {"Environment": "prod", "ManagedBy": "opsdeck"}}),
				_res("aws_ebs_volume", "c", {"size": 10}),
			],
			"config": _cfg,
		},
		"tags.required",
	)) == 2
}

test_autoscaling_group_tag_blocks_count if {
	_results({
		"resources": [_res("aws_autoscaling_group", "asg", {"tag": [
			{"key": "Environment", "value": "prod", "propagate_at_launch": true},
			{"key": "ManagedBy", "value": "opsdeck", "propagate_at_launch": true},
		]})],
		"config": _cfg,
	}) == set()
}

test_deleted_data_and_non_aws_resources_skipped if {
	deleted := object.union(_res("aws_instance", "old", {}), {"change": "delete"})
	data_source := object.union(_res("aws_ami", "ubuntu", {}), {"mode": "data"})
	_results({
		"resources": [deleted, data_source, _res("random_id", "suffix", {"byte_length": 4})],
		"config": _cfg,
	}) == set()
}

test_empty_required_tags_requires_nothing if {
	_results({"resources": [_res("aws_instance", "web", {})], "config": {"required_tags": []}}) == set()
	_results({"resources": [_res("aws_instance", "web", {})]}) == set()
}

test_malformed_input_does_not_error if {
	# the engine evaluates whole packages (data.opsdeck.rules), helpers included
	every garbage in _garbage_inputs {
		doc := tags with input as garbage
		is_object(doc)
	}
	res := _results({
		"provider": {"default_tags": "oops"},
		"resources": [
			null,
			{"type": 5},
			_res("aws_instance", "x", {"tags": "${local.tags}"}),
			_res("aws_autoscaling_group", "g", {"tag": "x"}),
		],
		"config": {"required_tags": ["Environment", 3]},
	})
	count(res) == 2
	_results({"provider": null, "resources": "x", "config": {"required_tags": "Environment"}}) == set()
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
