package opsdeck.rules.s3_test

import data.opsdeck.rules.s3

_results(inp) := ((d | w) | i) if {
	d := s3.deny with input as inp
	w := s3.warn with input as inp
	i := s3.info with input as inp
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

_pab := _res("aws_s3_bucket_public_access_block", "logs", {
	"bucket": "${aws_s3_bucket.logs.id}",
	"block_public_acls": true,
	"block_public_policy": true,
	"ignore_public_acls": true,
	"restrict_public_buckets": true,
})

_private_policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/reader"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-logs/*"}]}`

test_private_bucket_passes if {
	_results({"resources": [
		_bucket,
		_pab,
		_res("aws_s3_bucket_acl", "logs", {"bucket": "${aws_s3_bucket.logs.id}", "acl": "private"}),
		_res("aws_s3_bucket_policy", "logs", {"bucket": "${aws_s3_bucket.logs.id}", "policy": _private_policy}),
	]}) == set()
}

test_public_read_acl_denied if {
	res := _of(
		{"resources": [_bucket, _pab, _res("aws_s3_bucket_acl", "logs", {"bucket": "${aws_s3_bucket.logs.id}", "acl": "public-read"})]},
		"s3.public_acl",
	)
	count(res) == 1
	contains(res[0].reason, "aws_s3_bucket_acl.logs")
	contains(res[0].reason, "public-read")
}

test_all_public_canned_acls_denied if {
	every acl in ["public-read", "public-read-write", "authenticated-read"] {
		"s3.public_acl" in _ids({"resources": [_res("aws_s3_bucket_acl", "a", {"acl": acl})]})
	}
}

test_inline_bucket_acl_denied if {
	bucket := _res("aws_s3_bucket", "site", {"bucket": "acme-site", "acl": "public-read"})
	res := _of({"resources": [bucket]}, "s3.public_acl")
	count(res) == 1
	contains(res[0].reason, "aws_s3_bucket.site")
}

test_grant_to_all_users_denied if {
	acl := _res("aws_s3_bucket_acl", "logs", {"access_control_policy": {
		"owner": {"id": "abc"},
		"grant": [
			{"permission": "FULL_CONTROL", "grantee": {"type": "CanonicalUser", "id": "abc"}},
			{"permission": "READ", "grantee": [{"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}]},
		],
	}})
	res := _of({"resources": [acl]}, "s3.public_acl")
	count(res) == 1
	contains(res[0].reason, "AllUsers")
}

test_public_access_block_with_false_flag_denied if {
	pab := object.union(_pab, {"attributes": {"block_public_policy": false, "restrict_public_buckets": false}})
	res := _of({"resources": [_bucket, pab]}, "s3.public_access_block")
	count(res) == 1
	contains(res[0].reason, "block_public_policy, restrict_public_buckets")
	not contains(res[0].reason, "ignore_public_acls")
}

test_public_access_block_unset_flag_denied if {
	pab := _res("aws_s3_bucket_public_access_block", "logs", {"bucket": "acme-logs", "block_public_acls": true})
	res := _of({"resources": [_bucket, pab]}, "s3.public_access_block")
	count(res) == 1
	contains(res[0].reason, "block_public_policy")
}

test_public_access_block_string_true_accepted if {
	pab := _res("aws_s3_bucket_public_access_block", "logs", {
		"bucket": "acme-logs",
		"block_public_acls": "true",
		"block_public_policy": "true",
		"ignore_public_acls": "true",
		"restrict_public_buckets": "true",
	})
	_results({"resources": [_bucket, pab]}) == set()
}

test_bucket_without_public_access_block_warned if {
	res := _of({"resources": [_bucket]}, "s3.public_access_block_missing")
	count(res) == 1
	contains(res[0].reason, "aws_s3_bucket.logs")

	# a warning, not a deny
	deny := s3.deny with input as {"resources": [_bucket]}
	count(deny) == 0
}

test_public_access_block_for_other_bucket_does_not_cover if {
	other := _res("aws_s3_bucket", "data", {"bucket": "acme-data"})
	res := _of({"resources": [_bucket, other, _pab]}, "s3.public_access_block_missing")
	count(res) == 1
	contains(res[0].reason, "aws_s3_bucket.data")
}

test_public_access_block_by_literal_name_or_unknown_ref_covers if {
	by_name := object.union(_pab, {"attributes": {"bucket": "acme-logs"}})
	_results({"resources": [_bucket, by_name]}) == set()
	by_local := object.union(_pab, {"attributes": {"bucket": "${local.bucket_id}"}})
	_results({"resources": [_bucket, by_local]}) == set()
}

test_indexed_bucket_reference_covers if {
	pab := object.union(_pab, {"attributes": {"bucket": "${aws_s3_bucket.logs[0].id}"}})
	_results({"resources": [_bucket, pab]}) == set()
}

test_deleted_bucket_not_warned if {
	_results({"resources": [object.union(_bucket, {"change": "delete"})]}) == set()
}

test_public_policy_compact_string_denied if {
	policy := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}`
	res := _of({"resources": [_bucket, _pab, _res("aws_s3_bucket_policy", "logs", {"policy": policy})]}, "s3.public_policy")
	count(res) == 1
	contains(res[0].reason, "aws_s3_bucket_policy.logs")
}

