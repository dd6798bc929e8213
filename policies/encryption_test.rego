package opsdeck.rules.encryption_test

import data.opsdeck.rules.encryption

_results(inp) := ((d | w) | i) if {
	d := encryption.deny with input as inp
	w := encryption.warn with input as inp
	i := encryption.info with input as inp
}

_of(inp, id) := [r | some r in _results(inp); r.rule == id]

_ids(inp) := {r.rule | some r in _results(inp)}

_res(type, name, attrs) := {
	"address": sprintf("%s.%s", [type, name]),
	"type": type,
	"name": name,
	"mode": "managed",
	"change": "create",
	"attributes": attrs,
}

_bucket := _res("aws_s3_bucket", "logs", {"bucket": "acme-logs"})

_sse := _res("aws_s3_bucket_server_side_encryption_configuration", "logs", {
	"bucket": "${aws_s3_bucket.logs.id}",
	"rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}}],
})

test_fully_encrypted_plan_passes if {
	_results({"resources": [
		_bucket,
		_sse,
		_res("aws_ebs_volume", "data", {"size": 20, "encrypted": true}),
		_res("aws_instance", "web", {"instance_type": "t3.micro", "root_block_device": {"encrypted": true}}),
		_res("aws_db_instance", "db", {"instance_class": "db.t3.micro", "storage_encrypted": true}),
		_res("aws_rds_cluster", "aurora", {"engine": "aurora-postgresql", "storage_encrypted": true}),
	]}) == set()
}

test_bucket_without_sse_denied if {
	res := _of({"resources": [_bucket]}, "encryption.s3")
	count(res) == 1
	contains(res[0].reason, "aws_s3_bucket.logs")
}

test_sse_for_other_bucket_does_not_cover if {
	other := _res("aws_s3_bucket", "data", {"bucket": "acme-data"})
	res := _of({"resources": [_bucket, other, _sse]}, "encryption.s3")
	count(res) == 1
	contains(res[0].reason, "aws_s3_bucket.data")
}

test_inline_sse_block_counts if {
	bucket := _res("aws_s3_bucket", "legacy", {"server_side_encryption_configuration": [{"rule": [{}]}]})
	_results({"resources": [bucket]}) == set()
}

test_ebs_volume_unencrypted_denied if {
	every attrs in [{"size": 20}, {"size": 20, "encrypted": false}, {"encrypted": "${var.enc}"}] {
		res := _of({"resources": [_res("aws_ebs_volume", "data", attrs)]}, "encryption.ebs")
		count(res) == 1
		contains(res[0].reason, "aws_ebs_volume.data")
	}
}

test_root_block_device_object_and_list_forms if {
	_results({"resources": [_res("aws_instance", "a", {"root_block_device": {"encrypted": true}})]}) == set()
	_results({"resources": [_res("aws_instance", "b", {"root_block_device": [{"encrypted": true, "volume_size": 30}]})]}) == set()
	_results({"resources": [_res("aws_instance", "c", {"root_block_device": [{"encrypted": "true"}]})]}) == set()

	res_obj := _of({"resources": [_res("aws_instance", "d", {"root_block_device": {"encrypted": false}})]}, "encryption.ebs")
	count(res_obj) == 1
	contains(res_obj[0].reason, "aws_instance.d root_block_device")

	res_list := _of({"resources": [_res("aws_instance", "e", {"root_block_device": [{"volume_size": 30}]})]}, "encryption.ebs")
	count(res_list) == 1
	contains(res_list[0].reason, "encrypted = unset")
}

test_instance_without_root_block_device_denied if {
	every attrs in [{"instance_type": "t3.micro"}, {"root_block_device": []}] {
		res := _of({"resources": [_res("aws_instance", "web", attrs)]}, "encryption.ebs")
		count(res) == 1
		contains(res[0].reason, "no root_block_device")
	}
}

test_unencrypted_ebs_block_device_denied if {
	inst := _res("aws_instance", "web", {
		"root_block_device": {"encrypted": true},
		"ebs_block_device": [
			{"device_name": "/dev/sdf", "encrypted": true},
			{"device_name": "/dev/sdg", "volume_size": 100},
		],
	})
	res := _of({"resources": [inst]}, "encryption.ebs")
	count(res) == 1
	contains(res[0].reason, "/dev/sdg")
}

test_rds_unencrypted_denied if {
	db := _res("aws_db_instance", "main", {"instance_class": "db.t3.micro"})
	cluster := _res("aws_rds_cluster", "aurora", {"storage_encrypted": false})
	res := _of({"resources": [db, cluster]}, "encryption.rds")
	count(res) == 2
	some r in res
	contains(r.reason, "aws_rds_cluster.aurora")
}

test_deleted_resources_ignored if {
	_results({"resources": [
		object.union(_bucket, {"change": "delete"}),
		object.union(_res("aws_ebs_volume", "old", {"encrypted": false}), {"change": "delete"}),
		object.union(_res("aws_db_instance", "old", {}), {"change": "delete"}),
	]}) == set()
}

test_data_sources_ignored if {
	_results({"resources": [object.union(_res("aws_instance", "existing", {}), {"mode": "data"})]}) == set()
}

test_malformed_input_does_not_error if {
	# the engine evaluates whole packages (data.opsdeck.rules), helpers included
	every garbage in _garbage_inputs {
		doc := encryption with input as garbage
		is_object(doc)
	}
	res := _results({"resources": [
		null,
		{"type": "aws_instance", "attributes": {"root_block_device": "x", "ebs_block_device": [1, null]}},
		{"type": "aws_ebs_volume", "attributes": null},
		{"type": "aws_s3_bucket", "attributes": {"server_side_encryption_configuration": "x"}},
	]})
	_ids({"resources": [{"type": "aws_ebs_volume", "attributes": null}]}) == {"encryption.ebs"}
	is_set(res)
	_results({"resources": 5}) == set()
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