test_public_policy_spaced_and_aws_forms_denied if {
	every policy in [
		`{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*"}]}`,
		`{"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"}}`,
		`{"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:root", "*"]}, "Action": "s3:GetObject"}]}`,
	] {
		"s3.public_policy" in _ids({"resources": [_res("aws_s3_bucket_policy", "p", {"policy": policy})]})
	}
}

test_public_policy_as_decoded_object_denied if {
	policy := {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"}]}
	"s3.public_policy" in _ids({"resources": [_res("aws_s3_bucket_policy", "p", {"policy": policy})]})
}

test_public_policy_in_expression_string_denied if {
	policy := `${jsonencode({ Statement = [{ Effect = "Allow", Principal = "*", Action = "s3:GetObject" }] })}`
	"s3.public_policy" in _ids({"resources": [_res("aws_s3_bucket_policy", "p", {"policy": policy})]})
}

test_deny_statement_with_wildcard_principal_allowed if {
	policy := `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	_results({"resources": [_res("aws_s3_bucket_policy", "tls", {"policy": policy})]}) == set()
}

test_conditional_public_policy_only_warned if {
	policy := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}]}`
	_ids({"resources": [_res("aws_s3_bucket_policy", "vpce", {"policy": policy})]}) == {"s3.public_policy_conditional"}
}

test_malformed_input_does_not_error if {
	# the engine evaluates whole packages (data.opsdeck.rules), helpers included
	every garbage in _garbage_inputs {
		doc := s3 with input as garbage
		is_object(doc)
	}
	res := _results({"resources": [
		null,
		{"type": "aws_s3_bucket_acl", "attributes": {"acl": 5, "access_control_policy": "x"}},
		{"type": "aws_s3_bucket_acl", "attributes": {"access_control_policy": {"grant": [1, {"grantee": 2}]}}},
		{"type": "aws_s3_bucket_policy", "attributes": {"policy": "{not json"}},
		{"type": "aws_s3_bucket_policy", "attributes": {"policy": "5"}},
		{"type": "aws_s3_bucket_policy", "attributes": {"policy": `{"Statement":"x"}`}},
		{"type": "aws_s3_bucket_policy", "attributes": {"policy": `{"Statement":[{"Effect":"Allow","Principal":"*","Condition":"x"}]}`}},
		{"type": "aws_s3_bucket_public_access_block", "attributes": null},
		{"type": "aws_s3_bucket", "address": 7, "attributes": {"bucket": 3}},
	]})
	is_set(res)
	_results({"resources": null}) == set()
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
